// Tests for hpo/src/study.cc: the ask / report / tell flow, budgets, define-by-run suggestions,
// final states, and reopening a SQLite-backed study.
#include "hpo/study.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/check.h"
#include "scheduler_test_util.h"
#include "test_util.h"

namespace hpo {
namespace {

using testing::RungOptions;

StudyDefinition Def(const std::string& name, Direction direction) {
  StudyDefinition def;
  def.name = name;
  def.direction = direction;
  def.metric = "score";
  return def;
}

// x ∈ float[0, 1], n ∈ int[1, 5].
SearchSpace XnSpace() {
  SearchSpace s;
  s.Add({"x", Distribution::Float(0.0, 1.0), std::nullopt});
  s.Add({"n", Distribution::Int(1, 5), std::nullopt});
  return s;
}

std::unique_ptr<Study> NewStudy(Direction direction, SearchSpace space,
                                std::unique_ptr<Storage> storage, const std::string& scheduler,
                                StudyOptions options = {}, const std::string& name = "study") {
  return std::make_unique<Study>(Def(name, direction), std::move(space), std::move(storage),
                                 MakeSampler({"random", 7}),
                                 MakeScheduler(RungOptions(scheduler, direction, 1, 9)), options);
}

// Asks three new trials of a maximising asha study (r = 1, eta = 3) and reports 0.1, 0.9 and 0.5
// at step 1: each pauses, and the third report makes trials[1] (.9) promotable.
std::vector<Trial> PauseThreeAtRungOne(Study& study) {
  std::vector<Trial> trials;
  for (double v : {0.1, 0.9, 0.5}) {
    Trial t = *study.Ask();
    EXPECT_FALSE(t.resumed());
    // Report pauses the trial by itself before it returns.
    EXPECT_EQ(study.Report(t, 1, v), Decision::kPause);
    EXPECT_EQ(study.GetTrial(t.id()).value().state, TrialState::kPaused);
    trials.push_back(t);
  }
  return trials;
}

const FrozenTrial& ByNumber(const std::vector<FrozenTrial>& trials, int64_t number) {
  for (const auto& t : trials)
    if (t.number == number) return t;
  throw std::out_of_range("no trial " + std::to_string(number));
}

// ---- ask / report / tell --------------------------------------------------------------------

TEST(StudyTest, AskReportTell) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo");
  EXPECT_EQ(study->definition().sampler, "random");
  EXPECT_EQ(study->definition().scheduler, "fifo");
  EXPECT_EQ(study->definition().space_json, XnSpace().ToJson());
  EXPECT_FALSE(study->HasPendingWork());
  EXPECT_FALSE(study->BestTrial().has_value());

  std::optional<Trial> t = study->Ask();
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->number(), 0);
  EXPECT_FALSE(t->resumed());
  ASSERT_EQ(t->params().size(), 2u);
  double x = std::get<double>(*t->Get("x"));
  int64_t n = std::get<int64_t>(*t->Get("n"));
  EXPECT_GE(x, 0.0);
  EXPECT_LE(x, 1.0);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 5);
  EXPECT_FALSE(t->Get("missing").has_value());
  std::map<std::string, Value> ext = t->ExternalParams();
  EXPECT_EQ(ext.at("x"), Value(x));
  EXPECT_EQ(ext.at("n"), Value(n));
  EXPECT_TRUE(study->HasPendingWork());

  std::vector<FrozenTrial> trials = study->Trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0].state, TrialState::kRunning);
  EXPECT_EQ(trials[0].id, t->id());
  EXPECT_EQ(trials[0].params, t->params());
  EXPECT_GT(trials[0].start_time, 0.0);
  EXPECT_EQ(trials[0].complete_time, 0.0);

  EXPECT_EQ(study->Report(*t, 1, 0.7), Decision::kContinue);
  EXPECT_EQ(study->Report(*t, 2, 0.5), Decision::kContinue);
  trials = study->Trials();
  EXPECT_EQ(trials[0].intermediate, (std::map<int64_t, double>{{1, 0.7}, {2, 0.5}}));
  EXPECT_EQ(trials[0].last_intermediate(), 0.5);

  study->Tell(*t, 0.45);
  trials = study->Trials();
  EXPECT_EQ(trials[0].state, TrialState::kComplete);
  EXPECT_EQ(trials[0].value, 0.45);
  EXPECT_GE(trials[0].complete_time, trials[0].start_time);
  EXPECT_FALSE(study->HasPendingWork());

  // A finished trial takes no more reports or results.
  EXPECT_THROW(study->Report(*t, 3, 0.4), InternalError);
  EXPECT_THROW(study->Tell(*t, 0.4), InternalError);
  EXPECT_THROW(study->TellFailed(*t, "late"), InternalError);
  EXPECT_EQ(study->Trials()[0].value, 0.45);
}

// Five trials: complete 0.3, 0.1, 0.2, a failed one, a pruned one, and a complete NaN.
void RunBestTrialScenario(Study& study) {
  for (double v : {0.3, 0.1, 0.2}) study.Tell(*study.Ask(), v);
  study.TellFailed(*study.Ask(), "diverged");
  study.TellPruned(*study.Ask());
  study.Tell(*study.Ask(), std::numeric_limits<double>::quiet_NaN());
}

// HasPendingWork follows this object's running trials through every state change.
TEST(StudyTest, HasPendingWorkFollowsRunningTrials) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "asha");
  std::vector<Trial> trials;
  for (int i = 0; i < 3; ++i) trials.push_back(*study->Ask());
  EXPECT_TRUE(study->HasPendingWork());
  // Rung 1: all three pause; with three values the best (trial 0) becomes promotable.
  EXPECT_EQ(study->Report(trials[0], 1, 0.1), Decision::kPause);
  EXPECT_EQ(study->Report(trials[1], 1, 0.5), Decision::kPause);
  EXPECT_TRUE(study->HasPendingWork());
  EXPECT_EQ(study->Report(trials[2], 1, 0.9), Decision::kPause);
  EXPECT_FALSE(study->HasPendingWork());
  std::optional<Trial> resumed = study->Ask();
  ASSERT_TRUE(resumed && resumed->resumed());
  EXPECT_EQ(resumed->id(), trials[0].id());
  EXPECT_TRUE(study->HasPendingWork());
  study->MarkPaused(*resumed);
  EXPECT_FALSE(study->HasPendingWork());
  study->Enqueue({{"x", 0.5}, {"n", int64_t{2}}});
  EXPECT_FALSE(study->HasPendingWork());  // queued is not running
  std::optional<Trial> queued = study->Ask();
  ASSERT_TRUE(queued && !queued->resumed());
  EXPECT_TRUE(study->HasPendingWork());
  study->TellFailed(*queued, "boom");
  EXPECT_FALSE(study->HasPendingWork());
  std::optional<Trial> fresh = study->Ask();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(study->HasPendingWork());
  study->Tell(*fresh, 0.3);
  EXPECT_FALSE(study->HasPendingWork());
}

TEST(StudyTest, BestTrialMinimize) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo");
  RunBestTrialScenario(*study);
  std::optional<FrozenTrial> best = study->BestTrial();
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->number, 1);
  EXPECT_EQ(best->value, 0.1);
}

TEST(StudyTest, BestTrialMaximize) {
  auto study = NewStudy(Direction::kMaximize, XnSpace(), MakeInMemoryStorage(), "fifo");
  RunBestTrialScenario(*study);
  std::optional<FrozenTrial> best = study->BestTrial();
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->number, 0);
  EXPECT_EQ(best->value, 0.3);
}

TEST(StudyTest, BestTrialIgnoresUnfinishedFailedAndNaN) {
  auto study = NewStudy(Direction::kMaximize, XnSpace(), MakeInMemoryStorage(), "fifo");
  Trial running = *study->Ask();
  study->Report(running, 1, 100.0);
  study->TellFailed(*study->Ask(), "oom");
  study->Tell(*study->Ask(), std::numeric_limits<double>::quiet_NaN());
  EXPECT_FALSE(study->BestTrial().has_value());
}

TEST(StudyTest, TrialBudget) {
  StudyOptions options;
  options.n_trials = 3;
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo", options);
  std::vector<Trial> trials;
  for (int i = 0; i < 3; ++i) {
    std::optional<Trial> t = study->Ask();
    ASSERT_TRUE(t.has_value()) << i;
    EXPECT_EQ(t->number(), i);
    trials.push_back(*t);
  }
  // Spent, even while the three still run; finishing them gives no new budget.
  EXPECT_FALSE(study->Ask().has_value());
  for (const Trial& t : trials) study->Tell(t, 1.0);
  EXPECT_FALSE(study->Ask().has_value());
  EXPECT_EQ(study->Trials().size(), 3u);
}

TEST(StudyTest, TellFailedAndPruned) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo");
  Trial a = *study->Ask();
  Trial b = *study->Ask();
  study->Report(a, 1, 0.9);
  study->TellFailed(a, "CUDA out of memory");
  study->Report(b, 1, 0.8);
  study->TellPruned(b);
  std::vector<FrozenTrial> trials = study->Trials();
  EXPECT_EQ(trials[0].state, TrialState::kFailed);
  EXPECT_EQ(trials[0].fail_reason, "CUDA out of memory");
  EXPECT_FALSE(trials[0].value.has_value());
  EXPECT_EQ(trials[0].intermediate.at(1), 0.9);  // kept for inspection
  EXPECT_EQ(trials[1].state, TrialState::kPruned);
  EXPECT_FALSE(trials[1].value.has_value());
  EXPECT_EQ(trials[1].fail_reason, "");
  EXPECT_THROW(study->TellPruned(b), InternalError);
  EXPECT_FALSE(study->HasPendingWork());
}

TEST(StudyTest, UserAttrs) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo");
  Trial t = *study->Ask();
  study->SetUserAttr(t, "host", "gpu0");
  study->SetUserAttr(t, "checkpoint", "/runs/0.pt");
  study->SetUserAttr(t, "host", "gpu1");  // overwrites
  EXPECT_EQ(study->Trials()[0].user_attrs,
            (std::map<std::string, std::string>{{"checkpoint", "/runs/0.pt"}, {"host", "gpu1"}}));
}

// ---- define-by-run --------------------------------------------------------------------------

TEST(StudyTest, DefineByRunSuggestions) {
  auto study = NewStudy(Direction::kMinimize, SearchSpace(), MakeInMemoryStorage(), "fifo");
  Trial t = *study->Ask();
  EXPECT_TRUE(t.params().empty());

  double lr = t.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true);
  EXPECT_GE(lr, 1e-5);
  EXPECT_LE(lr, 1e-1);
  EXPECT_EQ(t.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true), lr);  // same value again

  int64_t layers = t.SuggestInt("layers", 1, 4);
  EXPECT_GE(layers, 1);
  EXPECT_LE(layers, 4);
  EXPECT_EQ(t.SuggestInt("layers", 1, 4), layers);

  int64_t units = t.SuggestInt("units", 16, 128, /*log=*/false, /*step=*/16);
  EXPECT_EQ(units % 16, 0);
  EXPECT_GE(units, 16);
  EXPECT_LE(units, 128);

  Value act = t.SuggestCategorical("act", {std::string("relu"), std::string("gelu")});
  EXPECT_TRUE(act == Value(std::string("relu")) || act == Value(std::string("gelu")));
  EXPECT_EQ(t.SuggestCategorical("act", {std::string("relu"), std::string("gelu")}), act);

  EXPECT_EQ(t.params().size(), 4u);
  EXPECT_EQ(*t.Get("lr"), Value(lr));
  EXPECT_EQ(*t.Get("layers"), Value(layers));
  EXPECT_EQ(t.ExternalParams().at("act"), act);
  // Stored as internal values: the categorical as its index.
  FrozenTrial rec = study->Trials()[0];
  EXPECT_EQ(rec.params.at("lr"), lr);
  EXPECT_EQ(rec.params.at("units"), static_cast<double>(units));
  EXPECT_EQ(rec.params.at("act"), act == Value(std::string("relu")) ? 0.0 : 1.0);

  // One name keeps one distribution: in this trial and in later ones.
  EXPECT_THROW(t.SuggestFloat("lr", 1e-4, 1e-1, /*log=*/true), std::invalid_argument);
  EXPECT_THROW(t.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/false), std::invalid_argument);
  EXPECT_THROW(t.SuggestInt("lr", 1, 10), std::invalid_argument);
  EXPECT_THROW(t.SuggestCategorical("act", {std::string("relu"), std::string("tanh")}),
               std::invalid_argument);
  study->Tell(t, 0.5);

  Trial u = *study->Ask();
  EXPECT_THROW(u.SuggestInt("layers", 1, 8), std::invalid_argument);
  EXPECT_TRUE(u.params().empty());  // the failed suggestion stored nothing
  double lr2 = u.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true);
  EXPECT_NE(lr2, lr);  // a fresh draw for a new trial
  // Invalid distributions are rejected by the factories.
  EXPECT_THROW(u.SuggestFloat("bad", 1.0, 0.0), std::invalid_argument);
  EXPECT_THROW(u.SuggestInt("bad", 0, 10, /*log=*/true), std::invalid_argument);
  EXPECT_THROW(u.SuggestCategorical("bad", {}), std::invalid_argument);
  EXPECT_EQ(u.params().size(), 1u);
}

// Define-by-run distributions live with the study: a reopened study keeps them (a different one
// is an error; a re-queued trial's values read back without suggesting again), and a second
// writer on the same file is held to the first writer's.
TEST(StudyTest, DefineByRunDistributionsAreStoredWithTheStudy) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("dbr.db");
  double lr = 0;
  {
    auto study = NewStudy(Direction::kMinimize, SearchSpace(), Storage::Open(path), "fifo");
    // Opened before "lr" exists: its Suggest learns the first writer's distribution from the
    // storage, not from what it loaded when it opened.
    auto writer = NewStudy(Direction::kMinimize, SearchSpace(), Storage::Open(path), "fifo");
    Trial t = *study->Ask();
    lr = t.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true);
    Trial w = *writer->Ask();
    EXPECT_THROW(w.SuggestFloat("lr", 0.0, 1.0), std::invalid_argument);
    EXPECT_EQ(*t.Get("lr"), Value(lr));
    writer->Tell(w, 1.0);
  }  // t is left running: the next opener finds it interrupted
  StudyOptions options;
  options.requeue_interrupted = true;
  auto study = NewStudy(Direction::kMinimize, SearchSpace(), Storage::Open(path), "fifo", options);
  Trial again = *study->Ask();  // the interrupted trial, re-queued with its parameters
  EXPECT_EQ(*again.Get("lr"), Value(lr));
  EXPECT_EQ(again.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true), lr);
  EXPECT_THROW(again.SuggestFloat("lr", 1e-4, 1e-1, /*log=*/true), std::invalid_argument);
}

TEST(StudyTest, SuggestOnDeclaredParam) {
  auto study = NewStudy(Direction::kMinimize, XnSpace(), MakeInMemoryStorage(), "fifo");
  Trial t = *study->Ask();
  double x = t.params().at("x");
  // The declared distribution returns the value Ask sampled.
  EXPECT_EQ(t.SuggestFloat("x", 0.0, 1.0), x);
  EXPECT_EQ(t.SuggestInt("n", 1, 5), static_cast<int64_t>(t.params().at("n")));
  // Any other distribution for a declared name is an error.
  EXPECT_THROW(t.SuggestFloat("x", 0.0, 2.0), std::invalid_argument);
  EXPECT_THROW(t.SuggestFloat("x", 0.1, 1.0, /*log=*/true), std::invalid_argument);
  EXPECT_THROW(t.SuggestInt("x", 0, 1), std::invalid_argument);
  EXPECT_THROW(t.SuggestInt("n", 1, 6), std::invalid_argument);
  EXPECT_EQ(t.params().at("x"), x);
}

// ---- promotion through Study ----------------------------------------------------------------

TEST(StudyTest, PauseResumeAndPruneUnpromoted) {
  // asha r=1, R=9, eta=3, maximize: rungs at epochs 1 and 3.
  auto study = NewStudy(Direction::kMaximize, XnSpace(), MakeInMemoryStorage(), "asha");
  std::vector<Trial> trials = PauseThreeAtRungOne(*study);
  EXPECT_FALSE(study->HasPendingWork());

  // Rung 1 holds [1(.9) 2(.5) 0(.1)]: the top third is trial 1.
  Trial r = *study->Ask();
  EXPECT_TRUE(r.resumed());
  EXPECT_EQ(r.number(), 1);
  EXPECT_EQ(r.id(), trials[1].id());
  EXPECT_EQ(r.params(), trials[1].params());
  EXPECT_EQ(study->Trials()[1].state, TrialState::kRunning);
  EXPECT_EQ(study->Report(r, 2, 0.92), Decision::kContinue);
  EXPECT_EQ(study->Report(r, 3, 0.95), Decision::kPause);
  EXPECT_EQ(study->Trials()[1].state, TrialState::kPaused);

  // Nothing else is promotable: a new trial.
  Trial n = *study->Ask();
  EXPECT_FALSE(n.resumed());
  EXPECT_EQ(n.number(), 3);
  study->TellFailed(n, "crash");

  // At the end, paused trials 0, 1 and 2 become pruned.
  EXPECT_EQ(study->PruneUnpromoted(), 3);
  EXPECT_EQ(study->PruneUnpromoted(), 0);
  std::vector<FrozenTrial> all = study->Trials();
  for (int i : {0, 1, 2}) EXPECT_EQ(all[i].state, TrialState::kPruned) << i;
  EXPECT_EQ(all[3].state, TrialState::kFailed);
  EXPECT_EQ(all[1].intermediate.size(), 3u);
}

// MarkPaused pauses a running trial from the user's own loop (the scheduler never promotes it);
// on a trial Report already paused it is a no-op; on a finished trial it is an error rather
// than reviving it.
TEST(StudyTest, MarkPaused) {
  auto study = NewStudy(Direction::kMaximize, XnSpace(), MakeInMemoryStorage(), "asha");
  Trial own = *study->Ask();
  EXPECT_EQ(study->Report(own, 2, 0.5), Decision::kContinue);  // 2 is not a rung
  study->MarkPaused(own);
  EXPECT_EQ(study->Trials()[0].state, TrialState::kPaused);
  EXPECT_THROW(study->Report(own, 3, 0.6), InternalError);  // paused trials take no reports

  Trial a = *study->Ask();
  EXPECT_FALSE(a.resumed());
  EXPECT_EQ(study->Report(a, 1, 0.9), Decision::kPause);
  study->MarkPaused(a);  // already paused: nothing changes
  EXPECT_EQ(study->Trials()[1].state, TrialState::kPaused);
  EXPECT_EQ(study->Report(*study->Ask(), 1, 0.1), Decision::kPause);
  EXPECT_EQ(study->Report(*study->Ask(), 1, 0.2), Decision::kPause);
  // Rung 1: [a(.9) .2 .1] → a resumes, finishes; a late MarkPaused must not revive it.
  Trial r = *study->Ask();
  ASSERT_TRUE(r.resumed());
  EXPECT_EQ(r.id(), a.id());
  study->Tell(r, 0.95);
  EXPECT_THROW(study->MarkPaused(a), InternalError);
  EXPECT_EQ(study->Trials()[1].state, TrialState::kComplete);
  EXPECT_EQ(study->Trials()[1].value, 0.95);

  // The trial paused outside the scheduler is never promoted; it is pruned at the end.
  EXPECT_EQ(study->PruneUnpromoted(), 3);
  EXPECT_EQ(study->Trials()[0].state, TrialState::kPruned);
}

// ---- reopening a SQLite study ---------------------------------------------------------------

TEST(StudyTest, ReopenSqliteStudyRestoresTrialsAndScheduler) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("s.db");
  std::vector<FrozenTrial> before;
  int64_t best_id = -1;
  {
    auto study = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha");
    best_id = PauseThreeAtRungOne(*study)[1].id();
    // The fourth Ask resumes trial 1, and the process "dies" while it runs.
    study->SetUserAttr(*study->Ask(), "note", "running when the process died");
    before = study->Trials();
    ASSERT_EQ(before[1].state, TrialState::kRunning);
    EXPECT_EQ(before[1].id, best_id);
  }
  {
    // Reopen: trial 1 was left running; it is failed and reported.
    auto study = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha");
    ASSERT_EQ(study->interrupted_on_open().size(), 1u);
    EXPECT_EQ(study->interrupted_on_open()[0].id, best_id);
    EXPECT_EQ(study->interrupted_on_open()[0].state, TrialState::kFailed);
    std::vector<FrozenTrial> after = study->Trials();
    ASSERT_EQ(after.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(after[i].id, before[i].id);
      EXPECT_EQ(after[i].number, static_cast<int64_t>(i));
      EXPECT_EQ(after[i].params, before[i].params);
      EXPECT_EQ(after[i].intermediate, before[i].intermediate);
    }
    EXPECT_EQ(after[0].state, TrialState::kPaused);
    EXPECT_EQ(after[1].state, TrialState::kFailed);
    EXPECT_FALSE(after[1].fail_reason.empty());
    EXPECT_EQ(after[1].user_attrs.at("note"), "running when the process died");
    EXPECT_EQ(after[2].state, TrialState::kPaused);
    EXPECT_FALSE(study->HasPendingWork());

    // Restored scheduler: rung 1 is [1(.9, failed) 2(.5) 0(.1)], top 1 = trial 1, which is not
    // paused: nothing to promote, so a new trial (number 3).
    Trial t = *study->Ask();
    EXPECT_FALSE(t.resumed());
    EXPECT_EQ(t.number(), 3);
    // Trial 3 at .7 → [1 3(.7) 2 0] n=4, top 1: still nothing; trial 4 at .6 → n=5 top 1;
    // trial 5 at .3 → n=6, top 2 = [1 3] → trial 3 is promoted.
    EXPECT_EQ(study->Report(t, 1, 0.7), Decision::kPause);
    for (double v : {0.6, 0.3}) {
      Trial u = *study->Ask();
      EXPECT_FALSE(u.resumed());
      EXPECT_EQ(study->Report(u, 1, v), Decision::kPause);
    }
    Trial r = *study->Ask();
    EXPECT_TRUE(r.resumed());
    EXPECT_EQ(r.number(), 3);
    EXPECT_EQ(study->Report(r, 3, 0.8), Decision::kPause);
  }
  {
    // Reopen again: nothing was left running; trial 3's promotion is remembered.
    StudyOptions options;
    options.n_trials = 7;  // 6 trials exist, none interrupted now: one new trial left
    auto study = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha", options);
    EXPECT_TRUE(study->interrupted_on_open().empty());
    std::vector<FrozenTrial> trials = study->Trials();
    ASSERT_EQ(trials.size(), 6u);
    EXPECT_EQ(ByNumber(trials, 3).state, TrialState::kPaused);
    EXPECT_EQ(ByNumber(trials, 3).intermediate.size(), 2u);
    Trial t = *study->Ask();
    EXPECT_FALSE(t.resumed());
    EXPECT_EQ(t.number(), 6);
    EXPECT_FALSE(study->Ask().has_value());  // budget spent, nothing promotable
  }
}

TEST(StudyTest, ReopenWithDifferentDefinitionFails) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("s.db");
  {
    auto study = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
    study->Tell(*study->Ask(), 1.0);
  }
  EXPECT_THROW(NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "fifo"),
               StorageError);
  SearchSpace other;
  other.Add({"x", Distribution::Float(0.0, 2.0), std::nullopt});
  EXPECT_THROW(NewStudy(Direction::kMinimize, other, Storage::Open(path), "fifo"), StorageError);
  // allow_extend continues with the new space and keeps the old trials.
  StudyOptions extend;
  extend.allow_extend = true;
  auto study = NewStudy(Direction::kMinimize, other, Storage::Open(path), "fifo", extend);
  EXPECT_EQ(study->Trials().size(), 1u);
  EXPECT_EQ(study->Trials()[0].value, 1.0);
}

// ---- several writers on one SQLite study ----------------------------------------------------

// The random sampler, recording how many trials (and complete ones) each Sample() saw.
class RecordingSampler : public Sampler {
 public:
  struct Seen {
    size_t trials = 0;
    size_t complete = 0;
  };
  explicit RecordingSampler(std::vector<Seen>* seen)
      : seen_(seen), inner_(MakeSampler({"random", 11})) {}
  std::string name() const override { return inner_->name(); }
  ParamMap Sample(const SearchSpace& space, const History& history) override {
    Seen s;
    s.trials = history.trials->size();
    for (const FrozenTrial& t : *history.trials) s.complete += t.state == TrialState::kComplete;
    seen_->push_back(s);
    return inner_->Sample(space, history);
  }
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override {
    return inner_->SampleOne(name, dist, chosen, history);
  }

 private:
  std::vector<Seen>* seen_;
  std::unique_ptr<Sampler> inner_;
};

TEST(StudySharedTest, TwoStudiesOnOneFileSeeEachOthersTrials) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  std::vector<RecordingSampler::Seen> seen_b;
  auto a = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
  StudyOptions budget;
  budget.n_trials = 6;  // shared: a's trials count too
  auto b = std::make_unique<Study>(Def("study", Direction::kMinimize), XnSpace(),
                                   Storage::Open(path), std::make_unique<RecordingSampler>(&seen_b),
                                   MakeScheduler(RungOptions("fifo", Direction::kMinimize, 1, 9)),
                                   budget);

  for (double v : {0.5, 0.25, 0.75}) a->Tell(*a->Ask(), v);
  Trial running_in_a = *a->Ask();
  a->Report(running_in_a, 1, 0.125);

  Trial t = *b->Ask();
  ASSERT_EQ(seen_b.size(), 1u);
  EXPECT_EQ(seen_b[0].trials, 4u);  // a's three complete trials and its running one
  EXPECT_EQ(seen_b[0].complete, 3u);
  EXPECT_EQ(t.number(), 4);
  ASSERT_TRUE(b->BestTrial().has_value());
  EXPECT_EQ(b->BestTrial()->value, 0.25);
  std::vector<FrozenTrial> trials = b->Trials();
  ASSERT_EQ(trials.size(), 5u);
  for (size_t i = 0; i < trials.size(); ++i) EXPECT_EQ(trials[i].number, static_cast<int64_t>(i));
  EXPECT_EQ(trials[3].state, TrialState::kRunning);
  EXPECT_EQ(trials[3].intermediate, (std::map<int64_t, double>{{1, 0.125}}));
  ASSERT_TRUE(b->GetTrial(running_in_a.id()).has_value());
  EXPECT_FALSE(b->GetTrial(-5).has_value());
  // a's running trial is not b's pending work.
  b->Tell(t, 0.375);
  EXPECT_FALSE(b->HasPendingWork());

  // a finishes its trial with the best value; b sees it at its next Ask, and a sees b's trial.
  a->Tell(running_in_a, 0.0625);
  Trial u = *b->Ask();
  EXPECT_EQ(seen_b.back().complete, 5u);
  EXPECT_EQ(b->BestTrial()->id, running_in_a.id());
  EXPECT_EQ(b->GetTrial(running_in_a.id())->state, TrialState::kComplete);
  b->Tell(u, 1.0);
  // The budget of 6 is spent (a's four trials and b's two).
  EXPECT_FALSE(b->Ask().has_value());
  a->Refresh();
  EXPECT_EQ(a->Trials().size(), 6u);
  EXPECT_EQ(a->GetTrial(u.id())->value, 1.0);
}

TEST(StudySharedTest, SchedulerRanksAgainstAnotherWritersReports) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  SchedulerOptions median = RungOptions("median", Direction::kMinimize, 1, 9);
  median.n_startup_trials = 1;
  auto make = [&] {
    return std::make_unique<Study>(Def("study", Direction::kMinimize), XnSpace(),
                                   Storage::Open(path), MakeSampler({"random", 7}),
                                   MakeScheduler(median));
  };
  auto a = make();
  auto b = make();
  Trial first = *a->Ask();
  EXPECT_EQ(a->Report(first, 1, 1.0), Decision::kContinue);
  a->Tell(first, 1.0);
  // b never ran a trial: only a's completed one makes its median, and 10 is worse.
  Trial t = *b->Ask();
  EXPECT_EQ(b->Report(t, 1, 10.0), Decision::kStop);
  b->TellPruned(t);
  // And a's scheduler learns b's reports at its own Report.
  Trial second = *a->Ask();
  EXPECT_EQ(a->Report(second, 1, 0.5), Decision::kContinue);
  a->TellPruned(second);  // pruned trials do not enter the median
  // b completes a trial at 0.2: the median at step 1 becomes that of {1.0, 0.2} = 0.6, so 0.8
  // stops a's next trial. Had a not seen b's trial, its median would be 1.0 and 0.8 continue.
  Trial done = *b->Ask();
  EXPECT_EQ(b->Report(done, 1, 0.2), Decision::kContinue);
  b->Tell(done, 0.2);
  Trial third = *a->Ask();
  EXPECT_EQ(a->Report(third, 1, 0.8), Decision::kStop);
}

TEST(StudySharedTest, AnotherWritersPausedTrialIsNotResumedHere) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  auto a = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha");
  auto b = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha");
  const int64_t best = PauseThreeAtRungOne(*a)[1].id();
  // b's scheduler ranks a's trials (the best is promotable), but only a may resume it.
  Trial t = *b->Ask();
  EXPECT_FALSE(t.resumed());
  EXPECT_EQ(t.number(), 3);
  EXPECT_EQ(b->PruneUnpromoted(), 0);  // a's paused trials are a's
  Trial r = *a->Ask();
  EXPECT_TRUE(r.resumed());
  EXPECT_EQ(r.id(), best);
  // b's trial ranks below a's best at rung 1 (n = 4, top 1): it pauses and is not promoted.
  EXPECT_EQ(b->Report(t, 1, 0.3), Decision::kPause);
  std::optional<Trial> next = b->Ask();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->resumed());
}

TEST(StudySharedTest, OwnPausedTrialResumedByAnotherWriterIsTheirs) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  auto a = NewStudy(Direction::kMaximize, XnSpace(), Storage::Open(path), "asha");
  const int64_t best = PauseThreeAtRungOne(*a)[1].id();
  auto other = Storage::Open(path);
  other->SetTrialState(best, TrialState::kRunning, std::nullopt);
  a->Refresh();
  EXPECT_EQ(a->GetTrial(best)->state, TrialState::kRunning);
  EXPECT_FALSE(a->HasPendingWork());
  Trial t = *a->Ask();
  EXPECT_FALSE(t.resumed());
  EXPECT_NE(t.id(), best);
}

TEST(StudySharedTest, ALateOpenerLeavesALiveWritersRunningTrial) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("shared.db");
  auto a = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
  Trial t = *a->Ask();
  // A second Study does not take a's running trial for a dead process's: a is open.
  auto b = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
  EXPECT_TRUE(b->interrupted_on_open().empty());
  EXPECT_EQ(b->GetTrial(t.id())->state, TrialState::kRunning);
  a->Report(t, 1, 0.5);
  a->Tell(t, 0.25);
  auto storage = Storage::Open(path);
  FrozenTrial stored = storage->GetTrial(t.id());
  EXPECT_EQ(stored.state, TrialState::kComplete);
  EXPECT_EQ(stored.value, 0.25);
  b->Refresh();
  EXPECT_EQ(b->GetTrial(t.id())->state, TrialState::kComplete);
}

TEST(StudySharedTest, ProcessesShareTheBudget) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("runs/shared.db");
  constexpr int kChildren = 4, kBudget = 40;
  hpo::testing::RunInChildren(kChildren, [&](int c) {
    StudyOptions options;
    options.n_trials = kBudget;
    auto study = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo", options);
    int own = 0;
    while (auto t = study->Ask()) {
      study->Tell(*t, std::get<double>(*t->Get("x")));
      ++own;
    }
    hpo::testing::WriteFile(dir.File("child" + std::to_string(c)), std::to_string(own));
  });
  int own_total = 0;
  for (int c = 0; c < kChildren; ++c)
    own_total += std::stoi(hpo::testing::ReadFile(dir.File("child" + std::to_string(c))));
  auto storage = Storage::Open(path);
  std::vector<FrozenTrial> all =
      storage->GetAllTrials(storage->OpenStudy(Def("study", Direction::kMinimize),
                                               /*allow_extend=*/true));
  EXPECT_EQ(static_cast<int>(all.size()), own_total);
  for (const FrozenTrial& t : all) EXPECT_EQ(t.state, TrialState::kComplete) << t.number;
  // Each process counts the others' trials at every Ask, so the budget holds up to the trials
  // started between one process's check and its insert (and those a late opener took for
  // stale), not kChildren times over as when each counted only what it saw on open.
  EXPECT_GE(own_total, kBudget);
  EXPECT_LE(own_total, kBudget + 2 * kChildren);
}

// Several processes opened on a study with queued trials (enqueued earlier, or re-queued after
// a crash) each hold them in their queue: every queued trial is handed out exactly once.
TEST(StudySharedTest, EachQueuedTrialIsHandedOutOnceAmongProcesses) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("queued.db");
  constexpr int kChildren = 8, kQueued = 400;
  {
    auto study = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
    for (int i = 0; i < kQueued; ++i)
      study->Enqueue({{"x", static_cast<double>(i) / kQueued}, {"n", int64_t{1}}});
  }
  hpo::testing::RunInChildren(kChildren, [&](int c) {
    auto study = NewStudy(Direction::kMinimize, XnSpace(), Storage::Open(path), "fifo");
    std::string mine;
    while (auto t = study->Ask()) {
      const double x = std::get<double>(*t->Get("x"));
      if (t->number() >= kQueued) {  // the queue is empty: stop
        study->TellFailed(*t, "not queued");
        break;
      }
      mine += std::to_string(t->number()) + "\n";
      study->Tell(*t, x);
    }
    hpo::testing::WriteFile(dir.File("child" + std::to_string(c)), mine);
  });
  std::map<int64_t, int> handed;
  for (int c = 0; c < kChildren; ++c) {
    std::istringstream in(hpo::testing::ReadFile(dir.File("child" + std::to_string(c))));
    for (int64_t number; in >> number;) ++handed[number];
  }
  EXPECT_EQ(static_cast<int>(handed.size()), kQueued);
  for (const auto& [number, times] : handed) EXPECT_EQ(times, 1) << "trial " << number;
  auto storage = Storage::Open(path);
  for (const FrozenTrial& t : storage->GetAllTrials(
           storage->OpenStudy(Def("study", Direction::kMinimize), /*allow_extend=*/true)))
    if (t.number < kQueued) EXPECT_EQ(t.state, TrialState::kComplete) << t.number;
}

}  // namespace
}  // namespace hpo

namespace {

TEST(StudySuspendTest, ASuspendedTrialIsResumedFirstByTheNextStudy) {
  hpo::testing::TempDir dir;
  const std::string db = dir.File("s.db");
  hpo::StudyDefinition def;
  def.name = "suspend";
  def.direction = hpo::Direction::kMinimize;
  hpo::SearchSpace space;
  space.Add({"x", hpo::Distribution::Float(0, 1), std::nullopt});
  auto open = [&] {
    hpo::SchedulerOptions sched;
    sched.name = "fifo";
    sched.max_resource = 5;
    hpo::StudyOptions options;
    options.n_trials = 3;
    return std::make_unique<hpo::Study>(def, space, hpo::Storage::Open(db),
                                        hpo::MakeSampler({"random", 1}), hpo::MakeScheduler(sched),
                                        options);
  };
  int64_t suspended_id = -1;
  hpo::ParamMap suspended_params;
  {
    auto study = open();
    auto a = study->Ask();
    auto b = study->Ask();
    ASSERT_TRUE(a && b);
    study->Report(*a, 1, 0.5);
    study->Report(*a, 2, 0.4);
    study->Suspend(*a);
    study->Tell(*b, 0.3);
    suspended_id = a->id();
    suspended_params = a->params();
    EXPECT_EQ(study->Trials()[0].state, hpo::TrialState::kPaused);
    EXPECT_THROW(study->Suspend(*b), hpo::InternalError);  // only running trials
  }
  auto study = open();
  EXPECT_TRUE(study->interrupted_on_open().empty());
  auto resumed = study->Ask();
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->id(), suspended_id);
  EXPECT_TRUE(resumed->resumed());
  EXPECT_EQ(resumed->params(), suspended_params);
  EXPECT_EQ(study->Trials()[0].intermediate.size(), 2u);
  study->Report(*resumed, 3, 0.2);
  study->Tell(*resumed, 0.2);
  // The budget: 2 trials used, one new one left.
  auto c = study->Ask();
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->resumed());
  EXPECT_EQ(c->number(), 2);
  study->Tell(*c, 0.9);
  EXPECT_FALSE(study->Ask().has_value());
  EXPECT_EQ(study->BestTrial()->number, 0);
}

}  // namespace

namespace {

TEST(StudyRequeueTest, InterruptedTrialsAreEnqueuedAgainWhenAsked) {
  hpo::testing::TempDir dir;
  const std::string db = dir.File("r.db");
  hpo::StudyDefinition def;
  def.name = "requeue";
  hpo::SearchSpace space;
  space.Add({"x", hpo::Distribution::Float(0, 1), std::nullopt});
  auto open = [&](bool requeue) {
    hpo::SchedulerOptions sched;
    sched.name = "fifo";
    sched.max_resource = 3;
    hpo::StudyOptions options;
    options.n_trials = 4;
    options.requeue_interrupted = requeue;
    return std::make_unique<hpo::Study>(def, space, hpo::Storage::Open(db),
                                        hpo::MakeSampler({"random", 2}), hpo::MakeScheduler(sched),
                                        options);
  };
  hpo::ParamMap lost;
  {
    auto study = open(false);
    auto a = study->Ask();
    auto b = study->Ask();
    study->Tell(*a, 1.0);
    lost = b->params();  // b is left running: the process "dies"
  }
  auto study = open(true);
  ASSERT_EQ(study->interrupted_on_open().size(), 1u);
  auto retry = study->Ask();
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->params(), lost);
  EXPECT_EQ(retry->number(), 2);
  auto trials = study->Trials();
  EXPECT_EQ(trials[1].state, hpo::TrialState::kFailed);
  EXPECT_NE(trials[1].fail_reason.find("interrupted"), std::string::npos);
}

}  // namespace
