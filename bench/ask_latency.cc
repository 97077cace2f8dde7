// Ask latency of a model-based sampler with N completed trials in the study.
//
// For each N: a fresh in-memory study is pre-filled with N completed trials at uniformly random
// points (Study::Enqueue, then Ask/Tell: the sampler is not called for them); then Ask() is timed
// repeatedly, each followed by an untimed Tell() of the objective, so the study grows by one
// trial per repetition. The first Ask() (which lets the sampler index the whole history) is
// reported apart as `first_ms`; `warmup` more asks are untimed; the statistics cover the rest.
//
//   ask_latency --sampler tpe --problem mixed10 --trials 100,1000,10000 --reps 200
//               [--warmup 3] [--max-seconds 30] [--seed 1]
//
// Prints one JSON line per N: {"bench": "ask_latency", "impl": "hpo", "sampler", "problem",
// "n_trials", "reps", "first_ms", "median_ms", "p10_ms", "p90_ms", "mean_ms", "prefill_s"}.
#include <cstdio>
#include <exception>
#include <random>

#include "bench_common.h"

namespace {

void RunOne(const hpo_bench::Problem& problem, const std::string& sampler, int64_t n_trials,
            int64_t reps, int64_t warmup, double max_seconds, uint64_t seed,
            const hpo_bench::TpeKnobs& knobs) {
  using hpo_bench::Clock;
  auto study = hpo_bench::MakeStudy(problem.space, sampler, seed, "memory", "bench", knobs);
  std::mt19937_64 rng(seed + 12345);
  Clock::time_point prefill_start = Clock::now();
  for (int64_t i = 0; i < n_trials; ++i) {
    study->Enqueue(hpo_bench::RandomPoint(problem.space, rng));
    std::optional<hpo::Trial> t = study->Ask();
    study->Tell(*t, problem.objective(t->ExternalParams()));
  }
  double prefill_s = hpo_bench::SecondsSince(prefill_start);

  auto timed_ask_tell = [&]() {
    Clock::time_point start = Clock::now();
    std::optional<hpo::Trial> t = study->Ask();
    double ms = 1e3 * hpo_bench::SecondsSince(start);
    study->Tell(*t, problem.objective(t->ExternalParams()));
    return ms;
  };
  double first_ms = timed_ask_tell();
  for (int64_t i = 0; i < warmup; ++i) timed_ask_tell();
  std::vector<double> ms;
  Clock::time_point loop_start = Clock::now();
  while (static_cast<int64_t>(ms.size()) < reps &&
         (ms.size() < 5 || hpo_bench::SecondsSince(loop_start) < max_seconds)) {
    ms.push_back(timed_ask_tell());
  }
  double mean = 0;
  for (double v : ms) mean += v / static_cast<double>(ms.size());
  hpo_bench::JsonLine()
      .Add("bench", "ask_latency")
      .Add("impl", "hpo")
      .Add("sampler", sampler)
      .Add("problem", problem.name)
      .Add("n_trials", n_trials)
      .Add("reps", static_cast<int64_t>(ms.size()))
      .Add("first_ms", first_ms)
      .Add("median_ms", hpo_bench::Quantile(ms, 0.5))
      .Add("p10_ms", hpo_bench::Quantile(ms, 0.1))
      .Add("p90_ms", hpo_bench::Quantile(ms, 0.9))
      .Add("mean_ms", mean)
      .Add("prefill_s", prefill_s)
      .Print();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    hpo_bench::Args args(argc, argv);
    hpo_bench::Problem problem = hpo_bench::FindProblem(args.Get("problem", "mixed10"));
    std::string sampler = args.Get("sampler", "tpe");
    for (const std::string& n : args.GetList("trials", "100,1000,10000")) {
      std::fprintf(stderr, "ask_latency: %s on %s with %s trials\n", sampler.c_str(),
                   problem.name.c_str(), n.c_str());
      RunOne(problem, sampler, std::stoll(n), args.GetInt("reps", 200), args.GetInt("warmup", 3),
             static_cast<double>(args.GetInt("max-seconds", 30)),
             static_cast<uint64_t>(args.GetInt("seed", 1)), hpo_bench::TpeKnobsFromArgs(args));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ask_latency: %s\n", e.what());
    return 1;
  }
  return 0;
}
