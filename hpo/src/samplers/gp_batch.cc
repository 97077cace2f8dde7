#include "samplers/gp_batch.h"

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
#if defined(__GNUC__)
using simd::Load8;
using simd::Store8;
using simd::Sum8;
using simd::U8;
using simd::V8;
#endif

constexpr int kB = kBatchBlock;
constexpr int kR = kBatchRowPad;

// The helpers below are templates over scalars and vectors, as those of simd.h.

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
#if defined(__GNUC__)
  if (len >= 8) {
    V8 acc0 = {}, acc1 = {};
    for (; k + 16 <= len; k += 16) {
      acc0 += Load8(a + k) * Load8(b + k);
      acc1 += Load8(a + k + 8) * Load8(b + k + 8);
    }
    for (; k + 8 <= len; k += 8) acc0 += Load8(a + k) * Load8(b + k);
    sum = Sum8(acc0 + acc1);
  }
#endif
  for (; k < len; ++k) sum += a[k] * b[k];
  return sum;
}

// out[q] = sum_k a[k] * b[q][k] over k < len, for the four rows b[0..3] (a is loaded once).
inline __attribute__((always_inline)) void Dot4(const double* a, const double* const b[4], int len,
                                                double out[4]) {
  int k = 0;
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#if defined(__GNUC__)
  if (len >= 8) {
    V8 c0 = {}, c1 = {}, c2 = {}, c3 = {};
    for (; k + 8 <= len; k += 8) {
      const V8 av = Load8(a + k);
      c0 += av * Load8(b[0] + k);
      c1 += av * Load8(b[1] + k);
      c2 += av * Load8(b[2] + k);
      c3 += av * Load8(b[3] + k);
    }
    s0 = Sum8(c0);
    s1 = Sum8(c1);
    s2 = Sum8(c2);
    s3 = Sum8(c3);
  }
#endif
  for (; k < len; ++k) {
    s0 += a[k] * b[0][k];
    s1 += a[k] * b[1][k];
    s2 += a[k] * b[2][k];
    s3 += a[k] * b[3][k];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// out[r][q] = sum_k a[r][k] * b[q][k] over k < len, for the R rows a[0..R-1] and the four rows
// b[0..3]: Dot4 for R rows a at once (each row of b is loaded once for all R, and the R x 4 sums
// are independent chains), every entry rounding exactly as Dot4's (one vector accumulator over
// blocks of 8, Sum8, then the tail).
template <int R>
inline __attribute__((always_inline)) void DotRx4(const double* const a[R],
                                                  const double* const b[4], int len,
                                                  double out[R][4]) {
  int k = 0;
  double s[R][4] = {};
#if defined(__GNUC__)
  if (len >= 8) {
    V8 c[R][4] = {};
    for (; k + 8 <= len; k += 8) {
      const V8 b0 = Load8(b[0] + k), b1 = Load8(b[1] + k), b2 = Load8(b[2] + k),
               b3 = Load8(b[3] + k);
      for (int r = 0; r < R; ++r) {
        const V8 av = Load8(a[r] + k);
        c[r][0] += av * b0;
        c[r][1] += av * b1;
        c[r][2] += av * b2;
        c[r][3] += av * b3;
      }
    }
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < 4; ++q) s[r][q] = Sum8(c[r][q]);
  }
#endif
  for (; k < len; ++k)
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < 4; ++q) s[r][q] += a[r][k] * b[q][k];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < 4; ++q) out[r][q] = s[r][q];
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

// Row i of the lower Cholesky factor L of C (row-major, `stride` a multiple of 8) from entry j0
// on (a multiple of 4; entries 0 .. j0 - 1 of row i of lmat already computed, zero beyond): from
// row i of C's lower triangle (krow) and rows 0 .. i - 1 of L (zero beyond their diagonal) into
// row i of lmat, and 1 / L_ii into inv_diag[i]. Returns false when C is not numerically positive
// definite.
inline __attribute__((always_inline)) bool CholeskyRowFrom(int i, int j0, int stride,
                                                           const double* krow, double* lmat,
                                                           double* inv_diag) {
  double* lrow = lmat + static_cast<size_t>(i) * stride;
  auto lr = [&](int r) { return lmat + static_cast<size_t>(r) * stride; };
  // L_ij = (C_ij - sum_{m < j} L_im L_jm) / L_jj, four j at a time: the common part (m < j) by
  // Dot4, then the small triangle among the four. The row is zero beyond what is computed, so
  // the dot products run to j rounded up to 8.
  int j = j0;
  for (; j + 4 <= i; j += 4) {
    const double* b[4] = {lr(j), lr(j + 1), lr(j + 2), lr(j + 3)};
    double dots[4];
    Dot4(lrow, b, Pad8(j), dots);
    for (int q = 0; q < 4; ++q) {
      double v = krow[j + q] - dots[q];
      for (int p = 0; p < q; ++p) v -= lrow[j + p] * lr(j + q)[j + p];
      lrow[j + q] = v * inv_diag[j + q];
    }
  }
  for (; j < i; ++j) lrow[j] = (krow[j] - Dot(lrow, lr(j), Pad8(j))) * inv_diag[j];
  const double d = krow[i] - Dot(lrow, lrow, Pad8(i));
  if (!(d > 0) || !std::isfinite(d)) return false;
  lrow[i] = std::sqrt(d);
  inv_diag[i] = 1.0 / lrow[i];
  return true;
}

// Rows i .. i + 3 of L (see CholeskyRowFrom), from rows i .. i + 3 of C's lower triangle (krows,
// `kstride` apart), bit for bit what CholeskyRowFrom from 0 gives on each row in turn: the dot
// products with the groups of four rows of L before i (all of a row's work but a few entries)
// are formed for the four rows together by DotRx4, which loads each of those rows once for all
// four; then each row is finished in turn by CholeskyRowFrom.
inline __attribute__((always_inline)) bool CholeskyRows4(int i, int stride, const double* krows,
                                                         size_t kstride, double* lmat,
                                                         double* inv_diag) {
  auto lr = [&](int r) { return lmat + static_cast<size_t>(r) * stride; };
  double* lrows[4] = {lr(i), lr(i + 1), lr(i + 2), lr(i + 3)};
  for (double* row : lrows) std::fill(row, row + stride, 0.0);
  int j = 0;
  for (; j + 4 <= i; j += 4) {
    const double* b[4] = {lr(j), lr(j + 1), lr(j + 2), lr(j + 3)};
    double dots[4][4];
    DotRx4<4>(lrows, b, Pad8(j), dots);
    for (int r = 0; r < 4; ++r) {
      const double* krow = krows + r * kstride;
      for (int q = 0; q < 4; ++q) {
        double v = krow[j + q] - dots[r][q];
        for (int p = 0; p < q; ++p) v -= lrows[r][j + p] * lr(j + q)[j + p];
        lrows[r][j + q] = v * inv_diag[j + q];
      }
    }
  }
  for (int r = 0; r < 4; ++r)
    if (!CholeskyRowFrom(i + r, j, stride, krows + r * kstride, lmat, inv_diag)) return false;
  return true;
}

// Rows begin .. end - 1 of L (rows before begin already computed) from the same rows of C's
// lower triangle (row i at krows + (i - begin) * kstride), four rows at a time (CholeskyRows4)
// and the last few one by one. Returns false when C is not numerically positive definite.
inline __attribute__((always_inline)) bool CholeskyRows(int begin, int end, int stride,
                                                        const double* krows, size_t kstride,
                                                        double* lmat, double* inv_diag) {
  int i = begin;
  for (; i + 4 <= end; i += 4)
    if (!CholeskyRows4(i, stride, krows + (i - begin) * kstride, kstride, lmat, inv_diag))
      return false;
  for (; i < end; ++i) {
    double* lrow = lmat + static_cast<size_t>(i) * stride;
    std::fill(lrow, lrow + stride, 0.0);
    if (!CholeskyRowFrom(i, 0, stride, krows + (i - begin) * kstride, lmat, inv_diag)) return false;
  }
  return true;
}

// See InverseFromCholesky in the header; here `mmat` receives M = L^-T (row c holds column c
// of L^-1 from entry c on, zeros before) instead of L^-1, and only the lower triangle of C^-1 is
// written. Every entry is a dot product of two row segments; `stride` must be a multiple of 8
// and chol must be zero above the diagonal up to the stride, so that every dot product can run
// over whole blocks of 8 (the extra terms are products with zeros).
inline __attribute__((always_inline)) void InverseFromCholeskyImpl(int n, int stride,
                                                                   const double* chol,
                                                                   const double* inv_diag,
                                                                   double* mmat, double* cinv) {
  auto row = [&](const double* m, int r) { return m + static_cast<size_t>(r) * stride; };
  // L^-1 e_c = x with x_c = 1 / L_cc and x_k = -(sum_{c <= m < k} L_km x_m) / L_kk; four k at
  // a time: the common part (m < k) by Dot4, then the small triangle among the four. The dot
  // products start at c rounded down to 8 (x is 0 before c) and end at k rounded up to 8 (x is
  // still 0 from k on). Columns c and c + 4 with c % 8 < 4 share that start and, after column
  // c's first group, the groups of k: those are done for the two together (DotRx4; the same
  // rounding, two independent chains), the rest column by column.
  auto group = [&](double* mrow, int k, const double* d) {
    for (int q = 0; q < 4; ++q) {
      double v = d[q];
      for (int p = 0; p < q; ++p) v += row(chol, k + q)[k + p] * mrow[k + p];
      mrow[k + q] = -v * inv_diag[k + q];
    }
  };
  for (int cb = 0; cb < n; cb += 8) {
    for (int c = cb; c < std::min(cb + 4, n); ++c) {
      const int c0 = cb;
      const bool pair = c + 4 < n;
      double* mrows[2] = {mmat + static_cast<size_t>(c) * stride,
                          mmat + static_cast<size_t>(c + 4) * stride};
      for (int r = 0; r < (pair ? 2 : 1); ++r) {
        std::fill(mrows[r], mrows[r] + stride, 0.0);
        mrows[r][c + 4 * r] = inv_diag[c + 4 * r];
      }
      int k = c + 1;
      if (pair) {  // column c's first group (k + 4 = c + 5 <= n), then both columns together
        const double* b[4] = {row(chol, k) + c0, row(chol, k + 1) + c0, row(chol, k + 2) + c0,
                              row(chol, k + 3) + c0};
        double d[4];
        Dot4(mrows[0] + c0, b, Pad8(k) - c0, d);
        group(mrows[0], k, d);
        const double* a2[2] = {mrows[0] + c0, mrows[1] + c0};
        for (k += 4; k + 4 <= n; k += 4) {
          const double* b2[4] = {row(chol, k) + c0, row(chol, k + 1) + c0, row(chol, k + 2) + c0,
                                 row(chol, k + 3) + c0};
          double d2[2][4];
          DotRx4<2>(a2, b2, Pad8(k) - c0, d2);
          group(mrows[0], k, d2[0]);
          group(mrows[1], k, d2[1]);
        }
      } else {
        for (; k + 4 <= n; k += 4) {
          const double* b[4] = {row(chol, k) + c0, row(chol, k + 1) + c0, row(chol, k + 2) + c0,
                                row(chol, k + 3) + c0};
          double d[4];
          Dot4(mrows[0] + c0, b, Pad8(k) - c0, d);
          group(mrows[0], k, d);
        }
      }
      for (int r = 0; r < (pair ? 2 : 1); ++r)
        for (int kk = k; kk < n; ++kk)
          mrows[r][kk] = -Dot(row(chol, kk) + c0, mrows[r] + c0, Pad8(kk) - c0) * inv_diag[kk];
    }
  }
  // C^-1_ij = sum_{k >= i} M_ik M_jk for j <= i (four j at a time, over the same segment; M_ik
  // is 0 for k < i). The rows of an aligned group of four share i0 and the segment: for the j
  // below the group, DotRx4 forms the four rows' products together (each entry rounding as
  // Dot4's); the rest of each row as for a single row.
  for (int ib = 0; ib < n; ib += 4) {
    const int i0 = ib & ~7, len = Pad8(n) - i0;
    const bool whole = ib + 4 <= n;
    if (whole) {
      const double* mi[4] = {row(mmat, ib) + i0, row(mmat, ib + 1) + i0, row(mmat, ib + 2) + i0,
                             row(mmat, ib + 3) + i0};
      for (int j = 0; j + 4 <= ib; j += 4) {
        const double* b[4] = {row(mmat, j) + i0, row(mmat, j + 1) + i0, row(mmat, j + 2) + i0,
                              row(mmat, j + 3) + i0};
        double d[4][4];
        DotRx4<4>(mi, b, len, d);
        for (int r = 0; r < 4; ++r)
          std::copy(d[r], d[r] + 4, cinv + static_cast<size_t>(ib + r) * stride + j);
      }
    }
    for (int i = ib; i < std::min(ib + 4, n); ++i) {
      const double* mi = row(mmat, i) + i0;
      double* crow = cinv + static_cast<size_t>(i) * stride;
      int j = whole ? ib : 0;
      for (; j + 4 <= i + 1; j += 4) {
        const double* b[4] = {row(mmat, j) + i0, row(mmat, j + 1) + i0, row(mmat, j + 2) + i0,
                              row(mmat, j + 3) + i0};
        Dot4(mi, b, len, crow + j);
      }
      for (; j <= i; ++j) crow[j] = Dot(mi, row(mmat, j) + i0, len);
    }
  }
}

}  // namespace

HPO_SIMD_CLONES void PosteriorBlock(const BatchModel& model, const double* cand, double* scratch,
                                    double* mean, double* quad) {
  const int np = model.n_padded, dims = model.dims;
  const double s = model.kernel_scale;

#if defined(__GNUC__)
  constexpr int kV = kB / 8;
#endif

  // Kernel values, one row of kB candidates per training point; and the mean k' alpha.
#if defined(__GNUC__)
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
#else
  double m[kB] = {};
  for (int l = 0; l < np; ++l) {
    double r2[kB] = {};
    for (int d = 0; d < dims; ++d) {
      const double t = model.train[static_cast<size_t>(d) * np + l], lam = model.lambda[d];
      const double* xd = cand + static_cast<size_t>(d) * kB;
      for (int c = 0; c < kB; ++c) {
        const double diff = xd[c] - t;
        r2[c] += model.is_categorical[d] ? (diff != 0.0 ? lam : 0.0) : lam * diff * diff;
      }
    }
    double* row = scratch + static_cast<size_t>(l) * kB;
    const double a = model.alpha[l];
    const double scale = l < model.n ? s : 0.0;  // padding points: k = 0
    for (int c = 0; c < kB; ++c) {
      row[c] = ScaledMatern52<double, uint64_t>(r2[c], scale);
      m[c] += a * row[c];
    }
  }
  std::memcpy(mean, m, sizeof(m));
#endif

  // v = L^-1 k by forward substitution, kR rows at a time (the products with the rows already
  // solved, then the kR x kR diagonal block), each v_i overwriting k_i; quad = |v|^2.
#if defined(__GNUC__)
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
#else
  double sq[kB] = {};
  for (int i0 = 0; i0 < np; i0 += kR) {
    double* acc = scratch + static_cast<size_t>(i0) * kB;  // kR rows of kB
    for (int l = 0; l < i0; ++l) {
      const double* v = scratch + static_cast<size_t>(l) * kB;
      for (int r = 0; r < kR; ++r) {
        const double a = model.chol[static_cast<size_t>(i0 + r) * np + l];
        for (int c = 0; c < kB; ++c) acc[r * kB + c] -= a * v[c];
      }
    }
    for (int r = 0; r < kR; ++r) {
      for (int q = 0; q < r; ++q) {
        const double a = model.chol[static_cast<size_t>(i0 + r) * np + i0 + q];
        for (int c = 0; c < kB; ++c) acc[r * kB + c] -= a * acc[q * kB + c];
      }
      for (int c = 0; c < kB; ++c) {
        acc[r * kB + c] *= model.inv_diag[i0 + r];
        sq[c] += acc[r * kB + c] * acc[r * kB + c];
      }
    }
  }
  std::memcpy(quad, sq, sizeof(sq));
#endif
}

size_t LmlWorkSize(int n) { return (5 * static_cast<size_t>(n) + 3) * Pad8(n); }

LmlFactorsView LmlFactors(int n, const double* work) {
  const int ns = Pad8(n);
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
  const int ns = Pad8(n);  // row stride
  const size_t nn = static_cast<size_t>(n) * ns;
  // Row-major n x n blocks: kernel values and derivatives (j < i), L, L^-T and C^-1 (the
  // layout LmlFactors reads).
  double* kmat = work;
  double* dkmat = work + nn;
  double* lmat = work + 2 * nn;
  double* mmat = work + 3 * nn;
  double* cinv = work + 4 * nn;
  double* inv_diag = work + 5 * nn;
  double* alpha = inv_diag + ns;
  double* log_diag = alpha + ns;

  // Kernel matrix, lower triangle.
  for (int i = 0; i < n; ++i) {
    double* krow = kmat + static_cast<size_t>(i) * ns;
    double* dkrow = dkmat + static_cast<size_t>(i) * ns;
    int j = 0;
#if defined(__GNUC__)
    for (; j + 8 <= i; j += 8) {
      V8 k, dk;
      ScaledMatern52WithDerivative<V8, U8>(PairR2<V8>(n, dims, x, is_categorical, lambda, i, j), s,
                                           &k, &dk);
      Store8(krow + j, k);
      Store8(dkrow + j, dk);
    }
#endif
    for (; j < i; ++j)
      ScaledMatern52WithDerivative<double, uint64_t>(
          PairR2<double>(n, dims, x, is_categorical, lambda, i, j), s, krow + j, dkrow + j);
    krow[i] = s + noise_var;
  }

  // Cholesky C = L L' by rows.
  if (!CholeskyRows(0, n, ns, kmat, ns, lmat, inv_diag)) return kNegInf;
  for (int i = 0; i < n; ++i) log_diag[i] = std::log(lmat[static_cast<size_t>(i) * ns + i]);
  // z = L^-1 y (over alpha, zero beyond what is computed).
  std::fill(alpha, alpha + ns, 0.0);
  for (int i = 0; i < n; ++i)
    alpha[i] = (y[i] - Dot(lmat + static_cast<size_t>(i) * ns, alpha, Pad8(i))) * inv_diag[i];
  // M = L^-T and the lower triangle of C^-1 (zero above) into their blocks.
  std::fill(cinv, cinv + nn, 0.0);
  InverseFromCholeskyImpl(n, ns, lmat, inv_diag, mmat, cinv);
  // alpha = L^-T z = M z, in place (row i of M starts at entry i).
  double y_alpha = 0, sum_log_diag = 0;
  for (int i = 0; i < n; ++i) {
    const int i0 = i & ~7;  // M_ik = 0 for k < i; alpha is 0 beyond n
    alpha[i] = Dot(mmat + static_cast<size_t>(i) * ns + i0, alpha + i0, ns - i0);
    y_alpha += y[i] * alpha[i];
    sum_log_diag += log_diag[i];
  }
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
#if defined(__GNUC__)
  V8 g_scale_v = {};
  V8 g_small_v[kMaxDims];
  const bool vector_grad = dims <= kMaxDims;
  if (vector_grad) std::fill(g_small_v, g_small_v + dims, V8{});
#endif
  for (int i = 0; i < n; ++i) {
    const double* krow = kmat + static_cast<size_t>(i) * ns;
    const double* dkrow = dkmat + static_cast<size_t>(i) * ns;
    const double* crow = cinv + static_cast<size_t>(i) * ns;
    const double ai = alpha[i];
    int j = 0;
#if defined(__GNUC__)
    if (vector_grad) {
      for (; j + 8 <= i; j += 8) {
        const V8 w = ai * Load8(alpha + j) - Load8(crow + j);
        g_scale_v += w * Load8(krow + j);
        AddPairGrad<V8>(n, dims, x, is_categorical, i, j, w * Load8(dkrow + j), g_small_v);
      }
    }
#endif
    for (; j < i; ++j) {
      const double w = ai * alpha[j] - crow[j];
      g_scale += w * krow[j];
      AddPairGrad<double>(n, dims, x, is_categorical, i, j, w * dkrow[j], g_lambda);
    }
  }
#if defined(__GNUC__)
  g_scale += Sum8(g_scale_v);
  if (vector_grad)
    for (int d = 0; d < dims; ++d) g_lambda[d] += Sum8(g_small_v[d]);
#endif
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
  int l = 0;
#if defined(__GNUC__)
  for (; l + 8 <= n; l += 8) {
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
#endif
  for (; l < n; ++l) {
    double r2 = 0;
    for (int d = 0; d < dims; ++d) {
      const double diff = model.train[static_cast<size_t>(d) * np + l] - x[d];
      r2 += model.is_categorical[d] ? (diff != 0.0 ? model.lambda[d] : 0.0)
                                    : model.lambda[d] * diff * diff;
    }
    double dk;
    ScaledMatern52WithDerivative<double, uint64_t>(r2, s, k + l, &dk);
    coef[l] = 2.0 * dk;
  }

  *mean = Dot(model.alpha, k, n);
  double* u = v;
  if (model.cinv != nullptr) {
    // u = C^-1 k by rows of C^-1 (independent dot products, four at a time); var = s - k'u.
    std::fill(k + n, k + np, 0.0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      const double* b[4] = {model.cinv + static_cast<size_t>(i) * np,
                            model.cinv + static_cast<size_t>(i + 1) * np,
                            model.cinv + static_cast<size_t>(i + 2) * np,
                            model.cinv + static_cast<size_t>(i + 3) * np};
      Dot4(k, b, np, u + i);
    }
    for (; i < n; ++i) u[i] = Dot(model.cinv + static_cast<size_t>(i) * np, k, np);
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

HPO_SIMD_CLONES void InverseFromCholesky(int n, int stride, const double* chol,
                                         const double* inv_diag, double* work, double* cinv) {
  InverseFromCholeskyImpl(n, stride, chol, inv_diag, work, cinv);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j)
      cinv[static_cast<size_t>(j) * stride + i] = cinv[static_cast<size_t>(i) * stride + j];
}

HPO_SIMD_CLONES bool KernelCholesky(int n, int stride, int dims, const double* x,
                                    const char* is_categorical, const double* lambda,
                                    double kernel_scale, double diagonal, double* krow,
                                    double* chol, double* inv_diag) {
  // Four rows of C at a time into krow, then the same rows of L (CholeskyRows4).
  for (int ib = 0; ib < n; ib += 4) {
    const int rows = std::min(4, n - ib);
    for (int r = 0; r < rows; ++r) {
      const int i = ib + r;
      double* kr = krow + static_cast<size_t>(r) * stride;
      int j = 0;
#if defined(__GNUC__)
      for (; j + 8 <= i; j += 8)
        Store8(kr + j,
               ScaledMatern52<V8, U8>(PairR2<V8>(stride, dims, x, is_categorical, lambda, i, j),
                                      kernel_scale));
#endif
      for (; j < i; ++j)
        kr[j] = ScaledMatern52<double, uint64_t>(
            PairR2<double>(stride, dims, x, is_categorical, lambda, i, j), kernel_scale);
      kr[i] = diagonal;
      for (j = 0; j < i; ++j)
        if (!std::isfinite(kr[j])) return false;
    }
    if (!CholeskyRows(ib, ib + rows, stride, krow, stride, chol, inv_diag)) return false;
  }
  return true;
}

}  // namespace hpo::gp
