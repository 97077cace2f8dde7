// Gaussian-process regression for the GP sampler: a Matérn-5/2 ARD kernel over normalised
// inputs, kernel hyperparameters fitted by maximum a posteriori, and posterior mean/variance with
// gradients.
//
// Inputs: numeric dimensions are normalised to [0, 1] (by the sampler); a categorical dimension
// holds the category index and contributes a Hamming term (0 when equal, 1 otherwise), as in
// Optuna's GPSampler. The squared scaled distance is
//   r2(a, b) = sum_d lambda_d * d2_d(a, b),   d2_d = (a_d - b_d)^2  or  [a_d != b_d],
// with lambda_d the inverse squared lengthscale, and the kernel is
//   k(a, b) = kernel_scale * matern52(r2),  matern52(r2) = (1 + r + r^2 / 3) exp(-r), r = sqrt(5
//   r2).
// Targets are standardised and oriented so that larger is better.
//
// Thread safety: free functions are pure; a GpPosterior's const methods are thread-safe after
// Build().
#pragma once

#include <Eigen/Dense>
#include <cmath>
#include <vector>

#include "samplers/gp_batch.h"
#include "samplers/gp_lbfgs.h"

namespace hpo::gp {

// Lower bound of the noise variance (standardised targets), as Optuna's default.
constexpr double kMinNoiseVar = 1e-6;

inline double Matern52(double r2) {
  double r = std::sqrt(5.0 * r2);
  return (1.0 + r + r * r / 3.0) * std::exp(-r);
}
// d matern52 / d r2 (finite at r2 = 0).
inline double Matern52DerivR2(double r2) {
  double r = std::sqrt(5.0 * r2);
  return (-5.0 / 6.0) * (1.0 + r) * std::exp(-r);
}

struct KernelParams {
  Eigen::VectorXd inv_sq_lengthscales;  // lambda_d, one per dimension
  double kernel_scale = 1.0;            // signal variance
  double noise_var = 1.0;               // observation noise variance (>= kMinNoiseVar)

  static KernelParams Default(int dims);
  // The fit's unconstrained parameterisation:
  // [log lambda_1..D, log kernel_scale, log(noise_var - kMinNoiseVar)].
  Eigen::VectorXd ToRaw() const;
  static KernelParams FromRaw(const Eigen::VectorXd& raw);
};

// Whether a and b are the same parameters, bit for bit.
bool SameKernelParams(const KernelParams& a, const KernelParams& b);

// Training data. X is D x n: one column per point (see the header comment for the encoding).
struct GpData {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;                 // standardised, larger is better
  std::vector<char> is_categorical;  // size D
  int dims() const { return static_cast<int>(X.rows()); }
  int size() const { return static_cast<int>(X.cols()); }
};

// Log marginal likelihood log p(y | X, params). With `grad_raw`, also its gradient with respect
// to the raw parameters (KernelParams::ToRaw). Returns -inf when the covariance matrix is not
// numerically positive definite.
double LogMarginalLikelihood(const GpData& data, const KernelParams& params,
                             Eigen::VectorXd* grad_raw = nullptr);

// Log prior of the kernel parameters (up to a constant), Optuna's default: on each lambda
// -(0.1 / lambda + 0.1 * lambda); Gamma(2, 1) on kernel_scale; Gamma(1.1, 30) on noise_var.
double LogPrior(const KernelParams& params, Eigen::VectorXd* grad_raw = nullptr);

struct FitOptions {
  int max_iterations = 100;
  double pgtol = 1e-2;  // Optuna's gtol
};

// The likelihood's scratch memory in a fit (kept between fits to spare the allocations) and
// what it holds afterwards: when n > 0, the factors of C (gp_batch.h's LmlFactors) for the fit's
// n points under `params`, which are the parameters the fit returned, and the data the fit ran
// on (X, y, is_categorical), against which GpPosterior::Build checks its own.
struct FitWorkspace {
  AlignedDoubles lml;
  int n = 0;
  KernelParams params;
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
  std::vector<char> is_categorical;
  // Whether the factors are those of `data` under `params`.
  bool HoldsFactorsFor(const GpData& data, const KernelParams& params) const;
};

// Maximises LogMarginalLikelihood + LogPrior by L-BFGS over the raw parameters, starting from
// `init` (warm start; with `memory`, also the curvature pairs of the previous fit, updated in
// place) and, if that fails, from KernelParams::Default. `workspace`, when given, receives the
// scratch memory and the factors (see FitWorkspace). Returns the defaults when both fail. The
// result is always finite.
KernelParams FitKernelParams(const GpData& data, const KernelParams& init,
                             const FitOptions& options = {}, LbfgsMemory* memory = nullptr,
                             FitWorkspace* workspace = nullptr);

// The posterior of f given the data, with pending points folded in by the "kriging believer"
// rule: each pending point is observed at its own posterior mean. That leaves the mean unchanged
// and shrinks the variance around pending points, so parallel asks spread out.
class GpPosterior {
 public:
  // `pending` is D x p (p may be 0). Returns false when the covariance cannot be factorised.
  // `fit`, when given, is the workspace of a FitKernelParams call: if it holds the factors for
  // this very `data` and `params` (FitWorkspace::HoldsFactorsFor; a fit on other data, e.g. a
  // subset, is ignored) and there are no pending points, they are taken instead of factorising
  // C again (the same computation).
  bool Build(const GpData& data, const KernelParams& params, const Eigen::MatrixXd& pending,
             const FitWorkspace* fit = nullptr);

  int dims() const { return static_cast<int>(X_.rows()); }
  const KernelParams& params() const { return params_; }
  const std::vector<char>& is_categorical() const { return is_categorical_; }

  // Mean and variance of f at one point x (size D). When dmean/dvar are non-null (size D), also
  // their gradients with respect to x; entries of categorical dimensions are set to 0.
  void Predict(const double* x, double* mean, double* var, double* dmean = nullptr,
               double* dvar = nullptr) const;
  // Means and variances at the columns of xs (D x m).
  void PredictBatch(const Eigen::MatrixXd& xs, Eigen::VectorXd* mean, Eigen::VectorXd* var) const;

 private:
  KernelParams params_;
  std::vector<char> is_categorical_;
  Eigen::MatrixXd X_;  // D x N, observed then pending points
  // In the padded layout of gp_batch.h (N rounded up to n_padded_, row-major, zero padding):
  // the points (D x n_padded_), the lower Cholesky factor L of C = K + noise I over all N points
  // and L' (n_padded_^2 each), 1 / L_ii, alpha = C^-1 y over the observed points (0 for pending
  // ones), and for small models (see Build) C^-1 in gp_batch.h's packed layout
  // (PackSymmetric), else empty.
  int n_padded_ = 0;
  AlignedDoubles train_padded_, chol_rows_, chol_t_rows_, inv_diag_, alpha_padded_;
  AlignedDoubles cinv_rows_;
  AlignedDoubles scratch_;  // Build's, kept to spare allocations when rebuilt

  // The padded layout for gp_batch.h's kernels (pointers into this object).
  BatchModel Model() const;
};

}  // namespace hpo::gp
