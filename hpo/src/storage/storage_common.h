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

}  // namespace hpo::storage_internal
