// Models: a name-keyed registry of builders (mlp, cnn, resnet). A builder turns hyperparameters
// into a fresh, randomly initialised module. Initialisation draws from the global torch
// generator: callers that need determinism seed it under a lock, see trainer/. Dropout masks
// draw from InputSpec::generator when one is given.
//
// Example:
//   models::HParams hp({{"hidden_units", int64_t{256}}, {"layers", int64_t{2}}, ...});
//   auto net = models::BuildModel("mlp", hp, {/*input_shape=*/{1, 28, 28}, /*num_classes=*/10});
//   torch::Tensor logits = net->forward(images);  // [N, 10]
//
// Errors: an unknown model name throws std::invalid_argument listing the known ones; bad
// hyperparameter values throw std::invalid_argument naming the key; so does an input shape the
// model cannot take (cnn and resnet need images [C, H, W]).
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "models/hparams.h"

namespace models {

struct InputSpec {
  std::vector<int64_t> input_shape;  // per sample, e.g. {1, 28, 28}
  int64_t num_classes = 0;
  // Where dropout masks come from in train mode. Undefined (the default): torch's default
  // generator, which all threads share, so concurrent trials perturb each other's masks. The
  // model keeps this handle and draws from it on every training forward: give each trial its
  // own generator, seeded per trial (e.g. at::detail::createCPUGenerator(seed)). A CPU
  // generator works for a model on any device (masks are drawn on the CPU and copied); one on
  // the model's device avoids the copy.
  at::Generator generator = {};
};

// A classifier: forward maps a batch [N, *input_shape] to logits [N, num_classes].
class Model : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

std::shared_ptr<Model> BuildModel(const std::string& name, const HParams& hp,
                                  const InputSpec& input);

}  // namespace models
