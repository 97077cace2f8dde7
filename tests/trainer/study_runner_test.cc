// End-to-end studies through the real trainer on synthetic data.
#include "trainer/study_runner.h"

#include <c10/util/Exception.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hpo/config.h"
#include "test_util.h"
#include "trainer/schema.h"
#include "trainer_test_util.h"

namespace {

using trainer::testing::ParseStudy;
using trainer::testing::RaiseTo;
using trainer::testing::SmallStudy;
using trainer::testing::StoredTrials;

TEST(StudyRunner, TinyStudyTrainsTwoTrialsToTheEndAndStoresThem) {
  hpo::testing::TempDir dir;
  const std::string db = dir.File("tiny.db");
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(SmallStudy{.db = db}.Yaml()), options, out);
  runner.Prepare();
  EXPECT_EQ(runner.slot_count(), 2);
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 2);
  EXPECT_EQ(result.failed, 0);
  ASSERT_TRUE(result.best.has_value());
  EXPECT_GT(*result.best->value, 0.5);  // 3 well-separated classes: far above chance (0.33)

  // The study is durable: a fresh storage sees both trials with two epochs each.
  auto trials = StoredTrials(db);
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
  trainer::StudyRunner runner(
      ParseStudy(
          SmallStudy{.db = dir.File("a.db"), .scheduler = "asha", .trials = 6, .epochs = 4}.Yaml()),
      options, out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_GE(result.complete, 1);
  EXPECT_EQ(result.complete + result.pruned + result.failed, 6);
  EXPECT_EQ(result.failed, 0);
  int64_t epochs = 0;
  for (const auto& t : StoredTrials(dir.File("a.db"))) {
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
  trainer::StudyRunner runner(
      ParseStudy(SmallStudy{.db = dir.File("f.db"), .trials = 4, .epochs = 2}.Yaml()), options,
      out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 3);
  EXPECT_EQ(result.failed, 1);
  for (const auto& t : StoredTrials(dir.File("f.db"))) {
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
  std::string text = SmallStudy{.db = dir.File("x.db")}.Yaml();
  text.replace(text.find("metric: val_accuracy"), std::string("metric: val_accuracy").size(),
               "metric: f1");
  trainer::StudyRunner bad_metric(ParseStudy(text), {}, out);
  EXPECT_THROW(bad_metric.Prepare(), trainer::InputError);
  if (!torch::cuda::is_available()) {
    trainer::RunOptions options;
    options.devices = {"cuda:0"};
    trainer::StudyRunner no_gpu(ParseStudy(SmallStudy{.db = dir.File("x.db")}.Yaml()), options,
                                out);
    EXPECT_THROW(no_gpu.Prepare(), trainer::InputError);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("x.db")));
}

}  // namespace

namespace {

// Ctrl-C in the middle of a trial: the trial is suspended with its checkpoint on disk, and the
// next run of the same study resumes it, ending exactly as in an uninterrupted run.
TEST(StudyRunner, AnInterruptedStudyResumesExactlyOnTheNextRun) {
  hpo::testing::TempDir dir;
  using Hook = std::function<void(trainer::StudyRunner*, int64_t, int64_t)>;
  auto run = [&](const std::string& db, Hook hook) {
    const std::string t =
        SmallStudy{.db = db, .trials = 3, .epochs = 3, .trials_per_device = 1}.Yaml();
    trainer::RunOptions options;
    options.output_dir = db + ".out";
    options.quiet = true;
    auto self = std::make_shared<trainer::StudyRunner*>(nullptr);
    if (hook)
      options.before_epoch = [self, hook](int64_t trial, int64_t epoch) {
        hook(*self, trial, epoch);
      };
    std::ostringstream out;
    trainer::StudyRunner runner(ParseStudy(t), options, out);
    *self = &runner;
    runner.Prepare();
    return runner.Run();
  };
  trainer::RunResult straight = run(dir.File("straight.db"), nullptr);
  EXPECT_EQ(straight.complete, 3);

  const std::string db = dir.File("stopped.db");
  trainer::RunResult first = run(db, [](trainer::StudyRunner* r, int64_t trial, int64_t epoch) {
    if (trial == 1 && epoch == 2) r->RequestStop();  // stop after trial 1's second epoch
  });
  EXPECT_TRUE(first.interrupted);
  EXPECT_EQ(first.complete, 1);
  EXPECT_TRUE(std::filesystem::exists(db + ".out/checkpoints/trial-1.pt"));
  trainer::RunResult second = run(db, nullptr);
  EXPECT_FALSE(second.interrupted);
  EXPECT_EQ(second.complete, 3);
  EXPECT_FALSE(std::filesystem::exists(db + ".out/checkpoints"));

  auto values = [](const std::string& path) {
    std::map<int64_t, std::map<int64_t, double>> out;
    for (const auto& t : StoredTrials(path)) out[t.number] = t.intermediate;
    return out;
  };
  // Trials 0 and 1 (the one interrupted mid-way) match the uninterrupted run exactly; trial 2
  // was sampled by the second process's fresh sampler, so its configuration may differ.
  auto resumed = values(db), uninterrupted = values(dir.File("straight.db"));
  ASSERT_EQ(resumed.size(), 3u);
  EXPECT_EQ(resumed[0], uninterrupted[0]);
  EXPECT_EQ(resumed[1], uninterrupted[1]);
  EXPECT_EQ(resumed[2].size(), 3u);

  // Stopped while a trial waits for its out-of-memory retry: that trial is suspended too (left
  // running, the next run would fail it), and the next run replays it to the same end.
  const std::string oom_db = dir.File("oom-stopped.db");
  auto ooms = std::make_shared<std::atomic<int>>(0);
  trainer::RunResult oom_first =
      run(oom_db, [ooms](trainer::StudyRunner* r, int64_t trial, int64_t epoch) {
        if (trial == 1 && epoch == 2 && (*ooms)++ == 0) {
          r->RequestStop();
          TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory (simulated)");
        }
      });
  EXPECT_TRUE(oom_first.interrupted);
  EXPECT_EQ(oom_first.failed, 0);
  trainer::RunResult oom_second = run(oom_db, nullptr);
  EXPECT_EQ(oom_second.failed, 0);
  EXPECT_EQ(oom_second.complete, 3);
  auto replayed = values(oom_db);
  ASSERT_EQ(replayed.size(), 3u);
  EXPECT_EQ(replayed[0], uninterrupted[0]);
  EXPECT_EQ(replayed[1], uninterrupted[1]);
}

}  // namespace

namespace {

// A CUDA out-of-memory error re-queues the trial once (it replays its epochs elsewhere and ends
// as it would have); a second one fails it with the reason.
TEST(StudyRunner, OutOfMemoryRequeuesOnceThenFails) {
  hpo::testing::TempDir dir;
  const std::string text =
      SmallStudy{.db = dir.File("o.db"), .trials = 3, .epochs = 3, .trials_per_device = 1}.Yaml();
  std::atomic<int> ooms_for_trial0{0};
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
  options.before_epoch = [&](int64_t trial, int64_t epoch) {
    if (trial == 0 && epoch == 2 && ooms_for_trial0++ == 0)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory (simulated)");
    if (trial == 2 && epoch == 1)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory (simulated)");
  };
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(text), options, out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 2);
  EXPECT_EQ(result.failed, 1);
  EXPECT_EQ(ooms_for_trial0.load(), 2);  // epoch 2 started twice: it threw, then it ran

  // Trial 0's values equal an undisturbed run of the same study.
  hpo::testing::TempDir dir2;
  trainer::RunOptions plain;
  plain.output_dir = dir2.File("out");
  plain.quiet = true;
  const std::string text2 =
      SmallStudy{.db = dir2.File("o.db"), .trials = 3, .epochs = 3, .trials_per_device = 1}.Yaml();
  trainer::StudyRunner reference(ParseStudy(text2), plain, out);
  reference.Prepare();
  reference.Run();
  auto got = StoredTrials(dir.File("o.db")), want = StoredTrials(dir2.File("o.db"));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].state, hpo::TrialState::kComplete);
  EXPECT_EQ(got[0].intermediate, want[0].intermediate);
  EXPECT_EQ(got[2].state, hpo::TrialState::kFailed);
  EXPECT_NE(got[2].fail_reason.find("out of memory twice"), std::string::npos)
      << got[2].fail_reason;
}

}  // namespace

namespace {

int64_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

// Eight concurrent trials read one copy of the dataset: resident memory grows by far less than
// one dataset while they train (eight private copies would add eight datasets).
TEST(StudyRunner, ConcurrentTrialsShareOneCopyOfTheData) {
  hpo::testing::TempDir dir;
  const SmallStudy study{.db = dir.File("m.db"),
                         .trials = 8,
                         .epochs = 1,
                         .trials_per_device = 8,
                         .train = 100000,
                         .features = 100,
                         .batch_size = 1000};
  const int64_t dataset_bytes = study.TrainBytes();
  std::atomic<int64_t> peak{0};
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
  options.before_epoch = [&](int64_t, int64_t) { RaiseTo(&peak, ResidentBytes()); };
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(study.Yaml()), options, out);
  runner.Prepare();
  const int64_t after_load = ResidentBytes();
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 8);
  EXPECT_GT(peak.load(), 0);
  EXPECT_LT(peak.load() - after_load, dataset_bytes)
      << "resident memory grew by " << (peak.load() - after_load) / (1 << 20) << " MiB";
}

}  // namespace

namespace {

TEST(StudyRunner, JsonLogIsOneJsonObjectPerLine) {
  hpo::testing::TempDir dir;
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.json_log = true;
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(SmallStudy{.db = dir.File("j.db")}.Yaml()), options, out);
  runner.Prepare();
  runner.Run();
  std::istringstream lines(out.str());
  std::string line;
  int epochs = 0, results = 0;
  while (std::getline(lines, line)) {
    nlohmann::json j = nlohmann::json::parse(line);  // throws on a non-JSON line
    epochs += j.at("event") == "epoch";
    if (j.at("event") == "result") {
      ++results;
      EXPECT_EQ(j.at("trials").size(), 2u);
      EXPECT_TRUE(j.contains("best"));
    }
  }
  EXPECT_EQ(epochs, 4);  // 2 trials × 2 epochs
  EXPECT_EQ(results, 1);
}

}  // namespace
