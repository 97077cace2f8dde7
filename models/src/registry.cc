#include "registry.h"

#include <algorithm>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "activation.h"
#include "models/model.h"

namespace models {
namespace {

using Builder = std::function<std::shared_ptr<Model>(const HParams&, const InputSpec&)>;
struct Entry {
  std::string name;
  Builder build;
  std::function<std::vector<HParamDoc>()> hparams;
};

// In the order of KnownModels() and of ModelHParams().
const std::vector<Entry>& Registry() {
  static const std::vector<Entry> registry = {
      {"mlp", MakeMlp, MlpHParams},
      {"cnn", MakeCnn, CnnHParams},
      {"resnet", MakeResNet, ResNetHParams},
  };
  return registry;
}

bool SameDoc(const HParamDoc& a, const HParamDoc& b) {
  return a.key == b.key && a.kind == b.kind && a.default_value == b.default_value &&
         a.min == b.min && a.max == b.max && a.allowed == b.allowed &&
         a.description == b.description;
}

}  // namespace

std::vector<std::string> KnownModels() {
  std::vector<std::string> names;
  for (const auto& entry : Registry()) names.push_back(entry.name);
  return names;
}

std::shared_ptr<Model> BuildModel(const std::string& name, const HParams& hp,
                                  const InputSpec& input) {
  for (const auto& entry : Registry())
    if (entry.name == name) return entry.build(hp, input);
  std::string known;
  for (const auto& n : KnownModels()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown model '" + name + "' (known: " + known + ")");
}

HParamDoc SharedHParam(const std::string& key) {
  using K = HParamDoc::Kind;
  if (key == "hidden_units")
    return {key,
            K::kInt,
            int64_t{256},
            1,
            65536,
            {},
            "mlp, cnn: width of each hidden Linear layer (cnn: the one in the classifier head)"};
  if (key == "activation")
    return {key,
            K::kString,
            std::string("relu"),
            0,
            0,
            KnownActivations(),
            "mlp, cnn: activation after each hidden layer (cnn: and after each convolution)"};
  if (key == "dropout")
    return {key,
            K::kFloat,
            0.0,
            0,
            0.99,
            {},
            "mlp, cnn: dropout probability (mlp: after each hidden activation; cnn: before the "
            "classifier head's hidden layer)"};
  if (key == "batch_norm")
    return {key,
            K::kBool,
            false,
            0,
            0,
            {},
            "mlp, cnn: batch normalisation after each hidden Linear (mlp) or convolution (cnn)"};
  throw std::logic_error("models: no shared hyperparameter '" + key + "'");
}

std::vector<HParamDoc> ModelHParams() {
  std::vector<HParamDoc> all;
  for (const auto& entry : Registry()) {
    for (const auto& doc : entry.hparams()) {
      auto same_key = [&](const HParamDoc& d) { return d.key == doc.key; };
      auto it = std::find_if(all.begin(), all.end(), same_key);
      if (it == all.end()) {
        all.push_back(doc);
      } else if (!SameDoc(*it, doc)) {
        throw std::logic_error("models: hyperparameter '" + doc.key + "' of model '" + entry.name +
                               "' is declared differently by another model; declare it once "
                               "in SharedHParam");
      }
    }
  }
  return all;
}

void RequireImageInput(const std::string& model, const InputSpec& in) {
  const std::vector<int64_t>& shape = in.input_shape;
  if (shape.size() == 1)
    throw std::invalid_argument(model + " needs image input [C,H,W]; use mlp for tabular data");
  if (shape.size() != 3 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    throw std::invalid_argument(model + " needs image input [C,H,W], got input_shape " + s + "]");
  }
}

}  // namespace models
