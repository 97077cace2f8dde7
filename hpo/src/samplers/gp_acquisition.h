// The GP sampler's acquisition function (log expected improvement) and its optimiser over a
// mixed continuous / discrete / categorical normalised space.
//
// Optimiser (after Optuna's optim_mixed): score `n_candidates` random points, start local
// searches from the best one, from others drawn with probability proportional to exp(logEI -
// max), and from caller-given points (e.g. the incumbent); each local search alternates L-BFGS
// on the continuous dimensions (in lengthscale-scaled coordinates) with a search over each
// discrete or categorical dimension (every value when there are at most 16, otherwise
// exponentially spaced neighbours on the grid), until a round changes nothing.
//
// Thread safety: a LogEiAcquisition is immutable; MaximizeLogEi uses only its arguments.
#pragma once

#include <Eigen/Dense>
#include <random>
#include <utility>
#include <vector>

#include "samplers/gp_model.h"
#include "samplers/gp_numerics.h"

namespace hpo::gp {

class LogEiAcquisition {
 public:
  // `gp` must outlive this object. `f0` is the best observed (standardised) target.
  LogEiAcquisition(const GpPosterior& gp, double f0) : gp_(gp), f0_(f0) {}
  const GpPosterior& gp() const { return gp_; }
  double Value(const Eigen::VectorXd& x) const;
  // Value and gradient with respect to x (categorical entries 0).
  double ValueAndGrad(const Eigen::VectorXd& x, Eigen::VectorXd* grad) const;
  // Values at the columns of xs (D x m).
  Eigen::VectorXd Batch(const Eigen::MatrixXd& xs) const;

 private:
  const GpPosterior& gp_;
  double f0_;
};

struct AcqfDim {
  enum class Kind { kContinuous, kDiscrete, kCategorical };
  Kind kind = Kind::kContinuous;
  // kDiscrete: the normalised grid points, ascending. kCategorical: 0, 1, ..., c - 1.
  std::vector<double> grid;
  // Held at `fixed_value` (define-by-run parameters already chosen for the trial).
  bool fixed = false;
  double fixed_value = 0;
};

struct AcqfOptions {
  int n_candidates = 2048;  // random points scored before the local searches
  int n_local_search = 10;  // local searches, including the extra starts
  double tol = 1e-4;        // L-BFGS stops at a projected gradient below sqrt(tol)
  int max_rounds = 10;      // alternations of continuous and discrete steps per local search
};

// Maximises `acqf` over `dims` (fixed dimensions are left at their value). Returns the best point
// and its log-EI; the value is -inf when no finite log-EI was seen. Deterministic given `rng`.
std::pair<Eigen::VectorXd, double> MaximizeLogEi(const LogEiAcquisition& acqf,
                                                 const std::vector<AcqfDim>& dims,
                                                 const std::vector<Eigen::VectorXd>& extra_starts,
                                                 std::mt19937_64& rng,
                                                 const AcqfOptions& options = {});

}  // namespace hpo::gp
