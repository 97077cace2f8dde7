// Quasi-random sampling with a Sobol sequence (Joe-Kuo direction numbers, new-joe-kuo-6.21201),
// optionally scrambled.
//
// Dimensions. Parameter i of the declared space (in declaration order) uses dimension i of the
// sequence, whether or not it is active in a given trial, so conditional parameters keep their
// dimension. Parameters past kMaxDimensions, and define-by-run parameters (SampleOne), are sampled
// uniformly at random instead.
//
// Mapping of a coordinate u in [0, 1): linear floats low + u*(high-low); log floats (and log
// ints, over [low-0.5, high+0.5], rounded) in log space; stepped floats and ints the grid point
// floor(u*k) of their k points; categorical the choice floor(u*k).
//
// Index. The n-th point proposed is point max(n, history size) of the sequence (Gray-code
// order), so a reopened study continues the sequence instead of repeating it.
//
// Scrambling (seeded, `scramble`): each dimension's generator matrix is multiplied by a random
// lower-triangular binary matrix with unit diagonal (linear matrix scramble) and the result is
// XOR-ed with a random digital shift. Both keep the net property: the first 2^k points still
// fall one into each elementary interval the unscrambled ones do.
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>

#include "hpo/sampler.h"

namespace hpo {

class SobolSampler : public Sampler {
 public:
  static constexpr size_t kMaxDimensions = 40;
  static constexpr int kBits = 32;

  SobolSampler(uint64_t seed, bool scramble);

  std::string name() const override { return "sobol"; }
  ParamMap Sample(const SearchSpace& space, const History& history) override;
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override;

  // Coordinate `dim` (< kMaxDimensions) of point `index` (< 2^32) of this sampler's sequence,
  // in [0, 1).
  double Coordinate(uint64_t index, size_t dim) const;

 private:
  std::array<std::array<uint32_t, kBits>, kMaxDimensions> directions_{};
  std::array<uint32_t, kMaxDimensions> shift_{};
  uint64_t next_index_ = 0;
  std::mt19937_64 rng_;  // fallback sampling
};

}  // namespace hpo
