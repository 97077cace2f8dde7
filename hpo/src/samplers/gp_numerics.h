// Eigen-free entry points into the GP sampler's numerics: log expected improvement, and the
// kernel fit's objective with its gradient (so that tests and tools that do not see Eigen can
// check them).
//
// Thread safety: pure functions.
#pragma once

#include <vector>

namespace hpo::gp {

// log E[max(0, Z + z)] for Z ~ N(0, 1), accurate for every finite z (for very negative z, where
// the expectation underflows, through erfcx and an asymptotic series). With `dz`, also the
// derivative; with `phi_over_ei`, also pdf(z) / E[max(0, Z + z)] (= 1 - z * dz, computed without
// cancellation).
double StandardLogEi(double z, double* dz = nullptr, double* phi_over_ei = nullptr);

// Variance added before taking the square root, as Optuna's acqf_stabilizing_noise.
constexpr double kStabilizingNoise = 1e-12;

// log EI of N(mean, var) above f0 (larger is better).
double LogEi(double mean, double var, double f0);

// Log marginal likelihood plus log prior of the kernel parameters, the quantity the kernel fit
// maximises (see gp_model.h), for `points` (n rows of D normalised coordinates), targets `y`,
// categorical flags per dimension, and raw parameters
// [log lambda_1..D, log kernel_scale, log(noise_var - kMinNoiseVar)]. With `grad`, also its
// gradient with respect to `raw`. Returns -inf when the covariance is not positive definite.
double LogPosteriorOfKernelParams(const std::vector<std::vector<double>>& points,
                                  const std::vector<double>& y,
                                  const std::vector<char>& is_categorical,
                                  const std::vector<double>& raw, std::vector<double>* grad);

// How PosteriorAt evaluates the posterior: from the definitions with dense solves (a reference
// for tests), by GpPosterior::Predict one point at a time, by GpPosterior::PredictBatch, by
// GpPosterior::Predict on a posterior built from the factors a kernel fit left (FitWorkspace;
// taken only when there are no pending points), or on one given the workspace of a fit on other
// targets (y + 1, the same points and parameters), whose factors Build must not take.
enum class PosteriorMethod { kReference, kOnePoint, kBatched, kOnePointFromFit, kOnePointStaleFit };

// The GP posterior (gp_model.h) for `points` and `y` as above, `pending` points (rows of D
// coordinates, kriging believer) and kernel parameters `raw`, at `queries` (rows of D
// coordinates): fills `means` and `vars`, and for kOnePoint with non-null `dmeans` and `dvars`
// also their gradients with respect to the query point (one row per query). Returns false when
// the covariance cannot be factorised. For tests of the sampler's kernels.
bool PosteriorAt(const std::vector<std::vector<double>>& points, const std::vector<double>& y,
                 const std::vector<char>& is_categorical, const std::vector<double>& raw,
                 const std::vector<std::vector<double>>& pending,
                 const std::vector<std::vector<double>>& queries, PosteriorMethod method,
                 std::vector<double>* means, std::vector<double>* vars,
                 std::vector<std::vector<double>>* dmeans = nullptr,
                 std::vector<std::vector<double>>* dvars = nullptr);

}  // namespace hpo::gp
