// Schedulers decide, at each report (an epoch boundary by default), whether a trial continues,
// pauses (to be promoted later) or stops; and what a free worker does next.
//
// Resource units are whatever the study reports as `step` (epochs by default). Values are the
// objective as reported; the scheduler applies the study's direction itself.
//
// Schedulers are called by Study with the study lock held, so they need no locking of their own.
// Their state is derived from stored trial records (intermediate values and states), so a
// reopened study rebuilds it exactly with Restore().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/trial.h"

namespace hpo {

enum class Decision { kContinue, kPause, kStop };
const char* ToString(Decision d);

// What a free worker should do next.
struct Job {
  // Trial id of a paused trial to resume, or nullopt: start a new trial.
  std::optional<int64_t> resume_trial;
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  virtual std::string name() const = 0;

  // The next job for a free worker.
  virtual Job NextJob() = 0;
  // Records `value` at `resource` for `trial_id` and decides.
  virtual Decision OnReport(int64_t trial_id, int64_t resource, double value) = 0;
  // A trial reached a final state (complete, pruned or failed).
  virtual void OnFinished(int64_t trial_id, TrialState state) = 0;
  // Rebuilds the state from stored trials (called once, before any other call).
  virtual void Restore(const std::vector<FrozenTrial>& trials) = 0;

 protected:
  Scheduler() = default;
};

// Options from the study file's `scheduler:` section. Resources in report steps (epochs).
// Each scheduler reads the fields it needs and ignores the others:
//   asha, asha_stopping:            min_resource, max_resource, reduction_factor,
//                                   min_early_stopping_rate
//   hyperband, hyperband_stopping:  min_resource, max_resource, reduction_factor (the brackets
//                                   set their own min_early_stopping_rate; a non-zero one throws)
//   median, percentile:             percentile (median: must be 50), n_startup_trials,
//                                   n_warmup_steps, interval_steps, n_min_trials
// Example:
//   SchedulerOptions o;
//   o.name = "percentile";
//   o.direction = Direction::kMaximize;
//   o.percentile = 25;  // prune trials below the top quarter at the same step
struct SchedulerOptions {
  std::string name = "asha";
  Direction direction = Direction::kMinimize;
  int64_t min_resource = 1;             // r
  int64_t max_resource = 1;             // R (the training budget of a full trial)
  int64_t reduction_factor = 3;         // eta >= 2
  int64_t min_early_stopping_rate = 0;  // s
  // Median/percentile stopping (as Optuna's PercentilePruner), steps in report units:
  double percentile = 50;        // in [0, 100]: keep trials within the best `percentile` percent
  int64_t n_startup_trials = 5;  // no pruning until this many trials have completed
  int64_t n_warmup_steps = 0;    // no pruning at steps below this
  int64_t interval_steps = 1;    // >= 1: check every interval_steps steps after the warmup
  int64_t n_min_trials = 1;      // >= 1: no pruning with fewer completed values at the step
};

// Registry: unknown names throw std::invalid_argument listing the known ones.
// Invalid numbers (r < 1, R < r, eta < 2, s < 0; percentile outside [0, 100], a negative
// n_startup_trials or n_warmup_steps, interval_steps < 1, n_min_trials < 1) throw
// std::invalid_argument.
std::unique_ptr<Scheduler> MakeScheduler(const SchedulerOptions& options);
std::vector<std::string> KnownSchedulers();

}  // namespace hpo
