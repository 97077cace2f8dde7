// The kernels of gp_batch.h. They are written with GCC/Clang vector extensions (simd.h's V8:
// vector_size, __builtin_shufflevector) and have no plain-C++ fallback, so other compilers are
// refused here.
#include "samplers/gp_batch.h"

#if !defined(__GNUC__)
#error "gp_batch.cc needs GCC or Clang vector extensions (simd.h's V8)"
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "samplers/simd.h"

namespace hpo::gp {
namespace {

using simd::ExpNeg;
using simd::Load8;
using simd::Store8;
using simd::Sum8;
using simd::U8;
using simd::V8;

constexpr int kB = kBatchBlock;
constexpr int kR = kBatchRowPad;

// The kernel helpers (SqrtNonNegative, ScaledMatern52*, PairR2, AddPairGrad) are templates over
// scalars and vectors, as those of simd.h (the scalar AddPairGrad serves the likelihood's gradient
// beyond 64 dimensions); Dot, the factorisation and the matrix-vector helpers (CholeskyInPlace,
// GramTile, InverseFromCholeskyBlocked, LaneSums8, PackedSymmetricTimesVector) use simd.h's V8.

// sqrt(x) for x >= 0 (std::sqrt's errno path keeps loops from vectorising): Newton steps for
// 1 / sqrt(x) from the classic bit-level estimate (relative error below 3.5%, then 2e-3, 5e-6,
// 4e-11), and one Newton step for sqrt(x) itself (which squares the error). Exactly 0 at 0.
template <class F, class I>
inline __attribute__((always_inline)) F SqrtNonNegative(F x) {
  F y = std::bit_cast<F>(0x5fe6eb50c7b537a9ULL - (std::bit_cast<I>(x) >> 1));
  const F half_x = 0.5 * x;
  for (int i = 0; i < 3; ++i) y = y * (1.5 - half_x * y * y);
  const F r = x * y;
  return r + 0.5 * y * (x - r * r);
}

// s * matern52(r2) (gp_model.h).
template <class F, class I>
inline __attribute__((always_inline)) F ScaledMatern52(F r2, double s) {
  const F r = SqrtNonNegative<F, I>(5.0 * r2);
  return s * (1.0 + r + r * r * (1.0 / 3.0)) * ExpNeg<F, I>(r);
}

// s * matern52(r2) into *k and s * d matern52 / d r2 into *dk.
template <class F, class I>
inline __attribute__((always_inline)) void ScaledMatern52WithDerivative(F r2, double s, F* k,
                                                                        F* dk) {
  const F r = SqrtNonNegative<F, I>(5.0 * r2);
  const F e = ExpNeg<F, I>(r);
  *k = s * (1.0 + r + r * r * (1.0 / 3.0)) * e;
  *dk = (s * (-5.0 / 6.0)) * (1.0 + r) * e;
}

// sum_k a[k] * b[k] over k < len.
inline __attribute__((always_inline)) double Dot(const double* a, const double* b, int len) {
  int k = 0;
  double sum = 0;
  if (len >= 8) {
    V8 acc0 = {}, acc1 = {};
    for (; k + 16 <= len; k += 16) {
      acc0 += Load8(a + k) * Load8(b + k);
      acc1 += Load8(a + k + 8) * Load8(b + k + 8);
    }
    for (; k + 8 <= len; k += 8) acc0 += Load8(a + k) * Load8(b + k);
    sum = Sum8(acc0 + acc1);
  }
  for (; k < len; ++k) sum += a[k] * b[k];
  return sum;
}

// Squared scaled distances from point i to points j .. j + width - 1 (F holds width values).
template <class F>
inline __attribute__((always_inline)) F PairR2(int n, int dims, const double* x,
                                               const char* is_categorical, const double* lambda,
                                               int i, int j) {
  F r2 = {};
  for (int d = 0; d < dims; ++d) {
    const double* xd = x + static_cast<size_t>(d) * n;
    F xj;
    std::memcpy(&xj, xd + j, sizeof(F));
    const F diff = xj - xd[i];
    if (is_categorical[d]) {
      const F one = F{} + lambda[d], zero = {};
      r2 += diff != 0.0 ? one : zero;
    } else {
      r2 += lambda[d] * diff * diff;
    }
  }
  return r2;
}

// sum over j of coef[j] * d2_d(i, j) for each d (the derivative of r2 by lambda_d), added to g.
template <class F>
inline __attribute__((always_inline)) void AddPairGrad(int n, int dims, const double* x,
                                                       const char* is_categorical, int i, int j,
                                                       F coef, F* g) {
  for (int d = 0; d < dims; ++d) {
    const double* xd = x + static_cast<size_t>(d) * n;
    F xj;
    std::memcpy(&xj, xd + j, sizeof(F));
    const F diff = xj - xd[i];
    if (is_categorical[d]) {
      const F zero = {};
      g[d] += diff != 0.0 ? coef : zero;
    } else {
      g[d] += coef * diff * diff;
    }
  }
}

// n rounded up to a multiple of 8.
inline int Pad8(int n) { return (n + 7) & ~7; }

// The likelihood's row stride: n rounded up to 8, plus 8 where that is a multiple of 32 (rows
// 256 bytes apart or a multiple of it would fall into few cache sets, and the column-wise walks
// of the factorisation would evict each other).
inline int LmlStride(int n) {
  const int s = Pad8(n);
  return s % 32 == 0 ? s + 8 : s;
}

// The lower Cholesky factor of C in place, right-looking by panels of 8 columns: `a` (n rows
// of `stride`, a multiple of 8, row-major) holds C's lower triangle on entry (what is above it
// is ignored) and L on return, zero above the diagonal up to the stride; 1 / L_ii goes to
// inv_diag. Each panel's diagonal block is factorised by scalar loops, the panel below it is
// solved transposed (in `panel`, 8 rows of `stride`, vectorised over the rows of L), and the
// trailing lower triangle is updated by rank-8 updates vectorised along its rows. Returns false
// when C is not numerically positive definite or not finite.
inline __attribute__((always_inline)) bool CholeskyInPlace(int n, int stride, double* a,
                                                           double* inv_diag, double* panel) {
  auto row = [&](int r) { return a + static_cast<size_t>(r) * stride; };
  const int np = Pad8(n);
  for (int kb = 0; kb < n; kb += 8) {
    const int kw = std::min(8, n - kb);
    for (int r = 0; r < kw; ++r) {  // the diagonal block
      double* ri = row(kb + r);
      for (int q = 0; q < r; ++q) {
        const double* rq = row(kb + q);
        double v = ri[kb + q];
        for (int p = 0; p < q; ++p) v -= ri[kb + p] * rq[kb + p];
        ri[kb + q] = v * inv_diag[kb + q];
      }
      double d = ri[kb + r];
      for (int p = 0; p < r; ++p) d -= ri[kb + p] * ri[kb + p];
      if (!(d > 0) || !std::isfinite(d)) return false;
      ri[kb + r] = std::sqrt(d);
      inv_diag[kb + r] = 1.0 / ri[kb + r];
    }
    const int i1 = kb + 8;
    if (i1 >= n) break;
    // The panel below, transposed: panel[q][i] = C_i,kb+q less the earlier panels' terms, then
    // L_i,kb+q by forward substitution with the diagonal block (rows i >= n are zero).
    for (int i = i1; i < np; ++i)
      for (int q = 0; q < 8; ++q)
        panel[static_cast<size_t>(q) * stride + i] = i < n ? row(i)[kb + q] : 0.0;
    for (int q = 0; q < 8; ++q) {
      double* pq = panel + static_cast<size_t>(q) * stride;
      const double* lq = row(kb + q);
      for (int i = i1; i < np; i += 8) {
        V8 v = Load8(pq + i);
        for (int p = 0; p < q; ++p)
          v -= lq[kb + p] * Load8(panel + static_cast<size_t>(p) * stride + i);
        Store8(pq + i, v * inv_diag[kb + q]);
      }
    }
    for (int i = i1; i < n; ++i)
      for (int q = 0; q < 8; ++q) row(i)[kb + q] = panel[static_cast<size_t>(q) * stride + i];
    // Trailing update C_ij -= sum_q L_i,kb+q L_j,kb+q for i1 <= j <= i, eight j at a time (the
    // last block of a row runs past the diagonal, into entries that are cleared at the end).
    for (int i = i1; i < n; ++i) {
      double* ri = row(i);
      double c[8];
      for (int q = 0; q < 8; ++q) c[q] = ri[kb + q];
      for (int j = i1; j <= i; j += 8) {
        V8 acc = Load8(ri + j);
        for (int q = 0; q < 8; ++q)
          acc -= c[q] * Load8(panel + static_cast<size_t>(q) * stride + j);
        Store8(ri + j, acc);
      }
    }
  }
  for (int i = 0; i < n; ++i) std::fill(row(i) + i + 1, row(i) + stride, 0.0);
  return true;
}

// Rows i0 .. i0 + rows - 1 (rows <= 4) of X' X, entries jb .. jb + 8 W - 1, into cinv: the sums
// over k >= i0 of X_ki X_kj (X_ki = 0 for k < i), as 4 x W vector accumulators in registers.
template <int W>
inline __attribute__((always_inline)) void GramTile(int n, int stride, const double* xmat, int i0,
                                                    int jb, int rows, double* cinv) {
  V8 acc[4][W] = {};
  for (int k = i0; k < n; ++k) {
    const double* xk = xmat + static_cast<size_t>(k) * stride;
    V8 v[W];
    for (int w = 0; w < W; ++w) v[w] = Load8(xk + jb + 8 * w);
    for (int r = 0; r < 4; ++r) {
      const double a = xk[i0 + r];
      for (int w = 0; w < W; ++w) acc[r][w] += a * v[w];
    }
  }
  for (int r = 0; r < rows; ++r)
    for (int w = 0; w < W; ++w)
      Store8(cinv + static_cast<size_t>(i0 + r) * stride + jb + 8 * w, acc[r][w]);
}

// From the lower Cholesky factor L of C (as CholeskyInPlace leaves it, n <= stride rows), writes
// X = L^-1 to xmat (n rows, row-major, zero above the diagonal up to the stride; rows from n on are
// neither written nor read) and
// the lower triangle of C^-1 = X' X to cinv, each entry of a block of 8 that holds a lower
// entry (the others of such a block hold the matching upper entries of C^-1). X by forward
// substitution for the columns of the identity, eight columns and eight rows at a time and
// vectorised along the rows of X; C^-1 by rank-1 updates, four rows and up to 32 columns at a time
// (GramTile).
inline __attribute__((always_inline)) void InverseFromCholeskyBlocked(int n, int stride,
                                                                      const double* chol,
                                                                      const double* inv_diag,
                                                                      double* xmat, double* cinv) {
  auto row = [&](auto* m, int r) { return m + static_cast<size_t>(r) * stride; };
  std::fill(xmat, xmat + static_cast<size_t>(n) * stride, 0.0);
  for (int cb = 0; cb < n; cb += 8) {
    for (int i0 = cb; i0 < n; i0 += 8) {
      const int rows = std::min(8, n - i0);
      V8 acc[8];
      for (int r = 0; r < 8; ++r) {
        acc[r] = V8{};
        if (i0 == cb) acc[r][r] = 1.0;
      }
      for (int l = cb; l < i0; ++l) {
        const V8 v = Load8(row(xmat, l) + cb);
        for (int r = 0; r < 8; ++r) acc[r] -= row(chol, std::min(i0 + r, n - 1))[l] * v;
      }
      for (int r = 0; r < rows; ++r) {
        const double* lr = row(chol, i0 + r);
        for (int q = 0; q < r; ++q) acc[r] -= lr[i0 + q] * acc[q];
        acc[r] *= inv_diag[i0 + r];
        Store8(row(xmat, i0 + r) + cb, acc[r]);
      }
    }
  }
  for (int i0 = 0; i0 < n; i0 += 4) {
    const int rows = std::min(4, n - i0), blocks = (i0 + rows - 1) / 8 + 1;
    int b = 0;
    for (; b + 4 <= blocks; b += 4) GramTile<4>(n, stride, xmat, i0, 8 * b, rows, cinv);
    switch (blocks - b) {
      case 1:
        GramTile<1>(n, stride, xmat, i0, 8 * b, rows, cinv);
        break;
      case 2:
        GramTile<2>(n, stride, xmat, i0, 8 * b, rows, cinv);
        break;
      case 3:
        GramTile<3>(n, stride, xmat, i0, 8 * b, rows, cinv);
        break;
      default:
        break;
    }
  }
}

// Start of row i in the packed layout of PackSymmetric: the rows of block I = i / 8 hold
// 8 (I + 1) entries each, after the 64 I (I + 1) / 2 entries of the blocks before.
inline size_t PackedRow(int i) {
  const size_t block = static_cast<size_t>(i >> 3), r = static_cast<size_t>(i & 7);
  return 32 * block * (block + 1) + r * 8 * (block + 1);
}

// The sums of the lanes of t[0..7], as the lanes of one vector (a transposing reduction).
inline __attribute__((always_inline)) V8 LaneSums8(const V8 t[8]) {
  V8 s[4], w[2];
  for (int p = 0; p < 4; ++p)
    s[p] = __builtin_shufflevector(t[2 * p], t[2 * p + 1], 0, 8, 2, 10, 4, 12, 6, 14) +
           __builtin_shufflevector(t[2 * p], t[2 * p + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  for (int q = 0; q < 2; ++q)
    w[q] = __builtin_shufflevector(s[2 * q], s[2 * q + 1], 0, 1, 8, 9, 4, 5, 12, 13) +
           __builtin_shufflevector(s[2 * q], s[2 * q + 1], 2, 3, 10, 11, 6, 7, 14, 15);
  return __builtin_shufflevector(w[0], w[1], 0, 1, 2, 3, 8, 9, 10, 11) +
         __builtin_shufflevector(w[0], w[1], 4, 5, 6, 7, 12, 13, 14, 15);
}

// u = A k for A symmetric in the packed layout of PackSymmetric (np = n rounded up to 8 rows,
// k zero from n on): by blocks of 8 rows I, each entry of A's lower part read once for both
// its products, u_J += A_IJ' k_I (along rows) and u_I += A_IJ k_J (as lane sums, LaneSums8),
// then the whole diagonal block.
inline __attribute__((always_inline)) void PackedSymmetricTimesVector(int np, const double* a,
                                                                      const double* k, double* u) {
  for (int ib = 0; ib < np; ib += 8) {
    const double* rows = a + PackedRow(ib);
    const int len = ib + 8;
    double ki[8];
    for (int r = 0; r < 8; ++r) ki[r] = k[ib + r];
    V8 t[8] = {};
    for (int jb = 0; jb < ib; jb += 8) {
      const V8 kj = Load8(k + jb);
      V8 uj = Load8(u + jb);
      for (int r = 0; r < 8; ++r) {
        const V8 c = Load8(rows + static_cast<size_t>(r) * len + jb);
        uj += ki[r] * c;
        t[r] += c * kj;
      }
      Store8(u + jb, uj);
    }
    V8 ui = LaneSums8(t);
    for (int r = 0; r < 8; ++r) ui += ki[r] * Load8(rows + static_cast<size_t>(r) * len + ib);
    Store8(u + ib, ui);
  }
}

}  // namespace

HPO_SIMD_CLONES void PosteriorBlock(const BatchModel& model, const double* cand, double* scratch,
                                    double* mean, double* quad) {
  const int np = model.n_padded, dims = model.dims;
  const double s = model.kernel_scale;

  constexpr int kV = kB / 8;

  // Kernel values, one row of kB candidates per training point; and the mean k' alpha.
  V8 m[kV] = {};
  for (int l = 0; l < np; ++l) {
    V8 r2[kV] = {};
    for (int d = 0; d < dims; ++d) {
      const V8 t = V8{} + model.train[static_cast<size_t>(d) * np + l];
      const V8 lam = V8{} + model.lambda[d], zero = {};
      for (int j = 0; j < kV; ++j) {
        V8 x;
        std::memcpy(&x, cand + static_cast<size_t>(d) * kB + 8 * j, sizeof(x));
        if (model.is_categorical[d]) {
          r2[j] += x != t ? lam : zero;
        } else {
          const V8 diff = x - t;
          r2[j] += lam * diff * diff;
        }
      }
    }
    const double a = model.alpha[l];
    const double scale = l < model.n ? s : 0.0;  // padding points: k = 0
    for (int j = 0; j < kV; ++j) {
      const V8 k = ScaledMatern52<V8, U8>(r2[j], scale);
      std::memcpy(scratch + static_cast<size_t>(l) * kB + 8 * j, &k, sizeof(k));
      m[j] += a * k;
    }
  }
  std::memcpy(mean, m, sizeof(m));

  // v = L^-1 k by forward substitution, kR rows at a time (the products with the rows already
  // solved, then the kR x kR diagonal block), each v_i overwriting k_i; quad = |v|^2.
  V8 sq[kV] = {};
  for (int i0 = 0; i0 < np; i0 += kR) {
    V8 acc[kR][kV];
    // Element by element (not one memcpy of the array), so that acc stays in registers.
    for (int r = 0; r < kR; ++r)
      for (int j = 0; j < kV; ++j)
        acc[r][j] = Load8(scratch + static_cast<size_t>(i0 + r) * kB + 8 * j);
    for (int l = 0; l < i0; ++l) {
      V8 v[kV];
      for (int j = 0; j < kV; ++j) v[j] = Load8(scratch + static_cast<size_t>(l) * kB + 8 * j);
      for (int r = 0; r < kR; ++r) {
        const double a = model.chol[static_cast<size_t>(i0 + r) * np + l];
        for (int j = 0; j < kV; ++j) acc[r][j] -= a * v[j];
      }
    }
    for (int r = 0; r < kR; ++r) {
      for (int q = 0; q < r; ++q) {
        const double a = model.chol[static_cast<size_t>(i0 + r) * np + i0 + q];
        for (int j = 0; j < kV; ++j) acc[r][j] -= a * acc[q][j];
      }
      for (int j = 0; j < kV; ++j) {
        acc[r][j] *= model.inv_diag[i0 + r];
        sq[j] += acc[r][j] * acc[r][j];
      }
    }
    for (int r = 0; r < kR; ++r)
      for (int j = 0; j < kV; ++j)
        Store8(scratch + static_cast<size_t>(i0 + r) * kB + 8 * j, acc[r][j]);
  }
  std::memcpy(quad, sq, sizeof(sq));
}

// Five blocks of n rows of LmlStride(n) (kernel values, derivatives, L, L^-1, C^-1), three rows
// (1 / L_ii, alpha, z) and dims rows (the points); see LogMarginalLikelihoodKernel.
size_t LmlWorkSize(int n, int dims) {
  return (5 * static_cast<size_t>(n) + 3 + static_cast<size_t>(dims)) * LmlStride(n);
}

LmlFactorsView LmlFactors(int n, const double* work) {
  const int ns = LmlStride(n);
  const size_t nn = static_cast<size_t>(n) * ns;
  return {ns, work + 2 * nn, work + 4 * nn, work + 5 * nn, work + 5 * nn + ns};
}

HPO_SIMD_CLONES double LogMarginalLikelihoodKernel(int n, int dims, const double* x,
                                                   const char* is_categorical, const double* y,
                                                   const double* lambda, double kernel_scale,
                                                   double noise_var, double min_noise_var,
                                                   double* work, double* grad_raw) {
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  const double s = kernel_scale;
  const int ns = LmlStride(n);  // row stride
  const size_t nn = static_cast<size_t>(n) * ns;
  // Row-major blocks of n rows of ns (LmlWorkSize): kernel values and derivatives (j < i, in whole
  // blocks of 8, so the last block of a row runs past the diagonal), L, L^-1 (first the panel
  // scratch of the factorisation) and C^-1's lower triangle; then rows of ns for 1 / L_ii, alpha
  // and z = L^-1 y (the layout LmlFactors reads), and the points.
  double* kmat = work;
  double* dkmat = work + nn;
  double* lmat = work + 2 * nn;
  double* mmat = work + 3 * nn;
  double* cinv = work + 4 * nn;
  double* inv_diag = work + 5 * nn;
  double* alpha = inv_diag + ns;
  double* z = alpha + ns;

  // The points again, d-major with rows of ns (zero beyond n), so that the kernel matrix and
  // the gradient can run over whole blocks of 8 up to the diagonal.
  double* xp = z + ns;
  for (int d = 0; d < dims; ++d) {
    std::copy(x + static_cast<size_t>(d) * n, x + static_cast<size_t>(d + 1) * n,
              xp + static_cast<size_t>(d) * ns);
    std::fill(xp + static_cast<size_t>(d) * ns + n, xp + static_cast<size_t>(d + 1) * ns, 0.0);
  }
  // Kernel matrix, lower triangle (the last block of a row runs past the diagonal).
  for (int i = 0; i < n; ++i) {
    double* krow = kmat + static_cast<size_t>(i) * ns;
    double* dkrow = dkmat + static_cast<size_t>(i) * ns;
    for (int j = 0; j < i; j += 8) {
      V8 k, dk;
      ScaledMatern52WithDerivative<V8, U8>(PairR2<V8>(ns, dims, xp, is_categorical, lambda, i, j),
                                           s, &k, &dk);
      Store8(krow + j, k);
      Store8(dkrow + j, dk);
    }
    krow[i] = s + noise_var;
  }

  // C into lmat, then C = L L' in place (mmat as the panel scratch).
  for (int i = 0; i < n; ++i) {
    const double* krow = kmat + static_cast<size_t>(i) * ns;
    double* lrow = lmat + static_cast<size_t>(i) * ns;
    std::copy(krow, krow + i + 1, lrow);
    std::fill(lrow + i + 1, lrow + ns, 0.0);
  }
  if (!CholeskyInPlace(n, ns, lmat, inv_diag, mmat)) return kNegInf;
  // z = L^-1 y (zero beyond what is computed, so that the dot products run over whole blocks).
  std::fill(z, z + ns, 0.0);
  double sum_log_diag = 0;
  for (int i = 0; i < n; ++i) {
    z[i] = (y[i] - Dot(lmat + static_cast<size_t>(i) * ns, z, Pad8(i))) * inv_diag[i];
    sum_log_diag += std::log(lmat[static_cast<size_t>(i) * ns + i]);
  }
  // X = L^-1 and the lower triangle of C^-1 into their blocks; alpha = X' z by rows of X.
  InverseFromCholeskyBlocked(n, ns, lmat, inv_diag, mmat, cinv);
  std::fill(alpha, alpha + ns, 0.0);
  for (int i = 0; i < n; ++i) {
    const double* xrow = mmat + static_cast<size_t>(i) * ns;
    for (int j = 0; j <= i; j += 8) Store8(alpha + j, Load8(alpha + j) + z[i] * Load8(xrow + j));
  }
  double y_alpha = 0;
  for (int i = 0; i < n; ++i) y_alpha += y[i] * alpha[i];
  const double lml = -0.5 * y_alpha - sum_log_diag - 0.5 * n * std::log(2 * 3.14159265358979323846);
  if (!std::isfinite(lml)) return kNegInf;
  if (grad_raw == nullptr) return lml;

  // d lml / d theta = 0.5 tr(W dC/dtheta) with W = alpha alpha' - C^-1; each off-diagonal pair
  // appears twice, which cancels the 0.5.
  double trace_w = 0;
  for (int i = 0; i < n; ++i)
    trace_w += alpha[i] * alpha[i] - cinv[static_cast<size_t>(i) * ns + i];
  double g_scale = 0.5 * s * trace_w;
  constexpr int kMaxDims = 64;
  double g_small[kMaxDims] = {};
  std::vector<double> g_large;
  double* g_lambda = g_small;
  if (dims > kMaxDims) {
    g_large.assign(dims, 0.0);
    g_lambda = g_large.data();
  }
  V8 g_scale_v = {};
  V8 g_small_v[kMaxDims];
  const bool vector_grad = dims <= kMaxDims;
  if (vector_grad) std::fill(g_small_v, g_small_v + dims, V8{});
  for (int i = 0; i < n; ++i) {
    const double* krow = kmat + static_cast<size_t>(i) * ns;
    const double* dkrow = dkmat + static_cast<size_t>(i) * ns;
    const double* crow = cinv + static_cast<size_t>(i) * ns;
    const double ai = alpha[i];
    if (vector_grad) {
      const V8 lane = {0, 1, 2, 3, 4, 5, 6, 7};
      for (int j = 0; j < i; j += 8) {
        V8 w = ai * Load8(alpha + j) - Load8(crow + j);
        if (j + 8 > i) w = lane + j < i ? w : V8{};  // the block past the diagonal
        g_scale_v += w * Load8(krow + j);
        AddPairGrad<V8>(ns, dims, xp, is_categorical, i, j, w * Load8(dkrow + j), g_small_v);
      }
    } else {  // more dimensions than g_small_v holds: scalar
      for (int j = 0; j < i; ++j) {
        const double w = ai * alpha[j] - crow[j];
        g_scale += w * krow[j];
        AddPairGrad<double>(n, dims, x, is_categorical, i, j, w * dkrow[j], g_lambda);
      }
    }
  }
  g_scale += Sum8(g_scale_v);
  if (vector_grad)
    for (int d = 0; d < dims; ++d) g_lambda[d] += Sum8(g_small_v[d]);
  for (int d = 0; d < dims; ++d) grad_raw[d] = g_lambda[d] * lambda[d];
  grad_raw[dims] = g_scale;
  grad_raw[dims + 1] = 0.5 * trace_w * (noise_var - min_noise_var);
  for (int d = 0; d < dims + 2; ++d)
    if (!std::isfinite(grad_raw[d])) return kNegInf;
  return lml;
}

HPO_SIMD_CLONES void PosteriorPoint(const BatchModel& model, const double* x, double* work,
                                    double* mean, double* var, double* dmean, double* dvar) {
  const int n = model.n, np = model.n_padded, dims = model.dims;
  const double s = model.kernel_scale;
  double* k = work;
  double* coef = work + np;
  double* v = work + 2 * np;

  // Kernel values k_l and coef_l = 2 d k_l / d r2.
  // Whole blocks of 8 up to n rounded up (padding points have finite coordinates); the values
  // of the padding points are cleared after.
  for (int l = 0; l < n; l += 8) {
    V8 r2 = {};
    for (int d = 0; d < dims; ++d) {
      const V8 diff = Load8(model.train + static_cast<size_t>(d) * np + l) - x[d];
      if (model.is_categorical[d]) {
        const V8 lam = V8{} + model.lambda[d], zero = {};
        r2 += diff != 0.0 ? lam : zero;
      } else {
        r2 += model.lambda[d] * diff * diff;
      }
    }
    V8 kv, dk;
    ScaledMatern52WithDerivative<V8, U8>(r2, s, &kv, &dk);
    Store8(k + l, kv);
    Store8(coef + l, 2.0 * dk);
  }
  std::fill(k + n, k + np, 0.0);
  std::fill(coef + n, coef + np, 0.0);

  *mean = Dot(model.alpha, k, n);
  double* u = v;
  if (model.cinv != nullptr) {
    // u = C^-1 k from C^-1's packed lower part (PackedSymmetricTimesVector); var = s - k'u.
    PackedSymmetricTimesVector(np, model.cinv, k, u);
    *var = std::max(s - Dot(k, u, n), 0.0);
    if (dmean == nullptr || dvar == nullptr) return;
  } else {
    // v = L^-1 k by forward substitution along rows of L (v is zero beyond what is computed, so
    // the dot products run over whole blocks of 8); var = s - |v|^2.
    std::fill(v, v + np, 0.0);
    for (int i = 0; i < n; ++i)
      v[i] = (k[i] - Dot(model.chol + static_cast<size_t>(i) * np, v, Pad8(i))) * model.inv_diag[i];
    *var = std::max(s - Dot(v, v, n), 0.0);
    if (dmean == nullptr || dvar == nullptr) return;

    // u = L^-T v = C^-1 k, backwards along rows of L' (in place over v: row i of L' is zero before
    // entry i, and v_i itself is replaced last).
    for (int i = n - 1; i >= 0; --i) {
      const int i0 = i & ~7;
      const double* lt = model.chol_t + static_cast<size_t>(i) * np;
      u[i] = (v[i] - (Dot(lt + i0, u + i0, np - i0) - lt[i] * u[i])) * model.inv_diag[i];
    }
  }

  // d k_l / d x_d = coef_l * lambda_d * (x_d - X_dl) for numeric d; with a = alpha * coef and
  // b = u * coef, d mean / d x_d = lambda_d (x_d sum(a) - a.X_d) and d var / d x_d =
  // -2 lambda_d (x_d sum(b) - b.X_d).
  double sum_a = 0, sum_b = 0;
  for (int i = 0; i < n; ++i) {
    k[i] = model.alpha[i] * coef[i];  // a, over k
    coef[i] *= u[i];                  // b, over coef
    sum_a += k[i];
    sum_b += coef[i];
  }
  for (int d = 0; d < dims; ++d) {
    if (model.is_categorical[d]) {
      dmean[d] = dvar[d] = 0.0;
      continue;
    }
    const double* xd = model.train + static_cast<size_t>(d) * np;
    dmean[d] = model.lambda[d] * (x[d] * sum_a - Dot(k, xd, n));
    dvar[d] = -2.0 * model.lambda[d] * (x[d] * sum_b - Dot(coef, xd, n));
  }
}

size_t PackedSymmetricSize(int n) {
  const size_t blocks = static_cast<size_t>(Pad8(n) / 8);
  return 32 * blocks * (blocks + 1);
}

void PackSymmetric(int n, const double* lower, int stride, double* packed) {
  const int np = Pad8(n);
  for (int i = 0; i < np; ++i) {
    double* row = packed + PackedRow(i);
    const int len = (i & ~7) + 8;
    for (int j = 0; j < len; ++j) {
      const int hi = std::max(i, j), lo = std::min(i, j);
      row[j] = hi < n ? lower[static_cast<size_t>(hi) * stride + lo] : 0.0;
    }
  }
}

HPO_SIMD_CLONES void InverseFromCholesky(int n, int stride, const double* chol,
                                         const double* inv_diag, double* work, double* cinv) {
  InverseFromCholeskyBlocked(n, stride, chol, inv_diag, work, cinv);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j)
      cinv[static_cast<size_t>(j) * stride + i] = cinv[static_cast<size_t>(i) * stride + j];
}

HPO_SIMD_CLONES bool KernelCholesky(int n, int stride, int dims, const double* x,
                                    const char* is_categorical, const double* lambda,
                                    double kernel_scale, double diagonal, double* panel,
                                    double* chol, double* inv_diag) {
  // C's lower triangle into chol, then L in place (CholeskyInPlace).
  for (int i = 0; i < n; ++i) {
    double* kr = chol + static_cast<size_t>(i) * stride;
    // Whole blocks of 8 up to the diagonal's (the rows of x run to the stride); the entries
    // past the diagonal are ignored by CholeskyInPlace.
    for (int j = 0; j <= i; j += 8)
      Store8(kr + j, ScaledMatern52<V8, U8>(
                         PairR2<V8>(stride, dims, x, is_categorical, lambda, i, j), kernel_scale));
    kr[i] = diagonal;
    for (int j = 0; j < i; ++j)
      if (!std::isfinite(kr[j])) return false;
  }
  return CholeskyInPlace(n, stride, chol, inv_diag, panel);
}

}  // namespace hpo::gp
