// Vector helpers shared by the samplers' hot loops (private to hpo/src/samplers).
//
// HPO_SIMD_CLONES marks a function to be compiled for AVX-512, for AVX2 + FMA and for the
// baseline, the loader picking the variant for the machine (GCC function multiversioning,
// target_clones), where the compiler and loader support it (GCC on x86-64 ELF); elsewhere it is
// empty and only the baseline is built. The variants round differently in the last bits, so
// results are reproducible on one machine, not across machines with different instruction sets.
//
// The helpers are templates over F = double (with I = uint64_t) and over GCC vectors of doubles
// (with I the vector of uint64_t of the same width), written in arithmetic only, so that the same
// code serves both and the vector form needs no intrinsics. They are always inlined: no vector
// crosses a call, whatever the variant.
//
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#pragma GCC diagnostic ignored "-Wpsabi"
#define HPO_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// 1 where HPO_SIMD_CLONES has variants; then the x86 gathers below exist too.
#define HPO_SIMD_X86 1
#include <immintrin.h>
#else
#define HPO_SIMD_CLONES
#define HPO_SIMD_X86 0
#endif

namespace hpo::simd {

// a < b ? a : b, elementwise.
template <class F>
inline __attribute__((always_inline)) F Min(F a, double b) {
  const F bv = F{} + b;
  return a < bv ? a : bv;
}

// exp(-r) for r >= 0: exp(x) = 2^k exp(f) with k = round(x / ln 2) and |f| <= ln(2) / 2, and
// exp(f) by its Taylor polynomial of degree 12 (relative error below 2e-16; no division). r is
// capped at 700, where exp(-r) ~ 1e-304 is already negligible.
template <class F, class I>
inline __attribute__((always_inline)) F ExpNeg(F r) {
  constexpr double kLog2e = 1.4426950408889634073599;
  constexpr double kC1 = 6.93145751953125E-1, kC2 = 1.42860682030941723212E-6;  // ln 2 = C1 + C2
  constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer
  const F x = -Min(r, 700.0);
  const F shifted = x * kLog2e + kRound;
  const F k = shifted - kRound;
  const I ki = std::bit_cast<I>(shifted) - std::bit_cast<uint64_t>(kRound);
  const F f = x - k * kC1 - k * kC2;
  F p = F{} + 1.0 / 479001600.0;  // 1 / 12!
  p = p * f + 1.0 / 39916800.0;
  p = p * f + 1.0 / 3628800.0;
  p = p * f + 1.0 / 362880.0;
  p = p * f + 1.0 / 40320.0;
  p = p * f + 1.0 / 5040.0;
  p = p * f + 1.0 / 720.0;
  p = p * f + 1.0 / 120.0;
  p = p * f + 1.0 / 24.0;
  p = p * f + 1.0 / 6.0;
  p = p * f + 0.5;
  p = p * f + 1.0;
  p = p * f + 1.0;
  return p * std::bit_cast<F>((ki + 1023) << 52);
}

#if defined(__GNUC__)
// Eight doubles (eight uint64_t) as one GCC vector.
typedef double V8 __attribute__((vector_size(64)));
typedef uint64_t U8 __attribute__((vector_size(64)));

inline __attribute__((always_inline)) V8 Load8(const double* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline __attribute__((always_inline)) void Store8(double* p, V8 v) {
  std::memcpy(p, &v, sizeof(v));
}
inline __attribute__((always_inline)) double Sum8(V8 v) {
  return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}
// Elementwise selections on eight doubles, done on two halves of four: GCC expands a vector
// comparison (and ?:) wider than the target's vectors lane by lane with scalar compares and
// branches (the AVX2 clone); on halves it uses the AVX2 compare and blend. Same values as the
// plain ?: on eight.
typedef double V4 __attribute__((vector_size(32)));
inline __attribute__((always_inline)) V4 Lo4(V8 v) {
  return __builtin_shufflevector(v, v, 0, 1, 2, 3);
}
inline __attribute__((always_inline)) V4 Hi4(V8 v) {
  return __builtin_shufflevector(v, v, 4, 5, 6, 7);
}
inline __attribute__((always_inline)) V8 Join8(V4 lo, V4 hi) {
  return __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
}
// x == y ? a : b, elementwise.
inline __attribute__((always_inline)) V8 SelectEq8(V8 x, V8 y, V8 a, V8 b) {
  return Join8(Lo4(x) == Lo4(y) ? Lo4(a) : Lo4(b), Hi4(x) == Hi4(y) ? Hi4(a) : Hi4(b));
}
// a > b ? a : b, elementwise.
inline __attribute__((always_inline)) V8 Max8(V8 a, V8 b) {
  return Join8(Lo4(a) > Lo4(b) ? Lo4(a) : Lo4(b), Hi4(a) > Hi4(b) ? Hi4(a) : Hi4(b));
}

// p[idx[0]], ..., p[idx[7]] as eight doubles (the same values whichever way). Gather8<kScalar>
// loads them one by one and inserts them into the vector; kAvx2 and kAvx512 (HPO_SIMD_X86 only)
// use the gather instructions, which a target_clones function cannot: their callers are built for
// the matching target explicitly (target attribute, flatten) and picked at run time with
// __builtin_cpu_supports, as target_clones' resolver would pick its variant.
enum class GatherKind { kScalar, kAvx2, kAvx512 };
#if HPO_SIMD_X86
__attribute__((target("avx2"))) inline V8 GatherAvx2(const double* p, const int32_t* idx) {
  const __m256d lo =
      _mm256_i32gather_pd(p, _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx)), 8);
  const __m256d hi =
      _mm256_i32gather_pd(p, _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + 4)), 8);
  V8 v;
  std::memcpy(&v, &lo, sizeof(lo));
  std::memcpy(reinterpret_cast<char*>(&v) + sizeof(lo), &hi, sizeof(hi));
  return v;
}
__attribute__((target("avx512f"))) inline V8 GatherAvx512(const double* p, const int32_t* idx) {
  const __m512d x =
      _mm512_i32gather_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), p, 8);
  V8 v;
  std::memcpy(&v, &x, sizeof(x));
  return v;
}
#endif
// Not always_inline (a target-specific callee cannot be forced into a baseline caller): the
// callers that use kAvx2 or kAvx512 are flattened.
template <GatherKind G>
inline V8 Gather8(const double* p, const int32_t* idx) {
#if HPO_SIMD_X86
  if constexpr (G == GatherKind::kAvx512) return GatherAvx512(p, idx);
  if constexpr (G == GatherKind::kAvx2) return GatherAvx2(p, idx);
#endif
  return V8{p[idx[0]], p[idx[1]], p[idx[2]], p[idx[3]], p[idx[4]], p[idx[5]], p[idx[6]], p[idx[7]]};
}
#endif

}  // namespace hpo::simd
