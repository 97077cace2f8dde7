#include "samplers/gp_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "samplers/gp_batch.h"
#include "samplers/gp_lbfgs.h"
#include "samplers/gp_numerics.h"

namespace hpo::gp {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Bounds of the raw parameters during the fit (wide; the priors keep the optimum well inside).
constexpr double kRawLambdaMin = -10, kRawLambdaMax = 10;
constexpr double kRawScaleMin = -10, kRawScaleMax = 10;
constexpr double kRawNoiseMin = -20, kRawNoiseMax = 3;

// LogMarginalLikelihood with the points already transposed (xt: n x D, column-major, i.e.
// one contiguous column per dimension) and a reusable workspace.
double Lml(const GpData& data, const Eigen::MatrixXd& xt, const KernelParams& params,
           AlignedDoubles* work, Eigen::VectorXd* grad_raw) {
  const int n = data.size(), dims = data.dims();
  if (n == 0) {
    if (grad_raw != nullptr) grad_raw->setZero(dims + 2);
    return 0.0;
  }
  if (!xt.allFinite() || !data.y.allFinite() || !params.inv_sq_lengthscales.allFinite() ||
      !std::isfinite(params.kernel_scale) || !std::isfinite(params.noise_var))
    return kNegInf;
  work->resize(LmlWorkSize(n, dims));
  if (grad_raw != nullptr) grad_raw->resize(dims + 2);
  return LogMarginalLikelihoodKernel(n, dims, xt.data(), data.is_categorical.data(), data.y.data(),
                                     params.inv_sq_lengthscales.data(), params.kernel_scale,
                                     params.noise_var, kMinNoiseVar, work->data(),
                                     grad_raw != nullptr ? grad_raw->data() : nullptr);
}

}  // namespace

KernelParams KernelParams::Default(int dims) {
  KernelParams p;
  p.inv_sq_lengthscales = Eigen::VectorXd::Ones(dims);
  p.kernel_scale = 1.0;
  p.noise_var = 1.0;
  return p;
}

Eigen::VectorXd KernelParams::ToRaw() const {
  const Eigen::Index dims = inv_sq_lengthscales.size();
  Eigen::VectorXd raw(dims + 2);
  raw.head(dims) = inv_sq_lengthscales.array().log();
  raw[dims] = std::log(kernel_scale);
  raw[dims + 1] = std::log(std::max(noise_var - kMinNoiseVar, 1e-3 * kMinNoiseVar));
  return raw;
}

KernelParams KernelParams::FromRaw(const Eigen::VectorXd& raw) {
  const Eigen::Index dims = raw.size() - 2;
  KernelParams p;
  p.inv_sq_lengthscales = raw.head(dims).array().exp();
  p.kernel_scale = std::exp(raw[dims]);
  p.noise_var = std::exp(raw[dims + 1]) + kMinNoiseVar;
  return p;
}

bool SameKernelParams(const KernelParams& a, const KernelParams& b) {
  return a.inv_sq_lengthscales.size() == b.inv_sq_lengthscales.size() &&
         a.inv_sq_lengthscales == b.inv_sq_lengthscales && a.kernel_scale == b.kernel_scale &&
         a.noise_var == b.noise_var;
}

double LogMarginalLikelihood(const GpData& data, const KernelParams& params,
                             Eigen::VectorXd* grad_raw) {
  const Eigen::MatrixXd xt = data.X.transpose();
  AlignedDoubles work;
  return Lml(data, xt, params, &work, grad_raw);
}

double LogPrior(const KernelParams& params, Eigen::VectorXd* grad_raw) {
  const Eigen::Index dims = params.inv_sq_lengthscales.size();
  const Eigen::ArrayXd lambda = params.inv_sq_lengthscales.array();
  const double s = params.kernel_scale, noise = params.noise_var;
  // Gamma(a, b) log density up to a constant: (a - 1) log x - b x.
  double lp = -(0.1 / lambda + 0.1 * lambda).sum() + (std::log(s) - s) +
              (0.1 * std::log(noise) - 30.0 * noise);
  if (grad_raw != nullptr) {
    grad_raw->resize(dims + 2);
    grad_raw->head(dims) = (0.1 / lambda - 0.1 * lambda).matrix();
    (*grad_raw)[dims] = 1.0 - s;
    (*grad_raw)[dims + 1] = (0.1 / noise - 30.0) * (noise - kMinNoiseVar);
  }
  return lp;
}

KernelParams FitKernelParams(const GpData& data, const KernelParams& init,
                             const FitOptions& options, LbfgsMemory* memory,
                             FitWorkspace* workspace) {
  const int dims = data.dims();
  Eigen::VectorXd lower(dims + 2), upper(dims + 2);
  lower.head(dims).setConstant(kRawLambdaMin);
  upper.head(dims).setConstant(kRawLambdaMax);
  lower[dims] = kRawScaleMin;
  upper[dims] = kRawScaleMax;
  lower[dims + 1] = kRawNoiseMin;
  upper[dims + 1] = kRawNoiseMax;

  const Eigen::MatrixXd xt = data.X.transpose();
  FitWorkspace local_work;
  FitWorkspace& work = workspace != nullptr ? *workspace : local_work;
  work.n = 0;
  work.X = data.X;
  work.y = data.y;
  work.is_categorical = data.is_categorical;
  Objective negative_log_posterior = [&](const Eigen::VectorXd& raw, Eigen::VectorXd* grad) {
    KernelParams p = KernelParams::FromRaw(raw);
    Eigen::VectorXd g_lml, g_prior;
    double v = Lml(data, xt, p, &work.lml, &g_lml);
    work.n = std::isfinite(v) ? data.size() : 0;
    work.params = p;
    if (!std::isfinite(v)) return std::numeric_limits<double>::infinity();
    v += LogPrior(p, &g_prior);
    *grad = -(g_lml + g_prior);
    return -v;
  };
  LbfgsOptions lbfgs;
  lbfgs.max_iterations = options.max_iterations;
  lbfgs.max_evaluations = 3 * options.max_iterations;
  lbfgs.pgtol = options.pgtol;
  lbfgs.ftol = 1e-9;

  LbfgsMemory scratch;
  if (memory == nullptr) memory = &scratch;
  std::vector<KernelParams> starts;
  if (init.inv_sq_lengthscales.size() == dims) starts.push_back(init);
  starts.push_back(KernelParams::Default(dims));
  for (size_t i = 0; i < starts.size(); ++i) {
    Eigen::VectorXd x0 = starts[i].ToRaw();
    if (i > 0) memory->clear();  // a restart from the defaults forgets the old curvature
    if (!x0.allFinite()) continue;
    LbfgsResult r = MinimizeBox(negative_log_posterior, x0, lower, upper, lbfgs, memory);
    if (std::isfinite(r.f) && r.x.allFinite()) {
      KernelParams fitted = KernelParams::FromRaw(r.x);
      if (!SameKernelParams(work.params, fitted)) work.n = 0;
      return fitted;
    }
  }
  memory->clear();
  work.n = 0;
  return KernelParams::Default(dims);
}

bool FitWorkspace::HoldsFactorsFor(const GpData& data, const KernelParams& p) const {
  return n > 0 && n == data.size() && SameKernelParams(params, p) &&
         is_categorical == data.is_categorical && X.rows() == data.X.rows() &&
         X.cols() == data.X.cols() && X == data.X && y.size() == data.y.size() && y == data.y;
}

bool GpPosterior::Build(const GpData& data, const KernelParams& params,
                        const Eigen::MatrixXd& pending, const FitWorkspace* fit) {
  const int n = data.size(), dims = data.dims();
  const int p = static_cast<int>(pending.cols());
  const int total = n + p;
  params_ = params;
  is_categorical_ = data.is_categorical;
  X_.resize(dims, total);
  X_.leftCols(n) = data.X;
  if (p > 0) X_.rightCols(p) = pending;
  if (!X_.allFinite() || !data.y.allFinite() || !params.inv_sq_lengthscales.allFinite() ||
      !(params.kernel_scale > 0) || !std::isfinite(params.kernel_scale) ||
      !std::isfinite(params.noise_var))
    return false;

  const int np = std::max(kBatchRowPad, (total + kBatchRowPad - 1) / kBatchRowPad * kBatchRowPad);
  n_padded_ = np;
  train_padded_.assign(static_cast<size_t>(dims) * np, 0.0);
  for (int d = 0; d < dims; ++d)
    for (int l = 0; l < total; ++l) train_padded_[static_cast<size_t>(d) * np + l] = X_(d, l);

  // C^-1 makes each one-point prediction of the local search cheaper (a packed symmetric
  // matrix-vector product, PackedSymmetricTimesVector, instead of two substitutions) for an
  // O(n^3) cost, which pays up to a few hundred points.
  constexpr int kMaxPointsForInverse = 256;
  const bool keep_inverse = total <= kMaxPointsForInverse;
  chol_rows_.assign(static_cast<size_t>(np) * np, 0.0);
  inv_diag_.assign(np, 1.0);  // padding rows keep zero, with 1 / L_ii = 1
  alpha_padded_.assign(np, 0.0);
  cinv_rows_.clear();
  if (keep_inverse) cinv_rows_.resize(PackedSymmetricSize(np));

  if (fit != nullptr && p == 0 && n > 0 && fit->HoldsFactorsFor(data, params)) {
    // The fit's last evaluation factorised this very C (no jitter was needed there).
    const LmlFactorsView f = LmlFactors(n, fit->lml.data());
    for (int i = 0; i < n; ++i) {
      const size_t from = static_cast<size_t>(i) * f.stride, to = static_cast<size_t>(i) * np;
      std::copy(f.chol + from, f.chol + from + i + 1, chol_rows_.begin() + to);
      inv_diag_[i] = f.inv_diag[i];
      alpha_padded_[i] = f.alpha[i];
    }
    if (keep_inverse) PackSymmetric(n, f.cinv, f.stride, cinv_rows_.data());  // its lower triangle
  } else {
    // C = K + noise I over all points; when it is not numerically positive definite, retry with
    // growing jitter (relative to the mean diagonal) on the diagonal.
    scratch_.resize(static_cast<size_t>(np) * np);
    double* panel = scratch_.data();
    const double diagonal = params.kernel_scale + params.noise_var;
    double jitter = 0;
    bool factorised = false;
    for (int attempt = 0; attempt < 9 && !factorised; ++attempt) {
      factorised = KernelCholesky(total, np, dims, train_padded_.data(), is_categorical_.data(),
                                  params.inv_sq_lengthscales.data(), params.kernel_scale,
                                  diagonal + jitter, panel, chol_rows_.data(), inv_diag_.data());
      jitter = jitter == 0 ? 1e-10 * diagonal : jitter * 10;
    }
    if (!factorised) return false;

    // The leading n x n block of L factors the observed points alone; pending points get
    // alpha = 0 (the kriging believer leaves the mean unchanged).
    std::vector<double> z(n);
    for (int i = 0; i < n; ++i) {
      double acc = data.y[i];
      for (int l = 0; l < i; ++l) acc -= chol_rows_[static_cast<size_t>(i) * np + l] * z[l];
      z[i] = acc * inv_diag_[i];
    }
    for (int i = n - 1; i >= 0; --i) {
      double acc = z[i];
      for (int l = i + 1; l < n; ++l)
        acc -= chol_rows_[static_cast<size_t>(l) * np + i] * alpha_padded_[l];
      alpha_padded_[i] = acc * inv_diag_[i];
    }
    if (keep_inverse) {
      // C^-1 into the second half of scratch_ (the first holds InverseFromCholesky's L^-1),
      // then packed.
      scratch_.resize(2 * static_cast<size_t>(np) * np);
      double* full = scratch_.data() + static_cast<size_t>(np) * np;
      InverseFromCholesky(total, np, chol_rows_.data(), inv_diag_.data(), scratch_.data(), full);
      PackSymmetric(total, full, np, cinv_rows_.data());
    }
  }
  for (int i = 0; i < n; ++i)
    if (!std::isfinite(alpha_padded_[i])) return false;
  // L' is read only where C^-1 is not kept (PosteriorPoint's back substitution).
  chol_t_rows_.clear();
  if (!keep_inverse) {
    chol_t_rows_.assign(static_cast<size_t>(np) * np, 0.0);
    for (int i = 0; i < total; ++i)
      for (int l = 0; l <= i; ++l)
        chol_t_rows_[static_cast<size_t>(l) * np + i] = chol_rows_[static_cast<size_t>(i) * np + l];
  }
  return true;
}

void GpPosterior::Predict(const double* x, double* mean, double* var, double* dmean,
                          double* dvar) const {
  const BatchModel model = Model();
  // Called hundreds of times per ask by the local search: scratch on the stack when it fits.
  constexpr size_t kStackDoubles = 3 * 512;
  const size_t need = 3 * static_cast<size_t>(n_padded_);
  alignas(64) double stack[kStackDoubles];
  AlignedDoubles heap(need > kStackDoubles ? need : 0);
  PosteriorPoint(model, x, need > kStackDoubles ? heap.data() : stack, mean, var, dmean, dvar);
}

BatchModel GpPosterior::Model() const {
  BatchModel model;
  model.dims = dims();
  model.n = static_cast<int>(X_.cols());
  model.n_padded = n_padded_;
  model.train = train_padded_.data();
  model.is_categorical = is_categorical_.data();
  model.lambda = params_.inv_sq_lengthscales.data();
  model.kernel_scale = params_.kernel_scale;
  model.alpha = alpha_padded_.data();
  model.chol = chol_rows_.data();
  model.chol_t = chol_t_rows_.empty() ? nullptr : chol_t_rows_.data();
  model.cinv = cinv_rows_.empty() ? nullptr : cinv_rows_.data();
  model.inv_diag = inv_diag_.data();
  return model;
}

void GpPosterior::PredictBatch(const Eigen::MatrixXd& xs, Eigen::VectorXd* mean,
                               Eigen::VectorXd* var) const {
  const Eigen::Index m = xs.cols();
  const int dims = this->dims();
  const double s = params_.kernel_scale;
  mean->resize(m);
  var->resize(m);
  const BatchModel model = Model();
  AlignedDoubles cand(static_cast<size_t>(dims) * kBatchBlock);
  AlignedDoubles scratch(static_cast<size_t>(n_padded_) * kBatchBlock);
  double block_mean[kBatchBlock], block_quad[kBatchBlock];
  for (Eigen::Index start = 0; start < m; start += kBatchBlock) {
    const int b = static_cast<int>(std::min<Eigen::Index>(kBatchBlock, m - start));
    for (int d = 0; d < dims; ++d)
      for (int c = 0; c < kBatchBlock; ++c)  // a short last block repeats its last point
        cand[static_cast<size_t>(d) * kBatchBlock + c] = xs(d, start + std::min(c, b - 1));
    PosteriorBlock(model, cand.data(), scratch.data(), block_mean, block_quad);
    for (int c = 0; c < b; ++c) {
      (*mean)[start + c] = block_mean[c];
      (*var)[start + c] = std::max(s - block_quad[c], 0.0);
    }
  }
}

}  // namespace hpo::gp

namespace hpo::gp {

double LogPosteriorOfKernelParams(const std::vector<std::vector<double>>& points,
                                  const std::vector<double>& y,
                                  const std::vector<char>& is_categorical,
                                  const std::vector<double>& raw, std::vector<double>* grad) {
  GpData data;
  const Eigen::Index n = static_cast<Eigen::Index>(points.size());
  const Eigen::Index dims = static_cast<Eigen::Index>(is_categorical.size());
  data.X.resize(dims, n);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index d = 0; d < dims; ++d) data.X(d, i) = points[i][d];
  data.y = Eigen::Map<const Eigen::VectorXd>(y.data(), n);
  data.is_categorical = is_categorical;
  KernelParams params =
      KernelParams::FromRaw(Eigen::Map<const Eigen::VectorXd>(raw.data(), dims + 2));
  Eigen::VectorXd g_lml, g_prior;
  double v = LogMarginalLikelihood(data, params, grad ? &g_lml : nullptr);
  if (!std::isfinite(v)) return v;
  v += LogPrior(params, grad ? &g_prior : nullptr);
  if (grad != nullptr) {
    Eigen::VectorXd g = g_lml + g_prior;
    grad->assign(g.data(), g.data() + g.size());
  }
  return v;
}

namespace {

Eigen::MatrixXd Columns(const std::vector<std::vector<double>>& rows, Eigen::Index dims) {
  Eigen::MatrixXd m(dims, static_cast<Eigen::Index>(rows.size()));
  for (size_t i = 0; i < rows.size(); ++i)
    for (Eigen::Index d = 0; d < dims; ++d) m(d, static_cast<Eigen::Index>(i)) = rows[i][d];
  return m;
}

}  // namespace

bool PosteriorAt(const std::vector<std::vector<double>>& points, const std::vector<double>& y,
                 const std::vector<char>& is_categorical, const std::vector<double>& raw,
                 const std::vector<std::vector<double>>& pending,
                 const std::vector<std::vector<double>>& queries, PosteriorMethod method,
                 std::vector<double>* means, std::vector<double>* vars,
                 std::vector<std::vector<double>>* dmeans,
                 std::vector<std::vector<double>>* dvars) {
  const Eigen::Index dims = static_cast<Eigen::Index>(is_categorical.size());
  GpData data;
  data.X = Columns(points, dims);
  data.y = Eigen::Map<const Eigen::VectorXd>(y.data(), static_cast<Eigen::Index>(y.size()));
  data.is_categorical = is_categorical;
  const KernelParams params =
      KernelParams::FromRaw(Eigen::Map<const Eigen::VectorXd>(raw.data(), dims + 2));
  const Eigen::MatrixXd pend = Columns(pending, dims);
  const Eigen::MatrixXd xs = Columns(queries, dims);
  const size_t m = queries.size();
  means->resize(m);
  vars->resize(m);
  if (method == PosteriorMethod::kReference) {
    // Straight from the definitions, with dense solves.
    const Eigen::Index n = data.X.cols(), total = n + pend.cols();
    Eigen::MatrixXd all(dims, total);
    all << data.X, pend;
    auto kernel = [&](const double* a, const double* b) {
      double r2 = 0;
      for (Eigen::Index d = 0; d < dims; ++d)
        r2 += params.inv_sq_lengthscales[d] *
              (is_categorical[d] ? (a[d] != b[d] ? 1.0 : 0.0) : (a[d] - b[d]) * (a[d] - b[d]));
      return params.kernel_scale * Matern52(r2);
    };
    Eigen::MatrixXd c(total, total);
    for (Eigen::Index i = 0; i < total; ++i)
      for (Eigen::Index j = 0; j < total; ++j)
        c(i, j) = kernel(all.col(i).data(), all.col(j).data()) + (i == j ? params.noise_var : 0.0);
    const Eigen::VectorXd alpha = c.topLeftCorner(n, n).llt().solve(data.y);
    Eigen::LLT<Eigen::MatrixXd> llt(c);
    if (llt.info() != Eigen::Success) return false;
    for (size_t j = 0; j < m; ++j) {
      Eigen::VectorXd k(total);
      for (Eigen::Index i = 0; i < total; ++i)
        k[i] = kernel(all.col(i).data(), xs.col(static_cast<Eigen::Index>(j)).data());
      (*means)[j] = k.head(n).dot(alpha);
      (*vars)[j] = std::max(params.kernel_scale - k.dot(llt.solve(k)), 0.0);
    }
    return true;
  }
  GpPosterior gp;
  if (method == PosteriorMethod::kOnePointFromFit) {
    // A fit that stops at its start (raw, projected into the fit's bounds) leaves its factors.
    FitOptions no_steps;
    no_steps.max_iterations = 0;
    FitWorkspace fit;
    const KernelParams fitted = FitKernelParams(data, params, no_steps, nullptr, &fit);
    if (fit.n != data.size() || !gp.Build(data, fitted, pend, &fit)) return false;
  } else if (method == PosteriorMethod::kOnePointStaleFit) {
    GpData other = data;
    other.y.array() += 1.0;
    FitOptions no_steps;
    no_steps.max_iterations = 0;
    FitWorkspace fit;
    const KernelParams fitted = FitKernelParams(other, params, no_steps, nullptr, &fit);
    if (fit.n != data.size() || !gp.Build(data, fitted, pend, &fit)) return false;
  } else if (!gp.Build(data, params, pend)) {
    return false;
  }
  if (method == PosteriorMethod::kBatched) {
    Eigen::VectorXd mv, vv;
    gp.PredictBatch(xs, &mv, &vv);
    for (size_t j = 0; j < m; ++j) {
      (*means)[j] = mv[static_cast<Eigen::Index>(j)];
      (*vars)[j] = vv[static_cast<Eigen::Index>(j)];
    }
    return true;
  }
  if (dmeans != nullptr) dmeans->assign(m, std::vector<double>(dims));
  if (dvars != nullptr) dvars->assign(m, std::vector<double>(dims));
  for (size_t j = 0; j < m; ++j) {
    const double* x = xs.col(static_cast<Eigen::Index>(j)).data();
    if (dmeans != nullptr && dvars != nullptr) {
      gp.Predict(x, &(*means)[j], &(*vars)[j], (*dmeans)[j].data(), (*dvars)[j].data());
    } else {
      gp.Predict(x, &(*means)[j], &(*vars)[j]);
    }
  }
  return true;
}

}  // namespace hpo::gp
