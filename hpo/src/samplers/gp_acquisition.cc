#include "samplers/gp_acquisition.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "samplers/gp_lbfgs.h"

namespace hpo::gp {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kInvSqrt2Pi = 0.3989422804014327;   // 1 / sqrt(2 pi)
constexpr double kLogSqrt2Pi = 0.91893853320467274;  // log sqrt(2 pi)
constexpr size_t kMaxExhaustive = 16;

// Index of the grid point nearest to v.
size_t NearestIndex(const std::vector<double>& grid, double v) {
  auto it = std::lower_bound(grid.begin(), grid.end(), v);
  if (it == grid.end()) return grid.size() - 1;
  size_t i = static_cast<size_t>(it - grid.begin());
  if (i > 0 && v - grid[i - 1] < *it - v) --i;
  return i;
}

class LocalSearch {
 public:
  LocalSearch(const LogEiAcquisition& acqf, const std::vector<AcqfDim>& dims,
              const AcqfOptions& options)
      : acqf_(acqf), dims_(dims), options_(options) {
    const Eigen::VectorXd& lambda = acqf.gp().params().inv_sq_lengthscales;
    for (size_t d = 0; d < dims.size(); ++d) {
      if (dims[d].fixed) continue;
      if (dims[d].kind == AcqfDim::Kind::kContinuous) {
        continuous_.push_back(static_cast<int>(d));
      } else if (dims[d].grid.size() > 1) {
        discrete_.push_back(static_cast<int>(d));
      }
    }
    lengthscale_.resize(static_cast<Eigen::Index>(continuous_.size()));
    for (size_t c = 0; c < continuous_.size(); ++c)
      lengthscale_[c] = 1.0 / std::sqrt(lambda[continuous_[c]]);
  }

  // Improves (x, f) in place.
  void Run(Eigen::VectorXd& x, double& f) const {
    for (int round = 0; round < options_.max_rounds; ++round) {
      bool changed = GradientAscent(x, f);
      for (int d : discrete_) changed |= DiscreteSearch(x, f, d);
      if (!changed) break;
    }
  }

 private:
  bool GradientAscent(Eigen::VectorXd& x, double& f) const {
    const Eigen::Index nc = lengthscale_.size();
    if (nc == 0) return false;
    Eigen::VectorXd work = x, grad(x.size());
    Objective negative = [&](const Eigen::VectorXd& z, Eigen::VectorXd* g) {
      for (Eigen::Index c = 0; c < nc; ++c) work[continuous_[c]] = z[c] * lengthscale_[c];
      double v = acqf_.ValueAndGrad(work, &grad);
      for (Eigen::Index c = 0; c < nc; ++c) (*g)[c] = -grad[continuous_[c]] * lengthscale_[c];
      return -v;
    };
    Eigen::VectorXd z0(nc), upper(nc);
    for (Eigen::Index c = 0; c < nc; ++c) {
      z0[c] = x[continuous_[c]] / lengthscale_[c];
      upper[c] = 1.0 / lengthscale_[c];
    }
    LbfgsOptions lbfgs;
    lbfgs.max_iterations = 200;
    lbfgs.pgtol = std::sqrt(options_.tol);
    lbfgs.ftol = 1e-10;
    LbfgsResult r = MinimizeBox(negative, z0, Eigen::VectorXd::Zero(nc), upper, lbfgs);
    if (!(std::isfinite(r.f) && -r.f > f)) return false;
    Eigen::VectorXd moved = x;
    for (Eigen::Index c = 0; c < nc; ++c)
      moved[continuous_[c]] = std::clamp(r.x[c] * lengthscale_[c], 0.0, 1.0);
    double fm = acqf_.Value(moved);  // the value at the clamped point
    if (!(fm > f)) return false;
    x = moved;
    f = fm;
    return true;
  }

  bool DiscreteSearch(Eigen::VectorXd& x, double& f, int d) const {
    const std::vector<double>& grid = dims_[d].grid;
    const double start = x[d];
    double best_value = start, best_f = f;
    auto probe = [&](double v) {
      if (v == x[d]) return;
      double saved = x[d];
      x[d] = v;
      double fv = acqf_.Value(x);
      x[d] = saved;
      if (std::isfinite(fv) && fv > best_f) {
        best_f = fv;
        best_value = v;
      }
    };
    if (dims_[d].kind == AcqfDim::Kind::kCategorical || grid.size() <= kMaxExhaustive) {
      for (double v : grid) probe(v);
    } else {
      // Pattern search on the grid index: neighbours at +-1, +-2, +-4, ... while it improves.
      for (int moves = 0; moves < 16; ++moves) {
        const int64_t k = static_cast<int64_t>(NearestIndex(grid, x[d]));
        const int64_t size = static_cast<int64_t>(grid.size());
        const double before = best_f;
        for (int64_t step = 1; step < size; step *= 2) {
          if (k - step >= 0) probe(grid[k - step]);
          if (k + step < size) probe(grid[k + step]);
        }
        if (!(best_f > before)) break;
        x[d] = best_value;
      }
    }
    x[d] = best_value;
    bool changed = best_value != start;
    if (changed) f = best_f;
    return changed;
  }

  const LogEiAcquisition& acqf_;
  const std::vector<AcqfDim>& dims_;
  const AcqfOptions& options_;
  std::vector<int> continuous_, discrete_;
  Eigen::VectorXd lengthscale_;
};

}  // namespace

double StandardLogEi(double z, double* dz, double* phi_over_ei) {
  if (z >= -5.0) {
    double cdf = 0.5 * std::erfc(-z * std::numbers::sqrt2 / 2);
    double pdf = std::exp(-0.5 * z * z) * kInvSqrt2Pi;
    double ei = z * cdf + pdf;
    if (dz != nullptr) *dz = cdf / ei;
    if (phi_over_ei != nullptr) *phi_over_ei = pdf / ei;
    return std::log(ei);
  }
  // E[max(0, Z + z)] = pdf(z) * q with q = 1 + z * r and r = cdf(z) / pdf(z) (a Mills ratio).
  double r, q, log_q;
  if (z < -30.0) {
    // Asymptotic series in w = 1/z^2; the first omitted term is below 2e-11 relative.
    double w = 1.0 / (z * z);
    r = (-1.0 / z) * (1.0 - w * (1.0 - w * (3.0 - w * (15.0 - w * 105.0))));
    double q_over_w = 1.0 - w * (3.0 - w * (15.0 - w * (105.0 - w * 945.0)));
    q = w * q_over_w;
    log_q = std::log(w) + std::log(q_over_w);
  } else {
    // erfcx(t) = exp(t^2) erfc(t) with t = -z / sqrt(2); neither factor over/underflows here.
    double t = -z * std::numbers::sqrt2 / 2;
    double erfcx = std::exp(0.5 * z * z) * std::erfc(t);
    r = std::sqrt(std::numbers::pi / 2) * erfcx;
    q = 1.0 + z * r;
    log_q = std::log(q);
  }
  if (dz != nullptr) *dz = r / q;
  if (phi_over_ei != nullptr) *phi_over_ei = 1.0 / q;
  return -0.5 * z * z - kLogSqrt2Pi + log_q;
}

double LogEi(double mean, double var, double f0) {
  double sigma = std::sqrt(std::max(var, 0.0) + kStabilizingNoise);
  return std::log(sigma) + StandardLogEi((mean - f0) / sigma);
}

double LogEiAcquisition::Value(const Eigen::VectorXd& x) const {
  double mean, var;
  gp_.Predict(x.data(), &mean, &var);
  double v = LogEi(mean, var, f0_);
  return std::isfinite(v) ? v : kNegInf;
}

double LogEiAcquisition::ValueAndGrad(const Eigen::VectorXd& x, Eigen::VectorXd* grad) const {
  const Eigen::Index dims = x.size();
  Eigen::VectorXd dmean(dims), dvar(dims);
  double mean, var;
  gp_.Predict(x.data(), &mean, &var, dmean.data(), dvar.data());
  double sigma2 = var + kStabilizingNoise, sigma = std::sqrt(sigma2);
  double z = (mean - f0_) / sigma, h_prime, phi_over_ei;
  double v = std::log(sigma) + StandardLogEi(z, &h_prime, &phi_over_ei);
  // d/dmean = h'(z) / sigma; d/dvar = (1 - z h'(z)) / (2 sigma^2) = phi_over_ei / (2 sigma^2).
  *grad = (h_prime / sigma) * dmean + (phi_over_ei / (2.0 * sigma2)) * dvar;
  if (!std::isfinite(v) || !grad->allFinite()) return kNegInf;
  return v;
}

Eigen::VectorXd LogEiAcquisition::Batch(const Eigen::MatrixXd& xs) const {
  Eigen::VectorXd mean, var;
  gp_.PredictBatch(xs, &mean, &var);
  Eigen::VectorXd out(xs.cols());
  for (Eigen::Index j = 0; j < xs.cols(); ++j) {
    double v = LogEi(mean[j], var[j], f0_);
    out[j] = std::isfinite(v) ? v : kNegInf;
  }
  return out;
}

std::pair<Eigen::VectorXd, double> MaximizeLogEi(const LogEiAcquisition& acqf,
                                                 const std::vector<AcqfDim>& dims,
                                                 const std::vector<Eigen::VectorXd>& extra_starts,
                                                 std::mt19937_64& rng, const AcqfOptions& options) {
  const Eigen::Index n_dims = static_cast<Eigen::Index>(dims.size());
  const int m = std::max(1, options.n_candidates);
  std::uniform_real_distribution<double> u01(0.0, 1.0);

  // Random candidates (fixed dimensions held, discrete ones on their grid).
  Eigen::MatrixXd candidates(n_dims, m);
  for (int j = 0; j < m; ++j) {
    for (Eigen::Index d = 0; d < n_dims; ++d) {
      const AcqfDim& dim = dims[d];
      double u = u01(rng);
      if (dim.fixed) {
        candidates(d, j) = dim.fixed_value;
      } else if (dim.kind == AcqfDim::Kind::kContinuous) {
        candidates(d, j) = u;
      } else if (dim.kind == AcqfDim::Kind::kCategorical) {
        double c = static_cast<double>(dim.grid.size());
        candidates(d, j) = std::min(std::floor(u * c), c - 1);
      } else {
        candidates(d, j) = dim.grid[NearestIndex(dim.grid, u)];
      }
    }
  }
  Eigen::VectorXd values = acqf.Batch(candidates);
  Eigen::Index best_j = 0;
  for (Eigen::Index j = 1; j < m; ++j)
    if (values[j] > values[best_j]) best_j = j;

  Eigen::VectorXd best_x = candidates.col(best_j);
  double best_f = values[best_j];

  // Starts: the best candidate, a roulette draw (weights exp(f - max), without replacement, by
  // Efraimidis-Spirakis keys log(u) / w), and the caller's points.
  std::vector<Eigen::VectorXd> starts = {best_x};
  int n_roulette = options.n_local_search - 1 - static_cast<int>(extra_starts.size());
  std::vector<std::pair<double, Eigen::Index>> keys;
  for (Eigen::Index j = 0; j < m; ++j) {
    double u = u01(rng);
    if (j == best_j || !std::isfinite(values[j])) continue;
    double w = std::exp(values[j] - best_f);
    if (w > 0) keys.emplace_back(std::log(std::max(u, 1e-300)) / w, j);
  }
  if (n_roulette > 0 && !keys.empty()) {
    size_t k = std::min(keys.size(), static_cast<size_t>(n_roulette));
    std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(k), keys.end(),
                      [](const auto& a, const auto& b) {
                        return a.first > b.first || (a.first == b.first && a.second < b.second);
                      });
    for (size_t i = 0; i < k; ++i) starts.push_back(candidates.col(keys[i].second));
  }
  for (Eigen::VectorXd x : extra_starts) {
    for (Eigen::Index d = 0; d < n_dims; ++d)
      if (dims[d].fixed) x[d] = dims[d].fixed_value;
    starts.push_back(std::move(x));
  }

  LocalSearch search(acqf, dims, options);
  for (Eigen::VectorXd& x : starts) {
    double f = acqf.Value(x);
    if (!std::isfinite(f)) continue;
    search.Run(x, f);
    if (f > best_f || !std::isfinite(best_f)) {
      best_f = f;
      best_x = x;
    }
  }
  return {best_x, best_f};
}

}  // namespace hpo::gp
