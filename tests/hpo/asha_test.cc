// Tests for hpo/src/schedulers/asha.cc and the FIFO scheduler (through MakeScheduler), and for
// Study::Ask handing out paused trials under concurrency.
//
// Expected decisions are computed by hand in the comments. Notation: rung values are listed
// best first; n = values recorded at the rung, top = floor(n / eta).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/storage.h"
#include "hpo/study.h"
#include "scheduler_test_util.h"

namespace hpo {

namespace {

using namespace ::hpo::testing;

// ---- stopping variant -----------------------------------------------------------------------

// r=1, R=9, eta=3 → rungs at resources 1 and 3 (9 = R is the full budget, not a rung).
TEST(AshaStoppingTest, MaximizeDecisionSequence) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 9));
  EXPECT_EQ(s->name(), "asha_stopping");
  // Rung 1:
  // t0 0.5: [.5] n=1, top=max(1, 0)=1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);
  // t1 0.4: [.5 .4] n=2, top 1, rank 1 → stop.
  EXPECT_EQ(s->OnReport(1, 1, 0.4), kStop);
  // t2 0.6: [.6 .5 .4] n=3, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(2, 1, 0.6), kContinue);
  // t3 0.55: [.6 .55 .5 .4] n=4, top 1, rank 1 → stop.
  EXPECT_EQ(s->OnReport(3, 1, 0.55), kStop);
  // t4 0.7: n=5, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(4, 1, 0.7), kContinue);
  // t5 0.65: [.7 .65 .6 .55 .5 .4] n=6, top 2, rank 1 → continue.
  EXPECT_EQ(s->OnReport(5, 1, 0.65), kContinue);
  // t6 0.45: n=7, top 2, rank 5 → stop.
  EXPECT_EQ(s->OnReport(6, 1, 0.45), kStop);
  // Resources that are not rungs never stop, whatever the value.
  EXPECT_EQ(s->OnReport(0, 2, -1e9), kContinue);
  EXPECT_EQ(s->OnReport(0, 9, -1e9), kContinue);
  // Rung 3 is ranked separately:
  // t0 0.8: n=1 → continue; t2 0.6: [.8 .6] n=2, top 1, rank 1 → stop;
  // t4 0.9: [.9 .8 .6] n=3, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(0, 3, 0.8), kContinue);
  EXPECT_EQ(s->OnReport(2, 3, 0.6), kStop);
  EXPECT_EQ(s->OnReport(4, 3, 0.9), kContinue);
  // The stopping variant never asks to resume anything.
  EXPECT_EQ(Next(*s), kNewTrial);
}

TEST(AshaStoppingTest, MinimizeDecisionSequence) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMinimize, 1, 9));
  // t0 0.5: n=1 → continue.
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);
  // t1 0.4: [.4 .5] n=2, top 1, rank 0 → continue (lower is better).
  EXPECT_EQ(s->OnReport(1, 1, 0.4), kContinue);
  // t2 0.6: [.4 .5 .6] rank 2 → stop.
  EXPECT_EQ(s->OnReport(2, 1, 0.6), kStop);
  // t3 0.45: [.4 .45 .5 .6] n=4, top 1, rank 1 → stop.
  EXPECT_EQ(s->OnReport(3, 1, 0.45), kStop);
  // t4 0.3: rank 0 → continue.
  EXPECT_EQ(s->OnReport(4, 1, 0.3), kContinue);
  // t5 0.35: [.3 .35 .4 .45 .5 .6] n=6, top 2, rank 1 → continue.
  EXPECT_EQ(s->OnReport(5, 1, 0.35), kContinue);
  // t6 0.38: n=7, top 2, rank 2 → stop.
  EXPECT_EQ(s->OnReport(6, 1, 0.38), kStop);
}

TEST(AshaStoppingTest, NaNAlwaysStopsAndRanksLast) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMinimize, 1, 9));
  // Even the first value at a rung stops when it is NaN.
  EXPECT_EQ(s->OnReport(0, 1, kNaN), kStop);
  // A huge (bad) loss still ranks ahead of NaN: [1e9 NaN] n=2, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(1, 1, 1e9), kContinue);
  EXPECT_EQ(s->OnReport(2, 1, kNaN), kStop);
  // [1 1e9 NaN NaN] n=4, top 1, rank 0 → continue.
  EXPECT_EQ(s->OnReport(3, 1, 1.0), kContinue);
}

TEST(AshaStoppingTest, TiesKeepEarlierReportAhead) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 9));
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);   // [t0] rank 0
  EXPECT_EQ(s->OnReport(1, 1, 0.5), kStop);       // [t0 t1] top 1, t1 rank 1
  EXPECT_EQ(s->OnReport(2, 1, 0.5), kStop);       // [t0 t1 t2] top 1, rank 2
  EXPECT_EQ(s->OnReport(3, 1, 0.5), kStop);       // n=4 top 1, rank 3
  EXPECT_EQ(s->OnReport(4, 1, 0.5), kStop);       // n=5 top 1, rank 4
  EXPECT_EQ(s->OnReport(5, 1, 0.5), kStop);       // n=6 top 2, rank 5
  EXPECT_EQ(s->OnReport(6, 1, 0.51), kContinue);  // strictly better: rank 0
}

// eta=2, r=1, R=8 → rungs 1, 2, 4.
TEST(AshaStoppingTest, EtaTwo) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 8, /*eta=*/2));
  // Rung 1: t0 .5 n=1 → continue; t1 .4 [.5 .4] top 1, rank 1 → stop;
  // t2 .45 [.5 .45 .4] top 1, rank 1 → stop; t3 .48 [.5 .48 .45 .4] top 2, rank 1 → continue.
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kContinue);
  EXPECT_EQ(s->OnReport(1, 1, 0.4), kStop);
  EXPECT_EQ(s->OnReport(2, 1, 0.45), kStop);
  EXPECT_EQ(s->OnReport(3, 1, 0.48), kContinue);
  // Rungs 2 and 4 decide; 3, 5..8 are not rungs.
  EXPECT_EQ(s->OnReport(0, 2, 0.6), kContinue);
  EXPECT_EQ(s->OnReport(3, 2, 0.55), kStop);  // [.6 .55] top 1, rank 1
  EXPECT_EQ(s->OnReport(0, 3, 0.0), kContinue);
  EXPECT_EQ(s->OnReport(0, 4, 0.7), kContinue);
  EXPECT_EQ(s->OnReport(0, 8, 0.0), kContinue);
}

// r = R: no rungs, nothing is ever stopped or paused.
TEST(AshaStoppingTest, NoRungsWhenMinEqualsMax) {
  for (const char* name : {"asha_stopping", "asha"}) {
    auto s = MakeScheduler(RungOptions(name, Direction::kMinimize, 5, 5));
    for (int64_t t = 0; t < 10; ++t) {
      for (int64_t step = 1; step <= 5; ++step)
        EXPECT_EQ(s->OnReport(t, step, t % 2 ? kNaN : 100.0 - t), kContinue) << name;
      EXPECT_EQ(Next(*s), kNewTrial) << name;
    }
  }
}

// s=1 skips the first rung: r=1, R=9, eta=3 → rungs at 3 only (r * eta^1); s=2 → none.
TEST(AshaStoppingTest, MinEarlyStoppingRate) {
  auto s = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 9, 3, /*s=*/1));
  EXPECT_EQ(s->OnReport(0, 1, 0.9), kContinue);  // 1 is no longer a rung
  EXPECT_EQ(s->OnReport(1, 1, 0.1), kContinue);
  EXPECT_EQ(s->OnReport(0, 3, 0.9), kContinue);  // rung 3: [.9] → continue
  EXPECT_EQ(s->OnReport(1, 3, 0.1), kStop);      // [.9 .1] top 1, rank 1 → stop

  auto p = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9, 3, /*s=*/1));
  EXPECT_EQ(p->OnReport(0, 1, 0.9), kContinue);
  EXPECT_EQ(p->OnReport(0, 3, 0.9), kPause);

  auto none = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 9, 3, /*s=*/2));
  EXPECT_EQ(none->OnReport(0, 1, 0.9), kContinue);
  EXPECT_EQ(none->OnReport(1, 3, 0.1), kContinue);
  EXPECT_EQ(none->OnReport(2, 3, 0.0), kContinue);
}

// When R is not r * eta^k, rungs follow the documented K = floor(log_eta(R / r)) - s:
// r=1, R=10, eta=3 → K = floor(2.096) = 2 → rungs 1 and 3 (not 9: that rung would leave a
// promoted trial only one epoch to train).
TEST(AshaStoppingTest, RungsForNonPowerBudget) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 10));
  EXPECT_EQ(s->OnReport(0, 1, 0.5), kPause);
  EXPECT_EQ(s->OnReport(0, 3, 0.5), kPause);
  EXPECT_EQ(s->OnReport(0, 9, 0.5), kContinue);
  // r=2, R=20, eta=3 → K = floor(log_3 10) = 2 → rungs 2 and 6 (18 < 20 is not a rung).
  auto t = MakeScheduler(RungOptions("asha", Direction::kMaximize, 2, 20));
  EXPECT_EQ(t->OnReport(0, 2, 0.5), kPause);
  EXPECT_EQ(t->OnReport(0, 6, 0.5), kPause);
  EXPECT_EQ(t->OnReport(0, 18, 0.5), kContinue);
}

TEST(AshaStoppingTest, InvalidOptionsThrow) {
  for (const char* name : {"asha", "asha_stopping"}) {
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 0, 9)),
                 std::invalid_argument);
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 3, 2)),
                 std::invalid_argument);
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 1, 9, /*eta=*/1)),
                 std::invalid_argument);
    EXPECT_THROW(MakeScheduler(RungOptions(name, Direction::kMinimize, 1, 9, 3, /*s=*/-1)),
                 std::invalid_argument);
  }
  try {
    MakeScheduler(RungOptions("hyperbnd", Direction::kMinimize, 1, 9));
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown scheduler 'hyperbnd' (known: asha, "
                                         "asha_stopping, fifo, hyperband, hyperband_stopping, "
                                         "median, percentile)"),
              std::string::npos)
        << e.what();
  }
  std::vector<std::string> known = KnownSchedulers();
  EXPECT_EQ(known, (std::vector<std::string>{"asha", "asha_stopping", "fifo", "hyperband",
                                             "hyperband_stopping", "median", "percentile"}));
}

TEST(FifoSchedulerTest, AlwaysContinues) {
  auto s = MakeScheduler(RungOptions("fifo", Direction::kMaximize, 1, 9));
  EXPECT_EQ(s->name(), "fifo");
  for (int64_t t = 0; t < 5; ++t) {
    for (int64_t step = 1; step <= 9; ++step)
      EXPECT_EQ(s->OnReport(t, step, t == 3 ? kNaN : -1.0 * t), kContinue);
    EXPECT_EQ(Next(*s), kNewTrial);
    s->OnFinished(t, TrialState::kComplete);
  }
}

// ---- promotion variant ----------------------------------------------------------------------

// r=1, R=9, eta=3, maximize. Trials 0..9 report at rung 1 (resource 1) and pause; NextJob
// promotes from the top floor(n/3) of the highest rung that has a promotable trial.
TEST(AshaPromotionTest, PromotionOrder) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  EXPECT_EQ(s->name(), "asha");
  EXPECT_EQ(Next(*s), kNewTrial);  // nothing recorded yet

  // Every report at a rung pauses; resources between rungs continue.
  EXPECT_EQ(s->OnReport(0, 1, 0.1), kPause);  // r1: [0(.1)] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(1, 1, 0.9), kPause);  // r1: [1(.9) 0] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(2, 1, 0.5), kPause);  // r1: [1 2 0] top 1 → 1
  EXPECT_EQ(Next(*s), 1);
  EXPECT_EQ(Next(*s), kNewTrial);  // 1 is never promoted twice from rung 1

  // Trial 1 resumes: 2 is not a rung, 3 is (rung 2).
  EXPECT_EQ(s->OnReport(1, 2, 0.92), kContinue);
  EXPECT_EQ(s->OnReport(1, 3, 0.95), kPause);  // r3: [1(.95)] top 0
  EXPECT_EQ(Next(*s), kNewTrial);

  EXPECT_EQ(s->OnReport(3, 1, 0.3), kPause);  // r1: [1 2 3 0] n=4 top 1 → 1 already promoted
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(4, 1, 0.8), kPause);  // r1: [1(.9) 4(.8) 2 3 0] n=5 top 1
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(5, 1, 0.2), kPause);  // n=6 top 2: [1 4] → 4
  EXPECT_EQ(Next(*s), 4);
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(4, 3, 0.85), kPause);  // r3: [1(.95) 4(.85)] top 0
  EXPECT_EQ(Next(*s), kNewTrial);

  EXPECT_EQ(s->OnReport(6, 1, 0.7), kPause);  // n=7 top 2: [1 4]
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(7, 1, 0.4), kPause);  // n=8 top 2
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(8, 1, 0.6), kPause);  // n=9 top 3: [1 4 6(.7)] → 6
  EXPECT_EQ(Next(*s), 6);

  // Now both rungs get a candidate before the next NextJob:
  EXPECT_EQ(s->OnReport(6, 3, 0.75), kPause);  // r3: [1(.95) 4(.85) 6(.75)] top 1 → 1
  EXPECT_EQ(s->OnReport(9, 1, 0.99), kPause);  // r1: [9(.99) 1 4 6 8 ...] n=10 top 3 → 9
  // The highest rung goes first.
  EXPECT_EQ(Next(*s), 1);
  EXPECT_EQ(Next(*s), 9);
  EXPECT_EQ(Next(*s), kNewTrial);

  // Trial 1 trains to R = 9 and completes; 9 is not a rung.
  EXPECT_EQ(s->OnReport(1, 9, 0.97), kContinue);
  s->OnFinished(1, TrialState::kComplete);
  EXPECT_EQ(Next(*s), kNewTrial);
}

TEST(AshaPromotionTest, MinimizePromotesLowest) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMinimize, 1, 9));
  EXPECT_EQ(s->OnReport(0, 1, 0.1), kPause);
  EXPECT_EQ(s->OnReport(1, 1, 0.9), kPause);
  EXPECT_EQ(s->OnReport(2, 1, 0.5), kPause);  // [0(.1) 2(.5) 1(.9)] top 1 → 0
  EXPECT_EQ(Next(*s), 0);
  EXPECT_EQ(Next(*s), kNewTrial);
}

TEST(AshaPromotionTest, NaNRankedLastAndNeverPromoted) {
  // eta=2, r=1, R=4 → rungs 1, 2. Minimize.
  auto s = MakeScheduler(RungOptions("asha", Direction::kMinimize, 1, 4, /*eta=*/2));
  EXPECT_EQ(s->OnReport(0, 1, kNaN), kPause);
  EXPECT_EQ(s->OnReport(1, 1, kNaN), kPause);
  // [0(NaN) 1(NaN)] n=2 top 1: the best is NaN → nobody is promoted.
  EXPECT_EQ(Next(*s), kNewTrial);
  // A very bad loss still beats NaN: [2(1e9) 0 1] n=3 top 1 → 2.
  EXPECT_EQ(s->OnReport(2, 1, 1e9), kPause);
  EXPECT_EQ(Next(*s), 2);
  // n=4 top 2: [2 3(5) ...] → 3; then [2 3] both promoted, NaNs never.
  EXPECT_EQ(s->OnReport(3, 1, 5.0), kPause);
  EXPECT_EQ(Next(*s), 3);
  EXPECT_EQ(Next(*s), kNewTrial);
  // n=6 top 3: [4(1) 5(2) 2(1e9) 3 0 1] → 4, 5 (2 already promoted); the NaNs never.
  EXPECT_EQ(s->OnReport(4, 1, 1.0), kPause);
  EXPECT_EQ(s->OnReport(5, 1, 2.0), kPause);
  EXPECT_EQ(Next(*s), 4);
  EXPECT_EQ(Next(*s), 5);
  EXPECT_EQ(Next(*s), kNewTrial);
  // Flood the rung with NaNs: n=12 top 6 includes both NaN trials 0 and 1 → still never.
  for (int64_t t = 10; t < 16; ++t) EXPECT_EQ(s->OnReport(t, 1, kNaN), kPause);
  EXPECT_EQ(Next(*s), kNewTrial);
}

TEST(AshaPromotionTest, TiesPromoteEarlierReportFirst) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 4, /*eta=*/2));
  EXPECT_EQ(s->OnReport(7, 1, 0.5), kPause);
  EXPECT_EQ(s->OnReport(3, 1, 0.5), kPause);  // [7 3] top 1 → 7 (reported first)
  EXPECT_EQ(Next(*s), 7);
  EXPECT_EQ(s->OnReport(5, 1, 0.5), kPause);
  EXPECT_EQ(s->OnReport(1, 1, 0.5), kPause);  // [7 3 5 1] top 2 → 3
  EXPECT_EQ(Next(*s), 3);
  EXPECT_EQ(Next(*s), kNewTrial);
}

// eta=2, r=1, R=8 → rungs 1, 2, 4: a trial climbs three rungs before running to R.
TEST(AshaPromotionTest, EtaTwoClimbsAllRungs) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 8, /*eta=*/2));
  EXPECT_EQ(s->OnReport(0, 1, 0.9), kPause);
  EXPECT_EQ(s->OnReport(1, 1, 0.1), kPause);  // r1 [0 1] top 1 → 0
  EXPECT_EQ(Next(*s), 0);
  EXPECT_EQ(s->OnReport(0, 2, 0.9), kPause);  // r2 [0] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(2, 1, 0.5), kPause);  // r1 [0 2 1] top 1 → 0 done
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(3, 1, 0.6), kPause);  // r1 [0 3 2 1] top 2 → 3
  EXPECT_EQ(Next(*s), 3);
  EXPECT_EQ(s->OnReport(3, 2, 0.7), kPause);  // r2 [0(.9) 3(.7)] top 1 → 0
  EXPECT_EQ(Next(*s), 0);
  EXPECT_EQ(s->OnReport(0, 3, 0.9), kContinue);
  EXPECT_EQ(s->OnReport(0, 4, 0.95), kPause);  // r4 [0] top 0
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(4, 1, 0.0), kPause);  // r1 n=5 top 2: [0 3] done
  EXPECT_EQ(Next(*s), kNewTrial);
}

// Paused trials that finish another way (pruned at the end of a study, failed) are skipped.
TEST(AshaPromotionTest, FinishedTrialsAreNotPromoted) {
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  EXPECT_EQ(s->OnReport(0, 1, 0.9), kPause);
  EXPECT_EQ(s->OnReport(1, 1, 0.5), kPause);
  s->OnFinished(0, TrialState::kFailed);
  EXPECT_EQ(s->OnReport(2, 1, 0.1), kPause);  // [0 1 2] top 1: 0 is not paused any more
  EXPECT_EQ(Next(*s), kNewTrial);
}

// ---- against the scan-based reference ---------------------------------------------------------

// The first implementation of ASHA (std::set per rung, rank by std::distance, NextJob scanning
// the top of each rung): O(n) per decision, kept here as the reference for the O(log n) one.
class ScanAsha {
 public:
  ScanAsha(const SchedulerOptions& o, bool promote) : o_(o), promote_(promote) {
    int64_t resource = o.min_resource;
    for (int64_t i = 0; i < o.min_early_stopping_rate && resource < o.max_resource; ++i)
      resource *= o.reduction_factor;
    while (resource <= o.max_resource / o.reduction_factor) {
      rungs_.push_back(resource);
      resource *= o.reduction_factor;
    }
    recorded_.resize(rungs_.size());
    promoted_.resize(rungs_.size());
  }
  Decision OnReport(int64_t id, int64_t resource, double value) {
    auto r = std::find(rungs_.begin(), rungs_.end(), resource);
    if (r == rungs_.end()) return kContinue;
    size_t k = static_cast<size_t>(r - rungs_.begin());
    double score = std::isnan(value) ? -std::numeric_limits<double>::infinity()
                                     : (o_.direction == Direction::kMaximize ? value : -value);
    auto it = recorded_[k].insert({score, order_++, id}).first;
    size_t rank = static_cast<size_t>(std::distance(recorded_[k].begin(), it));
    if (promote_) {
      paused_.insert(id);
      return kPause;
    }
    size_t top =
        std::max<size_t>(1, recorded_[k].size() / static_cast<size_t>(o_.reduction_factor));
    return rank < top && !std::isnan(value) ? kContinue : kStop;
  }
  std::optional<int64_t> NextJob() {
    if (!promote_) return std::nullopt;
    for (size_t k = rungs_.size(); k-- > 0;) {
      size_t top = recorded_[k].size() / static_cast<size_t>(o_.reduction_factor), i = 0;
      for (auto it = recorded_[k].begin(); it != recorded_[k].end() && i < top; ++it, ++i) {
        if (std::get<0>(*it) == -std::numeric_limits<double>::infinity()) break;
        int64_t id = std::get<2>(*it);
        if (promoted_[k].count(id) || !paused_.count(id)) continue;
        promoted_[k].insert(id);
        paused_.erase(id);
        return id;
      }
    }
    return std::nullopt;
  }
  void OnFinished(int64_t id) { paused_.erase(id); }

 private:
  struct Better {
    bool operator()(const std::tuple<double, int64_t, int64_t>& a,
                    const std::tuple<double, int64_t, int64_t>& b) const {
      return std::get<0>(a) != std::get<0>(b) ? std::get<0>(a) > std::get<0>(b)
                                              : std::get<1>(a) < std::get<1>(b);
    }
  };
  SchedulerOptions o_;
  bool promote_;
  std::vector<int64_t> rungs_;
  std::vector<std::set<std::tuple<double, int64_t, int64_t>, Better>> recorded_;
  std::vector<std::set<int64_t>> promoted_;
  std::set<int64_t> paused_;
  int64_t order_ = 0;
};

// Random single-worker runs (values on `levels` distinct qualities, so ties when levels is small;
// NaN, failures, trials pruned while paused): every decision and every NextJob() of the
// scheduler equals the reference's. Counts the resumes and stops.
void CompareWithReference(uint64_t seed, int rounds, int jobs, uint64_t levels, int* resumes,
                          int* stops) {
  std::mt19937_64 rng(seed);
  for (int round = 0; round < rounds; ++round) {
    const bool promote = round % 2 == 0;
    const int64_t eta = 2 + static_cast<int64_t>(rng() % 3);
    const int64_t R = std::vector<int64_t>{8, 9, 27, 30, 64}[rng() % 5];
    const int64_t s = static_cast<int64_t>(rng() % 2);
    SchedulerOptions o =
        RungOptions(promote ? "asha" : "asha_stopping",
                    round % 4 < 2 ? Direction::kMaximize : Direction::kMinimize, 1, R, eta, s);
    auto sched = MakeScheduler(o);
    ScanAsha ref(o, promote);
    std::map<int64_t, int64_t> paused_at;  // paused trial → last epoch
    int64_t next_id = 0;
    for (int job = 0; job < jobs; ++job) {
      std::optional<int64_t> got = sched->NextJob().resume_trial;
      ASSERT_EQ(got, ref.NextJob()) << "round " << round << " job " << job;
      int64_t id, epoch = 1;
      if (got) {
        id = *got;
        epoch = paused_at.at(id) + 1;
        paused_at.erase(id);
        ++*resumes;
      } else {
        id = next_id++;
      }
      const double q = static_cast<double>(rng() % levels) / static_cast<double>(levels);
      const bool diverges = rng() % 15 == 0;
      bool running = true;
      for (; epoch <= R && running; ++epoch) {
        double v = diverges ? std::numeric_limits<double>::quiet_NaN()
                            : q * (1 - std::exp(-0.3 * static_cast<double>(epoch)));
        Decision d = sched->OnReport(id, epoch, v);
        ASSERT_EQ(d, ref.OnReport(id, epoch, v)) << "round " << round << " trial " << id;
        if (d == kPause) {
          paused_at[id] = epoch;
          running = false;
        } else if (d == kStop) {
          ++*stops;
          sched->OnFinished(id, TrialState::kPruned);
          ref.OnFinished(id);
          running = false;
        }
      }
      if (running) {
        sched->OnFinished(id, rng() % 9 == 0 ? TrialState::kFailed : TrialState::kComplete);
        ref.OnFinished(id);
      }
      // Now and then a paused trial is given up (pruned at the end of a study, or failed).
      if (!paused_at.empty() && rng() % 20 == 0) {
        auto it = std::next(paused_at.begin(), static_cast<long>(rng() % paused_at.size()));
        sched->OnFinished(it->first, TrialState::kPruned);
        ref.OnFinished(it->first);
        paused_at.erase(it);
      }
    }
  }
}

TEST(AshaReferenceTest, MatchesScanBasedReference) {
  int resumes = 0, stops = 0;
  CompareWithReference(/*seed=*/42, /*rounds=*/48, /*jobs=*/400, /*levels=*/20, &resumes, &stops);
  EXPECT_GT(resumes, 1000);
  EXPECT_GT(stops, 1000);
}

// Long runs (thousands of values per rung, so the rung heaps are several levels deep), with
// nearly distinct values and with heavy ties.
TEST(AshaReferenceTest, MatchesScanBasedReferenceOnLongRuns) {
  int resumes = 0, stops = 0;
  CompareWithReference(/*seed=*/7, /*rounds=*/4, /*jobs=*/4000, /*levels=*/1 << 20, &resumes,
                       &stops);
  CompareWithReference(/*seed=*/8, /*rounds=*/4, /*jobs=*/4000, /*levels=*/7, &resumes, &stops);
  EXPECT_GT(resumes, 2000);
  EXPECT_GT(stops, 2000);
}

// ---- Restore ----------------------------------------------------------------------------------

// A single-worker simulation of a study: each job either resumes a paused trial or starts a new
// one; trials train epoch by epoch and report a deterministic value. Its trial records are what
// storage would hold, so at any job boundary a fresh scheduler can be Restore()d from them.
class Simulation {
 public:
  Simulation(SchedulerOptions options, int total_jobs)
      : options_(std::move(options)), total_jobs_(total_jobs) {}

  // Runs all jobs; after `restart_after` jobs (if >= 0) the scheduler is replaced by a fresh one
  // restored from the trial records. Returns the log of every NextJob result and decision.
  std::vector<std::string> Run(int restart_after) {
    auto sched = MakeScheduler(options_);
    sched->Restore({});
    trials_.clear();
    std::vector<std::string> log;
    for (int job = 0; job < total_jobs_; ++job) {
      if (job == restart_after) {
        sched = MakeScheduler(options_);
        sched->Restore(trials_);
      }
      std::optional<int64_t> resume = sched->NextJob().resume_trial;
      FrozenTrial* t;
      if (resume) {
        t = &trials_.at(static_cast<size_t>(*resume - kIdBase));
        EXPECT_EQ(t->state, TrialState::kPaused);
        log.push_back("resume " + std::to_string(t->id));
      } else {
        trials_.emplace_back();
        t = &trials_.back();
        t->number = static_cast<int64_t>(trials_.size()) - 1;
        t->id = kIdBase + t->number;
        log.push_back("new " + std::to_string(t->id));
      }
      t->state = TrialState::kRunning;
      int64_t epoch = t->intermediate.empty() ? 1 : t->intermediate.rbegin()->first + 1;
      for (; epoch <= options_.max_resource; ++epoch) {
        double v = Curve(t->number, epoch);
        t->intermediate[epoch] = v;
        Decision d = sched->OnReport(t->id, epoch, v);
        log.push_back(std::to_string(t->id) + "@" + std::to_string(epoch) + " " + ToString(d));
        if (d == Decision::kPause) {
          t->state = TrialState::kPaused;
          break;
        }
        if (d == Decision::kStop) {
          t->state = TrialState::kPruned;
          sched->OnFinished(t->id, t->state);
          break;
        }
      }
      if (t->state == TrialState::kRunning) {
        // Every 7th trial crashes at the end instead of completing.
        t->state = t->number % 7 == 6 ? TrialState::kFailed : TrialState::kComplete;
        if (t->state == TrialState::kComplete) t->value = t->intermediate.rbegin()->second;
        sched->OnFinished(t->id, t->state);
      }
    }
    return log;
  }

 private:
  static constexpr int64_t kIdBase = 100;
  // A learning curve: quality q in (0, 1) per trial (distinct), rising with the epoch; every
  // 11th trial diverges (NaN).
  double Curve(int64_t number, int64_t epoch) const {
    if (number % 11 == 10) return std::numeric_limits<double>::quiet_NaN();
    double q = std::fmod(number * 0.618033988749895, 1.0);
    double acc = q * (1 - std::exp(-0.4 * static_cast<double>(epoch)));
    return options_.direction == Direction::kMaximize ? acc : 1 - acc;
  }

  SchedulerOptions options_;
  int total_jobs_;
  std::vector<FrozenTrial> trials_;
};

// Restoring at any job boundary gives the same decisions as never stopping.
TEST(AshaRestoreTest, SplitAndRestoredEqualsUninterrupted) {
  for (const char* name : {"asha", "asha_stopping"}) {
    for (Direction dir : {Direction::kMaximize, Direction::kMinimize}) {
      for (int64_t eta : {2, 3}) {
        Simulation sim(RungOptions(name, dir, 1, 9, eta), /*total_jobs=*/60);
        std::vector<std::string> full = sim.Run(/*restart_after=*/-1);
        // The simulation exercised the scheduler: pauses or stops and resumes happened.
        int resumes = 0, stops = 0;
        for (const auto& e : full) {
          resumes += e.rfind("resume", 0) == 0;
          stops += e.find(" stop") != std::string::npos;
        }
        if (std::string(name) == "asha") {
          EXPECT_GT(resumes, 5) << name;
        } else {
          EXPECT_GT(stops, 5) << name;
        }
        for (int split = 1; split < 60; ++split) {
          std::vector<std::string> restored = sim.Run(split);
          ASSERT_EQ(restored, full)
              << name << " " << ToString(dir) << " eta=" << eta << " restored after job " << split;
        }
      }
    }
  }
}

// Restore from hand-made records: a paused trial in the top third is promotable; one that went
// past the rung (resumed, running again) or was pruned is not.
TEST(AshaRestoreTest, RestoreFromRecords) {
  auto make = [](int64_t id, TrialState state, std::map<int64_t, double> inter) {
    FrozenTrial t;
    t.id = id;
    t.number = id;
    t.state = state;
    t.intermediate = std::move(inter);
    return t;
  };
  // r=1, R=9, eta=3, maximize; rung 1 holds six values → top 2 = trials 0 (.9) and 1 (.8).
  std::vector<FrozenTrial> records = {
      make(0, TrialState::kRunning, {{1, 0.9}}),             // promoted, running again
      make(1, TrialState::kPaused, {{1, 0.8}}),              // promotable
      make(2, TrialState::kPaused, {{1, 0.7}}),              // not in the top 2
      make(3, TrialState::kPruned, {{1, 0.1}}),              // pruned at the end
      make(4, TrialState::kComplete, {{1, 0.2}, {2, 0.3}}),  // went on (earlier promotion)
      make(5, TrialState::kFailed, {{1, 0.3}}),
  };
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  s->Restore(records);
  EXPECT_EQ(Next(*s), 1);
  EXPECT_EQ(Next(*s), kNewTrial);
  // A seventh report keeps top 2; the ninth makes top 3 = [0 1 2] → 2.
  EXPECT_EQ(s->OnReport(6, 1, 0.0), kPause);
  EXPECT_EQ(Next(*s), kNewTrial);
  EXPECT_EQ(s->OnReport(7, 1, 0.0), kPause);
  EXPECT_EQ(s->OnReport(8, 1, 0.0), kPause);
  EXPECT_EQ(Next(*s), 2);

  // The stopping variant only needs the recorded values: [.9 .8 .7 .3 .2 .1] + .75 → n=7,
  // top 2, rank 2 → stop; .85 → rank 1 of 8, top 2 → continue.
  auto st = MakeScheduler(RungOptions("asha_stopping", Direction::kMaximize, 1, 9));
  st->Restore(records);
  EXPECT_EQ(st->OnReport(6, 1, 0.75), kStop);
  EXPECT_EQ(st->OnReport(7, 1, 0.85), kContinue);
}

// A trial suspended by a stopping process (Study::Suspend) right after its promotion is stored
// paused with its last report at the rung it was promoted from; the study resumes it by itself,
// so after Restore it must not wait for promotion there again. Likewise a waiting trial that
// reports is running, and is not handed out.
TEST(AshaRestoreTest, SuspendedTrialsDoNotWait) {
  auto make = [](int64_t id, std::map<int64_t, double> inter, bool suspended) {
    FrozenTrial t;
    t.id = id;
    t.number = id;
    t.state = TrialState::kPaused;
    t.intermediate = std::move(inter);
    if (suspended) t.user_attrs[kSuspendedAttr] = "1";
    return t;
  };
  // r=1, R=9, eta=3, maximize; rung 1 [0(.9) 1(.5) 2(.4)] top 1 → 0, but 0 is suspended.
  auto s = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  s->Restore({make(0, {{1, 0.9}}, true), make(1, {{1, 0.5}}, false), make(2, {{1, 0.4}}, false)});
  EXPECT_EQ(Next(*s), kNewTrial);
  // Once resumed from suspension ("0") it is an ordinary paused trial again.
  auto t = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  FrozenTrial resumed = make(0, {{1, 0.9}}, false);
  resumed.user_attrs[kSuspendedAttr] = "0";
  t->Restore({resumed, make(1, {{1, 0.5}}, false), make(2, {{1, 0.4}}, false)});
  EXPECT_EQ(Next(*t), 0);

  // Trial 5 pauses at rung 1 in the top, then reports again without being handed out.
  auto u = MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, 9));
  EXPECT_EQ(u->OnReport(5, 1, 0.9), kPause);
  EXPECT_EQ(u->OnReport(6, 1, 0.5), kPause);
  EXPECT_EQ(u->OnReport(7, 1, 0.4), kPause);  // [5 6 7] top 1 → 5 would be next
  EXPECT_EQ(u->OnReport(5, 2, 0.91), kContinue);
  EXPECT_EQ(Next(*u), kNewTrial);
}

// ---- concurrency through Study --------------------------------------------------------------

// Many workers share one promotion-ASHA study: no paused trial is handed out twice, and no
// trial is run by two workers at once. Report() pauses a trial atomically, so another worker's
// Ask() may resume it as soon as Report returns.
TEST(AshaStudyConcurrencyTest, ConcurrentAskNeverResumesATrialTwice) {
  constexpr int kThreads = 8;
  constexpr int kTrials = 120;
  constexpr int64_t kMaxEpochs = 9;
  SearchSpace space;
  space.Add({"q", Distribution::Float(0.0, 1.0), std::nullopt});
  StudyDefinition def;
  def.name = "concurrent";
  def.direction = Direction::kMaximize;
  def.metric = "acc";
  StudyOptions options;
  options.n_trials = kTrials;
  Study study(def, space, MakeInMemoryStorage(), MakeSampler({"random", 1}),
              MakeScheduler(RungOptions("asha", Direction::kMaximize, 1, kMaxEpochs)), options);

  std::mutex mu;
  std::set<int64_t> active;                          // trials some worker is training now
  std::set<std::pair<int64_t, int64_t>> resumed_at;  // (trial, epoch it had paused at)
  std::atomic<int> duplicates{0}, overlaps{0}, resumes{0}, errors{0};
  // Claims `id` for this worker; false when another worker holds it.
  auto claim = [&](int64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    return active.insert(id).second;
  };
  auto release = [&](int64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    active.erase(id);
  };

  auto worker = [&] {
    try {
      while (true) {
        std::optional<Trial> t = study.Ask();
        if (!t) {
          if (!study.HasPendingWork()) break;
          std::this_thread::yield();
          continue;
        }
        if (!claim(t->id())) ++overlaps;
        int64_t start = 1;
        if (t->resumed()) {
          ++resumes;
          int64_t last = 0;
          for (const auto& rec : study.Trials())
            if (rec.id == t->id()) last = rec.intermediate.rbegin()->first;
          std::lock_guard<std::mutex> lock(mu);
          if (!resumed_at.insert({t->id(), last}).second) ++duplicates;
          start = last + 1;
        }
        double q = std::get<double>(*t->Get("q"));
        bool paused = false;
        for (int64_t epoch = start; epoch <= kMaxEpochs; ++epoch) {
          // The trial may be promoted to another worker the moment Report pauses it.
          release(t->id());
          Decision d = study.Report(*t, epoch, q * epoch / kMaxEpochs);
          if (d == Decision::kPause) {
            paused = true;
            break;
          }
          ASSERT_EQ(d, Decision::kContinue);
          if (!claim(t->id())) ++overlaps;
        }
        if (paused) continue;  // Report stored the pause; nothing else to do
        release(t->id());
        study.Tell(*t, q);
      }
    } catch (const std::exception& e) {
      ++errors;
      ADD_FAILURE() << "worker: " << e.what();
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker);
  for (auto& th : threads) th.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(duplicates.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(resumes.load(), 40);
  EXPECT_FALSE(study.HasPendingWork());

  int left_paused = study.PruneUnpromoted();
  std::vector<FrozenTrial> trials = study.Trials();
  ASSERT_EQ(trials.size(), static_cast<size_t>(kTrials));
  int complete = 0, pruned = 0, reached_rung3 = 0;
  for (const auto& t : trials) {
    EXPECT_TRUE(IsFinished(t.state)) << t.number << " " << ToString(t.state);
    complete += t.state == TrialState::kComplete;
    pruned += t.state == TrialState::kPruned;
    reached_rung3 += static_cast<int>(t.intermediate.count(3));
    // Contiguous epochs: a completed trial trained all 9; a pruned one stopped at a rung.
    EXPECT_EQ(t.intermediate.rbegin()->first, static_cast<int64_t>(t.intermediate.size()));
    if (t.state == TrialState::kComplete) {
      EXPECT_EQ(t.intermediate.size(), 9u) << t.number;
    } else {
      EXPECT_TRUE(t.intermediate.size() == 1 || t.intermediate.size() == 3) << t.number;
    }
  }
  EXPECT_EQ(pruned, left_paused);
  EXPECT_EQ(complete + pruned, kTrials);
  // Once all 120 trials have reported at rung 1, each of its final top 40 gets promoted (earlier
  // promotions may add more), so at least 40 reach rung 3; likewise at least a third of those
  // complete. Promotions need paused trials, so the last to reach rung 3 do not all go on.
  EXPECT_GE(reached_rung3, kTrials / 3);
  EXPECT_GE(complete, reached_rung3 / 3);
  EXPECT_LT(complete, reached_rung3);
}

}  // namespace
}  // namespace hpo
