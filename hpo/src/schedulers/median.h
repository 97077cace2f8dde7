// Median stopping ("median") and percentile pruning ("percentile"), with the semantics of
// Optuna's MedianPruner / PercentilePruner (transcribed from upstream
// optuna/pruners/_percentile.py, the version with n_min_trials):
//
// At a report, with t = the trial's last step (its largest reported step), the trial is stopped
// iff all of these hold:
//   - at least max(1, n_startup_trials) trials have completed;
//   - t >= n_warmup_steps;
//   - t is the first report in its interval: the trial's previous largest step is below
//     floor((t - n_warmup_steps) / interval_steps) * interval_steps + n_warmup_steps (so a check
//     missed because no value was reported at the interval's first step happens at the next
//     report);
//   - the trial's best value so far (NaN values skipped) is NaN — every value was NaN — or it
//     is worse than P: P is the p-th percentile (NumPy's nanpercentile, linear interpolation)
//     of the values completed trials reported at step t, with p = percentile when minimizing
//     and 100 - percentile when maximizing. There is no P (no stop) when fewer than n_min_trials
//     completed trials reported at t (NaN values count) or all of those values are NaN.
// "Completed" means TrialState::kComplete: pruned and failed trials do not count, as in Optuna,
// and each completed trial contributes its raw value at step t (not its best up to t).
// A value equal to P is not worse: ties continue.
//
// Cost: each step keeps the completed trials' values in an order-statistic tree, filled when a
// trial completes (O(s log n) for a trial with s reports), so a decision is O(log n) whatever
// the number of trials. NextJob() always starts a new trial.
#pragma once

#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>

#include "hpo/scheduler.h"

namespace hpo {

class PercentileScheduler : public Scheduler {
 public:
  // `median`: the scheduler named "median", whose percentile must be 50. Throws
  // std::invalid_argument on a percentile outside [0, 100], n_startup_trials < 0,
  // n_warmup_steps < 0, interval_steps < 1 or n_min_trials < 1.
  PercentileScheduler(const SchedulerOptions& options, bool median);

  std::string name() const override { return median_ ? "median" : "percentile"; }
  Job NextJob() override { return {}; }
  Decision OnReport(int64_t trial_id, int64_t step, double value) override;
  void OnFinished(int64_t trial_id, TrialState state) override;
  void Restore(const std::vector<FrozenTrial>& trials) override;

  // P at `step` (see above); nullopt when there is none.
  std::optional<double> Threshold(int64_t step) const;

 private:
  // (value, trial id): the id keeps equal values of different trials apart.
  using SortedValues =
      __gnu_pbds::tree<std::pair<double, int64_t>, __gnu_pbds::null_type,
                       std::less<std::pair<double, int64_t>>, __gnu_pbds::rb_tree_tag,
                       __gnu_pbds::tree_order_statistics_node_update>;
  struct StepValues {
    SortedValues values;  // non-NaN values of completed trials
    int64_t count = 0;    // values of completed trials, NaN included
  };
  struct Active {  // a trial that has not finished
    std::map<int64_t, double> values;
    double best = std::numeric_limits<double>::quiet_NaN();  // NaN values skipped
  };

  bool Better(double a, double b) const;  // a strictly better than b (neither NaN)
  void UpdateBest(Active& trial) const;   // recomputes trial.best from its values
  void Complete(int64_t trial_id, const std::map<int64_t, double>& values);

  SchedulerOptions options_;
  bool median_;
  std::unordered_map<int64_t, Active> active_;
  std::map<int64_t, StepValues> completed_;  // step → completed trials' values
  int64_t n_complete_ = 0;
};

}  // namespace hpo
