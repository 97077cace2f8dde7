#include "samplers/random_sampler.h"

#include <cmath>
#include <cstdint>

namespace hpo {

double SampleUniform(const Distribution& dist, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  switch (dist.type()) {
    case Distribution::Type::kCategorical: {
      std::uniform_int_distribution<size_t> pick(0, dist.choices().size() - 1);
      return static_cast<double>(pick(rng));
    }
    case Distribution::Type::kInt:
    case Distribution::Type::kFloat: {
      if (dist.type() == Distribution::Type::kInt && dist.log()) {
        // Log-uniform over [low - 0.5, high + 0.5], rounded: each integer gets its cell's mass.
        double lo = std::log(dist.low() - 0.5), hi = std::log(dist.high() + 0.5);
        return dist.Snap(std::round(std::exp(lo + (hi - lo) * u01(rng))));
      }
      if (dist.step() > 0) {  // every grid point equally likely
        std::uniform_int_distribution<uint64_t> pick(0, dist.cardinality() - 1);
        return dist.Snap(dist.low() + static_cast<double>(pick(rng)) * dist.step());
      }
      if (dist.log()) {
        double lo = std::log(dist.low()), hi = std::log(dist.high());
        return dist.Snap(std::exp(lo + (hi - lo) * u01(rng)));
      }
      return dist.low() + (dist.high() - dist.low()) * u01(rng);
    }
  }
  return dist.low();
}

double RandomSampler::SampleOne(const std::string&, const Distribution& dist, const ParamMap&,
                                const History&) {
  return SampleUniform(dist, rng_);
}

}  // namespace hpo
