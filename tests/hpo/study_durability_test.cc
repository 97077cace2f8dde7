// Durability of a SQLite-backed Study (hpo/src/study.cc over hpo/src/storage/sqlite_storage.cc):
// a child process runs a study and is killed with SIGKILL in the middle of it; the parent then
// checks that nothing committed was lost, that the trials left running are failed as
// interrupted when the study is reopened, and that the study continues with the next numbers.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "hpo/study.h"
#include "test_util.h"

namespace hpo {
namespace {

using namespace std::chrono_literals;

constexpr int kWorkers = 3;
constexpr size_t kCompleteBeforeKill = 30;

// x ∈ float[0, 1], n ∈ int[1, 5].
SearchSpace Space() {
  SearchSpace s;
  s.Add({"x", Distribution::Float(0.0, 1.0), std::nullopt});
  s.Add({"n", Distribution::Int(1, 5), std::nullopt});
  return s;
}

SchedulerOptions Asha() {
  SchedulerOptions o;
  o.name = "asha_stopping";
  o.direction = Direction::kMinimize;
  o.min_resource = 1;
  o.max_resource = 9;
  o.reduction_factor = 3;
  return o;
}

StudyDefinition Def() {
  StudyDefinition def;
  def.name = "durable";
  def.metric = "loss";
  return def;
}

// The definition Study stores, for opening the study through a bare Storage.
StudyDefinition StoredDef() {
  StudyDefinition def = Def();
  def.space_json = Space().ToJson();
  def.sampler = "random";
  def.scheduler = "asha_stopping";
  return def;
}

// The objective of a trial, from its internal parameters: the parent recomputes it to check
// that each stored value belongs to the stored parameters.
double Objective(const ParamMap& p) {
  return (p.at("x") - 0.3) * (p.at("x") - 0.3) + 0.01 * p.at("n");
}

std::unique_ptr<Study> OpenStudy(const std::string& path, StudyOptions options = {},
                                 SearchSpace space = Space(), uint64_t seed = 1) {
  return std::make_unique<Study>(Def(), std::move(space), Storage::Open(path),
                                 MakeSampler({"random", seed}), MakeScheduler(Asha()), options);
}

// The child: one trial that hangs while running, and workers that run trials back to back
// (three epochs each, a millisecond apart) until the process is killed.
[[noreturn]] void RunChild(const std::string& path) {
  try {
    auto study = OpenStudy(path);
    Trial hung = *study->Ask();
    study->Report(hung, 1, 123.0);
    std::vector<std::thread> workers;
    for (int w = 0; w < kWorkers; ++w) {
      workers.emplace_back([&study] {
        while (std::optional<Trial> t = study->Ask()) {
          const double y = Objective(t->params());
          bool stopped = false;
          for (int epoch = 1; epoch <= 3 && !stopped; ++epoch) {
            std::this_thread::sleep_for(1ms);
            stopped = study->Report(*t, epoch, y + 1.0 / epoch) == Decision::kStop;
          }
          if (stopped) {
            study->TellPruned(*t);
          } else {
            study->Tell(*t, y);
          }
        }
      });
    }
    for (auto& w : workers) w.join();
    _exit(0);  // never reached: the study has no budget
  } catch (...) {
    _exit(2);
  }
}

size_t CountState(const std::vector<FrozenTrial>& trials, TrialState state) {
  size_t n = 0;
  for (const auto& t : trials) n += t.state == state;
  return n;
}

TEST(StudyDurabilityTest, SigkillLosesNothingAndReopenedStudyContinues) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("durable.db");

  // Create the database and the study first, and close the connection: a SQLite connection must
  // not be open across fork(), and the parent must not read a file the child is creating.
  const int64_t study_id = Storage::Open(path)->OpenStudy(StoredDef());

  pid_t child = fork();
  ASSERT_GE(child, 0) << "fork failed";
  if (child == 0) RunChild(path);

  // Poll the database with a connection of our own until enough trials are complete.
  auto storage = Storage::Open(path);
  ASSERT_EQ(storage->OpenStudy(StoredDef()), study_id);
  std::vector<FrozenTrial> seen;
  const auto deadline = std::chrono::steady_clock::now() + 8s;
  bool child_exited = false;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = storage->GetAllTrials(study_id);
    if (CountState(seen, TrialState::kComplete) >= kCompleteBeforeKill) break;
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
      child_exited = true;
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (!child_exited) kill(child, SIGKILL);
  int status = 0;
  if (!child_exited) ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_FALSE(child_exited) << "the child study exited by itself (status " << status << ")";
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  ASSERT_GE(CountState(seen, TrialState::kComplete), kCompleteBeforeKill)
      << "too few trials completed before the deadline";

  // What the database holds after the kill (committed transactions only).
  const std::vector<FrozenTrial> at_kill = storage->GetAllTrials(study_id);
  ASSERT_GE(at_kill.size(), seen.size());
  for (const FrozenTrial& before : seen) {
    const FrozenTrial& now = at_kill[before.number];
    EXPECT_EQ(now.id, before.id);
    EXPECT_EQ(now.params, before.params);
    if (IsFinished(before.state)) {
      EXPECT_EQ(now.state, before.state) << "trial " << before.number;
      EXPECT_EQ(now.value, before.value) << "trial " << before.number;
      EXPECT_EQ(now.intermediate, before.intermediate) << "trial " << before.number;
    }
  }
  size_t running = 0;
  for (const FrozenTrial& t : at_kill) {
    ASSERT_TRUE(t.state == TrialState::kRunning || t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << "trial " << t.number << " is " << ToString(t.state);
    if (t.state == TrialState::kRunning) ++running;
    if (t.state == TrialState::kComplete) {
      ASSERT_TRUE(t.value.has_value());
      EXPECT_EQ(*t.value, Objective(t.params)) << "trial " << t.number;
      EXPECT_EQ(t.intermediate.size(), 3u) << "trial " << t.number;
    }
  }
  EXPECT_GE(running, 1u);  // at least the hung trial
  EXPECT_LE(running, static_cast<size_t>(kWorkers) + 1);
  EXPECT_EQ(at_kill[0].state, TrialState::kRunning);
  EXPECT_EQ(at_kill[0].intermediate, (std::map<int64_t, double>{{1, 123.0}}));

  // Reopening with another search space is refused, and changes nothing.
  SearchSpace other = Space();
  other.Add({"dropout", Distribution::Float(0.0, 0.5), std::nullopt});
  EXPECT_THROW(OpenStudy(path, {}, other), StorageError);
  ASSERT_EQ(CountState(storage->GetAllTrials(study_id), TrialState::kRunning), running);

  // Reopen: the running trials are failed as interrupted; everything else is as it was. The
  // budget counts every trial but the interrupted ones, so two more trials fit.
  const size_t n = at_kill.size();
  StudyOptions options;
  options.n_trials = static_cast<int64_t>(n - running) + 2;
  auto study = OpenStudy(path, options, Space(), /*seed=*/2);
  std::vector<FrozenTrial> reopened = study->Trials();
  ASSERT_EQ(reopened.size(), n);  // no trial lost
  std::set<int64_t> interrupted_ids;
  for (const FrozenTrial& t : study->interrupted_on_open()) interrupted_ids.insert(t.id);
  EXPECT_EQ(interrupted_ids.size(), running);
  for (size_t i = 0; i < n; ++i) {
    const FrozenTrial& t = reopened[i];
    EXPECT_EQ(t.number, static_cast<int64_t>(i));  // contiguous 0..n-1
    EXPECT_EQ(t.id, at_kill[i].id);
    EXPECT_EQ(t.params, at_kill[i].params);
    EXPECT_EQ(t.intermediate, at_kill[i].intermediate);
    if (at_kill[i].state == TrialState::kRunning) {
      EXPECT_EQ(t.state, TrialState::kFailed);
      EXPECT_NE(t.fail_reason.find("interrupted"), std::string::npos) << t.fail_reason;
      EXPECT_EQ(interrupted_ids.count(t.id), 1u);
      EXPECT_GT(t.complete_time, 0.0);
    } else {
      EXPECT_EQ(t.state, at_kill[i].state);
      EXPECT_EQ(t.value, at_kill[i].value);
      EXPECT_EQ(interrupted_ids.count(t.id), 0u);
    }
  }

  // Continuing: new trials take the next numbers, and the budget ends after two.
  for (int64_t k = 0; k < 2; ++k) {
    std::optional<Trial> t = study->Ask();
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->number(), static_cast<int64_t>(n) + k);
    EXPECT_FALSE(t->resumed());
    study->Report(*t, 1, 0.5);
    study->Tell(*t, Objective(t->params()));
  }
  EXPECT_FALSE(study->Ask().has_value());
  study.reset();

  // The extended space is accepted with allow_extend; the history stays whole.
  StudyOptions extend;
  extend.allow_extend = true;
  auto extended = OpenStudy(path, extend, other);
  EXPECT_TRUE(extended->interrupted_on_open().empty());
  std::vector<FrozenTrial> final_trials = extended->Trials();
  ASSERT_EQ(final_trials.size(), n + 2);
  for (size_t i = 0; i < final_trials.size(); ++i)
    EXPECT_EQ(final_trials[i].number, static_cast<int64_t>(i));
  EXPECT_EQ(CountState(final_trials, TrialState::kFailed), running);
  std::optional<Trial> t = extended->Ask();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->number(), static_cast<int64_t>(n) + 2);
  EXPECT_TRUE(t->params().count("dropout"));
}

}  // namespace
}  // namespace hpo
