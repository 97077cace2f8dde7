// Activation modules by name (private to models/).
#pragma once

#include <torch/nn/modules/container/any.h>

#include <string>
#include <vector>

namespace models {

// The names MakeActivation accepts, for hyperparameter docs.
const std::vector<std::string>& KnownActivations();

// relu, tanh, gelu or silu; anything else throws std::invalid_argument listing the known names.
torch::nn::AnyModule MakeActivation(const std::string& name);

}  // namespace models
