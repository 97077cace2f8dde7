// Vector helpers shared by the samplers' hot loops (private to hpo/src/samplers).
//
// HPO_SIMD_CLONES marks a function to be compiled for AVX-512, for AVX2 + FMA and for the
// baseline, the loader picking the variant for the machine (GCC function multiversioning,
// target_clones), where the compiler and loader support it (GCC on x86-64 ELF); elsewhere it is
// empty and only the baseline is built. Builds without optimisation (-O0) get only the baseline
// too: there GCC calls every helper that is not always_inline (std::bit_cast, the ones flatten
// would inline) out of line, and a call from an AVX variant to a plain function passes vectors
// with another calling convention (wrong values, crashes). The variants round differently in
// the last bits, so results are reproducible on one machine, not across machines with
// different instruction sets.
//
// The helpers are templates over F = double (with I = uint64_t) and over GCC vectors of doubles
// (with I the vector of uint64_t of the same width), written in arithmetic only, so that the same
// code serves both and the vector form needs no intrinsics. They are always inlined: no vector
// crosses a call, whatever the variant. The helpers templated on an Isa (below) are the
// exception: where the three instruction sets want different code they are written three ways,
// with intrinsics for AVX2 and AVX-512, and their callers are built per instruction set by hand
// instead of with HPO_SIMD_CLONES (see Isa).
//
// Thread safety: pure functions.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__) && \
    defined(__OPTIMIZE__)
#pragma GCC diagnostic ignored "-Wpsabi"
#define HPO_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// 1 where HPO_SIMD_CLONES has variants; then the intrinsics helpers below exist too.
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
// Halves of four doubles, for the comparisons below (SelectEq8, Max8, GreaterMask8): GCC expands
// a vector comparison (and ?:) wider than the target's vectors lane by lane with scalar compares
// and branches, while on halves it compares and blends four at a time. The baseline variants
// (and GreaterMask8's AVX2 one; the AVX2 kernels otherwise work on V4 directly) use halves; the
// AVX-512 variants compare all eight at once (given halves, GCC may keep two 256-bit compares
// and a shuffle). The same values either way.
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

// Helpers written by instruction set: kBaseline in vector arithmetic only, kAvx2 and kAvx512
// (HPO_SIMD_X86 only) with intrinsics that a target_clones function cannot use. Their callers
// are built for the matching target explicitly (target attribute, flatten) and picked at run time
// by ActiveIsa(), as target_clones' resolver would pick its variant. The intrinsics helpers are
// not always_inline (a target-specific callee cannot be forced into a baseline caller); flatten
// inlines them. The three agree to rounding (one unit in the last place on a few values in a
// thousand: tests/hpo/tpe_mixture_test.cc checks every variant the machine has), so, as with
// HPO_SIMD_CLONES, results are reproducible on one machine, not across instruction sets.
enum class Isa { kBaseline, kAvx2, kAvx512 };

// The variant the hand-dispatched kernels use: the best this CPU has (AVX-512 = x86-64-v4, else
// AVX2 = x86-64-v3, else the baseline), at most LimitIsa's cap. Always the baseline where
// HPO_SIMD_X86 is 0 (which includes builds without optimisation: see the top). Thread-safe.
Isa ActiveIsa();
// Caps ActiveIsa() at `cap` and returns the previous cap (kAvx512 at start: no cap). For tests
// that run each variant; kernels running on other threads at the same time may use either.
Isa LimitIsa(Isa cap);
// x == y ? a : b, elementwise (see Lo4).
template <Isa I>
inline __attribute__((always_inline)) V8 SelectEq8(V8 x, V8 y, V8 a, V8 b) {
  if constexpr (I == Isa::kAvx512) return x == y ? a : b;
  return Join8(Lo4(x) == Lo4(y) ? Lo4(a) : Lo4(b), Hi4(x) == Hi4(y) ? Hi4(a) : Hi4(b));
}
// a > b ? a : b, elementwise (see Lo4).
template <Isa I>
inline __attribute__((always_inline)) V8 Max8(V8 a, V8 b) {
  if constexpr (I == Isa::kAvx512) return a > b ? a : b;
  return Join8(Lo4(a) > Lo4(b) ? Lo4(a) : Lo4(b), Hi4(a) > Hi4(b) ? Hi4(a) : Hi4(b));
}
#if HPO_SIMD_X86
// The masked forms of the gathers, all lanes on, from a zero source: the same loads, but GCC's
// unmasked intrinsics start from an undefined vector and trip -Wmaybe-uninitialized.
__attribute__((target("avx2"))) inline __m256d Avx2Gather4(const double* p, const int32_t* idx) {
  return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), p,
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(idx)),
                                  _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 8);
}
// p[idx[0]], ..., p[idx[3]] as four doubles.
__attribute__((target("avx2"))) inline V4 GatherAvx2x4(const double* p, const int32_t* idx) {
  const __m256d x = Avx2Gather4(p, idx);
  V4 v;
  std::memcpy(&v, &x, sizeof(x));
  return v;
}
__attribute__((target("avx512f"))) inline V8 GatherAvx512(const double* p, const int32_t* idx) {
  const __m512d x = _mm512_mask_i32gather_pd(
      _mm512_setzero_pd(), 0xFF, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx)), p, 8);
  V8 v;
  std::memcpy(&v, &x, sizeof(x));
  return v;
}
#endif
// p[idx[0]], ..., p[idx[7]] as eight doubles: with the gather instruction (AVX-512), or loaded
// one by one and inserted into the vector (the AVX2 kernels gather four at a time instead,
// GatherAvx2x4).
template <Isa G>
inline V8 Gather8(const double* p, const int32_t* idx) {
#if HPO_SIMD_X86
  if constexpr (G == Isa::kAvx512) return GatherAvx512(p, idx);
#endif
  return V8{p[idx[0]], p[idx[1]], p[idx[2]], p[idx[3]], p[idx[4]], p[idx[5]], p[idx[6]], p[idx[7]]};
}
// a > b elementwise, as a mask (lanes all ones or all zeros; see Lo4).
template <Isa I>
inline __attribute__((always_inline)) U8 GreaterMask8(V8 a, double b) {
  if constexpr (I == Isa::kAvx512) return std::bit_cast<U8>(a > V8{} + b);
  typedef int64_t I4 __attribute__((vector_size(32)));
  const V4 bv = V4{} + b;
  const I4 lo = Lo4(a) > bv, hi = Hi4(a) > bv;
  return std::bit_cast<U8>(__builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7));
}
#if HPO_SIMD_X86
__attribute__((target("avx2"))) inline bool AnyGreaterAvx2(V8 a, double b) {
  __m256d lo, hi;
  std::memcpy(&lo, &a, sizeof(lo));
  std::memcpy(&hi, reinterpret_cast<const char*>(&a) + sizeof(lo), sizeof(hi));
  const __m256d bv = _mm256_set1_pd(b);
  return (_mm256_movemask_pd(_mm256_cmp_pd(lo, bv, _CMP_GT_OQ)) |
          _mm256_movemask_pd(_mm256_cmp_pd(hi, bv, _CMP_GT_OQ))) != 0;
}
__attribute__((target("avx512f"))) inline bool AnyGreaterAvx512(V8 a, double b) {
  __m512d x;
  std::memcpy(&x, &a, sizeof(x));
  return _mm512_cmp_pd_mask(x, _mm512_set1_pd(b), _CMP_GT_OQ) != 0;
}
#endif
// Whether a[j] > b for some lane j: one compare and mask test, or the lanes of the mask OR-ed.
template <Isa G>
inline bool AnyGreater8(V8 a, double b) {
#if HPO_SIMD_X86
  if constexpr (G == Isa::kAvx512) return AnyGreaterAvx512(a, b);
  if constexpr (G == Isa::kAvx2) return AnyGreaterAvx2(a, b);
#endif
  const U8 m = GreaterMask8<G>(a, b);
  return ((m[0] | m[1]) | (m[2] | m[3])) != 0 || ((m[4] | m[5]) | (m[6] | m[7])) != 0;
}
#endif

}  // namespace hpo::simd
