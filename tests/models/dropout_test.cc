#include "../../models/src/dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <thread>

#include "models/model.h"

namespace {

at::Generator Seeded(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

TEST(Dropout, ZeroesOrScalesEachElement) {
  models::Dropout drop(0.25, Seeded(1));
  torch::Tensor x = torch::rand({200, 50}) + 1;  // no zeros of its own
  torch::Tensor y = drop(x);
  torch::Tensor kept = y != 0;
  EXPECT_TRUE(torch::allclose(y.masked_select(kept), x.masked_select(kept) / 0.75));
  const double kept_share = kept.to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(kept_share, 0.75, 0.02);  // 10000 draws: sd ≈ 0.0043
}

TEST(Dropout, EvalModeAndZeroPAreTheIdentity) {
  torch::Tensor x = torch::randn({10, 10});
  models::Dropout drop(0.5, Seeded(1));
  drop->eval();
  EXPECT_TRUE(torch::equal(drop(x), x));
  drop->train();
  EXPECT_FALSE(torch::equal(drop(x), x));
  models::Dropout none(0.0, Seeded(1));
  EXPECT_TRUE(torch::equal(none(x), x));
}

TEST(Dropout, GradientsFlowThroughTheKeptElements) {
  models::Dropout drop(0.5, Seeded(4));
  torch::Tensor x = torch::ones({100}, torch::requires_grad());
  torch::Tensor y = drop(x);
  y.sum().backward();
  EXPECT_TRUE(torch::equal(x.grad(), y.detach()));  // d(x·m/(1-p))/dx = m/(1-p) = y at x = 1
}

TEST(Dropout, MasksFollowTheGivenGeneratorNotTheGlobalOne) {
  torch::Tensor x = torch::ones({1000});
  models::Dropout a(0.5, Seeded(7)), b(0.5, Seeded(7)), c(0.5, Seeded(8));
  torch::manual_seed(1);
  torch::Tensor ya = a(x);
  torch::manual_seed(2);  // reseeding the global generator must not matter
  torch::Tensor yb = b(x);
  EXPECT_TRUE(torch::equal(ya, yb));
  EXPECT_FALSE(torch::equal(ya, c(x)));
  // Successive calls draw fresh masks from the same stream.
  EXPECT_FALSE(torch::equal(a(x), ya));
}

TEST(Dropout, UndefinedGeneratorUsesTheGlobalOne) {
  torch::Tensor x = torch::ones({1000});
  models::Dropout drop(0.5);
  torch::manual_seed(3);
  torch::Tensor first = drop(x);
  torch::manual_seed(3);
  EXPECT_TRUE(torch::equal(drop(x), first));
  EXPECT_FALSE(torch::equal(drop(x), first));
}

TEST(Dropout, CpuGeneratorOnCudaInputDrawsTheSameMasksAsOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device";
  torch::Tensor x = torch::rand({64, 32}) + 1;
  models::Dropout on_cpu(0.5, Seeded(9)), on_cuda(0.5, Seeded(9));
  torch::Tensor expected = on_cpu(x);
  torch::Tensor y = on_cuda(x.cuda());
  EXPECT_TRUE(y.is_cuda());
  EXPECT_TRUE(torch::equal(y.cpu(), expected));
  // A generator of the input's device draws there: reseeded, the same masks again.
  at::Generator cuda_gen = at::globalContext().defaultGenerator(torch::kCUDA);
  models::Dropout on_gpu(0.5, cuda_gen);
  cuda_gen.set_current_seed(3);
  torch::Tensor first = on_gpu(x.cuda());
  EXPECT_FALSE(torch::equal(on_gpu(x.cuda()), first));
  cuda_gen.set_current_seed(3);
  EXPECT_TRUE(torch::equal(on_gpu(x.cuda()), first));
}

TEST(Dropout, BadProbabilitiesThrow) {
  EXPECT_THROW(models::Dropout(1.0), std::invalid_argument);
  EXPECT_THROW(models::Dropout(-0.1), std::invalid_argument);
  EXPECT_THROW(models::Dropout(std::nan("")), std::invalid_argument);
}

models::HParams MlpParams() {
  return models::HParams({{"hidden_units", int64_t{64}},
                          {"layers", int64_t{2}},
                          {"activation", std::string("relu")},
                          {"dropout", 0.5},
                          {"batch_norm", false}});
}

models::HParams CnnParams() {
  return models::HParams({{"conv_blocks", int64_t{2}},
                          {"channels", int64_t{4}},
                          {"kernel_size", int64_t{3}},
                          {"pooling", std::string("max")},
                          {"global_pool", false},
                          {"hidden_units", int64_t{32}},
                          {"activation", std::string("relu")},
                          {"dropout", 0.5},
                          {"batch_norm", true}});
}

// Builds `name` with weights from global seed 0 and dropout masks from a generator seeded with
// `dropout_seed`, then returns its train-mode outputs for two batches.
std::vector<torch::Tensor> TrainOutputs(const std::string& name, const models::HParams& hp,
                                        uint64_t dropout_seed) {
  torch::manual_seed(0);
  auto net = models::BuildModel(name, hp, {{1, 12, 12}, 10, Seeded(dropout_seed)});
  net->train();
  torch::Tensor x = torch::randn({6, 1, 12, 12}, torch::TensorOptions());
  static uint64_t calls = 0;
  torch::manual_seed(99 + calls++);  // the global stream differs on every call
  return {net->forward(x), net->forward(x)};
}

TEST(Dropout, ModelsWithGeneratorsSeededAlikeAreBitIdenticalInTrainMode) {
  for (const auto& [name, hp] : {std::pair{"mlp", MlpParams()}, std::pair{"cnn", CnnParams()}}) {
    SCOPED_TRACE(name);
    auto a = TrainOutputs(name, hp, 21), b = TrainOutputs(name, hp, 21);
    auto c = TrainOutputs(name, hp, 22);
    EXPECT_TRUE(torch::equal(a[0], b[0]));
    EXPECT_TRUE(torch::equal(a[1], b[1]));
    EXPECT_FALSE(torch::equal(a[0], c[0]));
    EXPECT_FALSE(torch::equal(a[0], a[1]));  // fresh masks for each batch
  }
}

TEST(Dropout, ConcurrentModelsDoNotDisturbEachOther) {
  // The trainer's situation: trials on threads, each with its own generator, while other
  // threads draw from the global generator. Each trial must see what it sees alone. (Weights
  // are initialised before the threads start, as the trainer does under a lock.)
  auto build = [](uint64_t seed) {
    torch::manual_seed(0);
    auto net = models::BuildModel("mlp", MlpParams(), {{20}, 4, Seeded(seed)});
    net->train();
    return net;
  };
  auto run = [](models::Model& net) {
    torch::Tensor x = torch::ones({64, 20});
    torch::Tensor sum = torch::zeros({64, 4});
    for (int i = 0; i < 200; ++i) sum += net.forward(x);
    return sum;
  };
  const torch::Tensor alone = run(*build(5));
  std::vector<std::shared_ptr<models::Model>> nets = {build(5), build(5)};
  std::vector<torch::Tensor> results(2);
  {
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) threads.emplace_back([&, t] { results[t] = run(*nets[t]); });
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([] {
        for (int i = 0; i < 200; ++i) torch::rand({64, 64});  // global generator traffic
      });
    for (auto& th : threads) th.join();
  }
  EXPECT_TRUE(torch::equal(results[0], alone));
  EXPECT_TRUE(torch::equal(results[1], alone));
}

}  // namespace
