// Tests for hpo/src/schedulers/hyperband.cc (through MakeScheduler).
//
// Bracket assignment (see hyperband.h): bracket weights w_b = ceil((s_max + 1) * eta^s / (s + 1))
// with s = s_max - b; W = the sum; a trial id goes to the bracket b whose cumulative-weight
// interval holds u = floor(frac(id * 0.6180339887...) * W).
//
// r=1, R=9, eta=3: s_max = 2; w = ceil(3*9/3)=9, ceil(3*3/2)=5, ceil(3*1/1)=3; W = 17;
// bracket b0 ↔ u in [0, 9), b1 ↔ [9, 14), b2 ↔ [14, 17). Rungs: b0 at 1 and 3 (as ASHA with
// s=0), b1 at 3 (s=1), b2 none (s=2: 9 = R).
//   id:  frac(id*0.618034)*17  → u  → bracket
//   0    0                        0    b0
//   1    0.618034*17 = 10.51      10   b1
//   2    0.236068*17 =  4.01      4    b0
//   3    0.854102*17 = 14.52      14   b2
//   4    0.472136*17 =  8.03      8    b0
//   5    0.090170*17 =  1.53      1    b0
//   6    0.708204*17 = 12.04      12   b1
//   7    0.326238*17 =  5.55      5    b0
//   8    0.944272*17 = 16.05      16   b2
//   9    0.562306*17 =  9.56      9    b1
//   10   0.180340*17 =  3.07      3    b0
//
// r=1, R=4, eta=2: s_max = 2; w = ceil(3*4/3)=4, ceil(3*2/2)=3, ceil(3*1/1)=3; W = 10;
// b0 ↔ [0, 4), b1 ↔ [4, 7), b2 ↔ [7, 10). Rungs: b0 at 1 and 2, b1 at 2, b2 none.
//   id → u → bracket: 0→0 b0, 1→6 b1, 2→2 b0, 4→4 b1, 5→0 b0, 7→3 b0, 9→5 b1, 12→4 b1
//   (12: frac(7.416408)=0.416408*10 = 4.16).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "hpo/scheduler.h"
#include "scheduler_test_util.h"

namespace hpo {

namespace {

using namespace ::hpo::testing;

// The bracket of `id`, observed through a hyperband_stopping scheduler: a NaN report at a rung
// always stops, elsewhere it continues, and bracket b's first rung is r * eta^b. So the number
// of NaN reports at r, r*eta, r*eta^2, ... that continue before the first stop is b (b = s_max
// continues through all of them). NaN records never change another trial's decision.
size_t ProbeBracket(Scheduler& s, int64_t id, int64_t r, int64_t eta, size_t s_max) {
  int64_t resource = r;
  for (size_t b = 0; b < s_max; ++b, resource *= eta)
    if (s.OnReport(id, resource, kNaN) == kStop) return b;
  return s_max;
}

TEST(HyperbandTest, Names) {
  EXPECT_EQ(MakeScheduler(RungOptions("hyperband", Direction::kMinimize, 1, 9))->name(),
            "hyperband");
  EXPECT_EQ(MakeScheduler(RungOptions("hyperband_stopping", Direction::kMinimize, 1, 9))->name(),
            "hyperband_stopping");
}

TEST(HyperbandTest, BracketsOfTheFirstIds) {
  // See the table at the top: r=1, R=9, eta=3.
  auto s = MakeScheduler(RungOptions("hyperband_stopping", Direction::kMaximize, 1, 9));
  std::vector<size_t> expected = {0, 1, 0, 2, 0, 0, 1, 0, 2, 1, 0};
  for (int64_t id = 0; id < 11; ++id)
    EXPECT_EQ(ProbeBracket(*s, id, 1, 3, /*s_max=*/2), expected[static_cast<size_t>(id)])
        << "id " << id;
}

// r=1, R=9, eta=3, maximize. Brackets of ids 0..10 from the table at the top.
TEST(HyperbandTest, StoppingDecisionSequence) {
  auto s = MakeScheduler(RungOptions("hyperband_stopping", Direction::kMaximize, 1, 9));
  // id0 (b0) @1 .5: b0 rung 1 [.5] n=1 → continue.
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);
  // id1 (b1) @1 .1: 1 is not a rung of b1 → continue, however bad.
  EXPECT_EQ(s->OnReport(1, 1, 0.1), kContinue);
  // id2 (b0) @1 .4: b0 rung 1 [.5 .4] n=2, top max(1, 0)=1, rank 1 → stop.
  EXPECT_EQ(s->OnReport(2, 1, 0.4), kStop);
  // id1 @3 .2: b1 rung 3 [.2] → continue.
  EXPECT_EQ(s->OnReport(1, 3, 0.2), kContinue);
  // id3 (b2): no rungs, even NaN continues at every step.
  for (int64_t step = 1; step <= 9; ++step) EXPECT_EQ(s->OnReport(3, step, kNaN), kContinue);
  // id4 (b0) @1 .6: [.6 .5 .4] n=3, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(4, 1, 0.6), kContinue);
  // id6 (b1) @3 .15: b1 rung 3 [.2 .15] top 1, rank 1 → stop.
  EXPECT_EQ(s->OnReport(6, 3, 0.15), kStop);
  // id0 @3 .7: b0 rung 3 is its own rung: [.7] → continue (b1's values at 3 do not count).
  EXPECT_EQ(s->OnReport(0, 3, 0.7), kContinue);
  // id9 (b1) @3 .3: b1 rung 3 [.3 .2 .15] n=3, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(9, 3, 0.3), kContinue);
  // id10 (b0) @1 .05: b0 rung 1 [.6 .5 .4 .05] n=4, top 1, rank 3 → stop.
  EXPECT_EQ(s->OnReport(10, 1, 0.05), kStop);
  EXPECT_EQ(Next(*s), kNewTrial);
}

// Same brackets, minimize: lower is better.
TEST(HyperbandTest, StoppingMinimize) {
  auto s = MakeScheduler(RungOptions("hyperband_stopping", Direction::kMinimize, 1, 9));
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);  // b0 r1 [.5]
  EXPECT_EQ(s->OnReport(2, 1, 0.4), kContinue);  // [.4 .5] rank 0 → continue
  EXPECT_EQ(s->OnReport(4, 1, 0.6), kStop);      // [.4 .5 .6] top 1, rank 2 → stop
  EXPECT_EQ(s->OnReport(1, 3, 0.9), kContinue);  // b1 r3 [.9]
  EXPECT_EQ(s->OnReport(6, 3, 1.0), kStop);      // [.9 1] rank 1 → stop
  EXPECT_EQ(s->OnReport(9, 3, kNaN), kStop);     // NaN always stops
}

// r=1, R=9, eta=3, maximize: a promotion run across brackets b0 (rungs 1, 3) and b1 (rung 3).
TEST(HyperbandTest, PromotionPrefersTheHighestRungAcrossBrackets) {
  auto s = MakeScheduler(RungOptions("hyperband", Direction::kMaximize, 1, 9));
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kPause);  // b0 r1 [0(.5)] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  // id1 (b1): 1 and 2 are not rungs of b1; 3 is.
  EXPECT_EQ(s->OnReport(1, 1, 0.9), kContinue);
  EXPECT_EQ(s->OnReport(1, 2, 0.9), kContinue);
  EXPECT_EQ(s->OnReport(1, 3, 0.8), kPause);  // b1 r3 [1(.8)] top 0
  EXPECT_EQ(s->OnReport(2, 1, 0.6), kPause);  // b0 r1 [2(.6) 0(.5)] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  // id3 (b2) trains straight to R.
  for (int64_t step = 1; step <= 9; ++step) EXPECT_EQ(s->OnReport(3, step, 0.1), kContinue);
  s->OnFinished(3, TrialState::kComplete);
  EXPECT_EQ(s->OnReport(4, 1, 0.7), kPause);   // b0 r1 [4(.7) 2 0] n=3 top 1 → 4
  EXPECT_EQ(s->OnReport(5, 1, 0.1), kPause);   // b0 r1 n=4, top 1
  EXPECT_EQ(s->OnReport(6, 3, 0.85), kPause);  // b1 r3 [6(.85) 1(.8)] top 0
  EXPECT_EQ(Next(*s), 4);                      // the only candidate (b0, resource 1)
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(4, 2, 0.72), kContinue);
  EXPECT_EQ(s->OnReport(4, 3, 0.75), kPause);  // b0 r3 [4(.75)] top 0
  EXPECT_EQ(s->OnReport(7, 1, 0.2), kPause);   // b0 r1 n=5 [4 2 0 7 5] top 1: 4 promoted
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(9, 3, 0.95), kPause);  // b1 r3 [9(.95) 6 1] n=3 top 1 → 9 (resource 3)
  EXPECT_EQ(s->OnReport(10, 1, 0.3), kPause);  // b0 r1 n=6 top 2 [4 2 ...] → 2 (resource 1)
  EXPECT_EQ(Next(*s), 9);                      // resource 3 before resource 1
  EXPECT_EQ(Next(*s), 2);
  EXPECT_EQ(Next(*s), kNewTrial);
  // id9 was promoted from b1's last rung: it trains to R.
  EXPECT_EQ(s->OnReport(9, 9, 0.97), kContinue);
  s->OnFinished(9, TrialState::kComplete);
}

// r=1, R=4, eta=2: candidates at the same resource (2) in b0 (its second rung) and b1 (its
// first): the better score goes first; on equal scores, the lower bracket.
TEST(HyperbandTest, SameResourceBetterScoreThenLowerBracket) {
  for (double v12 : {0.65, 0.6}) {
    auto s = MakeScheduler(RungOptions("hyperband", Direction::kMaximize, 1, 4, /*eta=*/2));
    EXPECT_EQ(s->OnReport(1, 1, 0.5), kContinue);  // id1 (b1): 1 is not a rung of b1
    EXPECT_EQ(s->OnReport(1, 2, 0.5), kPause);     // b1 r2 [1(.5)] top 0
    EXPECT_EQ(s->OnReport(4, 2, 0.4), kPause);     // b1 r2 [1 4(.4)] top 1 → 1 (resource 2)
    EXPECT_EQ(s->OnReport(0, 1, 0.9), kPause);     // b0 r1 [0(.9)] top 0
    EXPECT_EQ(s->OnReport(2, 1, 0.8), kPause);     // b0 r1 [0 2(.8)] top 1 → 0 (resource 1)
    EXPECT_EQ(Next(*s), 1);                        // resource 2 first
    EXPECT_EQ(Next(*s), 0);
    EXPECT_EQ(s->OnReport(0, 2, 0.6), kPause);   // b0 r2 [0(.6)] top 0
    EXPECT_EQ(s->OnReport(5, 1, 0.7), kPause);   // b0 r1 [0 2 5(.7)] top 1: 0 promoted
    EXPECT_EQ(s->OnReport(7, 1, 0.75), kPause);  // b0 r1 [0 2 7(.75) 5] top 2 → 2
    EXPECT_EQ(Next(*s), 2);
    EXPECT_EQ(s->OnReport(2, 2, 0.55), kPause);  // b0 r2 [0(.6) 2(.55)] top 1 → 0 (.6)
    EXPECT_EQ(s->OnReport(9, 2, 0.3), kPause);   // b1 r2 [1 4 9] n=3 top 1: 1 promoted
    // b1 r2 [12(v12) 1(.5) 4(.4) 9(.3)] n=4 top 2 → 12: two candidates at resource 2 now.
    EXPECT_EQ(s->OnReport(12, 2, v12), kPause);
    if (v12 > 0.6) {  // b1's .65 beats b0's .6
      EXPECT_EQ(Next(*s), 12);
      EXPECT_EQ(Next(*s), 0);
    } else {  // equal scores: b0 before b1
      EXPECT_EQ(Next(*s), 0);
      EXPECT_EQ(Next(*s), 12);
    }
    // Left: b0 r1 [0 2 | 7 5] top 2 both promoted; b0 r2 [0 | 2] top 1; b1 r2 [12 1 | 4 9].
    EXPECT_EQ(Next(*s), kNewTrial);
  }
}

// Over consecutive ids, each bracket's share of the first n trials stays within 4 trials of
// n * w_b / W for every n <= 10,000 (measured: within 3.0); over every 7th id (as when studies
// share a storage) within 8 (measured: within 6.9): the golden-ratio sequence has low
// discrepancy. A hash (Optuna's crc32) drifts by about sqrt(n * w/W * (1 - w/W)) ≈ 40 trials
// at n = 10,000.
TEST(HyperbandTest, BracketProportionsFollowTheWeights) {
  struct Case {
    int64_t r, R, eta;
    std::vector<int64_t> weights;  // by hand: ceil((s_max + 1) * eta^s / (s + 1)), s = s_max - b
  };
  const std::vector<Case> cases = {
      // s_max = 3: ceil(4*27/4)=27, ceil(4*9/3)=12, ceil(4*3/2)=6, ceil(4*1/1)=4.
      {1, 27, 3, {27, 12, 6, 4}},
      // s_max = 3: ceil(4*8/4)=8, ceil(4*4/3)=6, ceil(4*2/2)=4, ceil(4*1/1)=4.
      {1, 8, 2, {8, 6, 4, 4}},
      // R/r = 10: s_max = floor(log_3 10) = 2: ceil(3*9/3)=9, ceil(3*3/2)=5, ceil(3/1)=3.
      {2, 20, 3, {9, 5, 3}},
  };
  for (const Case& c : cases) {
    for (int64_t stride : {1, 7}) {
      auto s =
          MakeScheduler(RungOptions("hyperband_stopping", Direction::kMinimize, c.r, c.R, c.eta));
      const size_t s_max = c.weights.size() - 1;
      double total = 0;
      for (int64_t w : c.weights) total += static_cast<double>(w);
      std::vector<int> counts(c.weights.size(), 0);
      double worst = 0;
      for (int n = 1; n <= 10000; ++n) {
        int64_t id = 1000 + stride * n;
        size_t b = ProbeBracket(*s, id, c.r, c.eta, s_max);
        ASSERT_LE(b, s_max);
        ++counts[b];
        for (size_t k = 0; k < counts.size(); ++k)
          worst =
              std::max(worst, std::abs(counts[k] - n * static_cast<double>(c.weights[k]) / total));
      }
      const double bound = stride == 1 ? 4.0 : 8.0;
      EXPECT_LE(worst, bound) << "R=" << c.R << " eta=" << c.eta << " stride " << stride;
      for (size_t k = 0; k < counts.size(); ++k)
        EXPECT_NEAR(counts[k], 10000 * static_cast<double>(c.weights[k]) / total, bound)
            << "bracket " << k << " R=" << c.R << " eta=" << c.eta;
    }
  }
}

// r = R: s_max = 0, a single bracket without rungs; nothing is stopped or paused.
TEST(HyperbandTest, MinEqualsMaxHasOneBracketWithoutRungs) {
  for (const char* name : {"hyperband", "hyperband_stopping"}) {
    auto s = MakeScheduler(RungOptions(name, Direction::kMaximize, 4, 4));
    for (int64_t id = 0; id < 20; ++id) {
      for (int64_t step = 1; step <= 4; ++step)
        EXPECT_EQ(s->OnReport(id, step, id % 3 ? kNaN : -1.0 * id), kContinue) << name;
      s->OnFinished(id, TrialState::kComplete);
      EXPECT_EQ(Next(*s), kNewTrial) << name;
    }
  }
}

// R < r * eta also leaves a single bracket: r=3, R=8, eta=3 → s_max = 0.
TEST(HyperbandTest, BudgetBelowOneReductionHasOneBracket) {
  auto s = MakeScheduler(RungOptions("hyperband_stopping", Direction::kMinimize, 3, 8));
  for (int64_t id = 0; id < 10; ++id) EXPECT_EQ(s->OnReport(id, 3, kNaN), kContinue);
}

TEST(HyperbandTest, InvalidOptionsThrow) {
  for (const char* name : {"hyperband", "hyperband_stopping"}) {
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 0, 9)),
                 std::invalid_argument);
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 3, 2)),
                 std::invalid_argument);
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 1, 9, /*eta=*/1)),
                 std::invalid_argument);
    SchedulerOptions o = RungOptions(name, Direction::kMinimize, 1, 9);
    o.min_early_stopping_rate = 1;
    try {
      MakeScheduler(o);
      ADD_FAILURE() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("min_early_stopping_rate"), std::string::npos)
          << e.what();
    }
  }
}

// Restore rebuilds every bracket from the records; the bracket of each trial comes from its id.
// r=1, R=9, eta=3, maximize; brackets from the table at the top.
TEST(HyperbandTest, RestoreFromRecords) {
  auto make = [](int64_t id, TrialState state, std::map<int64_t, double> inter) {
    FrozenTrial t;
    t.id = id;
    t.number = id;
    t.state = state;
    t.intermediate = std::move(inter);
    return t;
  };
  std::vector<FrozenTrial> records = {
      make(0, TrialState::kPaused, {{1, 0.5}}),                        // b0 r1
      make(1, TrialState::kPaused, {{1, 0.9}, {2, 0.9}, {3, 0.8}}),    // b1 r3
      make(2, TrialState::kPaused, {{1, 0.6}}),                        // b0 r1
      make(3, TrialState::kComplete, {{1, 0.1}, {3, 0.1}, {9, 0.1}}),  // b2
      make(4, TrialState::kRunning, {{1, 0.7}}),                       // b0 r1, promoted
      make(5, TrialState::kPruned, {{1, 0.1}}),                        // b0 r1
      make(6, TrialState::kPaused, {{3, 0.85}}),                       // b1 r3
  };
  // Live, the same reports give: b0 r1 [4(.7) 2(.6) 0(.5) 5(.1)] n=4, top 1 = 4 (promoted);
  // b1 r3 [6(.85) 1(.8)] top 0. No candidate.
  auto s = MakeScheduler(RungOptions("hyperband", Direction::kMaximize, 1, 9));
  s->Restore(records);
  EXPECT_EQ(Next(*s), kNewTrial);
  // id9 (b1) @3 .95: b1 r3 [9 6 1] n=3 top 1 → 9; id7 (b0) @1 .2 and id10 (b0) @1 .3: b0 r1
  // n=6, top 2 [4 2 ...] → 2.
  EXPECT_EQ(s->OnReport(9, 3, 0.95), kPause);
  EXPECT_EQ(s->OnReport(7, 1, 0.2), kPause);
  EXPECT_EQ(s->OnReport(10, 1, 0.3), kPause);
  EXPECT_EQ(Next(*s), 9);
  EXPECT_EQ(Next(*s), 2);
  EXPECT_EQ(Next(*s), kNewTrial);

  // The stopping variant: b0 r1 holds [.7 .6 .5 .1]; id10 @1 .65: n=5, top 1, rank 1 → stop;
  // b1 r3 holds [.85 .8]; id9 @3 .9: rank 0 → continue.
  auto st = MakeScheduler(RungOptions("hyperband_stopping", Direction::kMaximize, 1, 9));
  st->Restore(records);
  EXPECT_EQ(st->OnReport(10, 1, 0.65), kStop);
  EXPECT_EQ(st->OnReport(9, 3, 0.9), kContinue);
}

}  // namespace
}  // namespace hpo
