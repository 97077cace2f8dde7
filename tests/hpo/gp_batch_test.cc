// Tests for hpo/src/samplers/gp_batch.cc's factorisation and likelihood kernels, below the
// sampler: the Cholesky factor after a failed attempt (the jitter retries of GpPosterior::Build),
// results that do not depend on what the work buffers held before (NaN-poisoned, reused across
// sizes), and the log marginal likelihood and its gradient against a dense long-double
// reference. The posterior kernels are checked in gp_sampler_test.cc.
//
// The private header is reached by relative path; it is Eigen-free.
#include "../../hpo/src/samplers/gp_batch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace hpo::gp {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

int Pad8(int n) { return (n + 7) / 8 * 8; }

// Bit-level equality (NaN payloads included), with the first differing index in the message.
::testing::AssertionResult SameBits(const double* a, const double* b, size_t len) {
  for (size_t i = 0; i < len; ++i)
    if (std::bit_cast<uint64_t>(a[i]) != std::bit_cast<uint64_t>(b[i]))
      return ::testing::AssertionFailure() << "entry " << i << ": " << a[i] << " vs " << b[i];
  return ::testing::AssertionSuccess();
}

// A small problem: n points in `dims` dimensions (the last one categorical with 4 levels), d-major
// with rows of `stride` (zero beyond n), targets, and kernel parameters.
struct Problem {
  int n = 0, dims = 0, stride = 0;
  std::vector<double> x;  // dims x stride
  std::vector<char> is_categorical;
  std::vector<double> y, lambda;
  double kernel_scale = 1.3, noise_var = 2e-3;

  double X(int d, int i) const { return x[static_cast<size_t>(d) * stride + i]; }
};

Problem MakeProblem(int n, int dims, int stride, uint64_t seed, double lambda_scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Problem p;
  p.n = n;
  p.dims = dims;
  p.stride = stride;
  p.x.assign(static_cast<size_t>(dims) * stride, 0.0);
  for (int d = 0; d < dims; ++d) {
    p.is_categorical.push_back(d == dims - 1 ? 1 : 0);
    p.lambda.push_back(lambda_scale * (0.5 + 2.0 * u(rng)));
    for (int i = 0; i < n; ++i)
      p.x[static_cast<size_t>(d) * stride + i] =
          p.is_categorical[d] ? std::floor(4 * u(rng)) : u(rng);
  }
  for (int i = 0; i < n; ++i) p.y.push_back(std::sin(3 * p.X(0, i)) + 0.3 * p.X(dims - 1, i));
  return p;
}

// r2 between points i and j, and the Matérn-5/2 kernel and its derivative by r2 (gp_model.h),
// in long double.
long double R2(const Problem& p, int i, int j) {
  long double r2 = 0;
  for (int d = 0; d < p.dims; ++d) {
    const long double diff = static_cast<long double>(p.X(d, i)) - p.X(d, j);
    r2 += p.lambda[d] * (p.is_categorical[d] ? (diff != 0 ? 1.0L : 0.0L) : diff * diff);
  }
  return r2;
}
long double Matern52(long double r2) {
  const long double r = std::sqrt(5 * r2);
  return (1 + r + r * r / 3) * std::exp(-r);
}
long double Matern52DerivR2(long double r2) {
  const long double r = std::sqrt(5 * r2);
  return -5.0L / 6 * (1 + r) * std::exp(-r);
}

// ---- KernelCholesky after a failed attempt ---------------------------------------------------

// GpPosterior::Build retries KernelCholesky on the same buffers with growing jitter when C is
// not positive definite. With exact duplicates among the points and a diagonal below the kernel
// scale, C is indefinite and the factorisation fails part-way, leaving the buffers dirty; the
// retry with a safe diagonal must give, bit for bit, what fresh buffers give, and a factor of C.
TEST(GpBatchTest, CholeskyRetryAfterFailureMatchesFreshBuffers) {
  for (int n : {9, 17, 129}) {
    const int stride = Pad8(n), dims = 3;
    Problem p = MakeProblem(n, dims, stride, /*seed=*/n);
    for (int d = 0; d < dims; ++d) {  // the last points repeat earlier ones exactly
      p.x[static_cast<size_t>(d) * stride + n - 1] = p.X(d, 0);
      p.x[static_cast<size_t>(d) * stride + n - 2] = p.X(d, n / 2);
    }
    const double s = p.kernel_scale, safe = s * (1 + 1e-4);
    auto factorise = [&](double diagonal, std::vector<double>& panel, AlignedDoubles& chol,
                         AlignedDoubles& inv_diag) {
      return KernelCholesky(n, stride, dims, p.x.data(), p.is_categorical.data(), p.lambda.data(),
                            s, diagonal, panel.data(), chol.data(), inv_diag.data());
    };
    // As Build sets them up: L zero, 1 / L_ii one; the panel (Build's scratch_) holds anything.
    std::vector<double> panel(8 * static_cast<size_t>(stride), kNaN);
    AlignedDoubles chol(static_cast<size_t>(stride) * stride, 0.0), inv_diag(stride, 1.0);
    ASSERT_FALSE(factorise(0.5 * s, panel, chol, inv_diag)) << "n " << n;
    ASSERT_TRUE(factorise(safe, panel, chol, inv_diag)) << "n " << n;

    std::vector<double> fresh_panel(8 * static_cast<size_t>(stride), 0.0);
    AlignedDoubles fresh_chol(static_cast<size_t>(stride) * stride, 0.0), fresh_inv(stride, 1.0);
    ASSERT_TRUE(factorise(safe, fresh_panel, fresh_chol, fresh_inv)) << "n " << n;
    EXPECT_TRUE(SameBits(chol.data(), fresh_chol.data(), chol.size())) << "n " << n;
    EXPECT_TRUE(SameBits(inv_diag.data(), fresh_inv.data(), inv_diag.size())) << "n " << n;

    for (int i = 0; i < n; ++i) {
      const double* li = chol.data() + static_cast<size_t>(i) * stride;
      EXPECT_EQ(inv_diag[i], 1.0 / li[i]) << "n " << n << " row " << i;
      for (int j = i + 1; j < stride; ++j)
        ASSERT_EQ(li[j], 0.0) << "n " << n << " above the diagonal at " << i << ", " << j;
      for (int j = 0; j <= i; ++j) {
        const double* lj = chol.data() + static_cast<size_t>(j) * stride;
        long double llt = 0;
        for (int k = 0; k <= j; ++k) llt += static_cast<long double>(li[k]) * lj[k];
        const long double c = i == j ? safe : s * Matern52(R2(p, i, j));
        ASSERT_NEAR(static_cast<double>(llt), static_cast<double>(c), 1e-12 * s)
            << "n " << n << " entry " << i << ", " << j;
      }
    }
  }
}

// ---- independence from the buffers' previous contents ---------------------------------------

struct LmlResult {
  double value;
  std::vector<double> grad;
};

LmlResult Lml(const Problem& p, double* work) {
  LmlResult r{0, std::vector<double>(p.dims + 2)};
  r.value = LogMarginalLikelihoodKernel(p.n, p.dims, p.x.data(), p.is_categorical.data(),
                                        p.y.data(), p.lambda.data(), p.kernel_scale, p.noise_var,
                                        /*min_noise_var=*/1e-6, work, r.grad.data());
  return r;
}

void ExpectSameLml(const LmlResult& a, const LmlResult& b, int n) {
  ASSERT_TRUE(std::isfinite(a.value)) << "n " << n;
  EXPECT_TRUE(SameBits(&a.value, &b.value, 1)) << "n " << n;
  EXPECT_TRUE(SameBits(a.grad.data(), b.grad.data(), a.grad.size())) << "n " << n;
}

// The likelihood's work buffer is not initialised by its callers (FitWorkspace keeps it between
// fits, over different n): every padding entry a kernel reads must be written first.
TEST(GpBatchTest, LikelihoodIgnoresPoisonedWorkBuffer) {
  for (int n : {1, 7, 8, 9, 26, 127, 129}) {
    const Problem p = MakeProblem(n, /*dims=*/3, /*stride=*/n, /*seed=*/100 + n);
    AlignedDoubles zero(LmlWorkSize(n, p.dims), 0.0), poisoned(LmlWorkSize(n, p.dims), kNaN);
    ExpectSameLml(Lml(p, zero.data()), Lml(p, poisoned.data()), n);
  }
  // One buffer, first for 129 points (leaving finite values everywhere), then for 9.
  const Problem big = MakeProblem(129, 3, 129, 7), small = MakeProblem(9, 3, 9, 8);
  AlignedDoubles reused(LmlWorkSize(129, 3), kNaN), fresh(LmlWorkSize(9, 3), 0.0);
  ASSERT_TRUE(std::isfinite(Lml(big, reused.data()).value));
  ExpectSameLml(Lml(small, fresh.data()), Lml(small, reused.data()), 9);
}

// C^-1's lower triangle from InverseFromCholesky does not depend on what `work` and `cinv` held.
TEST(GpBatchTest, InverseIgnoresPoisonedBuffers) {
  auto inverse = [](int n, double fill, AlignedDoubles* work, AlignedDoubles* cinv) {
    const int stride = Pad8(n);
    const Problem p = MakeProblem(n, 3, stride, 200 + n);
    std::vector<double> panel(8 * static_cast<size_t>(stride));
    AlignedDoubles chol(static_cast<size_t>(stride) * stride, 0.0), inv_diag(stride, 1.0);
    EXPECT_TRUE(KernelCholesky(n, stride, p.dims, p.x.data(), p.is_categorical.data(),
                               p.lambda.data(), p.kernel_scale, p.kernel_scale + p.noise_var,
                               panel.data(), chol.data(), inv_diag.data()));
    const size_t size = static_cast<size_t>(stride) * stride;
    if (work->size() < size) work->assign(size, fill);
    if (cinv->size() < size) cinv->assign(size, fill);
    InverseFromCholesky(n, stride, chol.data(), inv_diag.data(), work->data(), cinv->data());
    std::vector<double> lower;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) lower.push_back((*cinv)[static_cast<size_t>(i) * stride + j]);
    return lower;
  };
  for (int n : {1, 7, 8, 9, 26, 127, 129}) {
    AlignedDoubles work0, cinv0, work1, cinv1;
    const std::vector<double> a = inverse(n, 0.0, &work0, &cinv0);
    const std::vector<double> b = inverse(n, kNaN, &work1, &cinv1);
    EXPECT_TRUE(std::all_of(a.begin(), a.end(), [](double v) { return std::isfinite(v); }));
    EXPECT_TRUE(SameBits(a.data(), b.data(), a.size())) << "n " << n;
  }
  // Buffers first used for 129 points, then for 9 (with the stride of 9).
  AlignedDoubles work_big, cinv_big, work0, cinv0;
  inverse(129, kNaN, &work_big, &cinv_big);
  const std::vector<double> a = inverse(9, 0.0, &work0, &cinv0);
  const std::vector<double> b = inverse(9, kNaN, &work_big, &cinv_big);
  EXPECT_TRUE(SameBits(a.data(), b.data(), a.size()));
}

// ---- the likelihood against a dense reference ----------------------------------------------

// log N(y; 0, C) and its gradient by [log lambda_d, log kernel_scale, log(noise - min_noise)]
// from the definitions, in long double: C = L L' by the textbook Cholesky, C^-1 by solves, and
// d/dtheta = 0.5 tr((alpha alpha' - C^-1) dC/dtheta).
long double ReferenceLml(const Problem& p, double min_noise_var, std::vector<long double>* grad) {
  const int n = p.n;
  const long double s = p.kernel_scale;
  std::vector<std::vector<long double>> c(n, std::vector<long double>(n)), l = c, cinv = c;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) c[i][j] = s * Matern52(R2(p, i, j)) + (i == j ? p.noise_var : 0);
  for (int j = 0; j < n; ++j) {
    long double d = c[j][j];
    for (int k = 0; k < j; ++k) d -= l[j][k] * l[j][k];
    l[j][j] = std::sqrt(d);
    for (int i = j + 1; i < n; ++i) {
      long double v = c[i][j];
      for (int k = 0; k < j; ++k) v -= l[i][k] * l[j][k];
      l[i][j] = v / l[j][j];
    }
  }
  // Solves C v = b by the two substitutions.
  auto solve = [&](std::vector<long double> b) {
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < i; ++k) b[i] -= l[i][k] * b[k];
      b[i] /= l[i][i];
    }
    for (int i = n - 1; i >= 0; --i) {
      for (int k = i + 1; k < n; ++k) b[i] -= l[k][i] * b[k];
      b[i] /= l[i][i];
    }
    return b;
  };
  const std::vector<long double> alpha = solve(std::vector<long double>(p.y.begin(), p.y.end()));
  long double lml = -0.5L * n * std::log(2 * std::numbers::pi_v<long double>);
  for (int i = 0; i < n; ++i) lml -= 0.5L * p.y[i] * alpha[i] + std::log(l[i][i]);
  for (int j = 0; j < n; ++j) {
    std::vector<long double> e(n, 0);
    e[j] = 1;
    const std::vector<long double> col = solve(e);
    for (int i = 0; i < n; ++i) cinv[i][j] = col[i];
  }
  grad->assign(p.dims + 2, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const long double w = alpha[i] * alpha[j] - cinv[i][j], r2 = R2(p, i, j);
      const long double dk = s * Matern52DerivR2(r2);
      for (int d = 0; d < p.dims; ++d) {
        const long double diff = static_cast<long double>(p.X(d, i)) - p.X(d, j);
        const long double d2 = p.is_categorical[d] ? (diff != 0 ? 1.0L : 0.0L) : diff * diff;
        (*grad)[d] += 0.5L * w * dk * p.lambda[d] * d2;
      }
      (*grad)[p.dims] += 0.5L * w * s * Matern52(r2);
      if (i == j) (*grad)[p.dims + 1] += 0.5L * w * (p.noise_var - min_noise_var);
    }
  }
  return lml;
}

TEST(GpBatchTest, LikelihoodMatchesDenseReference) {
  struct Case {
    int n, dims;
    double lambda_scale;
  };
  // The last case has more dimensions than the vectorised gradient keeps (64): scalar path.
  for (const Case& c : {Case{1, 3, 1.0}, Case{8, 3, 1.0}, Case{9, 3, 1.0}, Case{26, 3, 1.0},
                        Case{26, 5, 3.0}, Case{26, 70, 0.05}}) {
    const Problem p = MakeProblem(c.n, c.dims, c.n, /*seed=*/300 + c.n + c.dims, c.lambda_scale);
    AlignedDoubles work(LmlWorkSize(c.n, c.dims), kNaN);
    const LmlResult got = Lml(p, work.data());
    std::vector<long double> grad;
    const double want = static_cast<double>(ReferenceLml(p, 1e-6, &grad));
    EXPECT_NEAR(got.value, want, 1e-10 * std::abs(want)) << "n " << c.n << " dims " << c.dims;
    double grad_scale = 0;
    for (long double g : grad) grad_scale = std::max(grad_scale, std::abs(static_cast<double>(g)));
    for (int k = 0; k < c.dims + 2; ++k)
      EXPECT_NEAR(got.grad[k], static_cast<double>(grad[k]), 1e-9 * grad_scale)
          << "n " << c.n << " dims " << c.dims << " param " << k;
  }
}

}  // namespace
}  // namespace hpo::gp
