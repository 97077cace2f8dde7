#include "schedulers/median.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>

namespace hpo {

PercentileScheduler::PercentileScheduler(const SchedulerOptions& o, bool median)
    : options_(o), median_(median) {
  if (!(o.percentile >= 0 && o.percentile <= 100))
    throw std::invalid_argument("percentile must be in [0, 100] (got " +
                                std::to_string(o.percentile) + ")");
  if (median && o.percentile != 50)
    throw std::invalid_argument("the median scheduler prunes at the 50th percentile (got " +
                                std::to_string(o.percentile) +
                                "); use scheduler 'percentile' for another percentile");
  if (o.n_startup_trials < 0)
    throw std::invalid_argument("n_startup_trials must be >= 0 (got " +
                                std::to_string(o.n_startup_trials) + ")");
  if (o.n_warmup_steps < 0)
    throw std::invalid_argument("n_warmup_steps must be >= 0 (got " +
                                std::to_string(o.n_warmup_steps) + ")");
  if (o.interval_steps < 1)
    throw std::invalid_argument("interval_steps must be >= 1 (got " +
                                std::to_string(o.interval_steps) + ")");
  if (o.n_min_trials < 1)
    throw std::invalid_argument("n_min_trials must be >= 1 (got " + std::to_string(o.n_min_trials) +
                                ")");
}

bool PercentileScheduler::Better(double a, double b) const {
  return options_.direction == Direction::kMaximize ? a > b : a < b;
}

std::optional<double> PercentileScheduler::Threshold(int64_t step) const {
  auto it = completed_.find(step);
  if (it == completed_.end() || it->second.count < options_.n_min_trials) return std::nullopt;
  const SortedValues& sorted = it->second.values;
  if (sorted.empty()) return std::nullopt;  // all NaN
  // numpy.nanpercentile(values, q), method "linear": virtual index (n - 1) * q / 100 between
  // the neighbouring order statistics, interpolated as numpy's _lerp does.
  double q =
      options_.direction == Direction::kMaximize ? 100 - options_.percentile : options_.percentile;
  double n = static_cast<double>(sorted.size());
  double index = (n - 1) * (q / 100);
  if (index >= n - 1) return sorted.find_by_order(sorted.size() - 1)->first;
  if (index <= 0) return sorted.begin()->first;
  double below = std::floor(index);
  double gamma = index - below;
  size_t i = static_cast<size_t>(below);
  double a = sorted.find_by_order(i)->first;
  double b = sorted.find_by_order(i + 1)->first;
  double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

void PercentileScheduler::UpdateBest(Active& trial) const {
  trial.best = std::numeric_limits<double>::quiet_NaN();
  for (const auto& [_, v] : trial.values)
    if (!std::isnan(v) && (std::isnan(trial.best) || Better(v, trial.best))) trial.best = v;
}

Decision PercentileScheduler::OnReport(int64_t trial_id, int64_t step, double value) {
  Active& trial = active_[trial_id];
  if (trial.values.insert_or_assign(step, value).second) {
    if (!std::isnan(value) && (std::isnan(trial.best) || Better(value, trial.best)))
      trial.best = value;
  } else {  // a step reported again: its old value may have been the best
    UpdateBest(trial);
  }

  if (n_complete_ == 0 || n_complete_ < options_.n_startup_trials) return Decision::kContinue;
  int64_t last = trial.values.rbegin()->first;
  if (last < options_.n_warmup_steps) return Decision::kContinue;
  // Only the first report at or after each pruning step (warmup + k * interval) is checked.
  int64_t pruning_step =
      (last - options_.n_warmup_steps) / options_.interval_steps * options_.interval_steps +
      options_.n_warmup_steps;
  int64_t second_last = -1;
  if (trial.values.size() >= 2)
    second_last = std::max<int64_t>(-1, std::prev(trial.values.end(), 2)->first);
  if (second_last >= pruning_step) return Decision::kContinue;

  if (std::isnan(trial.best)) return Decision::kStop;
  std::optional<double> p = Threshold(last);
  if (!p) return Decision::kContinue;
  return Better(*p, trial.best) ? Decision::kStop : Decision::kContinue;
}

void PercentileScheduler::Complete(int64_t trial_id, const std::map<int64_t, double>& values) {
  ++n_complete_;
  for (const auto& [step, value] : values) {
    StepValues& at = completed_[step];
    ++at.count;
    if (!std::isnan(value)) at.values.insert({value, trial_id});
  }
}

void PercentileScheduler::OnFinished(int64_t trial_id, TrialState state) {
  auto it = active_.find(trial_id);
  if (state == TrialState::kComplete)
    Complete(trial_id, it == active_.end() ? std::map<int64_t, double>{} : it->second.values);
  if (it != active_.end()) active_.erase(it);
}

void PercentileScheduler::Restore(const std::vector<FrozenTrial>& trials) {
  for (const FrozenTrial& t : trials) {
    if (t.state == TrialState::kComplete) {
      Complete(t.id, t.intermediate);
    } else if (!IsFinished(t.state) && !t.intermediate.empty()) {
      Active& trial = active_[t.id];
      trial.values = t.intermediate;
      UpdateBest(trial);
    }
  }
}

}  // namespace hpo
