// Tests for hpo/src/samplers/grid_sampler.cc (through MakeSampler and Study): the points of the
// grid (Cartesian product, conditional tree, explicit values), their order, which trials hold a
// point, retrying failed points, exhaustion, and concurrent and resumed studies.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/study.h"
#include "test_util.h"

namespace hpo {
namespace {

std::unique_ptr<Sampler> Grid(uint64_t seed, std::map<std::string, std::vector<Value>> grid = {}) {
  SamplerOptions o;
  o.name = "grid";
  o.seed = seed;
  o.grid = std::move(grid);
  return MakeSampler(o);
}

// opt ∈ {sgd, adam}, n ∈ int[1, 3], lr ∈ float[0.1, 0.3] step 0.1: 18 points.
SearchSpace ProductSpace() {
  SearchSpace s;
  s.Add(
      {"opt", Distribution::Categorical({std::string("sgd"), std::string("adam")}), std::nullopt});
  s.Add({"n", Distribution::Int(1, 3), std::nullopt});
  s.Add({"lr", Distribution::Float(0.1, 0.3, /*log=*/false, /*step=*/0.1), std::nullopt});
  return s;
}

// model ∈ {linear, mlp}; layers ∈ int[1, 3] and units ∈ {32, 64} only for mlp: 1 + 3*2 = 7 points.
SearchSpace ConditionalSpace() {
  SearchSpace s;
  s.Add({"model", Distribution::Categorical({std::string("linear"), std::string("mlp")}),
         std::nullopt});
  s.Add({"layers", Distribution::Int(1, 3), Condition{"model", {std::string("mlp")}}});
  s.Add({"units", Distribution::Categorical({int64_t{32}, int64_t{64}}),
         Condition{"model", {std::string("mlp")}}});
  return s;
}

// A history the test edits by hand.
struct FakeHistory {
  std::vector<FrozenTrial> trials;
  History view() const { return History{Direction::kMinimize, &trials}; }
  FrozenTrial& Add(const ParamMap& params, TrialState state = TrialState::kRunning) {
    FrozenTrial t;
    t.id = static_cast<int64_t>(trials.size()) + 100;
    t.number = static_cast<int64_t>(trials.size());
    t.state = state;
    t.params = params;
    trials.push_back(t);
    return trials.back();
  }
};

// Samples until the grid is exhausted, adding each point to `h` as a running trial.
std::vector<ParamMap> DrainAll(Sampler& sampler, const SearchSpace& space, FakeHistory& h,
                               size_t limit = 1000) {
  std::vector<ParamMap> out;
  for (size_t i = 0; i < limit; ++i) {
    ParamMap p;
    try {
      p = sampler.Sample(space, h.view());
    } catch (const GridExhausted&) {
      return out;
    }
    h.Add(p);
    out.push_back(p);
  }
  ADD_FAILURE() << "grid not exhausted after " << limit << " samples";
  return out;
}

TEST(GridSamplerTest, Registered) {
  auto names = KnownSamplers();
  EXPECT_NE(std::find(names.begin(), names.end(), "grid"), names.end());
  EXPECT_EQ(Grid(0)->name(), "grid");
}

TEST(GridSamplerTest, EnumeratesTheCartesianProductOnceThenExhausts) {
  SearchSpace space = ProductSpace();
  auto sampler = Grid(3);
  FakeHistory h;
  std::vector<ParamMap> points = DrainAll(*sampler, space, h);
  ASSERT_EQ(points.size(), 18u);
  std::set<ParamMap> distinct(points.begin(), points.end());
  EXPECT_EQ(distinct.size(), 18u);
  std::set<ParamMap> expected;
  for (double opt : {0.0, 1.0})
    for (double n : {1.0, 2.0, 3.0})
      for (double lr : {0.1, 0.2, 0.3}) {
        // The sampler's stepped values are the distribution's grid points.
        double snapped = space.Find("lr")->distribution.Snap(lr);
        expected.insert(ParamMap{{"opt", opt}, {"n", n}, {"lr", snapped}});
      }
  EXPECT_EQ(distinct, expected);
  for (const ParamMap& p : points) {
    for (const auto& [name, x] : p) EXPECT_TRUE(space.Find(name)->distribution.Contains(x));
  }
  // Exhausted for good, with a message that says so.
  try {
    sampler->Sample(space, h.view());
    FAIL() << "expected GridExhausted";
  } catch (const GridExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("18 points"), std::string::npos) << e.what();
  }
}

TEST(GridSamplerTest, OrderIsShuffledDeterministicallyBySeed) {
  SearchSpace space = ProductSpace();
  auto order = [&](uint64_t seed) {
    auto sampler = Grid(seed);
    FakeHistory h;
    return DrainAll(*sampler, space, h);
  };
  std::vector<ParamMap> a = order(1), b = order(1), c = order(2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(std::set<ParamMap>(a.begin(), a.end()), std::set<ParamMap>(c.begin(), c.end()));
  // Shuffled, not lexicographic: sorted order is one of 18! permutations.
  std::vector<ParamMap> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_NE(a, sorted);
}

TEST(GridSamplerTest, ContinuousFloatWithoutValuesIsAnError) {
  SearchSpace space;
  space.Add({"n", Distribution::Int(1, 3), std::nullopt});
  space.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  auto sampler = Grid(0);
  FakeHistory h;
  try {
    sampler->Sample(space, h.view());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "grid needs finite parameters: give 'lr' a step or choices");
  }
  // Still an error on the next call (nothing half-built is used).
  EXPECT_THROW(sampler->Sample(space, h.view()), std::invalid_argument);
}

TEST(GridSamplerTest, ExplicitValues) {
  SearchSpace space;
  space.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  space.Add(
      {"act",
       Distribution::Categorical({std::string("relu"), std::string("gelu"), std::string("tanh")}),
       std::nullopt});
  auto sampler = Grid(5, {{"lr", {1e-4, 1e-3, 1e-2}}, {"act", {std::string("gelu")}}});
  FakeHistory h;
  std::vector<ParamMap> points = DrainAll(*sampler, space, h);
  ASSERT_EQ(points.size(), 3u);
  std::set<double> lrs;
  for (const ParamMap& p : points) {
    lrs.insert(p.at("lr"));
    EXPECT_EQ(p.at("act"), 1.0);  // the index of "gelu"
  }
  EXPECT_EQ(lrs, (std::set<double>{1e-4, 1e-3, 1e-2}));

  auto bad = [&](std::map<std::string, std::vector<Value>> grid, const std::string& needle) {
    auto s = Grid(0, std::move(grid));
    try {
      s->Sample(space, h.view());
      ADD_FAILURE() << "expected std::invalid_argument for " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  bad({{"lr", {1.0}}, {"act", {std::string("relu")}}}, "grid value for 'lr'");  // outside
  bad({{"lr", {1e-3, 1e-3}}, {"act", {std::string("relu")}}}, "listed twice");
  bad({{"lr", {}}, {"act", {std::string("relu")}}}, "empty");
  bad({{"lr", {1e-3}}, {"act", {std::string("selu")}}}, "grid value for 'act'");
  bad({{"lr", {1e-3}}, {"momentum", {0.9}}}, "'momentum', which the search space does not");
}

TEST(GridSamplerTest, ConditionalParametersFollowTheTree) {
  SearchSpace space = ConditionalSpace();
  auto sampler = Grid(11);
  FakeHistory h;
  std::vector<ParamMap> points = DrainAll(*sampler, space, h);
  ASSERT_EQ(points.size(), 7u);  // not 2 * 3 * 2 = 12
  std::set<ParamMap> distinct(points.begin(), points.end());
  EXPECT_EQ(distinct.size(), 7u);
  EXPECT_EQ(distinct.count(ParamMap{{"model", 0.0}}), 1u);  // linear fixes only the model
  for (const ParamMap& p : points) {
    if (p.at("model") == 0.0) {
      EXPECT_EQ(p.size(), 1u);
    } else {
      EXPECT_EQ(p.size(), 3u);
      EXPECT_TRUE(p.count("layers") && p.count("units"));
    }
  }
}

TEST(GridSamplerTest, HeldPointsAndRetriedFailures) {
  SearchSpace space;
  space.Add({"k", Distribution::Int(0, 4), std::nullopt});  // 5 points
  auto sampler = Grid(9);
  FakeHistory h;
  // Trials in every holding state take their point; a failed one does not, off-grid and
  // partial ones (an enqueued trial without k, a k outside the grid) take nothing.
  h.Add({{"k", 0}}, TrialState::kQueued);
  h.Add({{"k", 1}}, TrialState::kPaused);
  h.Add({{"k", 2}}, TrialState::kPruned);
  h.Add({{"k", 3}}, TrialState::kFailed);
  h.Add({}, TrialState::kQueued);
  h.Add({{"k", 7}}, TrialState::kComplete);
  // The never-tried point 4 comes before retrying the failed 3.
  ParamMap p = sampler->Sample(space, h.view());
  EXPECT_EQ(p, (ParamMap{{"k", 4}}));
  EXPECT_EQ(sampler->Sample(space, h.view()), p);  // not yet taken: proposed again
  h.Add(p, TrialState::kComplete);
  EXPECT_EQ(sampler->Sample(space, h.view()), (ParamMap{{"k", 3}}));

  // A running trial holds its point; when it fails, the point is free again.
  h.Add({{"k", 3}}, TrialState::kRunning);
  EXPECT_THROW(sampler->Sample(space, h.view()), GridExhausted);
  h.trials.back().state = TrialState::kFailed;  // second failure of k = 3
  EXPECT_EQ(sampler->Sample(space, h.view()), (ParamMap{{"k", 3}}));
  // The queued trial without k gets one (as Study fills it in when handing it out) and then
  // holds that point.
  h.trials[4].params["k"] = 3;
  EXPECT_THROW(sampler->Sample(space, h.view()), GridExhausted);
  h.trials[4].state = TrialState::kFailed;  // third failure: k = 3 is given up
  try {
    sampler->Sample(space, h.view());
    FAIL() << "expected GridExhausted";
  } catch (const GridExhausted& e) {
    EXPECT_NE(std::string(e.what()).find("1 failed 3 times"), std::string::npos) << e.what();
  }
  // A fresh sampler reading the same history agrees (state comes from the history alone).
  EXPECT_THROW(Grid(9)->Sample(space, h.view()), GridExhausted);
  h.trials[1].state = TrialState::kFailed;  // the paused k = 1 failed once: retried
  EXPECT_EQ(Grid(1)->Sample(space, h.view()), (ParamMap{{"k", 1}}));
  EXPECT_EQ(sampler->Sample(space, h.view()), (ParamMap{{"k", 1}}));
}

TEST(GridSamplerTest, EmptySpaceAndDefineByRunFallback) {
  auto sampler = Grid(4);
  FakeHistory h;
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(sampler->Sample(SearchSpace(), h.view()).empty());
    h.Add({});
  }
  Distribution lr = Distribution::Float(1e-5, 1e-1, /*log=*/true);
  std::set<double> seen;
  for (int i = 0; i < 20; ++i) {
    double x = sampler->SampleOne("lr", lr, {}, h.view());
    EXPECT_TRUE(lr.Contains(x));
    seen.insert(x);
  }
  EXPECT_GT(seen.size(), 15u);
}

TEST(GridSamplerTest, TooLargeGridIsAnError) {
  SearchSpace space;
  space.Add({"a", Distribution::Int(0, 999), std::nullopt});
  space.Add({"b", Distribution::Int(0, 999), std::nullopt});
  space.Add({"c", Distribution::Int(0, 1), std::nullopt});
  FakeHistory h;
  try {
    Grid(0)->Sample(space, h.view());
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("more than 1000000 points"), std::string::npos)
        << e.what();
  }
}

// ---- through Study ---------------------------------------------------------------------------

StudyDefinition Def(const std::string& name) {
  StudyDefinition def;
  def.name = name;
  def.metric = "loss";
  return def;
}

std::unique_ptr<Scheduler> Fifo() {
  SchedulerOptions o;
  o.name = "fifo";
  return MakeScheduler(o);
}

TEST(GridSamplerTest, ConcurrentAsksNeverShareAPointAndAskEndsWhenExhausted) {
  Study study(Def("grid"), ProductSpace(), MakeInMemoryStorage(), Grid(21), Fifo());
  std::mutex mu;
  std::vector<ParamMap> seen;
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (std::optional<Trial> t = study.Ask()) {
        {
          std::lock_guard<std::mutex> lock(mu);
          seen.push_back(t->params());
        }
        std::this_thread::yield();
        study.Tell(*t, 1.0);
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(seen.size(), 18u);
  EXPECT_EQ(std::set<ParamMap>(seen.begin(), seen.end()).size(), 18u);
  EXPECT_EQ(study.Trials().size(), 18u);
  EXPECT_FALSE(study.Ask().has_value());
}

TEST(GridSamplerTest, RunningTrialsHoldPointsAcrossAsks) {
  Study study(Def("grid"), ConditionalSpace(), MakeInMemoryStorage(), Grid(2), Fifo());
  std::vector<Trial> running;
  while (std::optional<Trial> t = study.Ask()) running.push_back(*t);  // none told yet
  ASSERT_EQ(running.size(), 7u);
  std::set<ParamMap> distinct;
  for (const Trial& t : running) distinct.insert(t.params());
  EXPECT_EQ(distinct.size(), 7u);
  // A failed trial's point is handed out again.
  study.TellFailed(running[3], "out of memory");
  std::optional<Trial> retry = study.Ask();
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->params(), running[3].params());
  EXPECT_EQ(retry->number(), 7);
  EXPECT_FALSE(study.Ask().has_value());
}

TEST(GridSamplerTest, ReopenedStudyContinuesTheGrid) {
  hpo::testing::TempDir dir;
  const std::string path = dir.File("grid.db");
  std::set<ParamMap> first;
  {
    StudyOptions options;
    options.n_trials = 7;
    Study study(Def("grid"), ProductSpace(), Storage::Open(path), Grid(8), Fifo(), options);
    while (std::optional<Trial> t = study.Ask()) {
      first.insert(t->params());
      study.Tell(*t, 0.0);
    }
    // Left running by a "dead" process: its point is retried after reopening.
    StudyOptions more;
    Study again(Def("grid"), ProductSpace(), Storage::Open(path), Grid(8), Fifo(), more);
    ASSERT_TRUE(again.Ask().has_value());
  }
  ASSERT_EQ(first.size(), 7u);
  Study study(Def("grid"), ProductSpace(), Storage::Open(path), Grid(8), Fifo());
  ASSERT_EQ(study.interrupted_on_open().size(), 1u);
  const ParamMap interrupted = study.interrupted_on_open()[0].params;
  std::vector<ParamMap> rest;
  while (std::optional<Trial> t = study.Ask()) {
    rest.push_back(t->params());
    study.Tell(*t, 0.0);
  }
  ASSERT_EQ(rest.size(), 11u);  // 18 - 7 complete; the interrupted point among them
  std::set<ParamMap> all = first;
  for (const ParamMap& p : rest) EXPECT_TRUE(all.insert(p).second) << "duplicate point";
  EXPECT_EQ(all.size(), 18u);
  EXPECT_TRUE(std::find(rest.begin(), rest.end(), interrupted) != rest.end());
  EXPECT_EQ(study.Trials().size(), 19u);  // 7 + the interrupted one + 11
}

TEST(GridSamplerTest, EnqueuedGridPointIsNotProposedAgainAndExtraParamsAreRandom) {
  Study study(Def("grid"), ProductSpace(), MakeInMemoryStorage(), Grid(6), Fifo());
  study.Enqueue({{"opt", std::string("adam")}, {"n", int64_t{2}}, {"lr", 0.3}});
  std::vector<ParamMap> seen;
  while (std::optional<Trial> t = study.Ask()) {
    double extra = t->SuggestFloat("dropout", 0.0, 0.5);  // define-by-run: random
    EXPECT_GE(extra, 0.0);
    EXPECT_LE(extra, 0.5);
    ParamMap p = t->params();
    p.erase("dropout");
    seen.push_back(p);
    study.Tell(*t, 0.0);
  }
  // The enqueued trial comes first; its lr (0.3 as typed, not the sampler's 0.1 + 2 * 0.1) is
  // still recognised as that grid point, so the grid has 17 points left for the sampler.
  ASSERT_EQ(seen.size(), 18u);
  EXPECT_EQ(seen[0], (ParamMap{{"opt", 1.0}, {"n", 2.0}, {"lr", 0.3}}));
  EXPECT_EQ(std::set<ParamMap>(seen.begin(), seen.end()).size(), 18u);
}

}  // namespace
}  // namespace hpo
