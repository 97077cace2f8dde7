// Storage: where studies and trials live. Implementations: in-memory and SQLite (the default).
//
// Every call is one atomic, durable state change (for SQLite: one transaction). A study is
// identified by name; `OpenStudy` creates it or checks that the stored definition matches.
//
// Several writers (processes, or several Storage objects on one SQLite file) may share a study.
// Every change to a trial (creation, state, parameter, intermediate value, user attribute) is
// numbered by an increasing change sequence, so a reader catches up on the others' changes with
// ChangedTrials(study, since) instead of reading every trial again.
//
// Thread safety: all methods may be called from many threads at once.
// Errors: I/O and database failures throw hpo::StorageError naming the path and what failed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/trial.h"

namespace hpo {

class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The stored identity of a study. Reopening with a different `space_json`, `sampler` or
// `direction` is an error unless OpenStudy is called with `allow_extend`.
struct StudyDefinition {
  std::string name;
  Direction direction = Direction::kMinimize;
  std::string metric;      // name of the objective, e.g. "val_accuracy"
  std::string space_json;  // SearchSpace::ToJson()
  std::string sampler;     // Sampler::name()
  std::string scheduler;   // Scheduler::name()
  std::string config;      // the resolved study file, for the record
};

// The times a state change left on a trial (seconds since the epoch; 0 when unset).
struct TrialTimes {
  double start_time = 0;
  double complete_time = 0;
};

// Trials changed since a change sequence number, and the number to pass next time.
struct TrialChanges {
  std::vector<FrozenTrial> trials;  // full records, by number
  int64_t seq = 0;
};

class Storage {
 public:
  // `url`: "memory" (in-process, lost on exit), "sqlite:PATH" or a path ending in .db/.sqlite.
  // Throws StorageError on an unknown scheme or an unopenable database.
  static std::unique_ptr<Storage> Open(const std::string& url);

  virtual ~Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  virtual std::string url() const = 0;

  // Creates the study or opens the stored one (returns its id). A mismatching stored definition
  // throws StorageError unless `allow_extend`.
  virtual int64_t OpenStudy(const StudyDefinition& def, bool allow_extend = false) = 0;
  virtual StudyDefinition GetStudy(int64_t study_id) = 0;

  // Creates a trial in `state` (kRunning or kQueued) with the given parameters; assigns `id`
  // and `number`; returns the stored record.
  virtual FrozenTrial CreateTrial(int64_t study_id, const ParamMap& params, TrialState state) = 0;
  // Sets state (and the final value for kComplete, the reason for kFailed). The storage sets
  // start_time when the trial first leaves kQueued and complete_time when it finishes; returns
  // both as stored, so the caller need not read the trial back.
  virtual TrialTimes SetTrialState(int64_t trial_id, TrialState state, std::optional<double> value,
                                   const std::string& fail_reason = "") = 0;
  // Moves a trial from `from` (kQueued or kPaused) to kRunning for this connection only while it
  // is still in `from`, in one transaction, setting start_time if unset: of several writers that
  // claim the same queued or suspended trial, exactly one gets it. Returns the times as
  // SetTrialState does, or nullopt when the trial was no longer in `from`. Throws StorageError
  // for an unknown trial.
  virtual std::optional<TrialTimes> ClaimTrial(int64_t trial_id, TrialState from) = 0;
  // Define-by-run parameters (names the study's search space does not declare) keep the
  // distribution they were first suggested with, for every writer and across reopening. Stores
  // `distribution` (Distribution::ToJson) under `name` unless one is stored already, and returns
  // the stored one: the caller compares.
  virtual std::string RegisterParamDistribution(int64_t study_id, const std::string& name,
                                                const std::string& distribution) = 0;
  // The study's stored define-by-run distributions (JSON) by name.
  virtual std::map<std::string, std::string> GetParamDistributions(int64_t study_id) = 0;
  // Adds one parameter to a running trial (define-by-run suggestions).
  virtual void SetTrialParam(int64_t trial_id, const std::string& name, double internal) = 0;
  virtual void SetIntermediate(int64_t trial_id, int64_t step, double value) = 0;
  virtual void SetUserAttr(int64_t trial_id, const std::string& key, const std::string& value) = 0;
  virtual FrozenTrial GetTrial(int64_t trial_id) = 0;
  virtual std::vector<FrozenTrial> GetAllTrials(int64_t study_id) = 0;

  // Marks trials left kRunning by a runner that is gone as kFailed ("interrupted"); returns
  // them. SQLite stores which connection runs each trial: trials of another open connection in
  // this process, or of a live process on this host, keep running; those of this connection, of
  // a closed one, of a dead process (or another host) are failed. The in-memory storage has one
  // connection: it fails every running trial.
  virtual std::vector<FrozenTrial> FailStaleRunningTrials(int64_t study_id) = 0;

  // The latest change sequence number (0 before any change; SQLite numbers the changes of the
  // whole database): call it before GetAllTrials, then pass it to ChangedTrials.
  virtual int64_t LastChange(int64_t study_id) = 0;
  // The trials of the study that other writers (other processes, other Storage objects on the
  // same file) changed after `since` (a number from LastChange or an earlier ChangedTrials), as
  // full records, and the number to pass next time. This object's own changes may or may not be
  // included (SQLite skips the query, at the cost of one PRAGMA, when no other connection has
  // committed since its previous call; the in-memory storage has no other writers and always
  // returns none). Call it with non-decreasing `since`.
  virtual TrialChanges ChangedTrials(int64_t study_id, int64_t since) = 0;

 protected:
  Storage() = default;
};

std::unique_ptr<Storage> MakeInMemoryStorage();
// Opens (creating if absent) a SQLite database. A file that is not a SQLite database, or one
// holding another application's schema, throws StorageError and is left untouched.
std::unique_ptr<Storage> MakeSqliteStorage(const std::string& path);

}  // namespace hpo
