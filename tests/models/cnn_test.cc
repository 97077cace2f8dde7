#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>

#include "../../models/src/dropout.h"
#include "models/model.h"
#include "models/model_checks.h"

namespace {

models::HParams CnnParams(int64_t blocks, int64_t channels, int64_t kernel = 3) {
  return models::HParams({{"conv_blocks", blocks},
                          {"channels", channels},
                          {"kernel_size", kernel},
                          {"pooling", std::string("max")},
                          {"global_pool", false},
                          {"hidden_units", int64_t{16}},
                          {"activation", std::string("relu")},
                          {"dropout", 0.0},
                          {"batch_norm", false}});
}

using models::testing::CountModules;
using models::testing::CountParams;

TEST(Cnn, OutputShapesForMnistAndCifarSizedImages) {
  for (const auto& hp : {CnnParams(2, 8), CnnParams(3, 4, 5)}) {
    auto mnist = models::BuildModel("cnn", hp, {{1, 28, 28}, 10});
    EXPECT_EQ(mnist->forward(torch::randn({4, 1, 28, 28})).sizes(), (std::vector<int64_t>{4, 10}));
    auto cifar = models::BuildModel("cnn", hp, {{3, 32, 32}, 100});
    EXPECT_EQ(cifar->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<int64_t>{2, 100}));
  }
}

TEST(Cnn, ParameterCountByHand) {
  // [1, 8, 8], 2 blocks from 4 channels, 3x3: conv 1→4, pool to 4x4, conv 4→8, pool to 2x2,
  // flatten 8·2·2 = 32 → Linear(32, 16) → Linear(16, 10).
  auto net = models::BuildModel("cnn", CnnParams(2, 4), {{1, 8, 8}, 10});
  const int64_t conv = (9 * 1 * 4 + 4) + (9 * 4 * 8 + 8);
  const int64_t head = (32 * 16 + 16) + (16 * 10 + 10);
  EXPECT_EQ(CountParams(*net), conv + head);

  // Batch norm drops the conv biases and adds a scale and shift per channel.
  auto hp = CnnParams(2, 4);
  hp.Set("batch_norm", true);
  auto bn = models::BuildModel("cnn", hp, {{1, 8, 8}, 10});
  EXPECT_EQ(CountParams(*bn), (9 * 1 * 4 + 2 * 4) + (9 * 4 * 8 + 2 * 8) + head);
  EXPECT_EQ(CountModules<torch::nn::BatchNorm2d>(*bn), 2);

  // Global average pooling feeds 8 features to the head instead of 32.
  hp = CnnParams(2, 4);
  hp.Set("global_pool", true);
  auto gap = models::BuildModel("cnn", hp, {{1, 8, 8}, 10});
  EXPECT_EQ(CountParams(*gap), conv + (8 * 16 + 16) + (16 * 10 + 10));

  // A 5x5 kernel on 3 input channels.
  auto wide = models::BuildModel("cnn", CnnParams(1, 2, 5), {{3, 6, 6}, 4});
  EXPECT_EQ(CountParams(*wide), (25 * 3 * 2 + 2) + (2 * 3 * 3 * 16 + 16) + (16 * 4 + 4));
}

TEST(Cnn, HyperparametersChangeTheStructure) {
  auto with_gap = [](int64_t blocks, int64_t channels) {
    auto hp = CnnParams(blocks, channels);
    hp.Set("global_pool", true);
    return models::BuildModel("cnn", hp, {{1, 28, 28}, 10});
  };
  auto one = with_gap(1, 8), two = with_gap(2, 8), three = with_gap(3, 8);
  EXPECT_EQ(CountModules<torch::nn::Conv2d>(*one), 1);
  EXPECT_EQ(CountModules<torch::nn::Conv2d>(*three), 3);
  EXPECT_LT(CountParams(*one), CountParams(*two));
  EXPECT_LT(CountParams(*two), CountParams(*three));
  EXPECT_LT(CountParams(*with_gap(2, 4)), CountParams(*two));

  auto hp = CnnParams(2, 8);
  EXPECT_EQ(CountModules<torch::nn::MaxPool2d>(*models::BuildModel("cnn", hp, {{1, 28, 28}, 10})),
            2);
  hp.Set("pooling", std::string("avg"));
  auto avg = models::BuildModel("cnn", hp, {{1, 28, 28}, 10});
  EXPECT_EQ(CountModules<torch::nn::MaxPool2d>(*avg), 0);
  EXPECT_EQ(CountModules<torch::nn::AvgPool2d>(*avg), 2);
  hp.Set("activation", std::string("gelu"));
  EXPECT_EQ(CountModules<torch::nn::GELU>(*models::BuildModel("cnn", hp, {{1, 28, 28}, 10})), 3);
  hp.Set("dropout", 0.25);
  auto dropout = models::BuildModel("cnn", hp, {{1, 28, 28}, 10});
  EXPECT_EQ(CountModules<models::Dropout>(*dropout), 1);
  EXPECT_EQ(CountModules<torch::nn::Dropout>(*dropout), 0);
}

TEST(Cnn, PoolingStopsAtOnePixel) {
  // 4x4 halves twice to 1x1; the next four blocks cannot pool and keep 1x1.
  auto net = models::BuildModel("cnn", CnnParams(6, 1), {{1, 4, 4}, 3});
  EXPECT_EQ(CountModules<torch::nn::MaxPool2d>(*net), 2);
  EXPECT_EQ(net->forward(torch::randn({2, 1, 4, 4})).sizes(), (std::vector<int64_t>{2, 3}));
  // The flattened features are the last block's 32 channels at 1x1.
  EXPECT_EQ(CountParams(*net), (9 * 1 + 1) + (9 * 1 * 2 + 2) + (9 * 2 * 4 + 4) + (9 * 4 * 8 + 8) +
                                   (9 * 8 * 16 + 16) + (9 * 16 * 32 + 32) + (32 * 16 + 16) +
                                   (16 * 3 + 3));
  // A non-square image pools only along the dimension that still can: 1x8 → 1x4 → 1x2.
  auto strip = models::BuildModel("cnn", CnnParams(2, 2), {{1, 1, 8}, 3});
  EXPECT_EQ(strip->forward(torch::randn({2, 1, 1, 8})).sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(CountParams(*strip),
            (9 * 1 * 2 + 2) + (9 * 2 * 4 + 4) + (4 * 1 * 2 * 16 + 16) + (16 * 3 + 3));
}

TEST(Cnn, BadValuesThrow) {
  const models::InputSpec image{{1, 28, 28}, 10};
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(2, 8, /*kernel=*/4), image),
               std::invalid_argument);
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(2, 8, /*kernel=*/0), image),
               std::invalid_argument);
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(2, 0), image), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(0, 8), image), std::invalid_argument);
  auto hp = CnnParams(2, 8);
  hp.Set("pooling", std::string("median"));
  EXPECT_THROW(models::BuildModel("cnn", hp, image), std::invalid_argument);
  hp = CnnParams(2, 8);
  hp.Set("dropout", 1.0);
  EXPECT_THROW(models::BuildModel("cnn", hp, image), std::invalid_argument);
  hp = CnnParams(2, 8);
  hp.Set("activation", std::string("sigmoid"));
  EXPECT_THROW(models::BuildModel("cnn", hp, image), std::invalid_argument);

  try {
    models::BuildModel("cnn", CnnParams(2, 8), {{20}, 4});
    FAIL() << "expected an error for tabular input";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "cnn needs image input [C,H,W]; use mlp for tabular data");
  }
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(2, 8), {{28, 28}, 4}), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("cnn", CnnParams(2, 8), {{1, 0, 28}, 4}), std::invalid_argument);
}

TEST(Cnn, SameSeedSameWeights) {
  models::testing::ExpectSameSeedSameWeights("cnn", CnnParams(2, 4), {{1, 8, 8}, 3}, 5);
}

TEST(Cnn, SgdStepsReduceTheLossOnATinyBatch) {
  torch::manual_seed(11);
  auto hp = CnnParams(2, 4);
  hp.Set("batch_norm", true);
  const models::InputSpec input{{3, 12, 12}, 5};
  models::testing::ExpectSgdHalvesTheLossOnATinyBatch(models::BuildModel("cnn", hp, input), input);
}

}  // namespace
