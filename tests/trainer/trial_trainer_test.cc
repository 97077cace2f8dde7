#include "trainer/trial_trainer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "trainer_test_util.h"

namespace {

using trainer::testing::MlpTrainingParams;

models::HParams Params(const std::string& optimizer = "adam", double lr = 0.01) {
  return MlpTrainingParams({{"optimizer", optimizer}, {"lr", lr}});
}

TEST(TrialTrainer, LearnsSyntheticDataAndCountsEpochs) {
  data::Dataset d = data::MakeSyntheticClassification(600, 200, 8, 3, /*seed=*/4);
  trainer::TrialTrainer t(Params(), d, torch::kCPU, /*seed=*/1, /*max_epochs=*/3);
  trainer::EpochMetrics first = t.RunEpoch();
  trainer::EpochMetrics last = t.RunEpoch();
  EXPECT_EQ(first.epoch, 1);
  EXPECT_EQ(last.epoch, 2);
  EXPECT_EQ(t.epochs_done(), 2);
  EXPECT_LT(last.train_loss, first.train_loss);
  EXPECT_GT(last.val_accuracy, 0.8);
  EXPECT_GE(last.val_accuracy, 0.0);
  EXPECT_LE(last.val_accuracy, 1.0);
  EXPECT_EQ(last.Get("val_accuracy"), last.val_accuracy);
  EXPECT_EQ(last.Get("val_loss"), last.val_loss);
  EXPECT_THROW(last.Get("f1"), std::invalid_argument);
}

TEST(TrialTrainer, SameSeedSameResultOnCpu) {
  data::Dataset d = data::MakeSyntheticClassification(300, 100, 8, 3, 4);
  for (const char* opt : {"sgd", "adam", "adamw", "rmsprop"}) {
    trainer::TrialTrainer a(Params(opt), d, torch::kCPU, 9, 2);
    trainer::TrialTrainer b(Params(opt), d, torch::kCPU, 9, 2);
    a.RunEpoch();
    b.RunEpoch();
    EXPECT_EQ(a.RunEpoch().val_loss, b.RunEpoch().val_loss) << opt;
  }
}

TEST(TrialTrainer, NonFiniteLossThrowsDiverged) {
  data::Dataset d = data::MakeSyntheticClassification(100, 20, 4, 2, 1);
  d.train_x = d.train_x.clone();
  d.train_x[3][0] = std::numeric_limits<float>::quiet_NaN();
  trainer::TrialTrainer t(Params(), d, torch::kCPU, 1, 1);
  EXPECT_THROW(t.RunEpoch(), trainer::DivergedError);
}

TEST(TrialTrainer, BadHyperparametersThrow) {
  data::Dataset d = data::MakeSyntheticClassification(100, 20, 4, 2, 1);
  EXPECT_THROW(trainer::TrialTrainer(Params("lion"), d, torch::kCPU, 1, 1), std::invalid_argument);
  EXPECT_THROW(trainer::TrialTrainer(Params("adam", 0.0), d, torch::kCPU, 1, 1),
               std::invalid_argument);
}

}  // namespace

namespace {

using trainer::testing::ExpectSameParameters;

// Pausing at epoch k (saving the state, dropping the trainer) and resuming in a fresh trainer
// ends bit-for-bit equal to the same trial run without a pause.
TEST(TrialTrainer, PauseAndResumeIsExactOnCpu) {
  data::Dataset d = data::MakeSyntheticClassification(300, 100, 8, 3, 4);
  for (const char* opt : {"sgd", "adam", "adamw", "rmsprop"}) {
    models::HParams hp = Params(opt);
    hp.Set("lr_schedule", std::string("cosine"));
    hp.Set("dropout", 0.25);  // masks from the trial's generator, saved with the state
    trainer::TrialTrainer straight(hp, d, torch::kCPU, 5, 4);
    std::vector<double> losses;
    for (int e = 0; e < 4; ++e) losses.push_back(straight.RunEpoch().val_loss);

    trainer::TrialTrainer first(hp, d, torch::kCPU, 5, 4);
    first.RunEpoch();
    first.RunEpoch();
    const std::string state = first.SaveState();
    trainer::TrialTrainer resumed(hp, d, torch::kCPU, 5, 4);
    resumed.LoadState(state);
    EXPECT_EQ(resumed.epochs_done(), 2);
    EXPECT_EQ(resumed.RunEpoch().val_loss, losses[2]) << opt;
    EXPECT_EQ(resumed.RunEpoch().val_loss, losses[3]) << opt;
    ExpectSameParameters(straight, resumed);
  }
}

TEST(TrialTrainer, LoadingAForeignCheckpointThrows) {
  data::Dataset d = data::MakeSyntheticClassification(100, 20, 4, 2, 1);
  trainer::TrialTrainer t(Params(), d, torch::kCPU, 1, 1);
  EXPECT_ANY_THROW(t.LoadState("not a checkpoint"));
  models::HParams wide = Params();
  wide.Set("hidden_units", int64_t{32});
  trainer::TrialTrainer other(wide, d, torch::kCPU, 1, 1);
  EXPECT_ANY_THROW(t.LoadState(other.SaveState()));
}

}  // namespace

namespace {

TEST(LrSchedule, ConstantStepCosineAndWarmUpFollowTheirFormulas) {
  trainer::LrSchedule s;
  s.base_lr = 0.1;
  s.max_epochs = 10;
  EXPECT_DOUBLE_EQ(s.At(0), 0.1);
  EXPECT_DOUBLE_EQ(s.At(7.3), 0.1);
  EXPECT_FALSE(s.varies());

  s.kind = "step";
  s.step_epochs = 3;
  s.gamma = 0.5;
  EXPECT_TRUE(s.varies());
  EXPECT_DOUBLE_EQ(s.At(0), 0.1);
  EXPECT_DOUBLE_EQ(s.At(2.99), 0.1);
  EXPECT_DOUBLE_EQ(s.At(3), 0.05);
  EXPECT_DOUBLE_EQ(s.At(6.5), 0.025);

  s.kind = "cosine";
  EXPECT_DOUBLE_EQ(s.At(0), 0.1);
  EXPECT_NEAR(s.At(5), 0.05, 1e-15);  // half-way: half the rate
  EXPECT_NEAR(s.At(10), 0.0, 1e-15);
  EXPECT_NEAR(s.At(12), 0.0, 1e-15);  // past the horizon it stays at 0
  EXPECT_GT(s.At(2), s.At(3));

  // Linear warm-up over the first 2 epochs, then the cosine over the remaining 8.
  s.warmup_epochs = 2;
  EXPECT_NEAR(s.At(0), 0.0, 1e-12);
  EXPECT_NEAR(s.At(0.5), 0.025, 1e-12);
  EXPECT_NEAR(s.At(1.5), 0.075, 1e-12);
  EXPECT_DOUBLE_EQ(s.At(2), 0.1);
  EXPECT_NEAR(s.At(6), 0.05, 1e-15);
  EXPECT_NEAR(s.At(10), 0.0, 1e-15);

  s.kind = "constant";  // warm-up alone
  EXPECT_TRUE(s.varies());
  EXPECT_NEAR(s.At(1), 0.05, 1e-12);
  EXPECT_DOUBLE_EQ(s.At(3), 0.1);
}

// The trainer sets the schedule's rate per batch: a step schedule with gamma 0 trains in the
// first epoch and freezes the parameters from the second on; a warm-up moves them less in the
// first epoch than the same run without one.
TEST(TrialTrainer, AppliesTheLearningRateSchedule) {
  data::Dataset d = data::MakeSyntheticClassification(300, 100, 8, 3, 4);
  auto snapshot = [](trainer::TrialTrainer& t) {
    std::vector<torch::Tensor> out;
    for (const auto& p : t.model().parameters()) out.push_back(p.detach().clone());
    return out;
  };
  auto distance = [](const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    double sum = 0;
    for (size_t i = 0; i < a.size(); ++i) sum += (a[i] - b[i]).abs().sum().item<double>();
    return sum;
  };
  models::HParams step = Params("sgd", 0.05);
  step.Set("lr_schedule", std::string("step"));
  step.Set("lr_step_epochs", int64_t{1});
  step.Set("lr_gamma", 0.0);
  trainer::TrialTrainer frozen(step, d, torch::kCPU, 2, 3);
  auto initial = snapshot(frozen);
  frozen.RunEpoch();
  auto after_one = snapshot(frozen);
  EXPECT_GT(distance(initial, after_one), 0.0);
  frozen.RunEpoch();
  EXPECT_EQ(distance(after_one, snapshot(frozen)), 0.0);

  models::HParams warm = Params("sgd", 0.05);
  warm.Set("warmup_epochs", 1.0);
  trainer::TrialTrainer slow(warm, d, torch::kCPU, 2, 3),
      fast(Params("sgd", 0.05), d, torch::kCPU, 2, 3);
  auto start = snapshot(slow);
  slow.RunEpoch();
  fast.RunEpoch();
  EXPECT_LT(distance(start, snapshot(slow)), 0.75 * distance(start, snapshot(fast)));
}

}  // namespace
