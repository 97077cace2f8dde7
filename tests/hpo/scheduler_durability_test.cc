// Durability of every scheduler through a real SQLite study: a run that is interrupted (the
// Study object destroyed, as if the process died) and reopened with a new Study, scheduler and
// sampler must make exactly the decisions and promotions of the same run left uninterrupted.
// Also for a process that stops while a trial runs and suspends it (Study::Suspend).
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

  enum class JobEnd { kNothingLeft, kDone, kSuspended };

  // One job: resume or start a trial and train it until it pauses, stops or finishes; appends
  // what happened to `log`. With `suspend`, the trial is suspended (Study::Suspend, as a
  // stopping trainer does on Ctrl-C): a resumed one at once, before its first epoch since the
  // promotion (its last report is then at the rung it was promoted from); a new one after its
  // first report that continues.
  JobEnd Job(std::vector<std::string>& log, bool suspend = false) {
    std::optional<Trial> t = study_->Ask();
    if (!t) return JobEnd::kNothingLeft;
    int64_t epoch = 1;
    if (t->resumed()) {
      for (const FrozenTrial& rec : study_->Trials())  // the trainer's checkpoint
        if (rec.id == t->id()) epoch = rec.intermediate.rbegin()->first + 1;
      // A suspended trial goes on where it was suspended, as if nothing had happened.
      if (t->id() != suspended_id_)
        log.push_back("resume #" + std::to_string(t->number()) + " at " + std::to_string(epoch));
    } else {
      log.push_back("new #" + std::to_string(t->number()));
    }
    EXPECT_TRUE(suspended_id_ < 0 || t->id() == suspended_id_)
        << "the suspended trial is not handed out first";
    suspended_id_ = -1;
    if (suspend && t->resumed()) {  // before its first epoch since the promotion
      study_->Suspend(*t);
      suspended_id_ = t->id();
      return JobEnd::kSuspended;
    }
    const bool maximize = setup_.scheduler.direction == Direction::kMaximize;
    double last = 0;
    for (; epoch <= kMaxEpochs; ++epoch) {
      double acc = Curve(setup_.seed, t->number(), epoch);
      last = maximize ? acc : 1 - acc;
      Decision d = study_->Report(*t, epoch, last);
      if (d == Decision::kContinue) {
        if (suspend && epoch < kMaxEpochs) {
          study_->Suspend(*t);
          suspended_id_ = t->id();
          return JobEnd::kSuspended;
        }
        continue;
      }
      log.push_back("#" + std::to_string(t->number()) + "@" + std::to_string(epoch) + " " +
                    ToString(d));
      if (d == Decision::kStop) study_->TellPruned(*t);
      return JobEnd::kDone;
    }
    if (Crashes(setup_.seed, t->number())) {
      study_->TellFailed(*t, "crash");
      log.push_back("#" + std::to_string(t->number()) + " failed");
    } else {
      study_->Tell(*t, last);
      log.push_back("#" + std::to_string(t->number()) + " complete");
    }
    return JobEnd::kDone;
  }

  // Runs to the end. Before the jobs in `interrupt_at` the study is closed and reopened (the
  // process died between jobs); in the jobs of `suspend_at` the trial is suspended after its
  // first report that continues, and the study closed and reopened (the process stopped).
  std::vector<std::string> Run(const std::set<int>& interrupt_at,
                               const std::set<int>& suspend_at = {}) {
    std::vector<std::string> log;
    Open();
    for (int job = 0;; ++job) {
      if (interrupt_at.count(job)) {
        Close();
        log.push_back("-- reopened --");
        Open();
      }
      JobEnd end = Job(log, suspend_at.count(job) > 0);
      if (end == JobEnd::kNothingLeft) break;
      if (end == JobEnd::kSuspended) {
        Close();
        log.push_back("-- reopened --");
        Open();
        EXPECT_EQ(Job(log), JobEnd::kDone);
        ++suspensions_;
      }
    }
    log.push_back("pruned unpromoted: " + std::to_string(study_->PruneUnpromoted()));
    for (const FrozenTrial& rec : study_->Trials())
      log.push_back("#" + std::to_string(rec.number) + " " + ToString(rec.state) + " " +
                    std::to_string(rec.intermediate.size()) + " reports");
    Close();
    return log;
  }
  int suspensions() const { return suspensions_; }

 private:
  RunSetup setup_;
  std::string path_;
  std::unique_ptr<Study> study_;
  int64_t suspended_id_ = -1;
  int suspensions_ = 0;
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

  // A stopping process suspends the running trial mid-way; the reopened study resumes it first
  // and the run goes on as if uninterrupted.
  int suspensions = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::set<int> points;
    for (int i = 0; i < 8; ++i) points.insert(pick(rng));
    Driver driver(setup, dir.File("suspend" + std::to_string(attempt) + ".db"));
    std::vector<std::string> resumed = driver.Run({}, points);
    suspensions += driver.suspensions();
    EXPECT_EQ(WithoutMarkers(resumed), full) << name << " suspended, attempt " << attempt;
  }
  EXPECT_GT(suspensions, 3) << name;
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
