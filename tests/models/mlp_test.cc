#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/model.h"
#include "models/model_checks.h"

namespace {

models::HParams MlpParams(int64_t width, int64_t layers, bool bn = false, double dropout = 0.0) {
  return models::HParams({{"hidden_units", width},
                          {"layers", layers},
                          {"activation", std::string("relu")},
                          {"dropout", dropout},
                          {"batch_norm", bn}});
}

using models::testing::CountParams;

TEST(Mlp, ShapesAndParameterCountFollowHyperparameters) {
  auto net = models::BuildModel("mlp", MlpParams(32, 2), {{1, 28, 28}, 10});
  torch::Tensor out = net->forward(torch::randn({5, 1, 28, 28}));
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{5, 10}));
  // 784*32+32 + 32*32+32 + 32*10+10
  EXPECT_EQ(CountParams(*net), 784 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10);
}

TEST(Mlp, ZeroLayersIsLinearAndBatchNormAddsParameters) {
  auto linear = models::BuildModel("mlp", MlpParams(32, 0), {{20}, 4});
  EXPECT_EQ(CountParams(*linear), 20 * 4 + 4);
  auto bn = models::BuildModel("mlp", MlpParams(16, 1, /*bn=*/true), {{20}, 4});
  EXPECT_EQ(CountParams(*bn), 20 * 16 + 16 + 2 * 16 + 16 * 4 + 4);
}

TEST(Mlp, SameSeedSameWeights) {
  models::testing::ExpectSameSeedSameWeights("mlp", MlpParams(8, 1), {{6}, 3}, 3);
}

TEST(Mlp, SgdStepsReduceTheLossOnATinyBatch) {
  torch::manual_seed(4);
  const models::InputSpec input{{1, 6, 6}, 3};
  models::testing::ExpectSgdHalvesTheLossOnATinyBatch(
      models::BuildModel("mlp", MlpParams(16, 2, /*bn=*/true), input), input);
}

TEST(Mlp, BadHyperparametersAndUnknownModelsThrow) {
  EXPECT_THROW(models::BuildModel("mlp", MlpParams(0, 1), {{6}, 3}), std::invalid_argument);
  EXPECT_THROW(models::BuildModel("mlp", MlpParams(8, 1, false, 1.0), {{6}, 3}),
               std::invalid_argument);
  try {
    models::BuildModel("transformer", MlpParams(8, 1), {{6}, 3});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("known: mlp"), std::string::npos) << e.what();
  }
}

}  // namespace
