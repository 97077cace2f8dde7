// The trainer's CUDA paths on a real GPU: per-slot streams, bf16 autocast, checkpoints of device
// state, one data copy per device, a real (not simulated) out-of-memory error. Every test skips
// (GTEST_SKIP) where no CUDA device is visible, so they compile and skip on CPU-only machines;
// scripts/gpu-check.sh runs them on a GPU machine.
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "hpo/config.h"
#include "test_util.h"
#include "trainer/schema.h"
#include "trainer/study_runner.h"
#include "trainer/trial_trainer.h"
#include "trainer_test_util.h"

#ifdef HPO_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace {

#define SKIP_WITHOUT_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "needs a CUDA device"

const torch::Device kGpu(torch::kCUDA, 0);

using trainer::testing::MlpTrainingParams;
using trainer::testing::ParseStudy;
using trainer::testing::RaiseTo;
using trainer::testing::SmallStudy;
using trainer::testing::StoredTrials;

models::HParams Params(const std::string& optimizer, const std::string& precision) {
  return MlpTrainingParams({{"hidden_units", int64_t{64}},
                            {"layers", int64_t{2}},
                            {"dropout", 0.25},
                            {"batch_norm", true},
                            {"optimizer", optimizer},
                            {"lr", optimizer == "sgd" ? 0.05 : 0.005},
                            {"nesterov", true},
                            {"weight_decay", 1e-4},
                            {"lr_schedule", std::string("cosine")},
                            {"warmup_epochs", 0.5},
                            {"precision", precision},
                            {"grad_clip", 1.0}});
}

data::Dataset GpuData() {
  return data::ToDevice(data::MakeSyntheticClassification(1200, 300, 16, 4, /*seed=*/4), kGpu);
}

// Relative closeness: the same kernels on the same GPU give the same bits in practice, but cuBLAS
// only promises it per stream configuration, so the checks allow rounding (1e-6 relative) and no
// more; different seeds differ by far more.
void ExpectClose(double a, double b, const std::string& what) {
  EXPECT_NEAR(a, b, 1e-6 * std::max(1.0, std::abs(a))) << what;
}

TEST(CudaTrainer, LearnsInFp32AndBf16AndKeepsFp32Parameters) {
  SKIP_WITHOUT_CUDA();
  data::Dataset d = GpuData();
  for (const char* precision : {"fp32", "bf16"}) {
    trainer::TrialTrainer t(Params("adamw", precision), d, kGpu, /*seed=*/3, /*max_epochs=*/4);
    trainer::EpochMetrics first = t.RunEpoch(), last = first;
    for (int e = 1; e < 4; ++e) last = t.RunEpoch();
    EXPECT_LT(last.train_loss, first.train_loss) << precision;
    EXPECT_GT(last.val_accuracy, 0.8) << precision;  // 4 separable classes; chance is 0.25
    EXPECT_TRUE(std::isfinite(last.val_loss)) << precision;
    EXPECT_GT(last.samples_per_second, 0) << precision;
    for (const auto& p : t.model().parameters()) {
      EXPECT_TRUE(p.is_cuda()) << precision;
      EXPECT_EQ(p.scalar_type(), torch::kFloat) << precision;  // autocast casts activations only
    }
  }
}

// Sum of |w| over the model's parameters, in double on the host.
double Checksum(trainer::TrialTrainer& t) {
  double sum = 0;
  for (const auto& p : t.model().parameters())
    sum += p.detach().abs().sum().to(torch::kCPU, torch::kDouble).item<double>();
  return sum;
}

TEST(CudaTrainer, SameSeedSameResultDifferentSeedDifferentResult) {
  SKIP_WITHOUT_CUDA();
  data::Dataset d = GpuData();
  for (const char* opt : {"sgd", "adam", "rmsprop"}) {
    trainer::TrialTrainer a(Params(opt, "fp32"), d, kGpu, 9, 2);
    trainer::TrialTrainer b(Params(opt, "fp32"), d, kGpu, 9, 2);
    trainer::TrialTrainer c(Params(opt, "fp32"), d, kGpu, 10, 2);
    a.RunEpoch();
    b.RunEpoch();
    c.RunEpoch();
    ExpectClose(a.RunEpoch().val_loss, b.RunEpoch().val_loss, opt);
    c.RunEpoch();
    const double sa = Checksum(a), sb = Checksum(b), sc = Checksum(c);
    ExpectClose(sa, sb, opt);
    EXPECT_GT(std::abs(sa - sc), 1e-3 * std::abs(sa)) << opt << ": seeds 9 and 10 gave " << sa;
  }
}

// Pause at epoch 2 (state to host bytes, trainer dropped), resume in a fresh trainer on the GPU:
// the rest of the run matches the run without a pause (dropout masks, schedule, optimiser state
// and the shuffling generator all come back).
TEST(CudaTrainer, PauseAndResumeOnTheGpuMatchesTheRunWithoutAPause) {
  SKIP_WITHOUT_CUDA();
  data::Dataset d = GpuData();
  for (const char* opt : {"sgd", "adamw"}) {
    models::HParams hp = Params(opt, "bf16");
    trainer::TrialTrainer straight(hp, d, kGpu, 5, 4);
    std::vector<double> losses;
    for (int e = 0; e < 4; ++e) losses.push_back(straight.RunEpoch().val_loss);

    trainer::TrialTrainer first(hp, d, kGpu, 5, 4);
    first.RunEpoch();
    first.RunEpoch();
    const std::string state = first.SaveState();
    trainer::TrialTrainer resumed(hp, d, kGpu, 5, 4);
    resumed.LoadState(state);
    EXPECT_EQ(resumed.epochs_done(), 2);
    ExpectClose(resumed.RunEpoch().val_loss, losses[2], opt);
    ExpectClose(resumed.RunEpoch().val_loss, losses[3], opt);
    SCOPED_TRACE(opt);
    trainer::testing::ExpectSameParameters(straight, resumed, /*rtol=*/1e-5, /*atol=*/1e-6);
  }
}

// Four trials per GPU, ASHA with promotion: paused trials resume on the GPU where they stopped,
// and the trials share the device's one copy of the data: GPU memory grows by less than one
// dataset (400 MB) while eight trials train; private copies would add 400 MB each. What it does
// grow by is mostly cuBLAS workspaces, one per slot's stream (263 MiB for 4 slots on an H200).
TEST(CudaStudy, FourTrialsPerGpuPromoteThroughAshaOnOneDataCopy) {
  SKIP_WITHOUT_CUDA();
  hpo::testing::TempDir dir;
  const std::string db = dir.File("g.db");
  const SmallStudy study{.name = "gpu",
                         .db = db,
                         .scheduler = "asha",
                         .trials = 8,
                         .epochs = 4,
                         .devices = "cuda",
                         .trials_per_device = 4,
                         .train = 1000000,
                         .val = 2000,
                         .features = 100,
                         .batch_size = 4096};
  const int64_t dataset_bytes = study.TrainBytes();
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
#ifdef HPO_HAVE_CUDA
  std::atomic<int64_t> peak{0};
  options.before_epoch = [&](int64_t, int64_t) {
    RaiseTo(&peak, c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].current);
  };
#endif
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(study.Yaml()), options, out);
  runner.Prepare();
  EXPECT_EQ(runner.slot_count(), 4 * torch::cuda::device_count());
#ifdef HPO_HAVE_CUDA
  const int64_t after_load =
      c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[0].current;
  EXPECT_GE(after_load, dataset_bytes);  // the shared copy lives on the GPU
#endif
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.failed, 0) << out.str();
  EXPECT_EQ(result.complete + result.pruned, 8);
  EXPECT_GE(result.complete, 1);
  int64_t epochs = 0;
  for (const auto& t : StoredTrials(db, "gpu")) {
    int64_t expect = 1;
    for (const auto& [step, _] : t.intermediate) EXPECT_EQ(step, expect++);
    epochs += static_cast<int64_t>(t.intermediate.size());
  }
  EXPECT_LT(epochs, 8 * 4);
#ifdef HPO_HAVE_CUDA
  EXPECT_GT(peak.load(), 0);
  EXPECT_LT(peak.load() - after_load, dataset_bytes)
      << "GPU memory grew by " << (peak.load() - after_load) / (1 << 20) << " MiB";
#endif
}

// A real out-of-memory error from the CUDA caching allocator (trial 1 asks it for 1 TiB before
// its second epoch, every time) re-queues the trial once and then fails it with the reason; the
// trial beside it on the same GPU completes.
TEST(CudaStudy, ARealOutOfMemoryFailsThatTrialAloneAfterOneRetry) {
  SKIP_WITHOUT_CUDA();
  hpo::testing::TempDir dir;
  const std::string db = dir.File("o.db");
  const std::string text = SmallStudy{.name = "gpu",
                                      .db = db,
                                      .trials = 2,
                                      .epochs = 3,
                                      .devices = "cuda",
                                      .trials_per_device = 2,
                                      .train = 2000,
                                      .val = 500,
                                      .batch_size = 100}
                               .Yaml();
  std::atomic<int> attempts{0};
  trainer::RunOptions options;
  options.output_dir = dir.File("out");
  options.quiet = true;
  options.before_epoch = [&](int64_t trial, int64_t epoch) {
    if (trial != 1 || epoch != 2) return;
    ++attempts;
    torch::Tensor huge = torch::empty({int64_t{1} << 38}, torch::TensorOptions().device(kGpu));
  };
  std::ostringstream out;
  trainer::StudyRunner runner(ParseStudy(text), options, out);
  runner.Prepare();
  trainer::RunResult result = runner.Run();
  EXPECT_EQ(result.complete, 1) << out.str();
  EXPECT_EQ(result.failed, 1) << out.str();
  EXPECT_EQ(attempts.load(), 2);  // the first try, then the one retry
  for (const auto& t : StoredTrials(db, "gpu")) {
    if (t.number == 1) {
      EXPECT_EQ(t.state, hpo::TrialState::kFailed);
      EXPECT_NE(t.fail_reason.find("out of memory twice"), std::string::npos) << t.fail_reason;
      EXPECT_EQ(t.intermediate.size(), 1u);  // epoch 1 kept; the replay did not report it twice
    } else {
      EXPECT_EQ(t.state, hpo::TrialState::kComplete);
      EXPECT_EQ(t.intermediate.size(), 3u);
    }
  }
}

}  // namespace
