// `train`: runs a hyperparameter study in this process.
//
//   train --study configs/quickstart.yaml [--storage runs/x.db] [--devices cpu]
//         [--trials-per-device 2] [--output runs/x] [--quiet] [--log-format text|json] [--extend]
//
// Exit codes: 0 done; 2 bad input (study file, flags, data files, a stored study that does not
// match), with one line on stderr naming the place and the fix and no study database written;
// 1 any other failure; 130 interrupted by SIGINT/SIGTERM.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "data/idx.h"
#include "hpo/config.h"
#include "hpo/storage.h"
#include "trainer/schema.h"
#include "trainer/study_runner.h"

namespace {

volatile std::sig_atomic_t g_signals = 0;
void OnSignal(int) {
  g_signals = g_signals + 1;
  if (g_signals >= 2) std::_Exit(130);  // a second signal exits at once
}

// Where train is linked with jemalloc (HPO_WITH_JEMALLOC, the default when libjemalloc is
// installed), jemalloc is the process's malloc and this does nothing. Otherwise:
// glibc gives each new thread its own malloc arena (up to 8 per core), and an arena keeps what
// its thread freed for that thread's later use. One arena per trial thread then holds that
// trial's peak plus its fragmentation for good, which made 8 concurrent trials of
// bench/trainer/memory.yaml cost ~30 MiB each against ~19 MiB of tensors. At most one arena per
// core: no more threads allocate at once than there are cores, so contention stays low, and
// freed blocks are shared between the trials on an arena. MALLOC_ARENA_MAX (or
// glibc.malloc.arena_max in GLIBC_TUNABLES) in the environment wins. Measured in docs/BENCHMARKS.md
// (Trainer, memory).
void LimitMallocArenas() {
#if defined(__GLIBC__) && !defined(HPO_WITH_JEMALLOC)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr ||
      (tunables != nullptr && std::string(tunables).find("arena_max") != std::string::npos))
    return;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  mallopt(M_ARENA_MAX, static_cast<int>(cores));
#endif
}

int Fail(int code, const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  LimitMallocArenas();  // before any thread starts
  CLI::App app{"Hyperparameter study runner: many trials in one process, ASHA, SQLite storage"};
  std::string study_file;
  trainer::RunOptions options;
  std::string log_format = "text";
  bool describe = false;
  app.add_option("--study", study_file, "study file (YAML)");
  app.add_flag("--describe-config", describe,
               "print the study-file reference (markdown, every key with its default) and exit");
  app.add_option("--storage", options.storage, "storage URL or .db path (overrides study.storage)");
  app.add_option("--devices", options.devices,
                 "devices (overrides resources.devices): auto, cpu, cuda, cuda:N")
      ->delimiter(',');
  app.add_option("--trials-per-device", options.trials_per_device,
                 "concurrent trials per device (overrides resources.trials_per_device)")
      ->check(CLI::Range(1, 256));
  app.add_option("--output", options.output_dir,
                 "folder for best.yaml and trials.csv (default runs/<study>)");
  app.add_flag("--quiet", options.quiet, "print only the final table");
  app.add_option("--log-format", log_format, "progress format")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--extend", options.extend, "continue a stored study whose definition changed");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(2, std::string(e.what()) + "; see train --help");
  }
  options.json_log = log_format == "json";
  if (describe) {
    std::cout << hpo::DescribeSchema(trainer::TrainerSchema());
    return 0;
  }
  if (study_file.empty())
    return Fail(2, "--study is required; e.g. train --study configs/quickstart.yaml");

  std::unique_ptr<trainer::StudyRunner> runner;
  try {
    hpo::StudyConfig config = hpo::LoadStudyConfig(study_file, trainer::TrainerSchema());
    runner = std::make_unique<trainer::StudyRunner>(std::move(config), options, std::cout);
    runner->Prepare();
  } catch (const hpo::ConfigError& e) {
    return Fail(2, e.what());
  } catch (const trainer::InputError& e) {
    return Fail(2, e.what());
  } catch (const data::DataError& e) {
    return Fail(2, e.what());
  } catch (const std::exception& e) {
    return Fail(1, e.what());
  }

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    while (!finished) {
      if (g_signals > 0) {
        std::cerr << "interrupted: finishing the current epochs; running and paused trials are "
                     "checkpointed and the next run of the same command resumes them (press "
                     "Ctrl-C again to exit now)\n";
        runner->RequestStop();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  int code = 0;
  try {
    trainer::RunResult result = runner->Run();
    code = result.interrupted ? 130 : 0;
  } catch (const hpo::StorageError& e) {
    code = Fail(2, e.what());
  } catch (const std::exception& e) {
    code = Fail(1, e.what());
  }
  finished = true;
  watcher.join();
  return code;
}
