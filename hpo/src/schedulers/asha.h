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
// NaN values rank last and are never promoted. Ties keep the earlier report ahead (a reopened
// study replays reports in trial order, so exact ties between trials reported out of trial
// order may rank differently after Restore).
//
// Cost: O(log n) per OnReport and O(K) per NextJob, n = values recorded at a rung. Each rung
// keeps its values in an ordered set with a frontier: an iterator to the first value outside
// the top floor(n / eta), moved by at most one step per insertion. Whether a value is in the
// top is one comparison with the frontier, so neither rank queries nor scans are needed. The
// paused trials waiting for promotion from a rung sit in a second ordered set: the best of them
// is promotable iff it is in the top (any other waiting trial ranks below it).
#pragma once

#include <optional>
#include <set>
#include <unordered_map>
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
  // Restore() one trial at a time (in trial order), for a caller that splits a study's trials.
  void RestoreTrial(const FrozenTrial& trial);

  // Resources of the pause/decision rungs, ascending (excludes R).
  const std::vector<int64_t>& rung_resources() const { return rungs_; }
  // Number of values recorded at rung k.
  size_t rung_size(size_t k) const { return rung_[k].recorded.size(); }

  // A paused trial that NextJob() would promote now (promotion variant).
  struct Candidate {
    size_t rung;   // index into rung_resources()
    double score;  // larger is better (direction applied)
    int64_t trial_id;
  };
  // The best promotable trial of the highest rung that has one; nullopt when none (always for
  // the stopping variant). Does not change the state.
  std::optional<Candidate> BestCandidate() const;
  // Promotes `c`, which BestCandidate() returned with no call in between.
  void Promote(const Candidate& c);

 private:
  struct Entry {
    double score;   // larger is better (direction applied; NaN → -inf)
    int64_t order;  // report sequence, for stable ties
    int64_t trial_id;
  };
  struct Better {  // best first
    bool operator()(const Entry& a, const Entry& b) const {
      return a.score != b.score ? a.score > b.score : a.order < b.order;
    }
  };
  struct Waiting {
    size_t rung;
    Entry entry;
  };
  struct Rung {
    std::set<Entry, Better> recorded;                  // best first
    std::set<Entry, Better>::const_iterator frontier;  // first outside the top; set when non-empty
    std::set<Entry, Better> waiting;                   // paused, not yet promoted from here
  };

  int RungIndex(int64_t resource) const;  // -1 when `resource` is not a rung
  double Score(double value) const;
  Entry Record(size_t k, int64_t trial_id, double value);
  // `entry`, recorded at rung k, is within the top floor(n_k / eta) there.
  bool InTop(size_t k, const Entry& entry) const;
  // `entry` (recorded at rung k) waits for promotion from k; NaN entries never do.
  void Wait(size_t k, const Entry& entry);
  void StopWaiting(int64_t trial_id);

  SchedulerOptions options_;
  bool promote_;
  std::vector<int64_t> rungs_;
  std::vector<Rung> rung_;
  std::unordered_map<int64_t, Waiting> waiting_;  // trial id → where it waits
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
