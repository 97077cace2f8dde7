// Study: the thread-safe front door of the optimizer (ask / report / tell).
//
// Two ways to use it:
//   Declarative: the study has a SearchSpace; Ask() returns a trial whose parameters are all
//   sampled already.
//     hpo::Study study(def, space, hpo::Storage::Open("runs/s.db"), sampler, scheduler);
//     while (auto t = study.Ask()) {
//       for (int epoch = 1; ...; ++epoch) {
//         if (study.Report(*t, epoch, acc) != hpo::Decision::kContinue) { ...; break; }
//       }
//       study.Tell(*t, acc);
//     }
//   Define-by-run: an empty SearchSpace; the objective calls t.SuggestFloat("lr", 1e-5, 1e-1,
//   /*log=*/true) and friends. Asking one name with two different distributions in one study
//   throws std::invalid_argument.
//
// Thread safety: every method may be called from many threads at once; a Trial handle is used by
// one thread at a time. Each state change is written to storage before the call returns.
//
// Several writers on one study (processes, or several Study objects on one SQLite file): Ask(),
// Report() and Refresh() read the other writers' changes since the last read
// (Storage::ChangedTrials; with SQLite one PRAGMA when nobody else has committed). After that:
//  - the sampler's History holds their trials (appended to trials_ as they are first seen) and
//    their state changes; Trials(), BestTrial(), GetTrial() and the n_trials budget count them;
//  - the scheduler gets their reports (OnReport, its decision ignored) and finishes
//    (OnFinished), so its rankings include them; their paused trials (and ours once another
//    writer has resumed one) are never resumed here (the training state lives in the other
//    process) and PruneUnpromoted() leaves them alone;
//  - HasPendingWork() looks at this object's running trials only;
//  - queued trials enqueued by another writer after we opened are seen but handed out only by
//    it; those stored when we opened (enqueued earlier, re-queued after a crash) are in every
//    opener's queue, and each is handed out once: Ask() claims a queued or suspended trial in
//    the storage (Storage::ClaimTrial) before running it, and a writer that lost the claim reads
//    the change and goes on to the next;
//  - trials suspended by a stopping process are resumed by one of the Studies that open the
//    storage next (the same claim);
//  - define-by-run distributions are stored with the study: a name keeps the distribution it was
//    first suggested with by any writer, also after reopening.
// Opening marks failed ("interrupted") only the running trials whose runner is gone
// (Storage::FailStaleRunningTrials: with SQLite, those of a dead process or a closed
// connection); trials other live writers on this host are running stay theirs.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/space.h"
#include "hpo/storage.h"
#include "hpo/trial.h"

namespace hpo {

class Study;
namespace internal {
template <typename T>
class TrialIdArray;
}  // namespace internal

// A handle on one running trial.
class Trial {
 public:
  int64_t id() const { return id_; }
  int64_t number() const { return number_; }
  // True when this job resumes a paused trial (its checkpoint should be restored).
  bool resumed() const { return resumed_; }
  const ParamMap& params() const { return params_; }  // internal values
  // External value of an active parameter; nullopt when absent (inactive or never suggested).
  std::optional<Value> Get(const std::string& name) const;
  std::map<std::string, Value> ExternalParams() const;

  // Define-by-run suggestions (sample, store, return). A repeated call with the same name and
  // distribution returns the stored value.
  double SuggestFloat(const std::string& name, double low, double high, bool log = false,
                      double step = 0.0);
  int64_t SuggestInt(const std::string& name, int64_t low, int64_t high, bool log = false,
                     int64_t step = 1);
  Value SuggestCategorical(const std::string& name, const std::vector<Value>& choices);

 private:
  friend class Study;
  Study* study_ = nullptr;
  int64_t id_ = -1;
  int64_t number_ = -1;
  bool resumed_ = false;
  ParamMap params_;
};

struct StudyOptions {
  // Trials Ask() may start, sampled or enqueued, counting the study's stored trials (those a
  // dead process left running excepted, and queued ones not handed out yet) and those other
  // writers start meanwhile (seen at each Ask); 0 = unlimited. Resuming a trial is not starting
  // one: paused trials promoted by the scheduler and trials suspended by a stopping process are
  // handed out even when the budget is spent, and do not count against it.
  int64_t n_trials = 0;
  bool allow_extend = false;  // reopen even if the stored space/sampler differ
  // On open, trials a dead process left running are marked failed ("interrupted") and, with
  // this set, their configurations are enqueued again (see Enqueue) to be retried first.
  bool requeue_interrupted = false;
};

class Study {
 public:
  // Opens or creates the study `def.name` in `storage`. Trials left running by a dead process
  // are marked failed. Throws StorageError when the stored definition differs (see Storage).
  Study(StudyDefinition def, SearchSpace space, std::unique_ptr<Storage> storage,
        std::unique_ptr<Sampler> sampler, std::unique_ptr<Scheduler> scheduler,
        StudyOptions options = {});
  ~Study();
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  // The next job: a paused trial to resume, else the oldest queued trial (see Enqueue), else a
  // new trial (params sampled). nullopt when nothing is left to resume and the budget of new
  // trials is spent or the sampler has no point left (GridExhausted).
  std::optional<Trial> Ask();
  // Warm start: stores a queued trial with these parameters (external values) and returns its
  // number. Ask() hands queued trials out, oldest first, before sampling new ones; active
  // declared parameters left out are sampled (Sampler::SampleOne) when the trial is handed out.
  // An enqueued trial counts toward StudyOptions::n_trials once Ask() hands it out, like a
  // sampled one (as Optuna's enqueue_trial with optimize(n_trials)): with n_trials = 10 and 3
  // enqueued trials, Ask() hands out the 3 and then samples 7. Queued trials are stored, so
  // they survive reopening the study.
  // Throws std::invalid_argument for a name that is neither declared in the space nor suggested
  // (define-by-run) earlier through this object, a value outside its distribution, or a
  // conditional parameter whose condition the given values do not satisfy.
  int64_t Enqueue(const std::map<std::string, Value>& params);
  // Records an intermediate value at `step` and returns the scheduler's decision. On kPause the
  // trial is already stored as paused when this returns (it may be promoted by another
  // worker's Ask() at once; keep its training state reachable before calling Report).
  Decision Report(const Trial& trial, int64_t step, double value);
  void Tell(const Trial& trial, double value);
  void TellPruned(const Trial& trial);
  void TellFailed(const Trial& trial, const std::string& reason);
  // Pauses a running trial outside the scheduler (a user's own loop); Report() pauses by itself.
  void MarkPaused(const Trial& trial);
  // Pauses a running trial because this process is stopping (the caller has saved its state).
  // The next Study opened on the same storage hands it out first, with resumed() true. Marked by
  // the user attribute kSuspendedAttr.
  void Suspend(const Trial& trial);
  void SetUserAttr(const Trial& trial, const std::string& key, const std::string& value);
  // True while a trial this object handed out is running (a paused trial may still become
  // promotable).
  bool HasPendingWork() const;
  // At the end of a study: paused trials that were never promoted become pruned. Returns how many.
  int PruneUnpromoted();

  // Reads other writers' changes now (Ask and Report do it by themselves); see the top comment.
  void Refresh();

  // As of the last Ask, Report or Refresh. Trials(): by number.
  std::optional<FrozenTrial> BestTrial() const;
  std::vector<FrozenTrial> Trials() const;
  // A copy of the trial with this storage id; nullopt when this object does not know it.
  std::optional<FrozenTrial> GetTrial(int64_t trial_id) const;
  const StudyDefinition& definition() const { return def_; }
  const SearchSpace& space() const { return space_; }
  Direction direction() const { return def_.direction; }
  int64_t study_id() const { return study_id_; }
  // Trials marked failed on open because a previous process died while running them.
  const std::vector<FrozenTrial>& interrupted_on_open() const { return interrupted_; }

  // Internal (for Trial): samples one define-by-run parameter; its registered distribution.
  double Suggest(Trial& trial, const std::string& name, const Distribution& dist);
  Distribution DefineByRunDistribution(const std::string& name) const;

 private:
  FrozenTrial& Record(int64_t trial_id);  // lock held; the trial must be known
  // The record of `trial_id`, nullptr when this object does not know it; lock held.
  FrozenTrial* Find(int64_t trial_id);
  const FrozenTrial* Find(int64_t trial_id) const;
  // Appends `rec` to trials_ and indexes it (references into trials_ are invalid after).
  void Append(FrozenTrial rec);
  void RefreshLocked();
  // Stores a state change and mirrors it (with the times the storage set) in `rec`; lock held.
  void SetState(FrozenTrial& rec, TrialState state, std::optional<double> value,
                const std::string& reason);
  // Mirrors a stored state change in `rec` (and running_); lock held.
  void Mirror(FrozenTrial& rec, TrialState state, std::optional<double> value,
              const std::string& reason, const TrialTimes& times);
  // Claims a queued or paused trial for this object (Storage::ClaimTrial): the storage's times,
  // or nullopt when another writer took it first, after reading the changes (RefreshLocked:
  // records may move). The record is not touched: MarkClaimed mirrors the claim. Lock held.
  std::optional<TrialTimes> Claim(int64_t trial_id, TrialState from);
  // Mirrors a successful Claim in `rec`: running, no value or reason, the claim's times.
  void MarkClaimed(FrozenTrial& rec, const TrialTimes& times);
  void Finish(const Trial& trial, TrialState state, std::optional<double> value,
              const std::string& reason);

  StudyDefinition def_;
  SearchSpace space_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Scheduler> scheduler_;
  StudyOptions options_;
  int64_t study_id_ = -1;
  int64_t new_trials_ = 0;  // created by this study object's budget
  int64_t seq_ = 0;         // storage change sequence read up to (Storage::ChangedTrials)
  mutable std::mutex mu_;
  // By number, except that another writer's trial created while this object created one lands
  // after it (positions never change: samplers sync by position).
  std::vector<FrozenTrial> trials_;
  // Trial id → 1 + position in trials_ (0: unknown), paged by id so that an old trial (a
  // promoted one) costs one cache miss to find, not a hash map's two or three.
  std::unique_ptr<internal::TrialIdArray<size_t>> index_by_id_;
  // Define-by-run registry: a cache of the storage's (Storage::RegisterParamDistribution).
  mutable std::map<std::string, Distribution> dbr_distributions_;
  std::vector<FrozenTrial> interrupted_;
  std::deque<int64_t> suspended_;        // suspended by an earlier process, resumed first
  std::deque<int64_t> queued_;           // ids of queued trials, oldest first
  std::unordered_set<int64_t> foreign_;  // trials other writers created after this object opened
  // Trials in trials_ that are kRunning and not in foreign_ (what HasPendingWork reports), kept
  // by SetState, Ask and MarkClaimed so that the check does not scan every trial. RefreshLocked
  // leaves it alone: it skips this object's running trials and marks any trial it sees running
  // foreign.
  int64_t running_ = 0;
};

}  // namespace hpo
