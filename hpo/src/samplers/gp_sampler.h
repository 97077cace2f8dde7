// GP-BO sampler ("gp"): Gaussian-process Bayesian optimisation in the spirit of Optuna's
// GPSampler.
//
// Model (gp_model.h): Matérn-5/2 ARD kernel on the normalised space (numeric parameters mapped
// to [0, 1], log ones in log space, int and stepped ones over their widened grid [low - step/2,
// high + step/2]; categorical parameters by Hamming distance), targets standardised and oriented
// so that larger is better. Kernel hyperparameters (inverse squared lengthscales, signal and
// noise variance) are the MAP under Optuna's default gamma priors, fitted by L-BFGS with analytic
// gradients, warm-started from the previous fit.
//
// Acquisition (gp_acquisition.h): log expected improvement over the best observed value,
// maximised by scoring random points and refining the best few by local search (L-BFGS on
// continuous parameters, grid / category search on the others); the result is snapped onto the
// parameter's grid.
//
// Which trials it learns from:
//   - complete trials with a non-NaN value (infinite values clipped to the finite range);
//   - pruned and failed trials are ignored (as Optuna's GPSampler does);
//   - running, paused and queued trials are "pending": they enter the covariance at their
//     posterior mean (kriging believer), and the incumbent for EI is the best of the observed
//     values and these fantasies, so concurrent asks do not collapse onto one point.
// Until `n_startup_trials` complete trials exist, every parameter is sampled uniformly
// (SampleUniform). The GP works on the intersection search space: the non-fixed parameters that
// every complete trial has (with a value the distribution contains); the others (conditional
// parameters that some trials lack, fixed ones) are sampled uniformly. If anything non-finite
// appears, the GP step is abandoned for that ask and the parameters are sampled uniformly.
//
// Define-by-run: SampleOne learns each parameter's distribution when first asked. A trial's
// first GP parameter triggers a joint suggestion over the intersection space (parameters the
// trial has already chosen held fixed); later parameters of the same trial are served from that
// suggestion while the history is unchanged.
//
// Determinism: given the seed and the sequence of calls (and histories), the suggestions are
// identical. Thread safety: none of its own; Study calls it under the study lock.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hpo/sampler.h"

namespace hpo {

// Options of the GP sampler. Example:
//   GpSamplerOptions().set_n_startup_trials(5).set_n_candidates(1024)
struct GpSamplerOptions {
  // Complete trials sampled uniformly before the GP is used.
  int n_startup_trials = 10;
  // Random points scored by the acquisition function before the local searches, and local
  // searches per ask. Each costs O(n^2) in the GP's n points, so past 200 points both shrink as
  // (200 / n)^2, to at least 256 candidates and 3 local searches (the best candidate, one
  // roulette pick and the incumbent). Optuna scores 2048; 1024 halves the largest cost of an ask
  // at 100 points, and the best values found on bench/quality.cc's problems did not get worse
  // (the local searches start from the best candidates and refine them).
  int n_candidates = 1024;
  int n_local_search = 10;
  // At most this many complete trials form the GP's training set (the best half, then the most
  // recent), which bounds the O(n^3) cost in very long studies.
  int max_observations = 1000;
  // Kernel hyperparameters are fitted on a seeded subset of at most this many observations (the
  // posterior always uses all of them): hyperparameters are global and well determined by about
  // a hundred points, and each fit iteration costs O(n^3). The subset is stable as the study
  // grows (chosen by a seeded hash of the trial number), which keeps the warm start effective.
  int max_fit_observations = 128;
  // L-BFGS iterations of the kernel fit.
  int fit_max_iterations = 100;

  GpSamplerOptions& set_n_startup_trials(int v) {
    n_startup_trials = v;
    return *this;
  }
  GpSamplerOptions& set_n_candidates(int v) {
    n_candidates = v;
    return *this;
  }
  GpSamplerOptions& set_n_local_search(int v) {
    n_local_search = v;
    return *this;
  }
  GpSamplerOptions& set_max_observations(int v) {
    max_observations = v;
    return *this;
  }
  GpSamplerOptions& set_max_fit_observations(int v) {
    max_fit_observations = v;
    return *this;
  }
  GpSamplerOptions& set_fit_max_iterations(int v) {
    fit_max_iterations = v;
    return *this;
  }
};

class GpSampler : public Sampler {
 public:
  explicit GpSampler(uint64_t seed, GpSamplerOptions options = {});
  ~GpSampler() override;
  std::string name() const override { return "gp"; }
  ParamMap Sample(const SearchSpace& space, const History& history) override;
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override;

  // Diagnostics: whether the latest Sample/SampleOne took its value(s) from the GP (false:
  // start-up, a parameter outside the intersection space, or a fallback), and the kernel
  // parameters of the latest fit in raw form [log lambda_1..D, log scale, log(noise - min)].
  bool last_from_gp() const { return last_from_gp_; }
  std::vector<double> last_raw_kernel_params() const;

 private:
  using Candidate = std::pair<std::string, Distribution>;
  // Joint GP suggestion (internal values) for the GP dimensions among `candidates`, holding the
  // values in `fixed`; nullopt when the GP is not (yet) usable.
  std::optional<ParamMap> SuggestJoint(const std::vector<Candidate>& candidates,
                                       const ParamMap& fixed, const History& history);

  uint64_t seed_;
  GpSamplerOptions options_;
  std::mt19937_64 rng_;
  bool last_from_gp_ = false;
  // Warm start of the kernel fit: its dimensions, parameters and L-BFGS curvature pairs.
  struct FitCache;
  std::unique_ptr<FitCache> fit_cache_;
  // Define-by-run: distributions seen so far, and the joint suggestion of the current trial.
  std::map<std::string, Distribution> seen_;
  struct JointCache {
    bool valid = false;
    size_t n_trials = 0, n_finished = 0;
    ParamMap values;
  } joint_cache_;
};

}  // namespace hpo
