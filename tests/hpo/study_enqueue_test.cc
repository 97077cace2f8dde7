// Tests for Study::Enqueue (hpo/src/study.cc): queued trials are handed out first and oldest
// first, count toward n_trials once handed out, are validated against the space, get their
// missing parameters sampled, and survive reopening (in-memory and SQLite storage).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/study.h"
#include "test_util.h"

namespace hpo {
namespace {

StudyDefinition Def() {
  StudyDefinition def;
  def.name = "warm";
  def.metric = "loss";
  return def;
}

// opt ∈ {sgd, adam}; momentum ∈ float[0, 0.99] only for sgd; lr ∈ float[1e-5, 1e-1] log;
// layers ∈ int[1, 8].
SearchSpace Space() {
  SearchSpace s;
  s.Add(
      {"opt", Distribution::Categorical({std::string("sgd"), std::string("adam")}), std::nullopt});
  s.Add({"momentum", Distribution::Float(0.0, 0.99), Condition{"opt", {std::string("sgd")}}});
  s.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  s.Add({"layers", Distribution::Int(1, 8), std::nullopt});
  return s;
}

std::unique_ptr<Study> Open(std::unique_ptr<Storage> storage, int64_t n_trials = 0,
                            SearchSpace space = Space()) {
  SchedulerOptions fifo;
  fifo.name = "fifo";
  StudyOptions options;
  options.n_trials = n_trials;
  return std::make_unique<Study>(Def(), std::move(space), std::move(storage),
                                 MakeSampler({"random", 3}), MakeScheduler(fifo), options);
}

std::map<std::string, Value> Adam(double lr, int64_t layers) {
  return {{"opt", std::string("adam")}, {"lr", lr}, {"layers", layers}};
}

TEST(StudyEnqueueTest, QueuedTrialsComeFirstOldestFirst) {
  auto study = Open(MakeInMemoryStorage());
  EXPECT_EQ(study->Enqueue(Adam(1e-3, 2)), 0);
  EXPECT_EQ(
      study->Enqueue({{"opt", std::string("sgd")}, {"momentum", 0.9}, {"lr", 0.01}, {"layers", 4}}),
      1);
  std::vector<FrozenTrial> all = study->Trials();
  ASSERT_EQ(all.size(), 2u);
  for (const FrozenTrial& t : all) {
    EXPECT_EQ(t.state, TrialState::kQueued);
    EXPECT_EQ(t.start_time, 0.0);
  }
  EXPECT_FALSE(study->HasPendingWork());

  Trial a = *study->Ask();
  EXPECT_EQ(a.number(), 0);
  EXPECT_FALSE(a.resumed());
  EXPECT_EQ(a.ExternalParams(), Adam(1e-3, 2));
  Trial b = *study->Ask();
  EXPECT_EQ(b.number(), 1);
  EXPECT_EQ(*b.Get("momentum"), Value(0.9));
  EXPECT_EQ(*b.Get("layers"), Value(int64_t{4}));
  EXPECT_EQ(b.params().at("opt"), 0.0);  // internal: the index of "sgd"
  Trial c = *study->Ask();               // sampled
  EXPECT_EQ(c.number(), 2);

  all = study->Trials();
  for (const FrozenTrial& t : all) {
    EXPECT_EQ(t.state, TrialState::kRunning);
    EXPECT_GT(t.start_time, 0.0);
  }
  study->Tell(a, 0.5);
  EXPECT_EQ(study->BestTrial()->number, 0);
}

TEST(StudyEnqueueTest, HandedOutQueuedTrialsCountTowardTheBudget) {
  auto study = Open(MakeInMemoryStorage(), /*n_trials=*/5);
  for (int i = 0; i < 2; ++i) study->Enqueue(Adam(1e-3 * (i + 1), 1));
  int handed = 0;
  while (std::optional<Trial> t = study->Ask()) {
    ++handed;
    study->Tell(*t, 1.0);
  }
  EXPECT_EQ(handed, 5);  // 2 enqueued + 3 sampled
  EXPECT_EQ(study->Trials().size(), 5u);

  // More queued trials than budget: the rest stay queued (they did not use it up).
  auto over = Open(MakeInMemoryStorage(), /*n_trials=*/3);
  for (int i = 0; i < 5; ++i) over->Enqueue(Adam(1e-4, i + 1));
  handed = 0;
  while (std::optional<Trial> t = over->Ask()) {
    EXPECT_EQ(t->number(), handed);
    ++handed;
    over->Tell(*t, 1.0);
  }
  EXPECT_EQ(handed, 3);
  std::vector<FrozenTrial> all = over->Trials();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[2].state, TrialState::kComplete);
  EXPECT_EQ(all[3].state, TrialState::kQueued);
  EXPECT_EQ(all[4].state, TrialState::kQueued);
}

TEST(StudyEnqueueTest, RejectsUnknownNamesAndBadValuesAndStoresNothing) {
  auto study = Open(MakeInMemoryStorage());
  auto expect_error = [&](const std::map<std::string, Value>& params, const std::string& needle) {
    try {
      study->Enqueue(params);
      ADD_FAILURE() << "expected std::invalid_argument containing " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"dropout", 0.1}}, "unknown parameter 'dropout' (the study declares opt, momentum");
  expect_error(Adam(1.0, 2), "lr = 1");                    // above high
  expect_error(Adam(1e-3, 9), "layers = 9");               // above high
  expect_error({{"layers", 2.5}}, "expected an integer");  // not an integer
  expect_error({{"opt", std::string("rmsprop")}}, "not one of the choices");
  expect_error({{"lr", std::string("fast")}}, "expected a number");
  // momentum is active only for sgd.
  expect_error({{"opt", std::string("adam")}, {"momentum", 0.5}}, "active only when 'opt'");
  expect_error({{"momentum", 0.5}}, "cannot enqueue 'momentum'");
  EXPECT_TRUE(study->Trials().empty());
  // A define-by-run name becomes known once suggested through this study.
  Trial t = *study->Ask();
  double dropout = t.SuggestFloat("dropout", 0.0, 0.5);
  study->Tell(t, 1.0);
  EXPECT_EQ(study->Enqueue({{"dropout", 0.25}}), 1);
  expect_error({{"dropout", 0.75}}, "dropout = 0.75");
  Trial q = *study->Ask();
  EXPECT_EQ(q.number(), 1);
  EXPECT_EQ(q.SuggestFloat("dropout", 0.0, 0.5), 0.25);  // the enqueued value, not a draw
  EXPECT_NE(dropout, 0.25);
}

TEST(StudyEnqueueTest, MissingParametersAreSampledWhenHandedOut) {
  auto study = Open(MakeInMemoryStorage());
  study->Enqueue({{"opt", std::string("sgd")}, {"layers", int64_t{3}}});
  study->Enqueue({{"opt", std::string("adam")}});
  EXPECT_EQ(study->Trials()[0].params.size(), 2u);  // stored as given until handed out
  Trial a = *study->Ask();
  EXPECT_EQ(a.params().size(), 4u);  // opt, layers, and the sampled momentum and lr
  EXPECT_EQ(*a.Get("layers"), Value(int64_t{3}));
  double m = std::get<double>(*a.Get("momentum"));
  EXPECT_GE(m, 0.0);
  EXPECT_LE(m, 0.99);
  Trial b = *study->Ask();
  EXPECT_EQ(b.params().size(), 3u);  // momentum is inactive for adam
  EXPECT_FALSE(b.Get("momentum").has_value());
  EXPECT_EQ(study->Trials()[0].params, a.params());
  EXPECT_EQ(study->Trials()[1].params, b.params());
}

TEST(StudyEnqueueTest, QueuedTrialsSurviveReopeningSqlite) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("warm.db");
  {
    auto study = Open(Storage::Open(path), /*n_trials=*/4);
    study->Enqueue(Adam(1e-3, 1));
    study->Enqueue(Adam(1e-2, 2));
    study->Enqueue({{"opt", std::string("sgd")}});
    Trial t = *study->Ask();
    EXPECT_EQ(t.number(), 0);
    study->Tell(t, 0.3);
  }
  // Stored as queued, with params and no start time.
  {
    auto storage = Storage::Open(path);
    StudyDefinition def = Def();
    def.space_json = Space().ToJson();
    def.sampler = "random";
    def.scheduler = "fifo";
    std::vector<FrozenTrial> stored = storage->GetAllTrials(storage->OpenStudy(def));
    ASSERT_EQ(stored.size(), 3u);
    EXPECT_EQ(stored[1].state, TrialState::kQueued);
    EXPECT_EQ(stored[1].start_time, 0.0);
    EXPECT_EQ(stored[1].params.size(), 3u);
    EXPECT_EQ(stored[2].params.size(), 1u);
  }
  auto study = Open(Storage::Open(path), /*n_trials=*/4);
  EXPECT_TRUE(study->interrupted_on_open().empty());
  Trial b = *study->Ask();
  EXPECT_EQ(b.number(), 1);
  EXPECT_EQ(b.ExternalParams(), Adam(1e-2, 2));
  Trial c = *study->Ask();
  EXPECT_EQ(c.number(), 2);
  EXPECT_EQ(c.params().size(), 4u);
  Trial d = *study->Ask();  // sampled: the fourth trial of the budget
  EXPECT_EQ(d.number(), 3);
  EXPECT_FALSE(study->Ask().has_value());
  study->Tell(b, 0.1);
  study->Tell(c, 0.2);
  study->TellFailed(d, "diverged");

  auto reread = Storage::Open(path);
  std::vector<FrozenTrial> stored = reread->GetAllTrials(study->study_id());
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[1].state, TrialState::kComplete);
  EXPECT_EQ(*stored[1].value, 0.1);
  EXPECT_GT(stored[1].start_time, 0.0);
  EXPECT_GE(stored[1].complete_time, stored[1].start_time);
  EXPECT_EQ(stored[2].params, c.params());  // the sampled parameters were stored
}

}  // namespace
}  // namespace hpo
