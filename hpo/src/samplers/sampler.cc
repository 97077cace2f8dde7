#include "hpo/sampler.h"

#include <functional>
#include <map>
#include <stdexcept>

#include "samplers/gp_sampler.h"
#include "samplers/grid_sampler.h"
#include "samplers/random_sampler.h"
#include "samplers/sobol_sampler.h"
#include "samplers/tpe_sampler.h"

namespace hpo {

ParamMap Sampler::Sample(const SearchSpace& space, const History& history) {
  ParamMap chosen;
  for (const ParamSpec& spec : space.params()) {
    if (!space.IsActive(spec, chosen)) continue;
    chosen[spec.name] = SampleOne(spec.name, spec.distribution, chosen, history);
  }
  return chosen;
}

namespace {
using Factory = std::function<std::unique_ptr<Sampler>(const SamplerOptions&)>;
const std::map<std::string, Factory>& Registry() {
  static const std::map<std::string, Factory> registry = {
      {"gp",
       [](const SamplerOptions& o) {
         return std::make_unique<GpSampler>(
             o.seed, GpSamplerOptions().set_n_startup_trials(static_cast<int>(o.n_startup_trials)));
       }},
      {"grid",
       [](const SamplerOptions& o) { return std::make_unique<GridSampler>(o.seed, o.grid); }},
      {"random", [](const SamplerOptions& o) { return std::make_unique<RandomSampler>(o.seed); }},
      {"sobol",
       [](const SamplerOptions& o) { return std::make_unique<SobolSampler>(o.seed, o.scramble); }},
      {"tpe",
       [](const SamplerOptions& o) {
         return std::make_unique<TpeSampler>(TpeOptions()
                                                 .seed(o.seed)
                                                 .n_startup_trials(o.n_startup_trials)
                                                 .n_ei_candidates(o.n_ei_candidates)
                                                 .gamma(TpeGamma(o.gamma))
                                                 .prior_weight(o.prior_weight)
                                                 .multivariate(o.multivariate)
                                                 .constant_liar(o.constant_liar));
       }},
  };
  return registry;
}
}  // namespace

std::vector<std::string> KnownSamplers() {
  std::vector<std::string> names;
  for (const auto& [name, _] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Sampler> MakeSampler(const SamplerOptions& options) {
  auto it = Registry().find(options.name);
  if (it == Registry().end()) {
    std::string known;
    for (const auto& n : KnownSamplers()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown sampler '" + options.name + "' (known: " + known + ")");
  }
  return it->second(options);
}

}  // namespace hpo
