// End-to-end studies through the real trainer on synthetic data.
#include "trainer/study_runner.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <filesystem>
#include <sstream>

#include "hpo/config.h"
#include "test_util.h"
#include "trainer/schema.h"

namespace {

std::string TinyStudy(const std::string& db, const std::string& extra_space = "",
                      const std::string& scheduler = "fifo", int trials = 2, int epochs = 2) {
  return "study: {name: tiny, direction: maximize, metric: val_accuracy, seed: 1, storage: " + db +
         "}\n" + "budget: {trials: " + std::to_string(trials) +
         ", max_epochs: " + std::to_string(epochs) +
         "}\n"
         "search_space:\n"
         "  lr: {type: float, low: 0.001, high: 0.01, log: true}\n"
         "  hidden_units: {type: int, low: 8, high: 32}\n" +
         extra_space + "sampler: random\n" + "scheduler: {name: " + scheduler +
         ", min_resource: 1, reduction_factor: 2}\n"
         "resources: {devices: cpu, trials_per_device: 2}\n"
         "data: {name: synthetic, synthetic_train: 400, synthetic_val: 100, "
         "synthetic_features: 8, synthetic_classes: 3}\n"
         "model: {name: mlp, layers: 1}\n"
         "training: {batch_size: 32, optimizer: adam}\n";
}

hpo::StudyConfig Parse(const std::string& text) {
  return hpo::ParseStudyConfig(text, "tiny.yaml", trainer::TrainerSchema());
}

TEST(StudyRunner, TinyStudyTrainsTwoTrialsToTheEndAndStoresThem) {
  hpo::testing::TempDir dir;
  const std::string db = dir.File("tiny.db");
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  std::ostringstream out;
  trainer::StudyRunner runner(Parse(TinyStudy(db)), options, out);
  runner.Prepare();
  EXPECT_EQ(runner.slot_count(), 2);
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 2);
  EXPECT_EQ(result.failed, 0);
  ASSERT_TRUE(result.best.has_value());
  EXPECT_GT(*result.best->value, 0.5);  // 3 well-separated classes: far above chance (0.33)

  // The study is durable: a fresh storage sees both trials with two epochs each.
  auto storage = hpo::Storage::Open(db);
  hpo::StudyDefinition def;
  def.name = "tiny";
  auto trials = storage->GetAllTrials(storage->OpenStudy(def, /*allow_extend=*/true));
  ASSERT_EQ(trials.size(), 2u);
  for (const auto& t : trials) {
    EXPECT_EQ(t.state, hpo::TrialState::kComplete);
    EXPECT_EQ(t.intermediate.size(), 2u);
    EXPECT_EQ(t.intermediate.rbegin()->second, *t.value);
    EXPECT_EQ(t.params.size(), 2u);
  }
  EXPECT_TRUE(std::filesystem::exists(dir.File("out/best.yaml")));
  EXPECT_TRUE(std::filesystem::exists(dir.File("out/trials.csv")));
  EXPECT_NE(out.str().find("best trial"), std::string::npos) << out.str();
}

TEST(StudyRunner, AshaPromotionPausesAndResumesTrials) {
  hpo::testing::TempDir dir;
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
  std::ostringstream out;
  // r=1, eta=2, R=4: rungs at 1 and 2 epochs. 6 trials.
  trainer::StudyRunner runner(Parse(TinyStudy(dir.File("a.db"), "", "asha", 6, 4)), options, out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_GE(result.complete, 1);
  EXPECT_EQ(result.complete + result.pruned + result.failed, 6);
  EXPECT_EQ(result.failed, 0);
  auto storage = hpo::Storage::Open(dir.File("a.db"));
  hpo::StudyDefinition def;
  def.name = "tiny";
  int64_t epochs = 0;
  for (const auto& t : storage->GetAllTrials(storage->OpenStudy(def, true))) {
    // Every trial has contiguous epochs 1..k: promotions continued where the trial paused.
    int64_t expect = 1;
    for (const auto& [step, _] : t.intermediate) EXPECT_EQ(step, expect++);
    epochs += static_cast<int64_t>(t.intermediate.size());
    if (t.state == hpo::TrialState::kComplete) EXPECT_EQ(t.intermediate.size(), 4u);
  }
  EXPECT_LT(epochs, 6 * 4);  // early stopping saved compute
}

TEST(StudyRunner, AThrowingTrialFailsAloneAndTheStudyGoesOn) {
  hpo::testing::TempDir dir;
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
  // Trial 1 throws in its second epoch; the other three train to the end.
  options.before_epoch = [](int64_t trial, int64_t epoch) {
    if (trial == 1 && epoch == 2) throw std::runtime_error("injected fault");
  };
  std::ostringstream out;
  trainer::StudyRunner runner(Parse(TinyStudy(dir.File("f.db"), "", "fifo", 4, 2)), options, out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 3);
  EXPECT_EQ(result.failed, 1);
  auto storage = hpo::Storage::Open(dir.File("f.db"));
  hpo::StudyDefinition def;
  def.name = "tiny";
  for (const auto& t : storage->GetAllTrials(storage->OpenStudy(def, true))) {
    if (t.number == 1) {
      EXPECT_EQ(t.state, hpo::TrialState::kFailed);
      EXPECT_EQ(t.fail_reason, "injected fault");
      EXPECT_EQ(t.intermediate.size(), 1u);  // its first epoch was recorded
    } else {
      EXPECT_EQ(t.state, hpo::TrialState::kComplete);
    }
  }
}

TEST(StudyRunner, UnknownMetricAndMissingGpuAreInputErrors) {
  hpo::testing::TempDir dir;
  std::ostringstream out;
  std::string text = TinyStudy(dir.File("x.db"));
  text.replace(text.find("metric: val_accuracy"), std::string("metric: val_accuracy").size(),
               "metric: f1");
  trainer::StudyRunner bad_metric(Parse(text), {}, out);
  EXPECT_THROW(bad_metric.Prepare(), trainer::InputError);
  if (!torch::cuda::is_available()) {
    trainer::RunOptions options;
    options.devices = {"cuda:0"};
    trainer::StudyRunner no_gpu(Parse(TinyStudy(dir.File("x.db"))), options, out);
    EXPECT_THROW(no_gpu.Prepare(), trainer::InputError);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("x.db")));
}

}  // namespace
