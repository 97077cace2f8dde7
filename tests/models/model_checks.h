// Checks every model of models/ must pass, shared by the per-model tests.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace models::testing {

inline int64_t CountParams(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

// How many of m's modules (itself included, recursively) are a ModuleType.
template <typename ModuleType>
int64_t CountModules(const torch::nn::Module& m) {
  auto modules = m.modules();
  return std::count_if(modules.begin(), modules.end(), [](const auto& child) {
    return child->template as<ModuleType>() != nullptr;
  });
}

// Two builds after the same torch seed have equal weights; a third, unseeded, differs.
inline void ExpectSameSeedSameWeights(const std::string& name, const HParams& hp,
                                      const InputSpec& input, uint64_t seed) {
  torch::manual_seed(seed);
  auto a = BuildModel(name, hp, input);
  torch::manual_seed(seed);
  auto b = BuildModel(name, hp, input);
  auto c = BuildModel(name, hp, input);
  auto pa = a->parameters(), pb = b->parameters(), pc = c->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
  EXPECT_FALSE(torch::equal(pa[0], pc[0]));
}

// Thirty SGD steps on one random batch of 8 reach every parameter and halve the loss.
inline void ExpectSgdHalvesTheLossOnATinyBatch(const std::shared_ptr<Model>& net,
                                               const InputSpec& input) {
  net->train();
  std::vector<int64_t> shape = {8};
  shape.insert(shape.end(), input.input_shape.begin(), input.input_shape.end());
  torch::Tensor x = torch::randn(shape);
  torch::Tensor y = torch::randint(input.num_classes, {8}, torch::kLong);
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9));
  auto loss_now = [&] { return torch::nn::functional::cross_entropy(net->forward(x), y); };
  const double first = loss_now().item<double>();
  for (int step = 0; step < 30; ++step) {
    sgd.zero_grad();
    torch::Tensor loss = loss_now();
    loss.backward();
    sgd.step();
  }
  for (const auto& p : net->parameters()) ASSERT_TRUE(p.grad().defined());
  EXPECT_LT(loss_now().item<double>(), 0.5 * first);
}

}  // namespace models::testing
