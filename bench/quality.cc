// Optimisation quality: the best value a sampler finds in `--trials` trials, per problem and
// seed (in-memory study, FIFO scheduler, one trial at a time).
//
//   quality --samplers tpe,gp --problems branin,hartmann6 --seeds 10 [--trials 100]
//           [--seed-offset 0] [--tpe-gamma G --tpe-prior-weight W --tpe-candidates N]
//   quality --check      # objective values at fixed test points (compare with bench_common.py)
//
// Prints one JSON line per run: {"bench": "quality", "impl": "hpo", "sampler", "problem",
// "seed", "n_trials", "best", "seconds"}; with --check, {"bench": "check", "problem", "k", "f"}.
#include <cstdio>
#include <exception>
#include <limits>

#include "bench_common.h"

namespace {

const char* kAllProblems = "branin,hartmann6,rosenbrock4,ackley5,styblinski_tang8,mixed6";

void Check() {
  std::vector<std::string> names = {"branin",           "hartmann6", "rosenbrock4", "ackley5",
                                    "styblinski_tang8", "mixed6",    "mixed10"};
  for (const std::string& name : names) {
    hpo_bench::Problem p = hpo_bench::FindProblem(name);
    for (int k = 0; k < 5; ++k) {
      hpo_bench::JsonLine()
          .Add("bench", "check")
          .Add("problem", name)
          .Add("k", k)
          .Add("f", p.objective(hpo_bench::TestPoint(p.space, k)))
          .Print();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    hpo_bench::Args args(argc, argv);
    if (args.Has("check")) {
      Check();
      return 0;
    }
    int64_t n_trials = args.GetInt("trials", 100);
    int64_t n_seeds = args.GetInt("seeds", 10);
    const int64_t seed_offset = args.GetInt("seed-offset", 0);
    const hpo_bench::TpeKnobs knobs = hpo_bench::TpeKnobsFromArgs(args);
    for (const std::string& name : args.GetList("problems", kAllProblems)) {
      hpo_bench::Problem problem = hpo_bench::FindProblem(name);
      for (const std::string& sampler : args.GetList("samplers", "tpe")) {
        for (int64_t seed = seed_offset; seed < seed_offset + n_seeds; ++seed) {
          hpo_bench::Clock::time_point start = hpo_bench::Clock::now();
          auto study = hpo_bench::MakeStudy(problem.space, sampler, static_cast<uint64_t>(seed),
                                            "memory", "bench", knobs);
          double best = std::numeric_limits<double>::infinity();
          for (int64_t i = 0; i < n_trials; ++i) {
            std::optional<hpo::Trial> t = study->Ask();
            double f = problem.objective(t->ExternalParams());
            best = std::min(best, f);
            study->Tell(*t, f);
          }
          hpo_bench::JsonLine()
              .Add("bench", "quality")
              .Add("impl", "hpo")
              .Add("sampler", sampler)
              .Add("problem", name)
              .Add("seed", seed)
              .Add("n_trials", n_trials)
              .Add("best", best)
              .Add("seconds", hpo_bench::SecondsSince(start))
              .Print();
        }
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quality: %s\n", e.what());
    return 1;
  }
  return 0;
}
