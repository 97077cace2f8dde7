#include "registry.h"

#include <functional>
#include <map>
#include <stdexcept>

#include "models/model.h"

namespace models {
namespace {
using Builder = std::function<std::shared_ptr<Model>(const HParams&, const InputSpec&)>;
const std::map<std::string, Builder>& Registry() {
  static const std::map<std::string, Builder> registry = {{"mlp", MakeMlp}};
  return registry;
}
}  // namespace

std::vector<std::string> KnownModels() {
  std::vector<std::string> names;
  for (const auto& [name, _] : Registry()) names.push_back(name);
  return names;
}

std::shared_ptr<Model> BuildModel(const std::string& name, const HParams& hp,
                                  const InputSpec& input) {
  auto it = Registry().find(name);
  if (it == Registry().end()) {
    std::string known;
    for (const auto& n : KnownModels()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
  }
  return it->second(hp, input);
}

std::vector<HParamDoc> ModelHParams() { return MlpHParams(); }

}  // namespace models
