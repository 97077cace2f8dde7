// Asynchronous successive halving (Li et al., MLSys 2020).
//
// Rung k (k = 0 .. K-1) sits at resource r * eta^(s + k), K = floor(log_eta(R / r)) - s; a trial
// that trains to R completes. Two variants:
//  - promotion (name "asha"): a trial reaching a rung pauses; NextJob() promotes the best paused
//    trial among the top floor(n_k / eta) of the highest rung k that has one (Algorithm 2), or
//    else asks for a new trial.
//  - stopping (name "asha_stopping"): a trial reaching a rung continues only while it is within
//    the top floor(n_k / eta) of the values recorded at that rung (the best so far while
//    n_k < eta), as Optuna's SuccessiveHalvingPruner and Ray's ASHAScheduler do.
// NaN values rank last. Ties keep the earlier report ahead.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "hpo/scheduler.h"

namespace hpo {

class AshaScheduler : public Scheduler {
 public:
  // Throws std::invalid_argument on r < 1, R < r, eta < 2 or s < 0.
  AshaScheduler(const SchedulerOptions& options, bool promote);

  std::string name() const override { return promote_ ? "asha" : "asha_stopping"; }
  Job NextJob() override;
  Decision OnReport(int64_t trial_id, int64_t resource, double value) override;
  void OnFinished(int64_t trial_id, TrialState state) override;
  void Restore(const std::vector<FrozenTrial>& trials) override;

  // Resources of the pause/decision rungs, ascending (excludes R).
  const std::vector<int64_t>& rung_resources() const { return rungs_; }
  // Number of values recorded at rung k.
  size_t rung_size(size_t k) const { return recorded_[k].size(); }

 private:
  struct Entry {
    double score;   // larger is better (direction applied; NaN → -inf)
    int64_t order;  // report sequence, for stable ties
    int64_t trial_id;
    bool operator<(const Entry& o) const {
      return score != o.score ? score > o.score : order < o.order;
    }
  };
  int RungIndex(int64_t resource) const;  // -1 when `resource` is not a rung
  double Score(double value) const;
  // Records at rung k; returns the 0-based rank of the new entry.
  size_t Record(size_t k, int64_t trial_id, double value);

  SchedulerOptions options_;
  bool promote_;
  std::vector<int64_t> rungs_;
  std::vector<std::set<Entry>> recorded_;    // per rung, best first
  std::vector<std::set<int64_t>> promoted_;  // per rung: trial ids promoted from it
  std::set<int64_t> paused_;                 // trials waiting for promotion
  std::set<int64_t> finished_;
  int64_t order_ = 0;
};

// No early stopping: every trial trains to the full budget.
class FifoScheduler : public Scheduler {
 public:
  std::string name() const override { return "fifo"; }
  Job NextJob() override { return {}; }
  Decision OnReport(int64_t, int64_t, double) override { return Decision::kContinue; }
  void OnFinished(int64_t, TrialState) override {}
  void Restore(const std::vector<FrozenTrial>&) override {}
};

}  // namespace hpo
