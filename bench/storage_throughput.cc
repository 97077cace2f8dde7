// Ask+tell throughput of a whole study: `--trials` trials with the random sampler over the
// 10-parameter mixed space, each asked and told at once (no intermediate reports), in a fresh
// storage.
//
//   storage_throughput --storage sqlite --path /tmp/x.db --trials 10000 [--mode declarative]
//   storage_throughput --storage memory --trials 10000
//   storage_throughput --storage sqlite-floor --path /tmp/x.db --trials 10000
//
// --mode declarative: the study declares the space; Ask() samples every parameter (one storage
//   write for the trial and its parameters).
// --mode define-by-run: the study's space is empty; each trial calls Suggest* ten times (one
//   storage write per parameter), as Optuna's ask + suggest_* + tell does.
// --storage sqlite-floor (and sqlite-floor-exclusive): not our storage but the least any SQLite
//   storage with one transaction per state change can cost: per trial, two transactions of one
//   row each (INSERT the running trial, UPDATE it to complete) on a bare one-table file with the
//   settings of hpo's SQLite storage (2 KiB pages, WAL, synchronous = NORMAL, checkpoints every
//   10,000 pages), statements prepared once, no sampling. The -exclusive variant adds
//   locking_mode = EXCLUSIVE (no shared-memory locks; one process only), which hpo's storage
//   cannot use since several processes share a study. Floor + in-memory time per trial bounds
//   the SQLite/in-memory ratio from below.
// The SQLite file (and its -wal/-shm) is deleted first. Prints one JSON line: {"bench":
// "storage", "impl": "hpo", "storage", "mode", "n_trials", "total_s", "per_trial_us", "cpu_s",
// "cpu_per_trial_us"}; cpu_s is the process's user + system CPU time over the same span, which
// other jobs on a busy machine inflate less than the wall time (it excludes waiting for a core
// and for the disk).
#include <sqlite3.h>
#include <sys/resource.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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

// Checks an SQLite result code.
void Check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
    throw std::runtime_error(std::string("sqlite-floor: ") + what + ": " + sqlite3_errmsg(db));
}

// The SQLite floor described at the top: `n_trials` x (INSERT; UPDATE), one transaction each.
// Its pragmas must stay those of hpo/src/storage/sqlite_storage.cc (Open).
void RunSqliteFloor(const std::string& path, int64_t n_trials, bool exclusive) {
  // The connection and its statements, finalised and closed however the run ends.
  struct Connection {
    sqlite3* db = nullptr;
    std::vector<sqlite3_stmt*> stmts;
    ~Connection() {
      for (sqlite3_stmt* st : stmts) sqlite3_finalize(st);
      sqlite3_close(db);
    }
  } conn;
  if (sqlite3_open(path.c_str(), &conn.db) != SQLITE_OK)
    throw std::runtime_error("sqlite-floor: cannot open " + path);
  sqlite3* db = conn.db;
  auto exec = [&](const char* sql) {
    Check(db, sqlite3_exec(db, sql, nullptr, nullptr, nullptr), sql);
  };
  exec("PRAGMA page_size = 2048");
  exec("PRAGMA journal_mode = WAL");
  exec("PRAGMA synchronous = NORMAL");
  exec("PRAGMA wal_autocheckpoint = 10000");
  if (exclusive) exec("PRAGMA locking_mode = EXCLUSIVE");
  exec("CREATE TABLE trials(id INTEGER PRIMARY KEY, state TEXT NOT NULL, value REAL)");
  auto prepare = [&](const char* sql) {
    sqlite3_stmt* st = nullptr;
    Check(db, sqlite3_prepare_v2(db, sql, -1, &st, nullptr), sql);
    conn.stmts.push_back(st);
    return st;
  };
  sqlite3_stmt* begin = prepare("BEGIN IMMEDIATE");
  sqlite3_stmt* commit = prepare("COMMIT");
  sqlite3_stmt* insert = prepare("INSERT INTO trials(state) VALUES('running')");
  sqlite3_stmt* update = prepare("UPDATE trials SET state = 'complete', value = ? WHERE id = ?");
  auto step = [&](sqlite3_stmt* st) {
    Check(db, sqlite3_step(st), sqlite3_sql(st));
    sqlite3_reset(st);
  };
  for (int64_t i = 0; i < n_trials; ++i) {
    step(begin);
    step(insert);
    sqlite3_int64 id = sqlite3_last_insert_rowid(db);
    step(commit);
    step(begin);
    sqlite3_bind_double(update, 1, static_cast<double>(i));
    sqlite3_bind_int64(update, 2, id);
    step(update);
    step(commit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    hpo_bench::Args args(argc, argv);
    std::string storage = args.Get("storage", "memory");
    std::string mode = args.Get("mode", "declarative");
    int64_t n_trials = args.GetInt("trials", 10000);
    std::string url = "memory";
    const std::string path = args.Get("path", "bench_storage.db");
    const bool floor = storage == "sqlite-floor" || storage == "sqlite-floor-exclusive";
    if (storage == "sqlite" || floor) {
      for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path + suffix);
      url = "sqlite:" + path;
    } else if (storage != "memory") {
      throw std::invalid_argument(
          "--storage must be memory, sqlite, sqlite-floor or sqlite-floor-exclusive");
    }
    if (!floor && mode != "declarative" && mode != "define-by-run")
      throw std::invalid_argument("--mode must be declarative or define-by-run");
    if (floor) mode = "floor";
    hpo::SearchSpace space = mode == "declarative" ? hpo_bench::Mixed10Space() : hpo::SearchSpace{};

    const double cpu_start = CpuSeconds();
    hpo_bench::Clock::time_point start = hpo_bench::Clock::now();
    if (floor) {
      RunSqliteFloor(path, n_trials, storage == "sqlite-floor-exclusive");
    } else {
      auto study = hpo_bench::MakeStudy(space, "random", /*seed=*/1, url);
      for (int64_t i = 0; i < n_trials; ++i) {
        std::optional<hpo::Trial> t = study->Ask();
        std::map<std::string, hpo::Value> x =
            mode == "declarative" ? t->ExternalParams() : SuggestMixed10(*t);
        study->Tell(*t, hpo_bench::Mixed10(x));
      }
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
