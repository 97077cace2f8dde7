#include "samplers/sobol_sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "samplers/random_sampler.h"

namespace hpo {
namespace {

// Rows d = 2..40 of Joe and Kuo's new-joe-kuo-6.21201: degree s of the primitive polynomial,
// its coefficients a (the inner bits), and the initial direction numbers m_1..m_s. Dimension 1
// is the van der Corput sequence (all m_i = 1) and has no row.
struct JoeKuoRow {
  int s;
  uint32_t a;
  uint32_t m[8];
};
constexpr JoeKuoRow kJoeKuo[SobolSampler::kMaxDimensions - 1] = {
    {1, 0, {1}},
    {2, 1, {1, 3}},
    {3, 1, {1, 3, 1}},
    {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},
    {4, 4, {1, 3, 5, 13}},
    {5, 2, {1, 1, 5, 5, 17}},
    {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}},
    {5, 11, {1, 1, 5, 1, 1}},
    {5, 13, {1, 1, 1, 3, 11}},
    {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}},
    {6, 13, {1, 1, 1, 15, 21, 21}},
    {6, 16, {1, 3, 1, 13, 27, 49}},
    {6, 19, {1, 1, 1, 15, 7, 5}},
    {6, 22, {1, 3, 1, 15, 13, 25}},
    {6, 25, {1, 1, 5, 5, 19, 61}},
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},
};

constexpr int kBits = SobolSampler::kBits;

// Direction numbers v_1..v_32 of dimension `dim` (0-based), as 32-bit fractions (MSB = 1/2), by
// the recurrence of Bratley and Fox as in Joe and Kuo's reference code.
std::array<uint32_t, kBits> DirectionNumbers(size_t dim) {
  std::array<uint32_t, kBits> v{};
  if (dim == 0) {
    for (int i = 0; i < kBits; ++i) v[i] = 1u << (kBits - 1 - i);
    return v;
  }
  const JoeKuoRow& row = kJoeKuo[dim - 1];
  for (int i = 0; i < row.s; ++i) v[i] = row.m[i] << (kBits - 1 - i);
  for (int i = row.s; i < kBits; ++i) {
    v[i] = v[i - row.s] ^ (v[i - row.s] >> row.s);
    for (int k = 1; k < row.s; ++k) {
      if ((row.a >> (row.s - 1 - k)) & 1u) v[i] ^= v[i - k];
    }
  }
  return v;
}

// One coordinate u in [0, 1) mapped onto `dist` (internal value).
double FromUnit(const Distribution& dist, double u) {
  auto pick = [u](uint64_t k) {  // floor(u * k), kept below k
    return std::min(static_cast<uint64_t>(u * static_cast<double>(k)), k - 1);
  };
  if (dist.type() == Distribution::Type::kCategorical)
    return static_cast<double>(pick(dist.choices().size()));
  if (dist.type() == Distribution::Type::kInt && dist.log()) {
    double lo = std::log(dist.low() - 0.5), hi = std::log(dist.high() + 0.5);
    return dist.Snap(std::round(std::exp(lo + (hi - lo) * u)));
  }
  if (dist.step() > 0)
    return dist.Snap(dist.low() + static_cast<double>(pick(dist.cardinality())) * dist.step());
  if (dist.log()) {
    double lo = std::log(dist.low()), hi = std::log(dist.high());
    return dist.Snap(std::exp(lo + (hi - lo) * u));
  }
  return dist.Snap(dist.low() + (dist.high() - dist.low()) * u);
}

}  // namespace

SobolSampler::SobolSampler(uint64_t seed, bool scramble) : rng_(seed) {
  std::mt19937_64 scramble_rng(seed ^ 0x50B01ULL);
  for (size_t d = 0; d < kMaxDimensions; ++d) {
    std::array<uint32_t, kBits> v = DirectionNumbers(d);
    if (scramble) {
      // Row r (r = 0 is the most significant bit) of a lower-triangular matrix with unit
      // diagonal: output bit r is input bit r XOR a random subset of the more significant bits.
      std::array<uint32_t, kBits> rows{};
      for (int r = 0; r < kBits; ++r) {
        uint32_t above = r == 0 ? 0u : ~0u << (kBits - r);
        rows[r] = (static_cast<uint32_t>(scramble_rng() >> 32) & above) | (1u << (kBits - 1 - r));
      }
      for (uint32_t& x : v) {
        uint32_t y = 0;
        for (int r = 0; r < kBits; ++r) {
          y |= static_cast<uint32_t>(std::popcount(rows[r] & x) & 1) << (kBits - 1 - r);
        }
        x = y;
      }
      shift_[d] = static_cast<uint32_t>(scramble_rng() >> 32);
    }
    directions_[d] = v;
  }
}

double SobolSampler::Coordinate(uint64_t index, size_t dim) const {
  uint64_t gray = index ^ (index >> 1);
  uint32_t x = shift_[dim];
  for (int b = 0; b < kBits && (gray >> b) != 0; ++b) {
    if ((gray >> b) & 1) x ^= directions_[dim][b];
  }
  return std::ldexp(static_cast<double>(x), -kBits);
}

ParamMap SobolSampler::Sample(const SearchSpace& space, const History& history) {
  uint64_t index = next_index_;
  if (history.trials != nullptr) index = std::max<uint64_t>(index, history.trials->size());
  if (index >> kBits != 0)
    throw GridExhausted("sobol: all 2^32 points of the sequence have been used");
  next_index_ = index + 1;
  ParamMap chosen;
  const auto& params = space.params();
  for (size_t i = 0; i < params.size(); ++i) {
    if (!space.IsActive(params[i], chosen)) continue;
    const Distribution& dist = params[i].distribution;
    chosen[params[i].name] =
        i < kMaxDimensions ? FromUnit(dist, Coordinate(index, i)) : SampleUniform(dist, rng_);
  }
  return chosen;
}

double SobolSampler::SampleOne(const std::string&, const Distribution& dist, const ParamMap&,
                               const History&) {
  return SampleUniform(dist, rng_);
}

}  // namespace hpo
