#include "../../trainer/src/fused_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

namespace {

// Two copies of the same parameters, each with its own optimiser; Step() gives both the same
// gradients and steps one with FusedAdamStep, the other with torch::optim's step().
template <typename Optim, typename Options>
struct Pair {
  std::vector<torch::Tensor> fused_params, plain_params;
  std::unique_ptr<Optim> fused, plain;
  std::vector<at::Tensor> scratch;

  explicit Pair(const Options& options) {
    torch::manual_seed(3);
    for (auto shape : {std::vector<int64_t>{7, 5}, std::vector<int64_t>{5}}) {
      torch::Tensor p = torch::randn(shape);
      fused_params.push_back(p.clone().requires_grad_());
      plain_params.push_back(p.clone().requires_grad_());
    }
    fused = std::make_unique<Optim>(fused_params, options);
    plain = std::make_unique<Optim>(plain_params, options);
  }
  void Step(int i) {
    torch::manual_seed(100 + i);
    for (size_t k = 0; k < fused_params.size(); ++k) {
      torch::Tensor g = torch::randn(fused_params[k].sizes());
      fused_params[k].mutable_grad() = g.clone();
      plain_params[k].mutable_grad() = g.clone();
    }
    ASSERT_TRUE(trainer::FusedAdamStep(*fused, scratch));
    plain->step();
  }
  void ExpectClose() {
    for (size_t k = 0; k < fused_params.size(); ++k)
      EXPECT_TRUE(torch::allclose(fused_params[k], plain_params[k], /*rtol=*/1e-5,
                                  /*atol=*/1e-6))
          << k << ": " << (fused_params[k] - plain_params[k]).abs().max().item<float>();
  }
};

TEST(FusedAdam, AdamMatchesTorchOptimUpToRounding) {
  for (double wd : {0.0, 0.05}) {
    Pair<torch::optim::Adam, torch::optim::AdamOptions> pair(
        torch::optim::AdamOptions(0.01).weight_decay(wd));
    const torch::Tensor initial = pair.fused_params[0].detach().clone();
    for (int i = 0; i < 20; ++i) pair.Step(i);
    pair.ExpectClose();
    // The update really moved the parameters (not a no-op matching a no-op).
    EXPECT_FALSE(torch::allclose(pair.fused_params[0], initial));
  }
}

TEST(FusedAdam, AdamWMatchesTorchOptimUpToRounding) {
  Pair<torch::optim::AdamW, torch::optim::AdamWOptions> pair(
      torch::optim::AdamWOptions(0.01).weight_decay(0.1));
  for (int i = 0; i < 20; ++i) pair.Step(i);
  pair.ExpectClose();
}

TEST(FusedAdam, KeepsTheOptimiserStateAndItsCheckpointFormat) {
  Pair<torch::optim::Adam, torch::optim::AdamOptions> pair(torch::optim::AdamOptions(0.01));
  for (int i = 0; i < 5; ++i) pair.Step(i);
  for (const auto& p : pair.fused_params) {
    auto& st = static_cast<torch::optim::AdamParamState&>(
        *pair.fused->state().at(p.unsafeGetTensorImpl()));
    EXPECT_EQ(st.step(), 5);
    auto& other = static_cast<torch::optim::AdamParamState&>(*pair.plain->state().at(
        pair.plain_params[&p - &pair.fused_params[0]].unsafeGetTensorImpl()));
    EXPECT_TRUE(torch::allclose(st.exp_avg(), other.exp_avg(), 1e-5, 1e-7));
    EXPECT_TRUE(torch::allclose(st.exp_avg_sq(), other.exp_avg_sq(), 1e-5, 1e-7));
  }
  // A checkpoint written after fused steps loads into a fresh optimiser, which then steps on
  // (fused) exactly as the original does.
  std::ostringstream bytes;
  {
    torch::serialize::OutputArchive archive;
    pair.fused->save(archive);
    archive.save_to(bytes);
  }
  std::vector<torch::Tensor> copy;
  for (const auto& p : pair.fused_params) copy.push_back(p.detach().clone().requires_grad_());
  torch::optim::Adam resumed(copy, torch::optim::AdamOptions(0.01));
  {
    torch::serialize::InputArchive archive;
    const std::string s = bytes.str();
    archive.load_from(s.data(), s.size());
    resumed.load(archive);
  }
  std::vector<at::Tensor> scratch;
  for (int i = 5; i < 8; ++i) {
    pair.Step(i);
    for (size_t k = 0; k < copy.size(); ++k)
      copy[k].mutable_grad() = pair.fused_params[k].grad().clone();
    ASSERT_TRUE(trainer::FusedAdamStep(resumed, scratch));
  }
  for (size_t k = 0; k < copy.size(); ++k) EXPECT_TRUE(torch::equal(copy[k], pair.fused_params[k]));
}

TEST(FusedAdam, ParametersWithoutGradientsAreLeftAlone) {
  torch::Tensor a = torch::ones({3}, torch::requires_grad()),
                b = torch::ones({3}, torch::requires_grad());
  torch::optim::Adam adam({a, b}, torch::optim::AdamOptions(0.1));
  a.mutable_grad() = torch::ones({3});
  std::vector<at::Tensor> scratch;
  ASSERT_TRUE(trainer::FusedAdamStep(adam, scratch));
  EXPECT_FALSE(torch::equal(a, torch::ones({3})));
  EXPECT_TRUE(torch::equal(b, torch::ones({3})));
  EXPECT_EQ(adam.state().count(b.unsafeGetTensorImpl()), 0u);
}

TEST(FusedAdam, DeclinesWhatItDoesNotFuse) {
  torch::Tensor p = torch::ones({3}, torch::requires_grad());
  p.mutable_grad() = torch::ones({3});
  std::vector<at::Tensor> scratch;
  torch::optim::SGD sgd({p}, torch::optim::SGDOptions(0.1));
  EXPECT_FALSE(trainer::FusedAdamStep(sgd, scratch));
  torch::optim::Adam amsgrad({p}, torch::optim::AdamOptions(0.1).amsgrad(true));
  EXPECT_FALSE(trainer::FusedAdamStep(amsgrad, scratch));
  torch::Tensor d =
      torch::ones({3}, torch::TensorOptions().dtype(torch::kDouble).requires_grad(true));
  d.mutable_grad() = torch::ones({3}, torch::kDouble);
  torch::optim::Adam doubles({d}, torch::optim::AdamOptions(0.1));
  EXPECT_FALSE(trainer::FusedAdamStep(doubles, scratch));
  EXPECT_TRUE(torch::equal(p, torch::ones({3})));  // nothing stepped
}

}  // namespace
