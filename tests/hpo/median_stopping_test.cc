// Tests for hpo/src/schedulers/median.cc ("median" and "percentile", through MakeScheduler).
//
// Notation: P(t) = the threshold at step t: numpy.nanpercentile of the completed trials' values
// at t with p = percentile (minimize) or 100 - percentile (maximize), method "linear": with the
// n sorted values v[0..n-1], index i = (n - 1) * p / 100, P = v[floor i] + (i - floor i) *
// (v[floor i + 1] - v[floor i]). A trial stops when its best value so far is worse than P.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/scheduler.h"
#include "scheduler_test_util.h"

namespace hpo {

namespace {

using namespace ::hpo::testing;

SchedulerOptions Options(const std::string& name, Direction direction, int64_t n_startup_trials,
                         double percentile = 50) {
  SchedulerOptions o;
  o.name = name;
  o.direction = direction;
  o.n_startup_trials = n_startup_trials;
  o.percentile = percentile;
  return o;
}

// Reports `values` (step → value) for `id` and completes it; every decision must be continue.
void Complete(Scheduler& s, int64_t id, const std::map<int64_t, double>& values) {
  for (const auto& [step, v] : values)
    EXPECT_EQ(s.OnReport(id, step, v), kContinue) << "completing trial " << id << " @" << step;
  s.OnFinished(id, TrialState::kComplete);
}

TEST(MedianStoppingTest, NamesAndNoResume) {
  auto m = MakeScheduler(Options("median", Direction::kMinimize, 5));
  EXPECT_EQ(m->name(), "median");
  EXPECT_FALSE(m->NextJob().resume_trial);
  auto p = MakeScheduler(Options("percentile", Direction::kMinimize, 5, 25));
  EXPECT_EQ(p->name(), "percentile");
  EXPECT_FALSE(p->NextJob().resume_trial);
}

// Minimize with values v, maximize with -v: the same decisions (the median is symmetric).
TEST(MedianStoppingTest, DecisionSequence) {
  for (Direction dir : {Direction::kMinimize, Direction::kMaximize}) {
    const double sign = dir == Direction::kMinimize ? 1 : -1;
    auto s = MakeScheduler(Options("median", dir, /*n_startup_trials=*/2));
    // t0 completes (nothing is pruned before 2 trials completed).
    Complete(*s, 0, {{1, sign * 1.0}, {2, sign * 0.8}, {3, sign * 0.6}});
    // t1: one completed trial < 2 → continue, however bad; then it completes.
    Complete(*s, 1, {{1, sign * 2.0}, {2, sign * 1.0}, {3, sign * 0.9}});
    // Completed values: step 1 [1.0 2.0], step 2 [0.8 1.0], step 3 [0.6 0.9].
    // P(1) = 1.0 + 0.5 * 1.0 = 1.5; P(2) = 0.8 + 0.5 * 0.2 = 0.9; P(3) = 0.6 + 0.5 * 0.3 = 0.75.
    // t2 @1 1.4: best 1.4 <= 1.5 → continue; @2 0.95: best 0.95 > 0.9 → stop.
    EXPECT_EQ(s->OnReport(2, 1, sign * 1.4), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(2, 2, sign * 0.95), kStop) << ToString(dir);
    s->OnFinished(2, TrialState::kPruned);
    // t3 @1 1.5 = P(1): a tie is not worse → continue; @2 1.2: best 1.2 > 0.9 → stop.
    EXPECT_EQ(s->OnReport(3, 1, sign * 1.5), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(3, 2, sign * 1.2), kStop) << ToString(dir);
    s->OnFinished(3, TrialState::kPruned);
    // t4 @1 0.5 → continue; @2 0.95: the best so far is 0.5 <= 0.9 → continue; @3 0.99: best
    // 0.5 <= 0.75 → continue. It completes: step 1 [0.5 1 2], step 2 [0.8 0.95 1], step 3
    // [0.6 0.9 0.99] (the pruned t2, t3 do not count).
    EXPECT_EQ(s->OnReport(4, 1, sign * 0.5), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(4, 2, sign * 0.95), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(4, 3, sign * 0.99), kContinue) << ToString(dir);
    s->OnFinished(4, TrialState::kComplete);
    // t5 @1 1.0: P(1) = v[1] = 1.0 (index 1, no interpolation) → tie → continue;
    // @2 0.96: best 0.96 > P(2) = 0.95 → stop.
    EXPECT_EQ(s->OnReport(5, 1, sign * 1.0), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(5, 2, sign * 0.96), kStop) << ToString(dir);
    // A step no completed trial reported has no threshold → continue.
    EXPECT_EQ(s->OnReport(6, 4, sign * 100.0), kContinue) << ToString(dir);
  }
}

// Four completed trials with values 1, 2, 3, 4 at step 1.
//   minimize, percentile 25: i = 3 * 0.25 = 0.75 → P = 1 + 0.75 * (2 - 1) = 1.75.
//   maximize, percentile 25: p = 75, i = 2.25 → P = 3 + 0.25 * (4 - 3) = 3.25; stop if below.
//   minimize, percentile 0: P = 1; percentile 100: P = 4.
//   maximize, percentile 0: p = 100 → P = 4 (only the best survives); 100: P = 1.
TEST(PercentileTest, LinearInterpolation) {
  struct Case {
    Direction dir;
    double percentile;
    double keep, stop;  // a first report that continues / one that stops
  };
  const std::vector<Case> cases = {
      {Direction::kMinimize, 25, 1.75, 1.7501}, {Direction::kMaximize, 25, 3.25, 3.2499},
      {Direction::kMinimize, 0, 1.0, 1.0001},   {Direction::kMinimize, 100, 4.0, 4.0001},
      {Direction::kMaximize, 0, 4.0, 3.9999},   {Direction::kMaximize, 100, 1.0, 0.9999},
      {Direction::kMinimize, 50, 2.5, 2.5001},  {Direction::kMaximize, 50, 2.5, 2.4999},
      {Direction::kMinimize, 10, 1.3, 1.3001},  // i = 0.3: 1 + 0.3
      {Direction::kMaximize, 10, 3.7, 3.6999},  // p = 90, i = 2.7: 3 + 0.7
  };
  for (const Case& c : cases) {
    auto s = MakeScheduler(Options("percentile", c.dir, /*n_startup_trials=*/4, c.percentile));
    for (int64_t id = 0; id < 4; ++id) Complete(*s, id, {{1, 1.0 + static_cast<double>(id)}});
    EXPECT_EQ(s->OnReport(10, 1, c.keep), kContinue)
        << ToString(c.dir) << " p=" << c.percentile << " value " << c.keep;
    EXPECT_EQ(s->OnReport(11, 1, c.stop), kStop)
        << ToString(c.dir) << " p=" << c.percentile << " value " << c.stop;
  }
}

// Only completed trials count toward n_startup_trials; with none completed nothing stops, even
// with n_startup_trials = 0 (as Optuna).
TEST(MedianStoppingTest, StartupCountsCompletedTrialsOnly) {
  auto s = MakeScheduler(Options("median", Direction::kMinimize, /*n_startup_trials=*/2));
  Complete(*s, 0, {{1, 1.0}});
  EXPECT_EQ(s->OnReport(1, 1, 50.0), kContinue);  // 1 completed < 2
  s->OnFinished(1, TrialState::kPruned);
  EXPECT_EQ(s->OnReport(2, 1, 60.0), kContinue);  // still 1 completed
  s->OnFinished(2, TrialState::kFailed);
  EXPECT_EQ(s->OnReport(3, 1, 70.0), kContinue);
  Complete(*s, 4, {{1, 2.0}});  // 2 completed: P(1) = 1.5
  EXPECT_EQ(s->OnReport(5, 1, 70.0), kStop);
  EXPECT_EQ(s->OnReport(6, 1, 1.5), kContinue);

  auto zero = MakeScheduler(Options("median", Direction::kMinimize, /*n_startup_trials=*/0));
  EXPECT_EQ(zero->OnReport(0, 1, kNaN), kContinue);  // no completed trial at all
  zero->OnFinished(0, TrialState::kPruned);
  Complete(*zero, 1, {{1, 1.0}});
  EXPECT_EQ(zero->OnReport(2, 1, 1.1), kStop);
}

// n_warmup_steps = 3: steps below 3 are never checked; step 3 is.
TEST(MedianStoppingTest, WarmupSteps) {
  SchedulerOptions o = Options("median", Direction::kMinimize, 1);
  o.n_warmup_steps = 3;
  auto s = MakeScheduler(o);
  Complete(*s, 0, {{1, 1.0}, {2, 1.0}, {3, 1.0}, {4, 1.0}});
  EXPECT_EQ(s->OnReport(1, 1, 9.0), kContinue);
  EXPECT_EQ(s->OnReport(1, 2, 9.0), kContinue);
  EXPECT_EQ(s->OnReport(1, 3, 9.0), kStop);  // P(3) = 1
}

// n_warmup_steps = 2, interval_steps = 3: pruning steps are 2, 5, 8, ...; a report is checked
// when it is the trial's first at or after a pruning step (previous step < that pruning step).
// Completed t0 has value 10 - t at step t: P(t) = 10 - t.
TEST(MedianStoppingTest, IntervalStepsCheckTheFirstReportOfEachInterval) {
  SchedulerOptions o = Options("median", Direction::kMinimize, 1);
  o.n_warmup_steps = 2;
  o.interval_steps = 3;
  auto s = MakeScheduler(o);
  std::map<int64_t, double> t0;
  for (int64_t t = 1; t <= 10; ++t) t0[t] = 10.0 - static_cast<double>(t);
  Complete(*s, 0, t0);
  // t1: @1 9 is in the warmup; @2 7.5: pruning step 2, previous 1 < 2 → check: 7.5 <= P(2) = 8;
  // @3 6.8 and @4 6.5: pruning step (t - 2) / 3 * 3 + 2 = 2, previous >= 2 → not checked,
  // although 6.5 > P(4) = 6; @5 6.2: pruning step 5, previous 4 < 5 → check: 6.2 > 5 → stop.
  EXPECT_EQ(s->OnReport(1, 1, 9.0), kContinue);
  EXPECT_EQ(s->OnReport(1, 2, 7.5), kContinue);
  EXPECT_EQ(s->OnReport(1, 3, 6.8), kContinue);
  EXPECT_EQ(s->OnReport(1, 4, 6.5), kContinue);
  EXPECT_EQ(s->OnReport(1, 5, 6.2), kStop);
  // t2 skips step 5: @2 7.9 → checked, continue; @7 5.0: pruning step 5, previous 2 < 5 → the
  // postponed check happens: 5.0 > P(7) = 3 → stop.
  EXPECT_EQ(s->OnReport(2, 2, 7.9), kContinue);
  EXPECT_EQ(s->OnReport(2, 7, 5.0), kStop);
  // t3: @2 7.9 → continue; @4 7.0: pruning step 2, previous 2 → not checked → continue.
  EXPECT_EQ(s->OnReport(3, 2, 7.9), kContinue);
  EXPECT_EQ(s->OnReport(3, 4, 7.0), kContinue);
}

// NaN: a trial whose every value is NaN stops (once past startup, warmup and interval); NaN
// values are skipped in its best so far; completed NaN values are left out of P but count
// toward n_min_trials; a step where every completed value is NaN has no threshold.
TEST(MedianStoppingTest, NaN) {
  for (Direction dir : {Direction::kMinimize, Direction::kMaximize}) {
    const double sign = dir == Direction::kMinimize ? 1 : -1;
    SchedulerOptions o = Options("median", dir, /*n_startup_trials=*/3);
    o.n_min_trials = 3;
    auto s = MakeScheduler(o);
    EXPECT_EQ(s->OnReport(0, 1, kNaN), kContinue);  // startup: not even NaN stops
    Complete(*s, 0, {{1, kNaN}, {2, kNaN}});
    Complete(*s, 1, {{1, sign * 3.0}, {2, kNaN}});
    Complete(*s, 2, {{1, sign * 5.0}, {2, kNaN}});
    // Step 1: [NaN 3 5] → 3 values (>= n_min_trials), P over [3 5] = 4.
    EXPECT_EQ(s->OnReport(3, 1, sign * 4.0), kContinue) << ToString(dir);
    EXPECT_EQ(s->OnReport(4, 1, sign * 4.1), kStop) << ToString(dir);
    EXPECT_EQ(s->OnReport(5, 1, kNaN), kStop) << ToString(dir);
    // t3 @2 NaN: best so far 4.0 (NaN skipped); step 2 is all NaN → no threshold → continue.
    EXPECT_EQ(s->OnReport(3, 2, kNaN), kContinue) << ToString(dir);
    // A trial whose values are all NaN stops even where there is no threshold.
    EXPECT_EQ(s->OnReport(6, 2, kNaN), kStop) << ToString(dir);
    EXPECT_EQ(s->OnReport(7, 2, sign * 1e9), kContinue) << ToString(dir);
  }
}

// n_min_trials = 3: no threshold at a step fewer than 3 completed trials reported.
TEST(MedianStoppingTest, MinTrialsAtTheStep) {
  SchedulerOptions o = Options("median", Direction::kMaximize, 1);
  o.n_min_trials = 3;
  auto s = MakeScheduler(o);
  Complete(*s, 0, {{1, 0.5}, {2, 0.6}});
  Complete(*s, 1, {{1, 0.7}, {2, 0.8}});
  Complete(*s, 2, {{1, 0.9}});
  // Step 1: [.5 .7 .9] P = .7: .6 < .7 → stop, .7 → continue.
  EXPECT_EQ(s->OnReport(3, 1, 0.6), kStop);
  EXPECT_EQ(s->OnReport(4, 1, 0.7), kContinue);
  // Step 2: two values only → no threshold: a first report at step 2 of 0.0 continues.
  EXPECT_EQ(s->OnReport(5, 2, 0.0), kContinue);
}

// Completed trials contribute their raw value at step t, not their best up to t (as Optuna).
TEST(MedianStoppingTest, CompletedTrialsCountTheirValueAtTheStep) {
  auto s = MakeScheduler(Options("median", Direction::kMinimize, 1));
  Complete(*s, 0, {{1, 1.0}, {2, 5.0}});     // got worse: best up to 2 would be 1.0
  EXPECT_EQ(s->OnReport(1, 1, 2.0), kStop);  // P(1) = 1
  // First report at step 2: 3.0 <= P(2) = 5 (raw) → continue (best-so-far 1.0 would stop it).
  EXPECT_EQ(s->OnReport(2, 2, 3.0), kContinue);
  EXPECT_EQ(s->OnReport(3, 2, 5.5), kStop);
}

// A step reported again replaces its value (as the study's record does).
TEST(MedianStoppingTest, ReportedAgainReplacesTheValue) {
  auto s = MakeScheduler(Options("median", Direction::kMinimize, 1));
  Complete(*s, 0, {{1, 1.0}, {2, 1.0}});
  EXPECT_EQ(s->OnReport(1, 1, 0.5), kContinue);
  // Step 1 again with 3.0: best is now 3.0 > P(1) = 1 → stop.
  EXPECT_EQ(s->OnReport(1, 1, 3.0), kStop);
}

TEST(PercentileTest, InvalidOptionsThrow) {
  auto expect_throw = [](SchedulerOptions o, const std::string& needle) {
    try {
      MakeScheduler(o);
      ADD_FAILURE() << "expected std::invalid_argument for " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  for (double p : {-1.0, 100.5, kNaN})
    expect_throw(Options("percentile", Direction::kMinimize, 5, p), "percentile must be");
  expect_throw(Options("median", Direction::kMinimize, 5, 25), "use scheduler 'percentile'");
  expect_throw(Options("median", Direction::kMinimize, -1), "n_startup_trials");
  SchedulerOptions o = Options("percentile", Direction::kMinimize, 5, 10);
  o.n_warmup_steps = -1;
  expect_throw(o, "n_warmup_steps");
  o = Options("median", Direction::kMinimize, 5);
  o.interval_steps = 0;
  expect_throw(o, "interval_steps");
  o = Options("median", Direction::kMinimize, 5);
  o.n_min_trials = 0;
  expect_throw(o, "n_min_trials");
  // The boundaries are valid.
  EXPECT_NO_THROW(MakeScheduler(Options("percentile", Direction::kMinimize, 0, 0)));
  EXPECT_NO_THROW(MakeScheduler(Options("percentile", Direction::kMinimize, 0, 100)));
}

// ---- randomized comparison with a direct transcription of Optuna's PercentilePruner --------

// Optuna's algorithm over the full list of trials: O(all trials) per decision.
class ReferencePruner {
 public:
  explicit ReferencePruner(SchedulerOptions o) : o_(std::move(o)) {}
  bool Prune(const std::vector<FrozenTrial>& trials, const FrozenTrial& trial) const {
    std::vector<const FrozenTrial*> completed;
    for (const auto& t : trials)
      if (t.state == TrialState::kComplete) completed.push_back(&t);
    if (completed.empty() || static_cast<int64_t>(completed.size()) < o_.n_startup_trials)
      return false;
    if (trial.intermediate.empty()) return false;
    int64_t step = trial.intermediate.rbegin()->first;
    if (step < o_.n_warmup_steps) return false;
    int64_t nearest =
        (step - o_.n_warmup_steps) / o_.interval_steps * o_.interval_steps + o_.n_warmup_steps;
    int64_t second_last = -1;
    for (const auto& [s, _] : trial.intermediate)
      if (s > second_last && s != step) second_last = s;
    if (!(second_last < nearest)) return false;
    bool maximize = o_.direction == Direction::kMaximize;
    double best = kNaN;  // np.nanmax / np.nanmin
    for (const auto& [_, v] : trial.intermediate)
      if (!std::isnan(v) && (std::isnan(best) || (maximize ? v > best : v < best))) best = v;
    if (std::isnan(best)) return true;
    std::vector<double> values;
    size_t n_values = 0;
    for (const FrozenTrial* t : completed) {
      auto it = t->intermediate.find(step);
      if (it == t->intermediate.end()) continue;
      ++n_values;
      if (!std::isnan(it->second)) values.push_back(it->second);
    }
    if (static_cast<int64_t>(n_values) < o_.n_min_trials || values.empty()) return false;
    std::sort(values.begin(), values.end());
    double q = (maximize ? 100 - o_.percentile : o_.percentile) / 100;
    double index = (static_cast<double>(values.size()) - 1) * q;
    size_t lo = static_cast<size_t>(std::floor(index));
    size_t hi = std::min(lo + 1, values.size() - 1);
    double gamma = index - std::floor(index);
    double diff = values[hi] - values[lo];
    double p = gamma >= 0.5 ? values[hi] - diff * (1 - gamma) : values[lo] + diff * gamma;
    return maximize ? best < p : best > p;
  }

 private:
  SchedulerOptions o_;
};

// Many trials with random (sometimes NaN, sometimes tied, sometimes skipped) reports finishing
// in random states: every decision equals the reference's, and a scheduler restored from the
// records at random points decides the same from then on.
TEST(PercentileTest, MatchesOptunaTranscriptionOnRandomStudies) {
  std::mt19937_64 rng(20240607);
  int stops = 0, kept = 0, decisions = 0;
  for (int round = 0; round < 24; ++round) {
    SchedulerOptions o;
    o.name = round % 3 == 0 ? "median" : "percentile";
    o.direction = round % 2 ? Direction::kMaximize : Direction::kMinimize;
    const double percentiles[] = {0, 10, 25, 33.3, 50, 75, 90, 100};
    o.percentile = o.name == "median" ? 50 : percentiles[rng() % 8];
    o.n_startup_trials = static_cast<int64_t>(rng() % 6);
    o.n_warmup_steps = static_cast<int64_t>(rng() % 4);
    o.interval_steps = 1 + static_cast<int64_t>(rng() % 3);
    o.n_min_trials = 1 + static_cast<int64_t>(rng() % 4);
    auto live = MakeScheduler(o);
    std::unique_ptr<Scheduler> restored;
    ReferencePruner reference(o);
    std::vector<FrozenTrial> trials;
    std::uniform_real_distribution<double> u01(0, 1);
    for (int64_t id = 0; id < 150; ++id) {
      if (rng() % 25 == 0) {  // reopen: a fresh scheduler from the records so far
        restored = MakeScheduler(o);
        restored->Restore(trials);
      }
      trials.emplace_back();
      FrozenTrial& t = trials.back();
      t.id = id;
      t.number = id;
      t.state = TrialState::kRunning;
      double quality = u01(rng);
      bool stopped = false;
      for (int64_t step = 1; step <= 12; ++step) {
        if (rng() % 5 == 0) continue;  // a step not reported
        double v = std::round((quality + 0.3 / static_cast<double>(step)) * 20) / 20;  // ties
        if (rng() % 30 == 0) v = kNaN;
        t.intermediate[step] = v;
        bool expected = reference.Prune(trials, t);
        Decision d = live->OnReport(id, step, v);
        ASSERT_EQ(d, expected ? kStop : kContinue)
            << "round " << round << " trial " << id << " step " << step;
        if (restored) ASSERT_EQ(restored->OnReport(id, step, v), d);
        ++decisions;
        if (d == kStop) {
          stopped = true;
          break;
        }
      }
      t.state = stopped ? TrialState::kPruned
                        : (rng() % 8 == 0 ? TrialState::kFailed : TrialState::kComplete);
      stops += stopped;
      kept += !stopped;
      live->OnFinished(id, t.state);
      if (restored) restored->OnFinished(id, t.state);
    }
  }
  // The rounds exercised both outcomes plenty.
  EXPECT_GT(stops, 600);
  EXPECT_GT(kept, 600);
  EXPECT_GT(decisions, 10000);
}

}  // namespace
}  // namespace hpo
