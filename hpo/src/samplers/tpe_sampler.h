// Tree-structured Parzen Estimator (Bergstra et al. 2011; Watanabe 2023), registered as "tpe".
//
// Reference behaviour: Optuna's TPESampler (5.0). After `n_startup_trials` ranked trials (below),
// the trials are split into a good group (the best gamma(n)) and a bad group (the rest); one
// Parzen estimator l(x) is fitted to the good group and one, g(x), to the bad group;
// n_ei_candidates points are drawn from l(x) and the one with the largest log l(x) - log g(x) is
// returned. Given the same observations and weights, the estimators' log densities agree with
// optuna 5.0.0's _ParzenEstimator (univariate and multivariate, every distribution type), equal
// observations taken in a stable order. Optuna 5 changed these rules from 4.x, and they are
// followed here: the prior mean no longer enters the neighbour-distance bandwidths, a log int
// range is a discretised distribution in log space (cells [log(x - 1/2), log(x + 1/2)]),
// multivariate mode uses the univariate bandwidth rule per dimension, and multivariate mode is
// the default (for single-objective studies, which are the only kind here).
//
// Ranking ("ranked" trials, n of them): complete trials by value in the study's direction (NaN
// last), ahead of pruned ones; pruned trials by their last intermediate value, deeper steps
// first, as Optuna does; so do running trials that have reported a value (a resumed or still
// training trial). Paused trials (ASHA promotion) that have reported count among the n trials
// (for n_startup_trials and gamma(n)) but only ever join the bad group: their value is
// provisional, and ranking them by low-rung values fills the good group with the fast starters
// of crossing learning curves (bench/asha_sim.cc, docs/BENCHMARKS.md "Schedulers"); the good
// group is then the best gamma(n) of the others. Failed and queued trials are ignored. With
// `constant_liar`, running trials without any value join the bad group
// ("lie" that they are bad), so parallel asks spread out instead of collapsing on one point.
//
// Multivariate mode (default): the parameters active in every finished ranked trial are sampled
// jointly (product kernels), the others univariately; univariate mode: every parameter
// independently, from the trials in which it is active (so conditional parameters are handled).
// A joint density does not factorise: a multivariate ask reads every bad-group observation up to
// `max_joint_kernels` (1024), and a weighted systematic sample of that many beyond (see
// TpeOptions), so its cost stops growing there.
//
// Observation weights are Optuna's default_weights (the newest 25 weigh 1, older ones ramp down
// to 1/n). In the good group and in multivariate mode they go by position in the group, as in
// Optuna; in the univariate bad group by age among all the trials that have the parameter
// (good-group, failed and queued trials keep their places), which makes the weights of the
// incremental index below stable. The sampler keeps that index of the history (finished trials
// never change) so that an ask costs about the same with 1,000 or 10,000 trials; see AboveIndex
// in tpe_parzen.h.
//
// TpeOptions' defaults are Optuna's (gamma TpeDefaultGamma, prior weight 1, 24 candidates); the
// sampler registered as "tpe" takes SamplerOptions' tuned defaults instead (gamma 0.15, prior
// weight 2, 64 candidates; see hpo/include/hpo/sampler.h).
//
// Thread safety: none of its own; Study calls it under the study lock. Deterministic for a given
// seed and sequence of calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hpo/sampler.h"
#include "tpe_parzen.h"

namespace hpo {

// Optuna's default gamma: min(ceil(0.1 * n), 25) good trials out of n ranked ones.
int64_t TpeDefaultGamma(int64_t n);
// min(ceil(fraction * n), 25) good trials out of n; TpeGamma(0.1) is TpeDefaultGamma. Throws
// std::invalid_argument unless 0 < fraction <= 1.
std::function<int64_t(int64_t)> TpeGamma(double fraction);

// Options of the TPE sampler; every one has Optuna's default. MakeSampler({"tpe", ...}) passes
// SamplerOptions' values instead, whose gamma, prior weight and candidate count are tuned
// (hpo/include/hpo/sampler.h).
// Example: TpeSampler sampler(TpeOptions().seed(7).multivariate(true).n_startup_trials(20));
class TpeOptions {
 public:
  // Random sampling until this many ranked trials exist.
  TpeOptions& n_startup_trials(int64_t v) {
    n_startup_trials_ = v;
    return *this;
  }
  int64_t n_startup_trials() const { return n_startup_trials_; }
  // Candidates drawn from l(x) per ask.
  TpeOptions& n_ei_candidates(int64_t v) {
    n_ei_candidates_ = v;
    return *this;
  }
  int64_t n_ei_candidates() const { return n_ei_candidates_; }
  // Size of the good group given the number of ranked trials (clamped to [0, n]).
  TpeOptions& gamma(std::function<int64_t(int64_t)> v) {
    gamma_ = std::move(v);
    return *this;
  }
  const std::function<int64_t(int64_t)>& gamma() const { return gamma_; }
  TpeOptions& multivariate(bool v) {
    multivariate_ = v;
    return *this;
  }
  bool multivariate() const { return multivariate_; }
  TpeOptions& constant_liar(bool v) {
    constant_liar_ = v;
    return *this;
  }
  bool constant_liar() const { return constant_liar_; }
  // Weight of the prior component (> 0) against observations weighing up to 1 each.
  TpeOptions& prior_weight(double v) {
    prior_weight_ = v;
    return *this;
  }
  double prior_weight() const { return prior_weight_; }
  // Whether the outermost observations' bandwidths may stretch to the range's ends.
  TpeOptions& consider_endpoints(bool v) {
    consider_endpoints_ = v;
    return *this;
  }
  bool consider_endpoints() const { return consider_endpoints_; }
  // Multivariate mode: the bad group's joint estimator keeps at most this many observations
  // (0: all). Past it, a systematic sample by weight stands for the group (each kept observation
  // weighs total weight / kept, so the mixture is an unbiased estimate of the full one), which
  // keeps a multivariate ask's cost flat in the number of trials. With the default 1024 the
  // neighbour bandwidths are at their floor (range / 100) either way.
  TpeOptions& max_joint_kernels(int64_t v) {
    max_joint_kernels_ = v;
    return *this;
  }
  int64_t max_joint_kernels() const { return max_joint_kernels_; }
  TpeOptions& seed(uint64_t v) {
    seed_ = v;
    return *this;
  }
  uint64_t seed() const { return seed_; }

 private:
  int64_t n_startup_trials_ = 10;
  int64_t n_ei_candidates_ = 24;
  std::function<int64_t(int64_t)> gamma_ = TpeDefaultGamma;
  bool multivariate_ = true;
  bool constant_liar_ = true;
  double prior_weight_ = 1.0;
  bool consider_endpoints_ = false;
  int64_t max_joint_kernels_ = 1024;
  uint64_t seed_ = 0;
};

class TpeSampler : public Sampler {
 public:
  // Throws std::invalid_argument on a negative n_startup_trials, n_ei_candidates < 1, a
  // prior_weight that is not a positive number, an empty gamma or a negative max_joint_kernels.
  explicit TpeSampler(TpeOptions options);
  ~TpeSampler() override;

  std::string name() const override { return "tpe"; }
  ParamMap Sample(const SearchSpace& space, const History& history) override;
  // Define-by-run: always univariate (the joint space is only known to Sample()).
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override;

 private:
  // kPending: a paused trial that reported. It counts as an observation (n_startup_trials,
  // gamma) and sits in the bad group, never in the good one: its last value is provisional (the
  // scheduler may still promote it), and ranking paused trials by low-rung values puts the fast
  // starters of crossing learning curves into the good group (bench/asha_sim.cc: asha + TPE).
  enum class Role : uint8_t { kNone, kRanked, kLiar, kPending };
  struct RankKey {
    int tier = 0;  // 0 complete, 1 pruned-like
    double k1 = 0, k2 = 0;
    int64_t index = 0;
    bool operator<(const RankKey& o) const;
  };
  struct TrialInfo {
    TrialState state = TrialState::kQueued;
    size_t n_params = 0, n_intermediate = 0;
    int64_t last_step = 0;
    double last_value = 0;
    Role role = Role::kNone;
    bool final = false;
    bool below = false;
    RankKey key;
  };
  struct ParamModel;
  // Multivariate bad group: per numeric dimension, its rows sorted by (value, trial index), kept
  // up to date between asks so that bandwidths need no sort (see UpdateJointOrder).
  struct JointOrder {
    std::vector<uint64_t> serials;  // ParamModel serials of the dimensions
    std::vector<char> member;       // by trial index
    size_t n_rows = 0;              // members
    std::vector<std::vector<std::pair<double, int64_t>>> sorted;  // per dimension
  };

  void Reset(const History& history);
  void Sync(const History& history);
  void Classify(int64_t i, TrialInfo* info) const;
  bool InAbove(int64_t i) const;
  void RegisterParams(int64_t i);
  void UpdateMembership(int64_t i);
  void UpdateBelow(const std::vector<RankKey>& volatile_ranked, int64_t n_pending,
                   std::vector<int64_t>* changed);
  ParamModel& Model(const std::string& name, const Distribution& dist);
  double SampleUnivariate(ParamModel& model);
  std::map<std::string, double> SampleJoint(const SearchSpace& space);
  // Brings joint_order_ to the rows `rows` (ascending trial indices) of `models`: O(rows) plus a
  // sort of the rows added since the last call (up to kJointOrderInserts of them: inserted one by
  // one, O(rows) each).
  static constexpr size_t kJointOrderInserts = 8;
  void UpdateJointOrder(const std::vector<ParamModel*>& models, const std::vector<int64_t>& rows);
  // Orders (see tpe::JointHints) of a subset of those rows (ascending trial indices), into
  // *orders (one per dimension).
  void JointOrders(const std::vector<int64_t>& rows, std::vector<std::vector<int32_t>>* orders);
  bool InStartup() const { return n_ranked_ < options_.n_startup_trials(); }

  TpeOptions options_;
  std::mt19937_64 rng_;
  const std::vector<FrozenTrial>* trials_ = nullptr;
  Direction direction_ = Direction::kMinimize;
  std::vector<TrialInfo> info_;          // by trial index (number)
  std::vector<char> above_;              // by trial index: InAbove(i), kept by UpdateMembership
  std::vector<int64_t> volatile_;        // trials not in a final state
  std::set<RankKey> complete_, pruned_;  // finished ranked trials
  std::vector<int64_t> below_;           // the good group, by index
  int64_t n_ranked_ = 0;
  int64_t n_finished_ranked_ = 0;
  std::map<std::string, int64_t> finished_with_param_;
  std::map<std::string, std::unique_ptr<ParamModel>> models_;
  uint64_t next_model_serial_ = 0;
  JointOrder joint_order_;
  // Work buffers of SampleJoint, kept between asks so that they are not reallocated; the
  // mixtures are refitted at each multivariate ask.
  struct JointScratch {
    std::vector<char> has_all;  // by trial index
    std::vector<int32_t> pos;   // by trial index: position among JointOrders' rows, or -1
    std::vector<int64_t> below_rows, above_rows;  // trial indices
    std::vector<double> below_weights, above_weights;
    std::vector<int64_t> sampled_rows;  // max_joint_kernels' sample of above_rows
    std::vector<double> sampled_weights;
    std::vector<uint64_t> serials;  // UpdateJointOrder's
    std::vector<char> member;       // UpdateJointOrder's next membership, by trial index
    std::vector<int64_t> added;     // UpdateJointOrder's new rows
    std::vector<std::vector<double>> obs_below, obs_above;  // per dimension
    tpe::JointHints hints;
    tpe::JointMixture below, above;
    std::vector<double> values, points;  // candidates: internal, kernel space (by candidate)
    tpe::JointCandidates cands;
    std::vector<double> ll, lg;  // log l(x) and log g(x) of each candidate
  };
  JointScratch joint_scratch_;
  tpe::CellMassCache cell_cache_;  // for the joint mixtures of every ask
};

}  // namespace hpo
