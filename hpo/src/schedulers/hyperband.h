// Asynchronous Hyperband (Li et al., JMLR 2018; asynchronous as in ASHA, MLSys 2020 §3, and
// Optuna's HyperbandPruner): several ASHA brackets side by side.
//
// With s_max = floor(log_eta(R / r)), bracket b = 0 .. s_max is an ASHA with
// min_early_stopping_rate = b: its rungs sit at r * eta^(b + k) below R, so bracket 0 stops or
// pauses the most aggressively and bracket s_max trains every trial to R. In the paper's terms
// bracket b is the one with s = s_max - b, which starts n_s = ceil((s_max + 1) * eta^s / (s + 1))
// configurations; new trials go to bracket b in proportion to that weight (Optuna's trial
// allocation budgets; e.g. r = 1, R = 27, eta = 3: weights 27, 12, 6, 4 for b = 0 .. 3).
//
// Bracket assignment is a pure function of the trial id (the scheduler interface sees ids; a
// study in its own storage numbers its ids consecutively): Fibonacci hashing, i.e. the golden-
// ratio Weyl sequence u = frac(id * 0.618...) computed exactly as (id * 0x9E3779B97F4A7C15)
// mod 2^64, scaled to [0, W) with W = the sum of the weights and looked up in the cumulative
// weights. Consecutive ids (and any arithmetic progression of ids, as when studies share a
// storage) are equidistributed with discrepancy O(log n / n), so the bracket counts of n trials
// stay within a few trials of the weights, and Restore needs no stored assignment.
//
// Variants: "hyperband" (each bracket is a promotion ASHA; NextJob promotes from the highest
// resource across all brackets, the best-scored candidate there, the lowest bracket on a tie)
// and "hyperband_stopping" (each bracket is a stopping ASHA, as Optuna's HyperbandPruner, which
// runs a SuccessiveHalvingPruner per bracket over the trials of that bracket only).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "schedulers/asha.h"

namespace hpo {

class HyperbandScheduler : public Scheduler {
 public:
  // Throws std::invalid_argument on r < 1, R < r, eta < 2 or min_early_stopping_rate != 0.
  HyperbandScheduler(const SchedulerOptions& options, bool promote);

  std::string name() const override { return promote_ ? "hyperband" : "hyperband_stopping"; }
  Job NextJob() override;
  Decision OnReport(int64_t trial_id, int64_t resource, double value) override;
  void OnFinished(int64_t trial_id, TrialState state) override;
  void Restore(const std::vector<FrozenTrial>& trials) override;

  // s_max + 1.
  size_t n_brackets() const { return brackets_.size(); }
  // Trial-allocation weight of bracket b (see above).
  int64_t bracket_weight(size_t b) const { return weights_[b]; }
  // The bracket of a trial: b in [0, n_brackets()).
  size_t BracketOf(int64_t trial_id) const;
  const AshaScheduler& bracket(size_t b) const { return *brackets_[b]; }

 private:
  bool promote_;
  std::vector<std::unique_ptr<AshaScheduler>> brackets_;
  std::vector<int64_t> weights_;
  std::vector<uint64_t> cumulative_;  // cumulative_[b] = weights_[0] + ... + weights_[b]
};

}  // namespace hpo
