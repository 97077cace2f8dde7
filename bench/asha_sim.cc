// Scheduler simulator: the real hpo::Study (in-memory storage, real samplers and schedulers)
// driven by N simulated workers in simulated time, on the synthetic learning curves of
// bench/asha_sim_curves.h (R = 27 epochs, eta = 3, rungs at 1, 3 and 9 epochs by default).
//
// Event loop: a priority queue holds each busy worker's next epoch completion (simulated
// seconds, ties broken by scheduling order). A free worker calls Study::Ask(): a new trial, or a
// paused one that the scheduler promotes (its epoch count is kept by the simulator, so it goes on
// where it paused; the noise is keyed by epoch, so the values are those an uninterrupted run
// would have seen). After every epoch the worker calls Report() and obeys: continue (the next
// epoch is queued), pause (the worker is free; the trial waits), stop (TellPruned); epoch R ends
// the trial with Tell(). After every event all free workers ask again; a worker whose Ask()
// returns nothing stays idle until the next event. Nothing runs in real time.
//
// Usage (bench/run_schedulers.sh runs them all):
//   bench_asha_sim --check       curve values at fixed points (as asha_sim_optuna.py --check)
//   bench_asha_sim --fstar       f*(R), the best noise-free final error of the family
//   bench_asha_sim --part describe [--configs 20000]
//       rank correlations of early and final values over random configurations
//   bench_asha_sim --part promotion [--seeds 3 --trials 1000 --workers 8]
//       per-rung promotion fractions and worker idleness, every scheduler x {random, tpe}
//   bench_asha_sim --part quality [--seeds 10 --budget 5400 --workers 8]
//       simulated time and epochs to a configuration within 1% of f*, and the final regret
//   bench_asha_sim --part scale [--trials 100000 --reps 3 --workers 8 --flat-ratio 0.8]
//       Ask + Report + Tell calls per wall-clock second at 1,000, 10,000 ... trials
//   bench_asha_sim --part one-worker [--seeds 10 --budget 2700] > ours.jsonl
//       JSON lines for the side-by-side with Optuna (asha_sim_optuna.py --table)
// Common options: --max-epochs 27 --eta 3. Markdown tables on stdout, progress on stderr.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <map>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "asha_sim_curves.h"
#include "asha_sim_oracle.h"
#include "bench_common.h"
#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/storage.h"
#include "hpo/study.h"

namespace asha_sim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- Command line -----------------------------------------------------------------------------

using hpo_bench::Args;  // "--key value" pairs, as every bench program reads them
using hpo_bench::Quantile;

// ---- Statistics and formatting ----------------------------------------------------------------

std::string Fmt(double x, int digits) {
  if (std::isinf(x)) return "not reached";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

// Integer with thousands separators.
std::string Count(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f", x);
  std::string s = buf, out;
  int n = 0;
  for (size_t i = s.size(); i-- > 0;) {
    out.insert(out.begin(), s[i]);
    if (++n % 3 == 0 && i > 0 && s[i - 1] != '-') out.insert(out.begin(), ',');
  }
  return out;
}

std::string MedianIqr(const std::vector<double>& v, int digits) {
  return Fmt(Quantile(v, 0.5), digits) + " [" + Fmt(Quantile(v, 0.25), digits) + ", " +
         Fmt(Quantile(v, 0.75), digits) + "]";
}

void Progress(const std::string& what) {
  std::fprintf(stderr, "asha_sim: %s\n", what.c_str());
  std::fflush(stderr);
}

// ---- The simulator ----------------------------------------------------------------------------

hpo::SearchSpace Space() {
  hpo::SearchSpace space;
  space.Add({"lr", hpo::Distribution::Float(1e-4, 1e-1, /*log=*/true), std::nullopt});
  space.Add({"width", hpo::Distribution::Int(16, 1024, /*log=*/true), std::nullopt});
  space.Add({"dropout", hpo::Distribution::Float(0.0, 0.6), std::nullopt});
  space.Add({"optimizer",
             hpo::Distribution::Categorical(
                 {std::string("sgd"), std::string("adam"), std::string("rmsprop")}),
             std::nullopt});
  return space;
}

Config ConfigOf(const hpo::Trial& t) {
  Config c;
  c.lr = std::get<double>(*t.Get("lr"));
  c.width = std::get<int64_t>(*t.Get("width"));
  c.dropout = std::get<double>(*t.Get("dropout"));
  const std::string& opt = std::get<std::string>(*t.Get("optimizer"));
  c.optimizer = opt == "sgd" ? 0 : opt == "adam" ? 1 : 2;
  return c;
}

struct SimOptions {
  std::string scheduler = "asha";
  std::string sampler = "random";
  uint64_t seed = 0;
  int workers = 8;
  int64_t n_trials = 0;      // new trials the study may start; 0 = unlimited
  int64_t epoch_budget = 0;  // epochs across all workers, then the run is cut; 0 = unlimited
  int64_t max_epochs = 27;   // R
  int64_t eta = 3;
  double fstar = 0;         // f*(R), for the target and the regret
  bool time_calls = false;  // measure the wall time of every Ask/Report/Tell call
  // Timing windows: calls made while the study held end - 999 .. end trials, for each end.
  std::vector<int64_t> window_ends;
};

struct SimResult {
  // Quality: the first trial trained to R whose noise-free final error is within 1% of f*.
  double seconds_to_target = kInf;
  double epochs_to_target = kInf;
  double regret = kInf;  // noise-free final error of the best-reported complete trial, minus f*
  double best_regret = kInf;  // the smallest noise-free final error of a complete trial, minus f*
  int64_t trials = 0;         // started
  int64_t complete = 0;       // trained to R
  int64_t epochs = 0;
  double makespan = 0;  // simulated seconds
  // Worker time (simulated worker-seconds).
  double busy = 0;
  double idle_job_available = 0;  // idle although a job was available (should be 0)
  double idle_no_job = 0;         // idle with nothing to do (end of the budget; promotion waits)
  int64_t promotions = 0;
  int64_t unsanctioned_promotions = 0;  // resumed trials the rule did not allow (should be 0)
  // Trials that trained to each level (rungs, then R), per bracket.
  std::vector<std::vector<int64_t>> level_resources;
  std::vector<std::vector<int64_t>> level_counts;
  // Decision cost: calls and wall seconds in all, and the duration of every call made in each
  // timing window (SimOptions::window_ends).
  int64_t calls = 0;
  double call_seconds = 0;
  std::vector<std::vector<double>> windows;
  // The same durations split by call: Ask, Report, Tell (or TellPruned).
  std::vector<std::array<std::vector<double>, 3>> windows_by_call;
  double wall_seconds = 0;
};

enum CallKind { kAskCall = 0, kReportCall = 1, kTellCall = 2 };
const char* const kCallNames[3] = {"Ask", "Report", "Tell / TellPruned"};

bool IsPromotionScheduler(const std::string& name) { return name == "asha" || name == "hyperband"; }

SimResult Simulate(const SimOptions& o) {
  if (o.n_trials <= 0 && o.epoch_budget <= 0)
    throw std::invalid_argument("a simulation needs a trial budget or an epoch budget");
  Clock::time_point wall_start = Clock::now();
  hpo::StudyDefinition def;
  def.name = "asha_sim";
  def.direction = hpo::Direction::kMinimize;
  def.metric = "val_error";
  hpo::SchedulerOptions sched;
  sched.name = o.scheduler;
  sched.direction = hpo::Direction::kMinimize;
  sched.min_resource = 1;
  sched.max_resource = o.max_epochs;
  sched.reduction_factor = o.eta;
  hpo::SamplerOptions samp;
  samp.name = o.sampler;
  samp.seed = o.seed;
  hpo::StudyOptions study_options;
  study_options.n_trials = o.n_trials;
  hpo::Study study(def, Space(), hpo::MakeInMemoryStorage(), hpo::MakeSampler(samp),
                   hpo::MakeScheduler(sched), study_options);

  const bool promotion = IsPromotionScheduler(o.scheduler);
  PromotionOracle oracle(1, o.max_epochs, o.eta, o.scheduler.rfind("hyperband", 0) == 0);
  SimResult res;
  res.windows.resize(o.window_ends.size());
  res.windows_by_call.resize(o.window_ends.size());
  int64_t created = 0;
  auto timed = [&](CallKind kind, auto&& call) {
    if (!o.time_calls) return call();
    int64_t held = created;  // trials in the study when the call starts
    Clock::time_point t0 = Clock::now();
    auto r = call();
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    ++res.calls;
    res.call_seconds += dt;
    for (size_t i = 0; i < o.window_ends.size(); ++i)
      if (o.window_ends[i] - 1000 < std::max<int64_t>(held, 1) && held <= o.window_ends[i]) {
        res.windows[i].push_back(dt);
        res.windows_by_call[i][kind].push_back(dt);
      }
    return r;
  };

  struct TrialSim {
    Config config;
    int64_t epochs = 0;  // trained so far (kept while paused)
  };
  std::unordered_map<int64_t, TrialSim> sims;
  std::vector<std::optional<hpo::Trial>> slots(static_cast<size_t>(o.workers));
  struct Event {
    double time;
    uint64_t seq;
    int worker;
    bool operator>(const Event& b) const { return time != b.time ? time > b.time : seq > b.seq; }
  };
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events;
  uint64_t seq = 0;
  double now = 0;
  int busy_workers = 0;
  bool cut = false;
  double best_reported = kInf;

  auto schedule = [&](int w) {
    events.push({now + EpochSeconds(sims.at(slots[w]->id()).config), seq++, w});
  };
  auto dispatch = [&] {
    for (int w = 0; w < o.workers; ++w) {
      if (slots[w]) continue;
      std::optional<hpo::Trial> t = timed(kAskCall, [&] { return study.Ask(); });
      if (!t) return;  // nothing to do now; Ask() changed nothing, so the others stay idle too
      if (t->resumed()) {
        ++res.promotions;
        if (!oracle.Leave(t->id())) ++res.unsanctioned_promotions;
      } else {
        ++created;
        ++res.trials;
        sims[t->id()] = TrialSim{ConfigOf(*t), 0};
      }
      slots[w] = std::move(t);
      ++busy_workers;
      schedule(w);
    }
  };
  auto job_available = [&] {
    return (o.n_trials <= 0 || created < o.n_trials) || (promotion && oracle.PromotionAvailable());
  };

  dispatch();
  bool idle_with_job = busy_workers < o.workers && job_available();
  while (!events.empty()) {
    Event e = events.top();
    events.pop();
    double dt = e.time - now;
    res.busy += busy_workers * dt;
    (idle_with_job ? res.idle_job_available : res.idle_no_job) += (o.workers - busy_workers) * dt;
    now = e.time;
    const hpo::Trial& trial = *slots[e.worker];
    int64_t id = trial.id();
    TrialSim& ts = sims.at(id);
    int64_t epoch = ++ts.epochs;
    ++res.epochs;
    double y = Observe(o.seed, ts.config, epoch);
    hpo::Decision d = timed(kReportCall, [&] { return study.Report(trial, epoch, y); });
    if (promotion) oracle.OnReport(id, epoch, y, d == hpo::Decision::kPause);
    bool free_worker = true;
    if (epoch == o.max_epochs) {
      timed(kTellCall, [&] {
        study.Tell(trial, y);
        return 0;
      });
      ++res.complete;
      double v = TrueValue(ts.config, o.max_epochs);
      if (std::isinf(res.seconds_to_target) && v <= 1.01 * o.fstar) {
        res.seconds_to_target = now;
        res.epochs_to_target = static_cast<double>(res.epochs);
      }
      res.best_regret = std::min(res.best_regret, v - o.fstar);
      if (y < best_reported) {
        best_reported = y;
        res.regret = v - o.fstar;
      }
      sims.erase(id);
    } else if (d == hpo::Decision::kContinue) {
      schedule(e.worker);
      free_worker = false;
    } else if (d == hpo::Decision::kStop) {
      timed(kTellCall, [&] {
        study.TellPruned(trial);
        return 0;
      });
      sims.erase(id);
    }  // kPause: the trial waits (its epochs stay in `sims`)
    if (free_worker) {
      slots[e.worker].reset();
      --busy_workers;
    }
    if (o.epoch_budget > 0 && res.epochs >= o.epoch_budget) {
      cut = true;
      break;
    }
    dispatch();
    idle_with_job = busy_workers < o.workers && job_available();
  }
  res.makespan = now;
  if (!cut && promotion) study.PruneUnpromoted();

  // Trials per level, per bracket.
  size_t nb = oracle.n_brackets();
  res.level_resources.resize(nb);
  res.level_counts.resize(nb);
  for (size_t b = 0; b < nb; ++b) {
    res.level_resources[b] = oracle.rungs(b);
    res.level_resources[b].push_back(o.max_epochs);
    res.level_counts[b].assign(res.level_resources[b].size(), 0);
  }
  for (const hpo::FrozenTrial& t : study.Trials()) {
    size_t b = oracle.BracketOf(t.id);
    for (size_t k = 0; k < res.level_resources[b].size(); ++k)
      if (t.intermediate.count(res.level_resources[b][k])) ++res.level_counts[b][k];
  }
  res.wall_seconds = std::chrono::duration<double>(Clock::now() - wall_start).count();
  return res;
}

// ---- Parts ------------------------------------------------------------------------------------

const std::vector<std::string> kSchedulers = {"asha", "asha_stopping", "hyperband",
                                              "hyperband_stopping"};

struct Common {
  int64_t max_epochs;
  int64_t eta;
  double fstar;
};

// The options every part sets alike: one simulated study of `scheduler` + `sampler`.
SimOptions Options(const Common& c, const std::string& scheduler, const std::string& sampler,
                   int64_t seed, int workers) {
  SimOptions o;
  o.scheduler = scheduler;
  o.sampler = sampler;
  o.seed = static_cast<uint64_t>(seed);
  o.workers = workers;
  o.max_epochs = c.max_epochs;
  o.eta = c.eta;
  o.fstar = c.fstar;
  return o;
}

std::string Label(const std::string& scheduler) {
  if (scheduler == "asha") return "asha (promotion)";
  if (scheduler == "hyperband") return "hyperband (promotion)";
  if (scheduler == "fifo") return "fifo (full budget)";
  return scheduler;
}

// Table 1: n_{k+1} / n_k per bracket, pooled over runs. Returns the fractions outside
// 1/eta +- tol among levels with n_k >= 30.
int PrintFractions(const std::vector<std::pair<std::string, std::vector<SimResult>>>& rows,
                   const Common& c, double tol, std::vector<std::string>* misses,
                   int* checked = nullptr, bool print = true) {
  if (print)
    std::printf(
        "| scheduler | sampler | bracket | levels (epochs) | trials reaching each level | "
        "n_{k+1} / n_k |\n|---|---|---|---|---|---|\n");
  int bad = 0;
  for (const auto& [name, runs] : rows) {
    const SimResult& first = runs.front();
    for (size_t b = 0; b < first.level_counts.size(); ++b) {
      std::vector<int64_t> counts(first.level_counts[b].size(), 0);
      for (const SimResult& r : runs)
        for (size_t k = 0; k < counts.size(); ++k) counts[k] += r.level_counts[b][k];
      std::string levels, ns, fractions;
      for (size_t k = 0; k < counts.size(); ++k) {
        if (k > 0) levels += ", ", ns += ", ";
        levels += std::to_string(first.level_resources[b][k]);
        ns += Count(static_cast<double>(counts[k]));
        if (k == 0) continue;
        double f = counts[k - 1] ? static_cast<double>(counts[k]) / counts[k - 1] : 0.0;
        bool off = counts[k - 1] >= 30 && std::fabs(f - 1.0 / c.eta) > tol;
        if (checked != nullptr && counts[k - 1] >= 30) ++*checked;
        if (k > 1) fractions += ", ";
        fractions += off ? "**" + Fmt(f, 3) + "**" : Fmt(f, 3);
        if (off) {
          ++bad;
          misses->push_back(name + " bracket " + std::to_string(b) + " " +
                            std::to_string(first.level_resources[b][k - 1]) + "→" +
                            std::to_string(first.level_resources[b][k]) + ": " + Fmt(f, 3));
        }
      }
      if (counts.size() == 1) fractions = "— (no rung: every trial trains to R)";
      std::string bracket = first.level_counts.size() == 1 ? "—" : std::to_string(b);
      if (print)
        std::printf("| %s | %s | %s | %s | %s |\n", name.c_str(), bracket.c_str(), levels.c_str(),
                    ns.c_str(), fractions.c_str());
    }
  }
  return bad;
}

// Table 2: worker time, summed over runs.
void PrintIdleness(const std::vector<std::pair<std::string, std::vector<SimResult>>>& rows) {
  std::printf(
      "| scheduler | sampler | runs | makespan (sim h, median) | busy worker-h | idle worker-h, "
      "job available | idle worker-h, no job | utilisation | promotions (not allowed by the "
      "rule) |\n|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& [name, runs] : rows) {
    std::vector<double> makespans;
    double busy = 0, idle_avail = 0, idle_none = 0;
    int64_t promotions = 0, bad = 0;
    for (const SimResult& r : runs) {
      makespans.push_back(r.makespan / 3600);
      busy += r.busy;
      idle_avail += r.idle_job_available;
      idle_none += r.idle_no_job;
      promotions += r.promotions;
      bad += r.unsanctioned_promotions;
    }
    std::printf("| %s | %zu | %s | %s | %s | %s | %.1f%% | %s (%s) |\n", name.c_str(), runs.size(),
                Fmt(Quantile(makespans, 0.5), 1).c_str(), Fmt(busy / 3600, 1).c_str(),
                Fmt(idle_avail / 3600, 3).c_str(), Fmt(idle_none / 3600, 1).c_str(),
                100.0 * busy / (busy + idle_avail + idle_none), Count(promotions).c_str(),
                Count(bad).c_str());
  }
}

void PartPromotion(const Args& args, const Common& c) {
  int64_t seeds = args.GetInt("seeds", 3);
  int64_t trials = args.GetInt("trials", 1000);
  int workers = static_cast<int>(args.GetInt("workers", 8));
  std::vector<std::pair<std::string, std::vector<SimResult>>> rows;
  for (const std::string& scheduler : kSchedulers) {
    for (const std::string sampler : {"random", "tpe"}) {
      std::vector<SimResult> runs;
      for (int64_t seed = 0; seed < seeds; ++seed) {
        SimOptions o = Options(c, scheduler, sampler, seed, workers);
        o.n_trials = trials;
        runs.push_back(Simulate(o));
      }
      Progress("promotion: " + scheduler + " + " + sampler + " done");
      rows.emplace_back(Label(scheduler) + " | " + sampler, std::move(runs));
    }
  }
  std::printf(
      "**Per-rung promotion fractions** (%s trials per run, %d workers, %lld seeds pooled, "
      "R = %lld, eta = %lld; each run goes to its natural end: no trial left to start or "
      "promote; n_k = trials that trained to level k; target for the random sampler: "
      "n_{k+1}/n_k within 1/eta ± 0.05 wherever n_k >= 30; bold: outside)\n\n",
      Count(static_cast<double>(trials)).c_str(), workers, static_cast<long long>(seeds),
      static_cast<long long>(c.max_epochs), static_cast<long long>(c.eta));
  std::vector<std::string> misses;
  PrintFractions(rows, c, 0.05, &misses);
  // The target holds for exchangeable arrivals (the random sampler). With TPE later trials are
  // better, and neither variant takes a promotion back, so more than 1/eta go on.
  for (const std::string group : {"random", "tpe"}) {
    std::vector<std::pair<std::string, std::vector<SimResult>>> sub;
    for (const auto& row : rows)
      if (row.first.find("| " + group) != std::string::npos) sub.push_back(row);
    std::vector<std::string> group_misses;
    int checked = 0;
    PrintFractions(sub, c, 0.05, &group_misses, &checked, /*print=*/false);
    if (group == "random")
      std::printf(
          "\nTarget (random sampler): n_{k+1}/n_k within 1/eta ± 0.05: %s (%zu of %d levels "
          "outside)\n",
          group_misses.empty() ? "met" : "MISSED", group_misses.size(), checked);
    else
      std::printf(
          "\nTPE: %zu of %d levels outside 1/eta ± 0.05. Not a target: TPE's later "
          "configurations are better, so they rank high on arrival, and neither variant takes "
          "a promotion (or a continuation) back; the fractions rise above 1/eta.\n\n",
          group_misses.size(), checked);
  }
  std::printf(
      "**Worker idleness** (same runs, summed over seeds; \"job available\": a free worker whose "
      "Ask() returned nothing while a new trial was left in the budget or a paused trial ranked "
      "within the top floor(n_k/eta) of its rung, checked independently of the scheduler after "
      "every event; \"no job\": nothing to start and nothing promotable — the end of the budget, "
      "where the promotion variants wait for trials that may still become promotable; "
      "utilisation = busy / (busy + idle))\n\n");
  PrintIdleness(rows);
  double avail = 0;
  int64_t bad = 0;
  for (const auto& [_, runs] : rows)
    for (const SimResult& r : runs) avail += r.idle_job_available, bad += r.unsanctioned_promotions;
  std::printf(
      "\nTarget: no worker idle while a job is available: %s (%.3f worker-s in all); every "
      "promotion allowed by the rule: %s\n\n",
      avail == 0 ? "met" : "MISSED", avail, bad == 0 ? "met" : "MISSED");
}

void PartQuality(const Args& args, const Common& c) {
  int64_t seeds = args.GetInt("seeds", 10);
  int64_t budget = args.GetInt("budget", 200 * c.max_epochs);
  int workers = static_cast<int>(args.GetInt("workers", 8));
  const std::vector<std::string> schedulers = {"fifo", "asha", "asha_stopping", "hyperband",
                                               "hyperband_stopping"};
  struct Row {
    std::string scheduler, sampler;
    std::vector<double> hours, epochs, regret, best_regret, trials, complete, makespan;
  };
  std::vector<Row> rows;
  for (const std::string sampler : {"random", "tpe"}) {
    for (const std::string& scheduler : schedulers) {
      Row row{scheduler, sampler, {}, {}, {}, {}, {}, {}, {}};
      for (int64_t seed = 0; seed < seeds; ++seed) {
        SimOptions o = Options(c, scheduler, sampler, seed, workers);
        o.epoch_budget = budget;
        SimResult r = Simulate(o);
        row.hours.push_back(r.seconds_to_target / 3600);
        row.epochs.push_back(r.epochs_to_target);
        row.regret.push_back(1e3 * r.regret);
        row.best_regret.push_back(1e3 * r.best_regret);
        row.trials.push_back(static_cast<double>(r.trials));
        row.complete.push_back(static_cast<double>(r.complete));
        row.makespan.push_back(r.makespan / 3600);
      }
      Progress("quality: " + scheduler + " + " + sampler + " done");
      rows.push_back(std::move(row));
    }
  }
  std::printf(
      "**Time to a configuration within 1%% of the best** (%d workers, budget %s epochs per run "
      "across workers, then the run is cut; %lld seeds; target: a trial trained to R = %lld "
      "whose noise-free final error is <= 1.01 f* = %.5f; median [25th, 75th percentile], "
      "\"not reached\" counts as larger than any budget; final regret = noise-free final error of "
      "the trial trained to R with the best reported (noisy) final value, the one a user would "
      "pick, minus f*; best-trained regret = the smallest noise-free final error among the trials "
      "trained to R, minus f*)\n\n",
      workers, Count(static_cast<double>(budget)).c_str(), static_cast<long long>(seeds),
      static_cast<long long>(c.max_epochs), 1.01 * c.fstar);
  std::printf(
      "| scheduler | sampler | reached | sim hours to target | epochs to target | final regret "
      "(×1e-3) | best-trained regret (×1e-3) | trials started | trials trained to R | sim hours "
      "for the budget |\n|---|---|---|---|---|---|---|---|---|---|\n");
  std::map<std::string, double> median_hours, median_epochs;
  for (const Row& r : rows) {
    int reached = 0;
    for (double h : r.hours) reached += !std::isinf(h);
    std::printf("| %s | %s | %d/%zu | %s | %s | %s | %s | %s | %s | %s |\n",
                Label(r.scheduler).c_str(), r.sampler.c_str(), reached, r.hours.size(),
                MedianIqr(r.hours, 1).c_str(), MedianIqr(r.epochs, 0).c_str(),
                MedianIqr(r.regret, 2).c_str(), MedianIqr(r.best_regret, 2).c_str(),
                Count(Quantile(r.trials, 0.5)).c_str(), Count(Quantile(r.complete, 0.5)).c_str(),
                Fmt(Quantile(r.makespan, 0.5), 1).c_str());
    median_hours[r.scheduler + "+" + r.sampler] = Quantile(r.hours, 0.5);
    median_epochs[r.scheduler + "+" + r.sampler] = Quantile(r.epochs, 0.5);
  }
  std::printf("\n");
  auto verdict = [&](const std::string& a, const std::string& b) {
    double ha = median_hours[a], hb = median_hours[b];
    double ea = median_epochs[a], eb = median_epochs[b];
    std::string v;
    if (std::isinf(ha))
      v = std::isinf(hb) ? "neither reached the target in most seeds" : "MISSED (not reached)";
    else if (std::isinf(hb))
      v = "met (the other did not reach the target in most seeds)";
    else
      v = std::string(ha < hb ? "met" : "MISSED") + " (" + Fmt(hb / ha, 2) + "× the time, " +
          Fmt(eb / ea, 2) + "× the epochs for the other)";
    std::printf("- %s reaches the target sooner than %s (median simulated time): %s\n", a.c_str(),
                b.c_str(), v.c_str());
  };
  for (const std::string sampler : {"random", "tpe"}) {
    verdict("asha+" + std::string(sampler), "fifo+" + std::string(sampler));
    verdict("asha+" + std::string(sampler), "asha_stopping+" + std::string(sampler));
  }
  std::printf("\n");
}

// Calls per second over `durations`; `trim`: leave out the slowest 1% (calls preempted by other
// processes on a shared machine).
double Rate(std::vector<double> durations, bool trim) {
  std::sort(durations.begin(), durations.end());
  size_t keep = trim ? durations.size() - durations.size() / 100 : durations.size();
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += durations[i];
  return static_cast<double>(keep) / total;
}

void PartScale(const Args& args, const Common& c) {
  int64_t trials = args.GetInt("trials", 100000);
  int64_t reps = args.GetInt("reps", 3);
  int workers = static_cast<int>(args.GetInt("workers", 8));
  // "Flat": the rate in the last window at least this fraction of the rate in the first.
  const double flat_ratio = std::stod(args.Get("flat-ratio", "0.8"));
  std::vector<int64_t> ends;
  for (int64_t e = 1000; e < trials; e *= 10) ends.push_back(e);
  ends.push_back(trials);
  auto span = [](int64_t end) {
    return Count(static_cast<double>(end - 999)) + "–" + Count(static_cast<double>(end));
  };
  std::printf(
      "**Decision cost at scale** (random sampler, in-memory storage, %d simulated workers, "
      "%s trials per run, %lld runs (seeds) per scheduler; decisions = Ask + Report + "
      "Tell/TellPruned calls, each timed with a steady clock; a window holds the calls made while "
      "the study held the given numbers of trials (the last one includes the promotions after "
      "the last new trial); decisions/s = calls / their total time, without the slowest 1%% of "
      "calls (preempted by other processes on this shared machine; the raw rate in brackets); "
      "medians over runs; target: flat, i.e. the rate at %s trials at least %.2f× that at %s)\n\n",
      workers, Count(static_cast<double>(trials)).c_str(), static_cast<long long>(reps),
      Count(static_cast<double>(trials)).c_str(), flat_ratio, Count(1000).c_str());
  std::printf("| scheduler | decisions per run | decisions/s overall (raw) |");
  for (int64_t e : ends) std::printf(" decisions/s, trials %s [raw] |", span(e).c_str());
  std::printf(
      " last / first | median µs per decision, first / last window | simulator wall s "
      "per run |\n|---|---|---|");
  for (size_t i = 0; i < ends.size(); ++i) std::printf("---|");
  std::printf("---|---|---|\n");
  bool flat = true;
  std::vector<std::pair<std::string, std::vector<SimResult>>> rows;
  std::vector<std::string> by_call;
  for (const std::string scheduler : {"asha", "asha_stopping"}) {
    std::vector<SimResult> runs;
    std::vector<double> overall, decisions, ratio, first_med, last_med, wall;
    std::vector<std::vector<double>> robust(ends.size()), raw(ends.size());
    std::array<std::vector<double>, 3> by_call_first, by_call_last, by_call_n_first, by_call_n_last;
    for (int64_t rep = 0; rep < reps; ++rep) {
      SimOptions o = Options(c, scheduler, "random", rep, workers);
      o.n_trials = trials;
      o.time_calls = true;
      o.window_ends = ends;
      SimResult r = Simulate(o);
      Progress("scale: " + scheduler + " seed " + std::to_string(rep) + " done in " +
               Fmt(r.wall_seconds, 1) + " s");
      overall.push_back(static_cast<double>(r.calls) / r.call_seconds);
      decisions.push_back(static_cast<double>(r.calls));
      for (size_t i = 0; i < ends.size(); ++i) {
        robust[i].push_back(Rate(r.windows[i], true));
        raw[i].push_back(Rate(r.windows[i], false));
      }
      ratio.push_back(robust.back().back() / robust.front().back());
      first_med.push_back(1e6 * Quantile(r.windows.front(), 0.5));
      last_med.push_back(1e6 * Quantile(r.windows.back(), 0.5));
      wall.push_back(r.wall_seconds);
      for (int k = 0; k < 3; ++k) {
        const std::vector<double>& f = r.windows_by_call.front()[k];
        const std::vector<double>& l = r.windows_by_call.back()[k];
        by_call_first[k].push_back(f.empty() ? 0.0 : 1e6 * Quantile(f, 0.5));
        by_call_last[k].push_back(l.empty() ? 0.0 : 1e6 * Quantile(l, 0.5));
        by_call_n_first[k].push_back(static_cast<double>(f.size()));
        by_call_n_last[k].push_back(static_cast<double>(l.size()));
      }
      r.windows.clear();
      r.windows_by_call.clear();
      runs.push_back(std::move(r));
    }
    double m_ratio = Quantile(ratio, 0.5);
    flat = flat && m_ratio >= flat_ratio;
    std::printf("| %s | %s | %s |", Label(scheduler).c_str(),
                Count(Quantile(decisions, 0.5)).c_str(), Count(Quantile(overall, 0.5)).c_str());
    for (size_t i = 0; i < ends.size(); ++i)
      std::printf(" %s [%s] |", Count(Quantile(robust[i], 0.5)).c_str(),
                  Count(Quantile(raw[i], 0.5)).c_str());
    std::printf(" %.2f | %.2f / %.2f | %.1f |\n", m_ratio, Quantile(first_med, 0.5),
                Quantile(last_med, 0.5), Quantile(wall, 0.5));
    rows.emplace_back(Label(scheduler) + " | random", std::move(runs));
    for (int k = 0; k < 3; ++k) {
      by_call.push_back(
          "| " + Label(scheduler) + " | " + kCallNames[k] + " | " +
          Count(Quantile(by_call_n_first[k], 0.5)) + " / " +
          Count(Quantile(by_call_n_last[k], 0.5)) + " | " +
          Fmt(Quantile(by_call_first[k], 0.5), 2) + " | " + Fmt(Quantile(by_call_last[k], 0.5), 2) +
          " | " + Fmt(Quantile(by_call_last[k], 0.5) / Quantile(by_call_first[k], 0.5), 2) + " |");
    }
  }
  std::printf(
      "\nBy call (the same windows; median µs per call, medians over runs):\n\n"
      "| scheduler | call | calls in the first / last window | median µs, first window | "
      "median µs, last window | last / first |\n|---|---|---|---|---|---|\n");
  for (const std::string& line : by_call) std::printf("%s\n", line.c_str());
  std::printf("\nTarget: decision cost flat from %s to %s trials (rate ratio >= %.2f): %s\n\n",
              Count(1000).c_str(), Count(static_cast<double>(trials)).c_str(), flat_ratio,
              flat ? "met" : "MISSED");
  std::printf(
      "**Promotion fractions and idleness at %s trials** (the runs above, pooled; targets as "
      "in the tables at 1,000 trials; bold: outside 1/eta ± 0.05)\n\n",
      Count(static_cast<double>(trials)).c_str());
  std::vector<std::string> misses;
  int checked = 0;
  PrintFractions(rows, c, 0.05, &misses, &checked);
  std::printf(
      "\nTarget (random sampler): n_{k+1}/n_k within 1/eta ± 0.05: %s (%zu of %d levels "
      "outside)\n\n",
      misses.empty() ? "met" : "MISSED", misses.size(), checked);
  PrintIdleness(rows);
  std::printf("\n");
}

void PartOneWorker(const Args& args, const Common& c) {
  int64_t seeds = args.GetInt("seeds", 10);
  int64_t budget = args.GetInt("budget", 100 * c.max_epochs);
  const std::vector<std::pair<std::string, std::string>> methods = {{"asha", "tpe"},
                                                                    {"asha_stopping", "tpe"},
                                                                    {"hyperband", "tpe"},
                                                                    {"hyperband_stopping", "tpe"},
                                                                    {"fifo", "tpe"},
                                                                    {"asha", "random"},
                                                                    {"asha_stopping", "random"}};
  for (const auto& [scheduler, sampler] : methods) {
    for (int64_t seed = 0; seed < seeds; ++seed) {
      SimOptions o = Options(c, scheduler, sampler, seed, 1);
      o.epoch_budget = budget;
      SimResult r = Simulate(o);
      std::string ett = std::isinf(r.epochs_to_target) ? "null" : Fmt(r.epochs_to_target, 0);
      std::string regret = std::isinf(r.regret) ? "null" : Fmt(r.regret, 10);
      std::string best_regret = std::isinf(r.best_regret) ? "null" : Fmt(r.best_regret, 10);
      std::printf(
          "{\"bench\": \"sched_1worker\", \"impl\": \"hpo\", \"method\": \"%s\", \"sampler\": "
          "\"%s\", \"seed\": %lld, \"budget\": %lld, \"epochs_to_target\": %s, \"regret\": %s, "
          "\"best_regret\": %s, \"n_trials\": %lld, \"n_complete\": %lld, \"seconds\": %.3f}\n",
          scheduler.c_str(), sampler.c_str(), static_cast<long long>(seed),
          static_cast<long long>(budget), ett.c_str(), regret.c_str(), best_regret.c_str(),
          static_cast<long long>(r.trials), static_cast<long long>(r.complete), r.wall_seconds);
      std::fflush(stdout);
    }
    Progress("one-worker: " + scheduler + " + " + sampler + " done");
  }
}

// Statistics of the curve family over uniformly drawn configurations (log-uniform lr and width).
void Describe(const Args& args, const Common& c) {
  const int64_t n = args.GetInt("configs", 20000);
  uint64_t state = 12345;
  auto uniform = [&state] {
    state = SplitMix64(state);
    return static_cast<double>(state >> 11) * 0x1.0p-53;
  };
  std::vector<Config> configs;
  for (int64_t i = 0; i < n; ++i) {
    Config x;
    x.lr = std::pow(10.0, -4.0 + 3.0 * uniform());
    x.width = std::clamp<int64_t>(
        std::llround(
            std::exp2(std::log2(15.5) + (std::log2(1024.5) - std::log2(15.5)) * uniform())),
        16, 1024);
    x.dropout = 0.6 * uniform();
    x.optimizer = static_cast<int>(uniform() * 3);
    configs.push_back(x);
  }
  auto ranks = [](const std::vector<double>& v) {
    std::vector<size_t> idx(v.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&v](size_t a, size_t b) { return v[a] < v[b]; });
    std::vector<double> r(v.size());
    for (size_t i = 0; i < idx.size(); ++i) r[idx[i]] = static_cast<double>(i);
    return r;
  };
  std::vector<double> final_values;
  for (const Config& x : configs) final_values.push_back(TrueValue(x, c.max_epochs));
  std::vector<double> final_ranks = ranks(final_values);
  int64_t within1 = 0, within2 = 0, by_optimizer[3] = {0, 0, 0};
  for (size_t i = 0; i < configs.size(); ++i) {
    if (final_values[i] <= 1.01 * c.fstar) ++within1, ++by_optimizer[configs[i].optimizer];
    if (final_values[i] <= 1.02 * c.fstar) ++within2;
  }
  std::printf(
      "**The curve family** (%s configurations drawn uniformly, lr and width log-uniformly; "
      "noise-free values; f*(%lld) = %.6f)\n\n",
      Count(static_cast<double>(n)).c_str(), static_cast<long long>(c.max_epochs), c.fstar);
  std::printf(
      "| epoch t | Spearman rank correlation of v(t) with v(R) | configurations within 1%% of "
      "f* that rank in the top third at t |\n|---|---|---|\n");
  for (int64_t t = 1; t < c.max_epochs; t *= c.eta) {
    std::vector<double> at;
    for (const Config& x : configs) at.push_back(TrueValue(x, t));
    std::vector<double> r = ranks(at);
    double mean = (static_cast<double>(n) - 1) / 2, sab = 0, saa = 0, sbb = 0;
    int64_t good_top = 0;
    for (size_t i = 0; i < r.size(); ++i) {
      sab += (r[i] - mean) * (final_ranks[i] - mean);
      saa += (r[i] - mean) * (r[i] - mean);
      sbb += (final_ranks[i] - mean) * (final_ranks[i] - mean);
      if (final_values[i] <= 1.01 * c.fstar && r[i] < static_cast<double>(n) / 3) ++good_top;
    }
    std::printf("| %lld | %.3f | %.2f |\n", static_cast<long long>(t), sab / std::sqrt(saa * sbb),
                within1 ? static_cast<double>(good_top) / within1 : 0.0);
  }
  std::printf(
      "\nWithin 1%% of f*: %.2f%% of configurations (sgd %lld, adam %lld, rmsprop %lld of %lld); "
      "within 2%%: %.2f%%.\n\n",
      100.0 * within1 / n, static_cast<long long>(by_optimizer[0]),
      static_cast<long long>(by_optimizer[1]), static_cast<long long>(by_optimizer[2]),
      static_cast<long long>(within1), 100.0 * within2 / n);
}

// The same points as test_config() in asha_sim_optuna.py.
Config TestConfig(int k) {
  Config c;
  c.lr = std::pow(10.0, -4.0 + 3.0 * std::fmod((k + 1) * 0.137, 1.0));
  c.width = 16 + (k * 97) % 1009;
  c.dropout = 0.6 * std::fmod((k + 1) * 0.291, 1.0);
  c.optimizer = k % 3;
  return c;
}

void Check() {
  for (int k = 0; k < 12; ++k) {
    Config c = TestConfig(k);
    for (int64_t epoch : {1, 3, 9, 27})
      std::printf(
          "{\"bench\": \"check\", \"k\": %d, \"epoch\": %lld, \"true\": %.17g, \"observed\": "
          "%.17g}\n",
          k, static_cast<long long>(epoch), TrueValue(c, epoch),
          Observe(static_cast<uint64_t>(k), c, epoch));
  }
}

}  // namespace
}  // namespace asha_sim

int main(int argc, char** argv) {
  using namespace asha_sim;
  try {
    Args args(argc, argv);
    if (args.Has("check")) {
      Check();
      return 0;
    }
    Common c{args.GetInt("max-epochs", 27), args.GetInt("eta", 3), 0};
    Config argmin;
    c.fstar = BestFinal(c.max_epochs, &argmin);
    if (args.Has("fstar")) {
      std::printf("%.17g\n", c.fstar);
      std::fprintf(stderr, "asha_sim: f*(%lld) = %.10g at lr %.4g, width %lld, dropout %.3f, %s\n",
                   static_cast<long long>(c.max_epochs), c.fstar, argmin.lr,
                   static_cast<long long>(argmin.width), argmin.dropout,
                   kOptimizers[argmin.optimizer]);
      return 0;
    }
    std::string part = args.Get("part", "");
    if (part == "promotion") {
      PartPromotion(args, c);
    } else if (part == "quality") {
      PartQuality(args, c);
    } else if (part == "scale") {
      PartScale(args, c);
    } else if (part == "describe") {
      Describe(args, c);
    } else if (part == "one-worker") {
      PartOneWorker(args, c);
    } else {
      std::fprintf(stderr,
                   "usage: bench_asha_sim --check | --fstar | --part "
                   "describe|promotion|quality|scale|one-worker [options]\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_asha_sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
