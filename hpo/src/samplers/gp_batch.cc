#include "samplers/gp_batch.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

// Variants per instruction set where the compiler and loader support it (GCC on x86-64 ELF).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
// The vector helpers are always inlined: no vector crosses a call, whatever the variant.
#pragma GCC diagnostic ignored "-Wpsabi"
#define HPO_GP_BATCH_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HPO_GP_BATCH_CLONES
#endif

namespace hpo::gp {
namespace {

constexpr int kB = kBatchBlock;
constexpr int kR = kBatchRowPad;

// The helpers below are templates over F = double (with I = uint64_t) and over GCC vectors of
// doubles (with I the vector of uint64_t of the same width), written in arithmetic only, so that
// the same code serves both and the vector form needs no intrinsics.

// a < b ? a : b, elementwise.
template <class F>
inline __attribute__((always_inline)) F Min(F a, double b) {
  const F bv = F{} + b;
  return a < bv ? a : bv;
}

// sqrt(x) for x >= 0 (std::sqrt's errno path keeps loops from vectorising): Newton steps for
// 1 / sqrt(x) from the classic bit-level estimate (relative error below 3.5%, then 2e-3, 5e-6,
// 4e-11, 2e-21), and one correction of x / sqrt(x). Exactly 0 at 0.
template <class F, class I>
inline __attribute__((always_inline)) F SqrtNonNegative(F x) {
  F y = std::bit_cast<F>(0x5fe6eb50c7b537a9ULL - (std::bit_cast<I>(x) >> 1));
  const F half_x = 0.5 * x;
  for (int i = 0; i < 4; ++i) y = y * (1.5 - half_x * y * y);
  const F r = x * y;
  return r + 0.5 * y * (x - r * r);
}

// exp(-r) for r >= 0 (Cephes' rational approximation, about 1 ulp; r is capped at 700, where
// exp(-r) ~ 1e-304 is already negligible).
template <class F, class I>
inline __attribute__((always_inline)) F ExpNeg(F r) {
  constexpr double kLog2e = 1.4426950408889634073599;
  constexpr double kC1 = 6.93145751953125E-1, kC2 = 1.42860682030941723212E-6;
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const F x = -Min(r, 700.0);
  const F shifted = x * kLog2e + kRound;
  const F k = shifted - kRound;
  const I ki = std::bit_cast<I>(shifted) - std::bit_cast<uint64_t>(kRound);
  const F f = x - k * kC1 - k * kC2;  // |f| <= ln(2) / 2
  const F ff = f * f;
  const F p = f * ((1.26177193074810590878E-4 * ff + 3.02994407707441961300E-2) * ff +
                   9.99999999999999999910E-1);
  const F q = ((3.00198505138664455042E-6 * ff + 2.52448340349684104192E-3) * ff +
               2.27265548208155028766E-1) *
                  ff +
              2.00000000000000000009E0;
  const F e = 1.0 + 2.0 * p / (q - p);
  return e * std::bit_cast<F>((ki + 1023) << 52);
}

// s * matern52(r2) (gp_model.h).
template <class F, class I>
inline __attribute__((always_inline)) F ScaledMatern52(F r2, double s) {
  const F r = SqrtNonNegative<F, I>(5.0 * r2);
  return s * (1.0 + r + r * r * (1.0 / 3.0)) * ExpNeg<F, I>(r);
}

}  // namespace

HPO_GP_BATCH_CLONES void PosteriorBlock(const BatchModel& model, const double* cand,
                                        double* scratch, double* mean, double* quad) {
  const int np = model.n_padded, dims = model.dims;
  const double s = model.kernel_scale;

#if defined(__GNUC__)
  typedef double V8 __attribute__((vector_size(64)));
  typedef uint64_t U8 __attribute__((vector_size(64)));
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
    std::memcpy(acc, scratch + static_cast<size_t>(i0) * kB, sizeof(acc));
    for (int l = 0; l < i0; ++l) {
      V8 v[kV];
      std::memcpy(v, scratch + static_cast<size_t>(l) * kB, sizeof(v));
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
    std::memcpy(scratch + static_cast<size_t>(i0) * kB, acc, sizeof(acc));
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

}  // namespace hpo::gp
