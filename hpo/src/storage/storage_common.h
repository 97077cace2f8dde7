// Helpers shared by the Storage implementations, so that both report the same semantics and
// the same messages. Private to hpo/src/storage.
#pragma once

#include <string>

#include "hpo/storage.h"

namespace hpo::storage_internal {

// fail_reason given to trials failed by FailStaleRunningTrials.
inline constexpr char kInterruptedReason[] =
    "interrupted: process exited while the trial was running";

// Wall-clock time in seconds since the epoch.
double NowSeconds();

// Compares the identity (direction, search space, sampler) of a stored study with a requested
// one. Returns true when they differ; throws StorageError describing each difference (`where`
// names the database) unless `allow_extend`.
bool CheckStudyIdentity(const std::string& where, const StudyDefinition& stored,
                        const StudyDefinition& requested, bool allow_extend);

// Whether the non-identity fields (metric, scheduler, config) differ.
bool StudyRecordDiffers(const StudyDefinition& stored, const StudyDefinition& requested);

// Throws std::invalid_argument unless `state` is a valid initial state (kQueued or kRunning).
void CheckInitialState(TrialState state);

// Who runs a trial: a storage connection registers an owner token
// "host|boot id|pid|process start ticks|connection" for the lifetime of the connection, and a
// database stores it with each running trial, so that a later opener fails only the running
// trials whose runner is gone (FailStaleRunningTrials).
class OwnerToken {
 public:
  OwnerToken();  // registers a new connection of this process
  ~OwnerToken();
  OwnerToken(const OwnerToken&) = delete;
  OwnerToken& operator=(const OwnerToken&) = delete;
  const std::string& str() const { return token_; }

 private:
  std::string token_;
};

// Whether the runner named by `owner` (a token, possibly empty or malformed) may still be
// running its trials, as seen by the connection `self`: another open connection of this process,
// or a live process on this host (same boot, same pid and start time). `self`, an empty or
// malformed token, a dead process and another host or boot count as gone (a SQLite file is not
// shared across hosts).
bool OwnerAlive(const std::string& owner, const OwnerToken& self);

}  // namespace hpo::storage_internal
