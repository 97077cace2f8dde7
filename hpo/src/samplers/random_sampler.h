// Independent uniform sampling: linear ranges uniformly, log ranges log-uniformly, stepped ranges
// uniformly over the grid points, categorical choices with equal probability.
#pragma once

#include <random>

#include "hpo/sampler.h"

namespace hpo {

// Draws one internal value of `dist` from `rng` (shared with other samplers for their
// start-up phase and fallbacks).
double SampleUniform(const Distribution& dist, std::mt19937_64& rng);

class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed) : rng_(seed) {}
  std::string name() const override { return "random"; }
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override;

 private:
  std::mt19937_64 rng_;
};

}  // namespace hpo
