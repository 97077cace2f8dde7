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
// Cost: amortised O(log n) per OnReport and O(K) per NextJob, n = values recorded at a rung, on
// contiguous memory (no node per value), so the cost stays nearly flat as a study grows to
// 100,000s of trials. Each rung splits its values into two d-ary heaps: `top`, the best
// floor(n / eta) with the worst of them at the root, and `rest`, the others with the best of
// them (the frontier) at the root. A new value goes into the heap on its side of the boundary,
// and at most one value crosses the boundary per insertion (floor(n / eta) grows by at most
// one). A value is in the top iff it ranks before the frontier. The paused trials waiting for
// promotion from a rung sit in a third heap, best first, removed lazily: a trial that stops
// waiting (promoted, resumed, finished) only loses its ticket (trial id → report order), and a
// heap entry whose ticket differs is dropped when it reaches the root, so every root is a
// trial that waits. The best waiting trial is promotable iff it is in the top (any other
// waiting trial ranks below it).
#pragma once

#include <optional>
#include <vector>

#include "hpo/scheduler.h"
#include "schedulers/rank_heap.h"
#include "trial_id_array.h"

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
  size_t rung_size(size_t k) const { return rung_[k].n; }

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
  struct Rank {
    double score;   // larger is better (direction applied; NaN → -inf)
    int64_t order;  // report sequence, for stable ties
  };
  struct Better {  // a ranks before b: best first
    bool operator()(const Rank& a, const Rank& b) const {
      return a.score != b.score ? a.score > b.score : a.order < b.order;
    }
  };
  struct Worse {
    bool operator()(const Rank& a, const Rank& b) const { return Better{}(b, a); }
  };
  struct Entry {
    Rank rank;
    int64_t trial_id;
  };
  struct EntryBetter {
    bool operator()(const Entry& a, const Entry& b) const { return Better{}(a.rank, b.rank); }
  };
  struct Rung {
    size_t n = 0;                                               // values recorded
    schedulers_internal::DaryHeap<Rank, Worse> top;             // the best floor(n / eta)
    schedulers_internal::DaryHeap<Rank, Better> rest;           // the others; root: frontier
    schedulers_internal::DaryHeap<Entry, EntryBetter> waiting;  // paused here, lazily removed
  };

  int RungIndex(int64_t resource) const;  // -1 when `resource` is not a rung
  double Score(double value) const;
  Entry Record(size_t k, int64_t trial_id, double value);
  // `rank`, recorded at rung k, is within the top floor(n_k / eta) there.
  bool InTop(size_t k, const Rank& rank) const;
  // `entry` (recorded at rung k) waits for promotion from k; NaN entries never do.
  void Wait(size_t k, const Entry& entry);
  void StopWaiting(int64_t trial_id);
  // Pops the roots of rung k's waiting heap whose trial no longer waits there.
  void DropStaleWaiting(size_t k);

  SchedulerOptions options_;
  bool promote_;
  std::vector<int64_t> rungs_;
  std::vector<Rung> rung_;
  // Trial id → 1 + the report order of the entry it waits with (0: not waiting).
  internal::TrialIdArray<int64_t> ticket_;
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
