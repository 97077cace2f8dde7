// Durability of every scheduler through a real SQLite study: a run that is interrupted (the
// Study object destroyed, as if the process died) and reopened with a new Study, scheduler and
// sampler must make exactly the decisions and promotions of the same run left uninterrupted.
//
// One worker, so the order of events is deterministic. The objective is a synthetic learning
// curve drawn from a seeded RNG keyed by the trial number (not by the sampled parameters: a
// reopened random sampler starts its stream afresh), with noise, curves that cross (fast
// starters with low plateaus against slow starters with high ones), diverging trials (NaN) and
// trials that crash at the end. Interruptions fall between jobs, where no trial is mid-flight
// (a trial running at the moment of a crash is marked failed on reopening, which an
// uninterrupted run cannot mirror), at indices drawn from a seeded RNG.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/storage.h"
#include "hpo/study.h"
#include "test_util.h"

namespace hpo {
namespace {

constexpr int64_t kMaxEpochs = 27;
constexpr int64_t kTrials = 45;

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
double Uniform(uint64_t key) { return static_cast<double>(Mix(key) >> 11) * 0x1.0p-53; }

// Accuracy-like curve of trial `number` at `epoch` (higher is better); the loss is 1 - it.
double Curve(uint64_t seed, int64_t number, int64_t epoch) {
  const uint64_t key = Mix(seed ^ Mix(static_cast<uint64_t>(number)));
  const double plateau = 0.5 + 0.45 * Uniform(key + 1);
  // Fast learners plateau low, slow ones high, so curves cross.
  const double rate = 0.05 + 0.9 * (1 - plateau) / 0.45 * Uniform(key + 2);
  if (Uniform(key + 3) < 0.06 && epoch >= 2) return std::numeric_limits<double>::quiet_NaN();
  const double noise = 0.03 * (Uniform(key + 100 + static_cast<uint64_t>(epoch)) - 0.5);
  return plateau * (1 - std::exp(-rate * static_cast<double>(epoch))) + noise;
}
bool Crashes(uint64_t seed, int64_t number) {
  return Uniform(Mix(seed ^ Mix(static_cast<uint64_t>(number))) + 4) < 0.08;
}

struct RunSetup {
  SchedulerOptions scheduler;
  uint64_t seed;
};

class Driver {
 public:
  Driver(RunSetup setup, std::string path) : setup_(std::move(setup)), path_(std::move(path)) {}

  // Opens the study (a new Study object, scheduler and sampler on the same file).
  void Open() {
    StudyDefinition def;
    def.name = "durability";
    def.direction = setup_.scheduler.direction;
    def.metric = "objective";
    StudyOptions options;
    options.n_trials = kTrials;
    study_ = std::make_unique<Study>(def, SearchSpace(), Storage::Open("sqlite:" + path_),
                                     MakeSampler({"random", 5}), MakeScheduler(setup_.scheduler),
                                     options);
    EXPECT_TRUE(study_->interrupted_on_open().empty());
  }
  // The process dies between jobs: nothing is written on the way out.
  void Close() { study_.reset(); }

  // One job: resume or start a trial and train it until it pauses, stops or finishes. Appends
  // what happened to `log`; false when Ask() has nothing left.
  bool Job(std::vector<std::string>& log) {
    std::optional<Trial> t = study_->Ask();
    if (!t) return false;
    int64_t epoch = 1;
    if (t->resumed()) {
      for (const FrozenTrial& rec : study_->Trials())  // the trainer's checkpoint
        if (rec.id == t->id()) epoch = rec.intermediate.rbegin()->first + 1;
      log.push_back("resume #" + std::to_string(t->number()) + " at " + std::to_string(epoch));
    } else {
      log.push_back("new #" + std::to_string(t->number()));
    }
    const bool maximize = setup_.scheduler.direction == Direction::kMaximize;
    double last = 0;
    for (; epoch <= kMaxEpochs; ++epoch) {
      double acc = Curve(setup_.seed, t->number(), epoch);
      last = maximize ? acc : 1 - acc;
      Decision d = study_->Report(*t, epoch, last);
      if (d == Decision::kContinue) continue;
      log.push_back("#" + std::to_string(t->number()) + "@" + std::to_string(epoch) + " " +
                    ToString(d));
      if (d == Decision::kStop) study_->TellPruned(*t);
      return true;
    }
    if (Crashes(setup_.seed, t->number())) {
      study_->TellFailed(*t, "crash");
      log.push_back("#" + std::to_string(t->number()) + " failed");
    } else {
      study_->Tell(*t, last);
      log.push_back("#" + std::to_string(t->number()) + " complete");
    }
    return true;
  }

  // Runs to the end, closing and reopening the study before the jobs listed in `interrupt_at`.
  std::vector<std::string> Run(const std::set<int>& interrupt_at) {
    std::vector<std::string> log;
    Open();
    for (int job = 0;; ++job) {
      if (interrupt_at.count(job)) {
        Close();
        log.push_back("-- reopened --");
        Open();
      }
      if (!Job(log)) break;
    }
    log.push_back("pruned unpromoted: " + std::to_string(study_->PruneUnpromoted()));
    for (const FrozenTrial& rec : study_->Trials())
      log.push_back("#" + std::to_string(rec.number) + " " + ToString(rec.state) + " " +
                    std::to_string(rec.intermediate.size()) + " reports");
    Close();
    return log;
  }

 private:
  RunSetup setup_;
  std::string path_;
  std::unique_ptr<Study> study_;
};

std::vector<std::string> WithoutMarkers(std::vector<std::string> log) {
  std::erase(log, std::string("-- reopened --"));
  return log;
}

SchedulerOptions Options(const std::string& name, Direction direction) {
  SchedulerOptions o;
  o.name = name;
  o.direction = direction;
  o.min_resource = 1;
  o.max_resource = kMaxEpochs;
  o.reduction_factor = 3;
  if (name == "median") {
    o.n_startup_trials = 4;
    o.n_warmup_steps = 2;
  } else if (name == "percentile") {
    o.percentile = 30;
    o.n_startup_trials = 3;
    o.interval_steps = 2;
    o.n_min_trials = 3;
  }
  return o;
}

class SchedulerDurabilityTest
    : public ::testing::TestWithParam<std::tuple<std::string, Direction>> {};

TEST_P(SchedulerDurabilityTest, ReopenedRunDecidesAsTheUninterruptedOne) {
  const auto& [name, direction] = GetParam();
  testing::TempDir dir;
  const RunSetup setup{Options(name, direction), /*seed=*/0xC0FFEE + (name.size() << 3)};
  std::vector<std::string> full = Driver(setup, dir.File("full.db")).Run({});

  // The run exercised the scheduler: it stopped or paused trials, and promoted some.
  int jobs = 0, resumes = 0, stops = 0, completes = 0;
  for (const std::string& e : full) {
    jobs += e.rfind("new", 0) == 0 || e.rfind("resume", 0) == 0;
    resumes += e.rfind("resume", 0) == 0;
    stops += e.find(" stop") != std::string::npos;
    completes += e.find(" complete") != std::string::npos;
  }
  EXPECT_GT(completes, 2) << name;
  if (name == "asha" || name == "hyperband") {
    EXPECT_GT(resumes, 10) << name;
  } else {
    EXPECT_GT(stops, 10) << name;
  }

  std::mt19937_64 rng(setup.seed);
  std::uniform_int_distribution<int> pick(1, jobs - 1);
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::set<int> points = {pick(rng)};
    if (attempt == 3) points.insert({pick(rng), pick(rng)});  // several crashes in one run
    std::string where;
    for (int p : points) where += " " + std::to_string(p);
    std::vector<std::string> resumed =
        Driver(setup, dir.File("run" + std::to_string(attempt) + ".db")).Run(points);
    EXPECT_EQ(WithoutMarkers(resumed), full) << name << " interrupted before jobs" << where;
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllSchedulers, SchedulerDurabilityTest,
    ::testing::Combine(::testing::Values("asha", "asha_stopping", "hyperband", "hyperband_stopping",
                                         "median", "percentile"),
                       ::testing::Values(Direction::kMaximize, Direction::kMinimize)),
    [](const auto& info) {
      return std::get<0>(info.param) + "_" + ToString(std::get<1>(info.param));
    });

}  // namespace
}  // namespace hpo
