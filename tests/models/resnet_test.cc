#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "models/model.h"
#include "models/model_checks.h"

namespace {

models::HParams ResNetParams(int64_t depth, int64_t width) {
  return models::HParams({{"resnet_depth", depth}, {"width", width}});
}

using models::testing::CountModules;
using models::testing::CountParams;

// Parameters of conv3x3(in→out) → BN → conv3x3(out→out) → BN, plus a 1x1 projection and its
// BN when the block changes the channel count. Convolutions have no bias.
int64_t BlockParams(int64_t in, int64_t out) {
  int64_t n = 9 * in * out + 2 * out + 9 * out * out + 2 * out;
  if (in != out) n += in * out + 2 * out;
  return n;
}

TEST(ResNet, OutputShapesForMnistAndCifarSizedImages) {
  for (const auto& hp : {ResNetParams(1, 4), ResNetParams(2, 8)}) {
    auto mnist = models::BuildModel("resnet", hp, {{1, 28, 28}, 10});
    EXPECT_EQ(mnist->forward(torch::randn({3, 1, 28, 28})).sizes(), (std::vector<int64_t>{3, 10}));
    auto cifar = models::BuildModel("resnet", hp, {{3, 32, 32}, 100});
    EXPECT_EQ(cifar->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 100}));
  }
}

TEST(ResNet, ParameterCountByHand) {
  // width 4 on 3 channels, depth 1: stem 3→4; blocks 4→4, 4→8 (projected), 8→16 (projected);
  // Linear(16, 10).
  const int64_t stem = 9 * 3 * 4 + 2 * 4;
  const int64_t fc = 16 * 10 + 10;
  auto d1 = models::BuildModel("resnet", ResNetParams(1, 4), {{3, 32, 32}, 10});
  EXPECT_EQ(CountParams(*d1), stem + (9 * 4 * 4 + 8 + 9 * 4 * 4 + 8) +
                                  (9 * 4 * 8 + 16 + 9 * 8 * 8 + 16 + 4 * 8 + 16) +
                                  (9 * 8 * 16 + 32 + 9 * 16 * 16 + 32 + 8 * 16 + 32) + fc);
  // Depth 2 adds one unprojected block per stage.
  auto d2 = models::BuildModel("resnet", ResNetParams(2, 4), {{3, 32, 32}, 10});
  EXPECT_EQ(CountParams(*d2),
            CountParams(*d1) + BlockParams(4, 4) + BlockParams(8, 8) + BlockParams(16, 16));
  // 6·depth + 2 weighted layers on the main path, 2 projections.
  EXPECT_EQ(CountModules<torch::nn::Conv2d>(*d2), 6 * 2 + 1 + 2);
  EXPECT_EQ(CountModules<torch::nn::BatchNorm2d>(*d2), 6 * 2 + 1 + 2);
}

TEST(ResNet, HyperparametersChangeTheStructure) {
  const models::InputSpec image{{1, 28, 28}, 10};
  auto d1 = models::BuildModel("resnet", ResNetParams(1, 8), image);
  auto d3 = models::BuildModel("resnet", ResNetParams(3, 8), image);
  auto wide = models::BuildModel("resnet", ResNetParams(1, 16), image);
  EXPECT_LT(CountParams(*d1), CountParams(*d3));
  EXPECT_LT(CountParams(*d1), CountParams(*wide));
  EXPECT_EQ(CountModules<torch::nn::Conv2d>(*d3), 6 * 3 + 1 + 2);
  // Stages 2 and 3 halve the spatial size: the head sees 4·width channels.
  auto fc = d3->modules().back()->as<torch::nn::Linear>();
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->weight.sizes(), (std::vector<int64_t>{10, 32}));
}

TEST(ResNet, StridesHalveTheImageTwice) {
  // The body without its head (global pool, flatten, Linear): stem and stage 1 keep the size,
  // stages 2 and 3 halve it (rounding up: stride 2 with padding 1).
  auto features = [](const std::vector<int64_t>& shape) {
    auto net = models::BuildModel("resnet", ResNetParams(1, 4), {shape, 10});
    auto body = net->named_children()["body"]->as<torch::nn::Sequential>();
    EXPECT_NE(body, nullptr);
    std::vector<int64_t> batch = {2};
    batch.insert(batch.end(), shape.begin(), shape.end());
    torch::Tensor x = torch::randn(batch);
    auto it = body->begin();
    for (size_t i = 0; i + 3 < body->size(); ++i, ++it) x = it->forward(x);
    return x.sizes().vec();
  };
  EXPECT_EQ(features({3, 32, 32}), (std::vector<int64_t>{2, 16, 8, 8}));
  EXPECT_EQ(features({1, 28, 28}), (std::vector<int64_t>{2, 16, 7, 7}));
  EXPECT_EQ(features({1, 3, 5}), (std::vector<int64_t>{2, 16, 1, 2}));
}

TEST(ResNet, BadValuesThrow) {
  const models::InputSpec image{{1, 28, 28}, 10};
  EXPECT_THROW(models::BuildModel("resnet", ResNetParams(0, 8), image), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("resnet", ResNetParams(1, 0), image), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("resnet", ResNetParams(1, 8), {{20}, 4}), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("resnet", models::HParams({{"width", int64_t{8}}}), image),
               std::invalid_argument);
}

TEST(ResNet, SameSeedSameWeights) {
  models::testing::ExpectSameSeedSameWeights("resnet", ResNetParams(1, 4), {{1, 8, 8}, 3}, 2);
}

TEST(ResNet, SgdStepsReduceTheLossOnATinyBatch) {
  torch::manual_seed(13);
  const models::InputSpec input{{3, 16, 16}, 5};
  models::testing::ExpectSgdHalvesTheLossOnATinyBatch(
      models::BuildModel("resnet", ResNetParams(1, 4), input), input);
}

}  // namespace
