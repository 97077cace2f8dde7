#include "activation.h"

#include <torch/nn/modules/activation.h>

#include <stdexcept>

namespace models {

const std::vector<std::string>& KnownActivations() {
  static const std::vector<std::string> names = {"relu", "tanh", "gelu", "silu"};
  return names;
}

torch::nn::AnyModule MakeActivation(const std::string& name) {
  if (name == "relu") return torch::nn::AnyModule(torch::nn::ReLU());
  if (name == "tanh") return torch::nn::AnyModule(torch::nn::Tanh());
  if (name == "gelu") return torch::nn::AnyModule(torch::nn::GELU());
  if (name == "silu") return torch::nn::AnyModule(torch::nn::SiLU());
  throw std::invalid_argument("unknown activation '" + name + "' (known: relu, tanh, gelu, silu)");
}

}  // namespace models
