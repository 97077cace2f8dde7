// Samplers propose parameter values for new trials.
//
// A sampler sees the study's history read-only (finished, running and paused trials: running
// ones let model-based samplers avoid proposing the same point twice). It is called by Study
// with the study lock held, so an implementation needs no locking of its own; it must be
// deterministic given its seed and the sequence of calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpo/space.h"
#include "hpo/trial.h"

namespace hpo {

struct History {
  Direction direction = Direction::kMinimize;
  const std::vector<FrozenTrial>* trials = nullptr;  // every trial of the study, by number
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Stored with the study; resuming with a sampler of another name is an error.
  virtual std::string name() const = 0;

  // Values for every active parameter of `space` for a new trial. The default samples the
  // parameters one by one in order with SampleOne, skipping inactive conditional ones.
  virtual ParamMap Sample(const SearchSpace& space, const History& history);

  // One parameter (define-by-run), given the parameters already chosen for this trial.
  virtual double SampleOne(const std::string& name, const Distribution& dist,
                           const ParamMap& chosen, const History& history) = 0;

 protected:
  Sampler() = default;
};

// Options common to every sampler, from the study file's `sampler:` section.
struct SamplerOptions {
  std::string name = "random";
  uint64_t seed = 0;
};

// Registry: unknown names throw std::invalid_argument listing the known ones.
std::unique_ptr<Sampler> MakeSampler(const SamplerOptions& options);
std::vector<std::string> KnownSamplers();

}  // namespace hpo
