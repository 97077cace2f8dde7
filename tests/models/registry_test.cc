#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "models/model.h"

namespace {

// Every model built from the documented defaults alone: the docs cover every key it reads.
models::HParams Defaults() {
  models::HParams hp;
  for (const auto& doc : models::ModelHParams()) hp.Set(doc.key, doc.default_value);
  return hp;
}

const models::HParamDoc* Find(const std::vector<models::HParamDoc>& docs, const std::string& key) {
  for (const auto& d : docs)
    if (d.key == key) return &d;
  return nullptr;
}

TEST(Registry, ListsMlpCnnAndResNet) {
  EXPECT_EQ(models::KnownModels(), (std::vector<std::string>{"mlp", "cnn", "resnet"}));
  try {
    models::BuildModel("transformer", Defaults(), {{1, 28, 28}, 10});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("known: mlp, cnn, resnet"), std::string::npos) << e.what();
  }
}

TEST(Registry, EveryModelBuildsFromTheDocumentedDefaults) {
  for (const auto& name : models::KnownModels()) {
    SCOPED_TRACE(name);
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{1, 28, 28}, std::vector<int64_t>{3, 32, 32}}) {
      auto net = models::BuildModel(name, Defaults(), {shape, 10});
      net->eval();
      torch::NoGradGuard no_grad;
      std::vector<int64_t> batch = {2};
      batch.insert(batch.end(), shape.begin(), shape.end());
      EXPECT_EQ(net->forward(torch::randn(batch)).sizes(), (std::vector<int64_t>{2, 10}));
    }
  }
}

TEST(Registry, HyperparametersAreAUnionWithoutDuplicates) {
  const auto docs = models::ModelHParams();
  std::set<std::string> keys;
  for (const auto& d : docs) EXPECT_TRUE(keys.insert(d.key).second) << "duplicate " << d.key;
  for (const char* key :
       {"hidden_units", "layers", "activation", "dropout", "batch_norm", "conv_blocks", "channels",
        "kernel_size", "pooling", "global_pool", "resnet_depth", "width"})
    EXPECT_EQ(keys.count(key), 1u) << key;
  EXPECT_EQ(keys.size(), 12u);
}

TEST(Registry, DescriptionsNameTheModelsThatReadEachKey) {
  const auto docs = models::ModelHParams();
  for (const char* key : {"hidden_units", "activation", "dropout", "batch_norm"}) {
    ASSERT_NE(Find(docs, key), nullptr) << key;
    EXPECT_EQ(Find(docs, key)->description.rfind("mlp, cnn: ", 0), 0u) << key;
  }
  EXPECT_EQ(Find(docs, "layers")->description.rfind("mlp: ", 0), 0u);
  for (const char* key : {"conv_blocks", "channels", "kernel_size", "pooling", "global_pool"})
    EXPECT_EQ(Find(docs, key)->description.rfind("cnn: ", 0), 0u) << key;
  for (const char* key : {"resnet_depth", "width"})
    EXPECT_EQ(Find(docs, key)->description.rfind("resnet: ", 0), 0u) << key;
}

TEST(Registry, DefaultsLieInTheirRanges) {
  for (const auto& d : models::ModelHParams()) {
    SCOPED_TRACE(d.key);
    if (d.kind == models::HParamDoc::Kind::kInt) {
      const auto v = static_cast<double>(std::get<int64_t>(d.default_value));
      EXPECT_LE(d.min, v);
      EXPECT_LE(v, d.max);
    } else if (d.kind == models::HParamDoc::Kind::kFloat) {
      const double v = std::get<double>(d.default_value);
      EXPECT_LE(d.min, v);
      EXPECT_LE(v, d.max);
    } else if (d.kind == models::HParamDoc::Kind::kString && !d.allowed.empty()) {
      EXPECT_NE(
          std::find(d.allowed.begin(), d.allowed.end(), std::get<std::string>(d.default_value)),
          d.allowed.end());
    }
  }
  const auto docs = models::ModelHParams();
  EXPECT_EQ(std::get<int64_t>(Find(docs, "conv_blocks")->default_value), 2);
  EXPECT_EQ(std::get<int64_t>(Find(docs, "channels")->default_value), 32);
  EXPECT_EQ(std::get<int64_t>(Find(docs, "kernel_size")->default_value), 3);
  EXPECT_EQ(std::get<std::string>(Find(docs, "pooling")->default_value), "max");
  EXPECT_EQ(std::get<int64_t>(Find(docs, "resnet_depth")->default_value), 1);
  EXPECT_EQ(std::get<int64_t>(Find(docs, "width")->default_value), 16);
}

}  // namespace
