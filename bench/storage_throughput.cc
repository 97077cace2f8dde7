// Ask+tell throughput of a whole study: `--trials` trials with the random sampler over the
// 10-parameter mixed space, each asked and told at once (no intermediate reports), in a fresh
// storage.
//
//   storage_throughput --storage sqlite --path /tmp/x.db --trials 10000 [--mode declarative]
//   storage_throughput --storage memory --trials 10000
//
// --mode declarative: the study declares the space; Ask() samples every parameter (one storage
//   write for the trial and its parameters).
// --mode define-by-run: the study's space is empty; each trial calls Suggest* ten times (one
//   storage write per parameter), as Optuna's ask + suggest_* + tell does.
// The SQLite file (and its -wal/-shm) is deleted first. Prints one JSON line: {"bench":
// "storage", "impl": "hpo", "storage", "mode", "n_trials", "total_s", "per_trial_us", "cpu_s",
// "cpu_per_trial_us"}; cpu_s is the process's user + system CPU time over the same span, which
// other jobs on a busy machine inflate less than the wall time (it excludes waiting for a core
// and for the disk).
#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <filesystem>

#include "bench_common.h"

namespace {

// The define-by-run twin of Mixed10Space(): suggests the same ten parameters.
std::map<std::string, hpo::Value> SuggestMixed10(hpo::Trial& t) {
  std::map<std::string, hpo::Value> x;
  x["lr"] = t.SuggestFloat("lr", 1e-5, 1e-1, /*log=*/true);
  x["wd"] = t.SuggestFloat("wd", 1e-6, 1e-2, /*log=*/true);
  x["dropout"] = t.SuggestFloat("dropout", 0.0, 0.5);
  x["momentum"] = t.SuggestFloat("momentum", 0.5, 0.99);
  x["layers"] = t.SuggestInt("layers", 1, 8);
  x["units"] = t.SuggestInt("units", 16, 1024, /*log=*/false, /*step=*/16);
  x["epochs"] = t.SuggestInt("epochs", 1, 100);
  x["optimizer"] = t.SuggestCategorical(
      "optimizer",
      {std::string("adam"), std::string("sgd"), std::string("rmsprop"), std::string("adagrad")});
  x["activation"] = t.SuggestCategorical(
      "activation", {std::string("relu"), std::string("tanh"), std::string("gelu")});
  x["norm"] = t.SuggestCategorical(
      "norm", {std::string("none"), std::string("batch"), std::string("layer")});
  return x;
}

// User + system CPU time of this process, in seconds.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * t.tv_usec; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    hpo_bench::Args args(argc, argv);
    std::string storage = args.Get("storage", "memory");
    std::string mode = args.Get("mode", "declarative");
    int64_t n_trials = args.GetInt("trials", 10000);
    std::string url = "memory";
    if (storage == "sqlite") {
      std::string path = args.Get("path", "bench_storage.db");
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path + suffix);
      url = "sqlite:" + path;
    } else if (storage != "memory") {
      throw std::invalid_argument("--storage must be memory or sqlite");
    }
    if (mode != "declarative" && mode != "define-by-run")
      throw std::invalid_argument("--mode must be declarative or define-by-run");
    hpo::SearchSpace space = mode == "declarative" ? hpo_bench::Mixed10Space() : hpo::SearchSpace{};

    const double cpu_start = CpuSeconds();
    hpo_bench::Clock::time_point start = hpo_bench::Clock::now();
    auto study = hpo_bench::MakeStudy(space, "random", /*seed=*/1, url);
    for (int64_t i = 0; i < n_trials; ++i) {
      std::optional<hpo::Trial> t = study->Ask();
      std::map<std::string, hpo::Value> x =
          mode == "declarative" ? t->ExternalParams() : SuggestMixed10(*t);
      study->Tell(*t, hpo_bench::Mixed10(x));
    }
    double total_s = hpo_bench::SecondsSince(start);
    double cpu_s = CpuSeconds() - cpu_start;
    hpo_bench::JsonLine()
        .Add("bench", "storage")
        .Add("impl", "hpo")
        .Add("storage", storage)
        .Add("mode", mode)
        .Add("n_trials", n_trials)
        .Add("total_s", total_s)
        .Add("per_trial_us", 1e6 * total_s / static_cast<double>(n_trials))
        .Add("cpu_s", cpu_s)
        .Add("cpu_per_trial_us", 1e6 * cpu_s / static_cast<double>(n_trials))
        .Print();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "storage_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
