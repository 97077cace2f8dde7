#include "schedulers/asha.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace hpo {

AshaScheduler::AshaScheduler(const SchedulerOptions& o, bool promote)
    : options_(o), promote_(promote) {
  if (o.min_resource < 1)
    throw std::invalid_argument("min_resource must be >= 1 (got " + std::to_string(o.min_resource) +
                                ")");
  if (o.max_resource < o.min_resource)
    throw std::invalid_argument("max_resource " + std::to_string(o.max_resource) +
                                " is below min_resource " + std::to_string(o.min_resource));
  if (o.reduction_factor < 2)
    throw std::invalid_argument("reduction_factor must be >= 2 (got " +
                                std::to_string(o.reduction_factor) + ")");
  if (o.min_early_stopping_rate < 0)
    throw std::invalid_argument("min_early_stopping_rate must be >= 0");
  // Rung k at r * eta^(s + k) for k < K = floor(log_eta(R / r)) - s, i.e. while the next rung
  // r * eta^(s + k + 1) still fits in R (R = 10, eta = 3: rungs 1, 3; not 9).
  int64_t resource = o.min_resource;
  for (int64_t i = 0; i < o.min_early_stopping_rate && resource < o.max_resource; ++i)
    resource *= o.reduction_factor;
  while (resource <= o.max_resource / o.reduction_factor) {
    rungs_.push_back(resource);
    resource *= o.reduction_factor;
  }
  recorded_.resize(rungs_.size());
  promoted_.resize(rungs_.size());
}

int AshaScheduler::RungIndex(int64_t resource) const {
  for (size_t k = 0; k < rungs_.size(); ++k)
    if (rungs_[k] == resource) return static_cast<int>(k);
  return -1;
}

double AshaScheduler::Score(double value) const {
  if (std::isnan(value)) return -std::numeric_limits<double>::infinity();
  return options_.direction == Direction::kMaximize ? value : -value;
}

size_t AshaScheduler::Record(size_t k, int64_t trial_id, double value) {
  Entry e{Score(value), order_++, trial_id};
  auto it = recorded_[k].insert(e).first;
  return static_cast<size_t>(std::distance(recorded_[k].begin(), it));
}

Decision AshaScheduler::OnReport(int64_t trial_id, int64_t resource, double value) {
  int k = RungIndex(resource);
  if (k < 0) return Decision::kContinue;
  size_t rank = Record(static_cast<size_t>(k), trial_id, value);
  if (promote_) {
    paused_.insert(trial_id);
    return Decision::kPause;
  }
  size_t n = recorded_[k].size();
  size_t top = n / static_cast<size_t>(options_.reduction_factor);
  if (top == 0) top = 1;  // fewer than eta values: only the best so far goes on
  return rank < top && !std::isnan(value) ? Decision::kContinue : Decision::kStop;
}

Job AshaScheduler::NextJob() {
  Job job;
  if (!promote_) return job;
  for (size_t k = rungs_.size(); k-- > 0;) {
    size_t top = recorded_[k].size() / static_cast<size_t>(options_.reduction_factor);
    size_t i = 0;
    for (auto it = recorded_[k].begin(); it != recorded_[k].end() && i < top; ++it, ++i) {
      if (std::isinf(it->score) && it->score < 0) break;  // NaN values are never promoted
      if (promoted_[k].count(it->trial_id) || !paused_.count(it->trial_id)) continue;
      promoted_[k].insert(it->trial_id);
      paused_.erase(it->trial_id);
      job.resume_trial = it->trial_id;
      return job;
    }
  }
  return job;
}

void AshaScheduler::OnFinished(int64_t trial_id, TrialState) {
  paused_.erase(trial_id);
  finished_.insert(trial_id);
}

void AshaScheduler::Restore(const std::vector<FrozenTrial>& trials) {
  // Replay reports in trial order; a trial that went past a rung was promoted from it.
  for (const FrozenTrial& t : trials) {
    for (size_t k = 0; k < rungs_.size(); ++k) {
      auto it = t.intermediate.find(rungs_[k]);
      if (it == t.intermediate.end()) continue;
      Record(k, t.id, it->second);
      bool went_on = t.intermediate.upper_bound(rungs_[k]) != t.intermediate.end() ||
                     t.state == TrialState::kComplete || t.state == TrialState::kRunning;
      if (promote_ && went_on) promoted_[k].insert(t.id);
    }
    if (t.state == TrialState::kPaused) paused_.insert(t.id);
    if (IsFinished(t.state)) finished_.insert(t.id);
  }
}

}  // namespace hpo
