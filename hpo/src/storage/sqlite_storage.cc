// SQLite storage: one connection per object, guarded by a mutex; one transaction per call.
//
// Several processes may share one file: the database runs in WAL mode, writers take the write
// lock up front (BEGIN IMMEDIATE) and wait for each other (busy_timeout, then retries), and trial
// numbers are allocated inside the inserting transaction.
//
// Schema (version 5). SQLite stores NaN as NULL, so a NULL intermediate or parameter value reads
// back as NaN, and trials.value_is_nan tells a NaN objective from a missing one.
// trial_changes is the change log that lets a writer catch up on the others' changes: every
// transaction that changes a trial appends (seq, study_id, trial_id), seq being the rowid, so it
// increases across processes (appends happen under the write lock); ChangedTrials reads the
// trials named after a given seq. An append touches one page at the end of the log, where an
// indexed seq column on trials cost an index update (two more pages) per change. trials.owner names
// the connection running a trial (FailStaleRunningTrials fails only trials whose runner is gone).
// param_distributions holds the define-by-run distributions of each study. Versions 1 (no change
// tracking), 2 (an indexed trials.seq, now unused), 3 (no owner) and 4 (no param_distributions)
// are upgraded in place on open. The
// log is never trimmed: about 20 bytes per change (a 10,000-trial declared study: ~0.4 MB).
//
// Cost per state change (measured with bench/storage_throughput.cc; see docs/BENCHMARKS.md):
// WAL with synchronous = NORMAL (commits append to the WAL without fsync: durable against a
// process crash, and the database stays consistent after a power loss, which may lose the last
// commits); checkpoints (the only fsyncs) every 10,000 WAL pages; one statement per change and
// its change-log append between BEGIN IMMEDIATE and COMMIT, no separate existence check or
// read-back (UPDATE ... RETURNING hands back what the caller needs); as few indexes as the queries
// need, since each one touched adds a WAL frame to the commit; statements prepared once and cached
// by their text's address; 2 KiB pages in new files. What remains per commit is SQLite's own: the
// shm lock calls of BEGIN IMMEDIATE / COMMIT (about six fcntl) and one WAL frame (two pwrite) per
// page changed.
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "hpo/storage.h"
#include "storage/storage_common.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using storage_internal::NowSeconds;

constexpr int kSchemaVersion = 5;
constexpr char kApplication[] = "hpo";
constexpr int kBusyTimeoutMs = 30000;
// How long a call keeps retrying when SQLite reports the database busy beyond busy_timeout.
constexpr auto kBusyDeadline = std::chrono::seconds(60);

// Define-by-run distributions (version 5).
constexpr const char kParamDistributionsTable[] =
    "CREATE TABLE IF NOT EXISTS param_distributions("
    " study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " distribution TEXT NOT NULL,"
    " PRIMARY KEY(study_id, name)) WITHOUT ROWID";

constexpr const char* kSchema[] = {
    "CREATE TABLE hpo_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE studies("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " direction TEXT NOT NULL,"
    " metric TEXT NOT NULL,"
    " space_json TEXT NOT NULL,"
    " sampler TEXT NOT NULL,"
    " scheduler TEXT NOT NULL,"
    " config TEXT NOT NULL,"
    " created_at REAL NOT NULL)",
    "CREATE TABLE trials("
    " id INTEGER PRIMARY KEY,"
    " study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,"
    " number INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " value REAL,"
    " value_is_nan INTEGER NOT NULL DEFAULT 0,"
    " fail_reason TEXT NOT NULL DEFAULT '',"
    " start_time REAL,"
    " complete_time REAL,"
    " owner TEXT,"  // the connection running the trial (storage_internal::OwnerToken)
    " UNIQUE(study_id, number))",
    "CREATE TABLE trial_changes("
    " seq INTEGER PRIMARY KEY,"
    " study_id INTEGER NOT NULL,"
    " trial_id INTEGER NOT NULL)",
    "CREATE TABLE trial_params("
    " trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL,"
    " value REAL,"
    " PRIMARY KEY(trial_id, name)) WITHOUT ROWID",
    "CREATE TABLE trial_intermediate("
    " trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,"
    " step INTEGER NOT NULL,"
    " value REAL,"
    " PRIMARY KEY(trial_id, step)) WITHOUT ROWID",
    "CREATE TABLE trial_user_attrs("
    " trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL,"
    " value TEXT NOT NULL,"
    " PRIMARY KEY(trial_id, key)) WITHOUT ROWID",
    kParamDistributionsTable,
};

// Upgrades a database of version 1 to 4 to version 5 (version 4 added trials.owner, added after
// these; version 5 the define-by-run distributions). Version 1 had an index by state that only the
// scan for stale running trials on open used, and that every state change had to update.
constexpr const char* kUpgrade[] = {
    "CREATE TABLE IF NOT EXISTS trial_changes("
    " seq INTEGER PRIMARY KEY,"
    " study_id INTEGER NOT NULL,"
    " trial_id INTEGER NOT NULL)",
    kParamDistributionsTable,
    "DROP INDEX IF EXISTS trials_by_state",
    "DROP INDEX IF EXISTS trials_by_seq",
    "UPDATE hpo_meta SET value = '5' WHERE key = 'schema_version'",
};

// Thrown when SQLite reports the database busy or locked; the whole transaction is retried.
struct BusyError {
  std::string message;
};

bool IsBusy(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// A statement in use: binds, steps, reads columns; resets the statement when it goes away.
// Errors throw StorageError naming the database path (BusyError when busy).
class Query {
 public:
  Query(sqlite3_stmt* stmt, const std::string& path) : stmt_(stmt), path_(path) {}
  ~Query() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(stmt_, i, v)); }
  Query& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  // NaN binds as NULL (which is what SQLite would store anyway).
  Query& Bind(int i, double v) {
    return Check(std::isnan(v) ? sqlite3_bind_null(stmt_, i) : sqlite3_bind_double(stmt_, i, v));
  }
  Query& Bind(int i, std::optional<double> v) {
    return v ? Bind(i, *v) : Check(sqlite3_bind_null(stmt_, i));
  }
  Query& Bind(int i, const std::string& v) {
    return Check(
        sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Query& Bind(int i, const char* v) { return Bind(i, std::string(v)); }

  // True when a row is available, false when done.
  bool Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    std::string msg = path_ + ": " + sqlite3_errmsg(sqlite3_db_handle(stmt_)) + " (in \"" +
                      sqlite3_sql(stmt_) + "\")";
    if (IsBusy(rc)) throw BusyError{msg};
    throw StorageError("SQLite database " + msg);
  }
  void Run() {
    while (Step()) {
    }
  }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  // NULL reads as NaN.
  double Real(int col) const {
    return IsNull(col) ? std::numeric_limits<double>::quiet_NaN()
                       : sqlite3_column_double(stmt_, col);
  }
  // NULL reads as 0 (an unset time).
  double Time(int col) const { return IsNull(col) ? 0.0 : sqlite3_column_double(stmt_, col); }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }

 private:
  Query& Check(int rc) {
    if (rc != SQLITE_OK) {
      throw StorageError("SQLite database " + path_ +
                         ": cannot bind a value: " + sqlite3_errstr(rc));
    }
    return *this;
  }

  sqlite3_stmt* stmt_;
  const std::string& path_;
};

// Sleeps a little (growing, jittered) before retrying a busy transaction.
void BackOff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int max_ms = std::min(50, 1 << std::min(attempt, 6));
  std::this_thread::sleep_for(
      std::chrono::milliseconds(1 + std::uniform_int_distribution<int>(0, max_ms)(rng)));
}

enum class SchemaStatus { kEmpty, kOlder, kCurrent };

// Inspects the tables of an open database without writing. Throws StorageError when it holds
// another application's tables or a newer schema; BusyError when busy.
SchemaStatus InspectSchema(sqlite3* db, const std::string& path) {
  auto prepare = [&](const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = path + ": " + sqlite3_errmsg(db);
      if (IsBusy(rc)) throw BusyError{msg};
      throw StorageError("cannot read SQLite database " + msg);
    }
    return std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>(stmt, sqlite3_finalize);
  };
  std::vector<std::string> tables;
  {
    auto stmt = prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    Query q(stmt.get(), path);
    while (q.Step()) tables.push_back(q.Text(0));
  }
  if (tables.empty()) return SchemaStatus::kEmpty;
  if (std::find(tables.begin(), tables.end(), "hpo_meta") == tables.end()) {
    std::string list;
    for (size_t i = 0; i < tables.size() && i < 8; ++i) list += (i ? ", " : "") + tables[i];
    if (tables.size() > 8) list += ", ...";
    throw StorageError("SQLite database " + path +
                       " belongs to another application (it has tables " + list +
                       " but no hpo_meta table); it was left untouched: choose another path");
  }
  std::map<std::string, std::string> meta;
  {
    auto stmt = prepare("SELECT key, value FROM hpo_meta");
    Query q(stmt.get(), path);
    while (q.Step()) meta[q.Text(0)] = q.Text(1);
  }
  if (meta["application"] != kApplication) {
    throw StorageError("SQLite database " + path +
                       " belongs to another application (hpo_meta.application is '" +
                       meta["application"] + "', expected 'hpo'); it was left untouched");
  }
  const std::string& version = meta["schema_version"];
  int v = 0;
  try {
    size_t used = 0;
    v = std::stoi(version, &used);
    if (used != version.size()) v = 0;
  } catch (const std::exception&) {
    v = 0;
  }
  if (v < 1) {
    throw StorageError("SQLite database " + path + " has an invalid hpo schema_version '" +
                       version + "'; it was left untouched");
  }
  if (v > kSchemaVersion) {
    throw StorageError("SQLite database " + path + " has hpo schema version " + version +
                       ", newer than this build supports (" + std::to_string(kSchemaVersion) +
                       "); it was written by a newer hpo: upgrade hpo. The file was left "
                       "untouched");
  }
  return v < kSchemaVersion ? SchemaStatus::kOlder : SchemaStatus::kCurrent;
}

// Checks an existing file without writing to it: it must be empty or a SQLite database that
// is empty or holds an hpo schema this build can read. Throws StorageError otherwise.
void CheckExistingFile(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return;
  if (!fs::is_regular_file(status)) {
    throw StorageError("cannot open SQLite database " + path +
                       ": it exists and is not a regular file");
  }
  uintmax_t size = fs::file_size(path, ec);
  if (ec) throw StorageError("cannot open SQLite database " + path + ": " + ec.message());
  if (size == 0) return;  // an empty file is an empty database
  char header[16] = {};
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw StorageError("cannot open SQLite database " + path + ": the file cannot be read (" +
                       std::strerror(errno) + ")");
  }
  in.read(header, sizeof(header));
  if (in.gcount() != sizeof(header) || std::memcmp(header, "SQLite format 3", 16) != 0) {
    throw StorageError("cannot open " + path +
                       ": the file exists and is not a SQLite database (its header is not "
                       "\"SQLite format 3\"); it was left untouched: choose another path");
  }
  in.close();

  auto deadline = std::chrono::steady_clock::now() + kBusyDeadline;
  for (int attempt = 0;; ++attempt) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close_v2);
    if (rc != SQLITE_OK) {
      throw StorageError("cannot open SQLite database " + path + " read-only to inspect it: " +
                         (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(raw, kBusyTimeoutMs);
    try {
      InspectSchema(raw, path);
      return;
    } catch (const BusyError& e) {
      if (std::chrono::steady_clock::now() > deadline) {
        throw StorageError("cannot inspect SQLite database " + e.message);
      }
    }
    BackOff(attempt);
  }
}

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(std::string path) : path_(std::move(path)) {
    CheckExistingFile(path_);
    fs::path parent = fs::path(path_).parent_path();
    std::error_code ec;
    if (!parent.empty() && !fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec) {
        throw StorageError("cannot create directory " + parent.string() + " for SQLite database " +
                           path_ + ": " + ec.message());
      }
    }
    int rc =
        sqlite3_open_v2(path_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      throw StorageError("cannot open SQLite database " + path_ + ": " + msg);
    }
    try {
      Initialize();
    } catch (...) {
      Close();
      throw;
    }
  }

  ~SqliteStorage() override { Close(); }

  std::string url() const override { return "sqlite:" + path_; }

  int64_t OpenStudy(const StudyDefinition& def, bool allow_extend) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&]() -> int64_t {
      int64_t id = -1;
      StudyDefinition stored;
      {
        Query q = Prepare(
            "SELECT id, direction, metric, space_json, sampler, scheduler, config "
            "FROM studies WHERE name = ?");
        q.Bind(1, def.name);
        if (q.Step()) {
          id = q.Int(0);
          stored = ReadStudy(q, def.name);
        }
      }
      if (id >= 0) {
        bool changed = storage_internal::CheckStudyIdentity(path_, stored, def, allow_extend);
        if (!changed && !storage_internal::StudyRecordDiffers(stored, def)) return id;
        Query u = Prepare(
            "UPDATE studies SET direction = ?, metric = ?, space_json = ?, sampler = ?, "
            "scheduler = ?, config = ? WHERE id = ?");
        BindDefinition(u, def).Bind(7, id).Run();
        return id;
      }
      Query ins = Prepare(
          "INSERT INTO studies(direction, metric, space_json, sampler, scheduler, config, name, "
          "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
      BindDefinition(ins, def).Bind(7, def.name).Bind(8, NowSeconds());
      if (!ins.Step()) throw StorageError("SQLite database " + path_ + ": study insert failed");
      id = ins.Int(0);
      ins.Run();
      return id;
    });
  }

  StudyDefinition GetStudy(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/false, [&] {
      Query q = Prepare(
          "SELECT name, direction, metric, space_json, sampler, scheduler, config "
          "FROM studies WHERE id = ?");
      q.Bind(1, study_id);
      if (!q.Step()) throw NoStudy(study_id);
      return ReadStudy(q, q.Text(0));
    });
  }

  FrozenTrial CreateTrial(int64_t study_id, const ParamMap& params, TrialState state) override {
    storage_internal::CheckInitialState(state);
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&] {
      RequireStudy(study_id);
      FrozenTrial t;
      t.state = state;
      t.params = params;
      if (state == TrialState::kRunning) t.start_time = NowSeconds();
      {
        Query q = Prepare(
            "INSERT INTO trials(study_id, number, state, start_time, owner) VALUES "
            "(?1, (SELECT COALESCE(MAX(number), -1) + 1 FROM trials WHERE study_id = ?1), ?2, "
            "?3, ?4) RETURNING id, number");
        q.Bind(1, study_id).Bind(2, ToString(state));
        if (t.start_time != 0) q.Bind(3, t.start_time);
        if (state == TrialState::kRunning) q.Bind(4, owner_.str());
        if (!q.Step()) throw StorageError("SQLite database " + path_ + ": trial insert failed");
        t.id = q.Int(0);
        t.number = q.Int(1);
        q.Run();
      }
      LogChange(study_id, t.id);
      // One statement per kParamRowsPerInsert parameters rather than one per parameter.
      auto it = params.begin();
      for (size_t left = params.size(); left > 0;) {
        const size_t rows = std::min(left, kParamRowsPerInsert);
        Query p = Prepare(ParamInsertSql(rows));
        for (size_t r = 0; r < rows; ++r, ++it) {
          const int base = static_cast<int>(3 * r);
          p.Bind(base + 1, t.id).Bind(base + 2, it->first).Bind(base + 3, it->second);
        }
        p.Run();
        left -= rows;
      }
      return t;
    });
  }

  TrialTimes SetTrialState(int64_t trial_id, TrialState state, std::optional<double> value,
                           const std::string& fail_reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&] {
      double now = NowSeconds();
      Query q = Prepare(
          "UPDATE trials SET state = ?1, value = ?2, value_is_nan = ?3, fail_reason = ?4, "
          "start_time = COALESCE(start_time, ?5), complete_time = ?6, owner = COALESCE(?8, owner) "
          "WHERE id = ?7 RETURNING start_time, complete_time, study_id");
      q.Bind(1, ToString(state)).Bind(2, value).Bind(3, value && std::isnan(*value) ? 1 : 0);
      q.Bind(4, fail_reason);
      if (state != TrialState::kQueued) q.Bind(5, now);
      if (IsFinished(state)) q.Bind(6, now);
      q.Bind(7, trial_id);
      if (state == TrialState::kRunning) q.Bind(8, owner_.str());
      if (!q.Step()) throw NoTrial(trial_id);
      return LoggedStateChange(q, trial_id);
    });
  }

  std::optional<TrialTimes> ClaimTrial(int64_t trial_id, TrialState from) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&]() -> std::optional<TrialTimes> {
      Query q = Prepare(
          "UPDATE trials SET state = ?1, start_time = COALESCE(start_time, ?2), owner = ?3 "
          "WHERE id = ?4 AND state = ?5 RETURNING start_time, complete_time, study_id");
      q.Bind(1, ToString(TrialState::kRunning)).Bind(2, NowSeconds()).Bind(3, owner_.str());
      q.Bind(4, trial_id).Bind(5, ToString(from));
      if (!q.Step()) {
        Query exists = Prepare("SELECT 1 FROM trials WHERE id = ?");
        if (!exists.Bind(1, trial_id).Step()) throw NoTrial(trial_id);
        return std::nullopt;  // another writer claimed or finished it first
      }
      return LoggedStateChange(q, trial_id);
    });
  }

  std::string RegisterParamDistribution(int64_t study_id, const std::string& name,
                                        const std::string& distribution) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&] {
      RequireStudy(study_id);  // before the insert, whose foreign key would fail unnamed
      Query insert = Prepare(
          "INSERT INTO param_distributions(study_id, name, distribution) VALUES (?, ?, ?) "
          "ON CONFLICT(study_id, name) DO NOTHING");
      insert.Bind(1, study_id).Bind(2, name).Bind(3, distribution).Run();
      Query q =
          Prepare("SELECT distribution FROM param_distributions WHERE study_id = ? AND name = ?");
      q.Bind(1, study_id).Bind(2, name);
      if (!q.Step()) throw NoStudy(study_id);
      return q.Text(0);
    });
  }

  std::map<std::string, std::string> GetParamDistributions(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/false, [&] {
      RequireStudy(study_id);
      std::map<std::string, std::string> out;
      Query q = Prepare("SELECT name, distribution FROM param_distributions WHERE study_id = ?");
      q.Bind(1, study_id);
      while (q.Step()) out[q.Text(0)] = q.Text(1);
      return out;
    });
  }

  void SetTrialParam(int64_t trial_id, const std::string& name, double internal) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction(/*write=*/true, [&] {
      TouchTrial(trial_id);
      Query q = Prepare(
          "INSERT INTO trial_params(trial_id, name, value) VALUES (?, ?, ?) "
          "ON CONFLICT(trial_id, name) DO UPDATE SET value = excluded.value");
      q.Bind(1, trial_id).Bind(2, name).Bind(3, internal).Run();
    });
  }

  void SetIntermediate(int64_t trial_id, int64_t step, double value) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction(/*write=*/true, [&] {
      TouchTrial(trial_id);
      Query q = Prepare(
          "INSERT INTO trial_intermediate(trial_id, step, value) VALUES (?, ?, ?) "
          "ON CONFLICT(trial_id, step) DO UPDATE SET value = excluded.value");
      q.Bind(1, trial_id).Bind(2, step).Bind(3, value).Run();
    });
  }

  void SetUserAttr(int64_t trial_id, const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    Transaction(/*write=*/true, [&] {
      TouchTrial(trial_id);
      Query q = Prepare(
          "INSERT INTO trial_user_attrs(trial_id, key, value) VALUES (?, ?, ?) "
          "ON CONFLICT(trial_id, key) DO UPDATE SET value = excluded.value");
      q.Bind(1, trial_id).Bind(2, key).Bind(3, value).Run();
    });
  }

  FrozenTrial GetTrial(int64_t trial_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/false, [&] { return LoadTrial(trial_id); });
  }

  std::vector<FrozenTrial> GetAllTrials(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/false, [&] {
      RequireStudy(study_id);
      return LoadTrials(study_id, /*since=*/-1).trials;
    });
  }

  int64_t LastChange(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/false, [&] {
      RequireStudy(study_id);
      int64_t seq = MaxSeq();
      checked_ = {study_id, seq, DataVersion()};
      return seq;
    });
  }

  TrialChanges ChangedTrials(int64_t study_id, int64_t since) override {
    std::lock_guard<std::mutex> lock(mu_);
    // No other connection has committed since the previous call returned `checked_.seq`: every
    // change after it is this object's own.
    if (checked_.study_id == study_id && since >= checked_.since &&
        DataVersion() == checked_.data_version)
      return {{}, since};
    return Transaction(/*write=*/false, [&] {
      RequireStudy(study_id);
      int64_t data_version = DataVersion();
      TrialChanges changes = LoadTrials(study_id, since);
      checked_ = {study_id, since, data_version};
      return changes;
    });
  }

  std::vector<FrozenTrial> FailStaleRunningTrials(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Transaction(/*write=*/true, [&] {
      RequireStudy(study_id);
      std::vector<int64_t> ids;
      {
        Query q = Prepare("SELECT id, owner FROM trials WHERE study_id = ?1 AND state = ?2");
        q.Bind(1, study_id).Bind(2, ToString(TrialState::kRunning));
        while (q.Step())
          if (!storage_internal::OwnerAlive(q.Text(1), owner_)) ids.push_back(q.Int(0));
      }
      const double now = NowSeconds();
      for (int64_t id : ids) {
        Query q = Prepare(
            "UPDATE trials SET state = ?1, fail_reason = ?2, complete_time = ?3, "
            "start_time = COALESCE(start_time, ?3) WHERE id = ?4");
        q.Bind(1, ToString(TrialState::kFailed))
            .Bind(2, storage_internal::kInterruptedReason)
            .Bind(3, now)
            .Bind(4, id)
            .Run();
      }
      std::vector<FrozenTrial> failed;
      for (int64_t id : ids) {
        LogChange(study_id, id);
        failed.push_back(LoadTrial(id));
      }
      std::sort(failed.begin(), failed.end(),
                [](const FrozenTrial& a, const FrozenTrial& b) { return a.number < b.number; });
      return failed;
    });
  }

 private:
  void Initialize() {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    // Pages of 2 KiB rather than SQLite's 4 KiB: a commit writes (and checksums) every page it
    // changes into the WAL, and hpo's rows are small; ~20% less CPU per declared ask+tell here
    // (docs/BENCHMARKS.md). It only applies when this call creates the file: an existing
    // database keeps its page size.
    Exec("PRAGMA page_size = 2048");
    // Switching to WAL needs a lock other processes may hold for a moment.
    auto deadline = std::chrono::steady_clock::now() + kBusyDeadline;
    for (int attempt = 0;; ++attempt) {
      try {
        Exec("PRAGMA journal_mode = WAL");
        break;
      } catch (const BusyError& e) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw StorageError("cannot switch SQLite database to WAL mode: " + e.message);
        }
      }
      BackOff(attempt);
    }
    Exec("PRAGMA synchronous = NORMAL");
    Exec("PRAGMA foreign_keys = ON");
    // A checkpoint fsyncs the WAL and the database (the only fsyncs with synchronous = NORMAL):
    // every 1,000 pages (SQLite's default) that was about a third of the wall time of a
    // 10,000-trial ask+tell run here; every 10,000 pages (~20 MB of WAL) it is ten times rarer.
    Exec("PRAGMA wal_autocheckpoint = 10000");
    // Check again under the write lock (another process may have created the file meanwhile),
    // and create the schema if the database is empty.
    Transaction(/*write=*/true, [&] {
      SchemaStatus status = InspectSchema(db_, path_);
      if (status == SchemaStatus::kCurrent) return;
      if (status == SchemaStatus::kOlder) {
        for (const char* sql : kUpgrade) Exec(sql);
        bool has_owner = false;
        Query q = Prepare("SELECT 1 FROM pragma_table_info('trials') WHERE name = 'owner'");
        while (q.Step()) has_owner = true;
        if (!has_owner) Exec("ALTER TABLE trials ADD COLUMN owner TEXT");
        return;
      }
      for (const char* sql : kSchema) Exec(sql);
      Query q = Prepare("INSERT INTO hpo_meta(key, value) VALUES (?, ?), (?, ?)");
      q.Bind(1, "schema_version").Bind(2, std::to_string(kSchemaVersion));
      q.Bind(3, "application").Bind(4, kApplication).Run();
    });
  }

  void Close() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    statements_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }

  sqlite3_stmt* PrepareRaw(const char* sql, unsigned flags) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, flags, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = path_ + ": " + sqlite3_errmsg(db_) + " (preparing \"" + sql + "\")";
      if (IsBusy(rc)) throw BusyError{msg};
      throw StorageError("SQLite database " + msg);
    }
    return stmt;
  }

  // The cached prepared statement for `sql` (prepared on first use), keyed by the address of
  // the text: `sql` must be a string literal (or otherwise outlive this object).
  Query Prepare(const char* sql) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
      it = statements_.emplace(sql, PrepareRaw(sql, SQLITE_PREPARE_PERSISTENT)).first;
    }
    return Query(it->second, path_);
  }

  // Runs a statement once, without caching it (schema and pragmas).
  void Exec(const char* sql) {
    std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> stmt(PrepareRaw(sql, 0),
                                                               sqlite3_finalize);
    Query(stmt.get(), path_).Run();
  }

  // Runs `fn` in one transaction (BEGIN IMMEDIATE for writes), committing on return and rolling
  // back on an exception. A busy database retries the whole transaction until kBusyDeadline.
  template <typename F>
  auto Transaction(bool write, F&& fn) -> decltype(fn()) {
    auto deadline = std::chrono::steady_clock::now() + kBusyDeadline;
    for (int attempt = 0;; ++attempt) {
      try {
        Prepare(write ? "BEGIN IMMEDIATE" : "BEGIN").Run();
        try {
          if constexpr (std::is_void_v<decltype(fn())>) {
            fn();
            Prepare("COMMIT").Run();
            return;
          } else {
            auto result = fn();
            Prepare("COMMIT").Run();
            return result;
          }
        } catch (...) {
          if (!sqlite3_get_autocommit(db_))
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
          throw;
        }
      } catch (const BusyError& e) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw StorageError("SQLite database " + e.message + ": gave up after " +
                             std::to_string(kBusyDeadline.count()) +
                             " s waiting for other writers");
        }
      }
      BackOff(attempt);
    }
  }

  StorageError NoStudy(int64_t id) const {
    return StorageError("SQLite database " + path_ + ": no study with id " + std::to_string(id));
  }
  StorageError NoTrial(int64_t id) const {
    return StorageError("SQLite database " + path_ + ": no trial with id " + std::to_string(id));
  }
  void RequireStudy(int64_t study_id) {
    Query q = Prepare("SELECT 1 FROM studies WHERE id = ?");
    q.Bind(1, study_id);
    if (!q.Step()) throw NoStudy(study_id);
  }
  static constexpr size_t kParamRowsPerInsert = 64;
  // "INSERT INTO trial_params ... VALUES (?, ?, ?), ..." with `rows` rows, kept for the life of
  // this object (Prepare caches statements by the text's address).
  const char* ParamInsertSql(size_t rows) {
    std::string& sql = param_insert_sql_[rows];
    if (sql.empty()) {
      sql = "INSERT INTO trial_params(trial_id, name, value) VALUES (?, ?, ?)";
      for (size_t r = 1; r < rows; ++r) sql += ", (?, ?, ?)";
    }
    return sql.c_str();
  }

  // The end of a state change: `q`, an UPDATE ... RETURNING start_time, complete_time, study_id
  // whose first Step() returned the row, runs to completion, and the change is logged.
  TrialTimes LoggedStateChange(Query& q, int64_t trial_id) {
    TrialTimes times{q.Time(0), q.Time(1)};
    int64_t study_id = q.Int(2);
    q.Run();
    LogChange(study_id, trial_id);
    return times;
  }

  // Appends a change of the trial to the log (see the top comment).
  void LogChange(int64_t study_id, int64_t trial_id) {
    Query q = Prepare("INSERT INTO trial_changes(study_id, trial_id) VALUES (?, ?)");
    q.Bind(1, study_id).Bind(2, trial_id).Run();
  }
  // LogChange for a trial known by id only; throws when there is no such trial.
  void TouchTrial(int64_t trial_id) {
    Query q = Prepare(
        "INSERT INTO trial_changes(study_id, trial_id) SELECT study_id, id FROM trials "
        "WHERE id = ?");
    q.Bind(1, trial_id).Run();
    if (sqlite3_changes(db_) != 1) throw NoTrial(trial_id);
  }
  // The latest change sequence number of the database (0: none).
  int64_t MaxSeq() {
    Query q = Prepare("SELECT COALESCE(MAX(seq), 0) FROM trial_changes");
    q.Step();
    return q.Int(0);
  }
  // PRAGMA data_version: changes when another connection commits (never for this one's commits).
  int64_t DataVersion() {
    Query q = Prepare("PRAGMA data_version");
    if (!q.Step()) throw StorageError("SQLite database " + path_ + ": no data_version");
    return q.Int(0);
  }

  // The trials of the study changed after `since` (every trial with since < 0), by number, and
  // (since >= 0) the latest seq of the database, or `since` when larger. Inside a transaction.
  TrialChanges LoadTrials(int64_t study_id, int64_t since) {
    TrialChanges out;
    if (since >= 0) out.seq = std::max<int64_t>(since, MaxSeq());  // GetAllTrials needs none
    std::vector<FrozenTrial>& trials = out.trials;
    std::unordered_map<int64_t, size_t> index;  // trial id → position in `trials`
    const bool all = since < 0;
    // ?1: study id, ?2: since.
#define HPO_CHANGED "(SELECT trial_id FROM trial_changes WHERE seq > ?2 AND study_id = ?1)"
    {
      Query q = Prepare(all ? "SELECT id, number, state, value, value_is_nan, fail_reason, "
                              "start_time, complete_time FROM trials WHERE study_id = ?1 "
                              "ORDER BY number"
                            : "SELECT id, number, state, value, value_is_nan, fail_reason, "
                              "start_time, complete_time FROM trials WHERE id IN " HPO_CHANGED
                              " ORDER BY number");
      q.Bind(1, study_id);
      if (!all) q.Bind(2, since);
      while (q.Step()) {
        trials.push_back(ReadTrialRow(q));
        index.emplace(trials.back().id, trials.size() - 1);
      }
    }
    if (trials.empty()) return out;
    // One child table: every (trial_id, key, value) row of the selected trials, given to `set`.
    auto load_rows = [&](const char* all_sql, const char* changed_sql, auto&& set) {
      Query q = Prepare(all ? all_sql : changed_sql);
      q.Bind(1, study_id);
      if (!all) q.Bind(2, since);
      while (q.Step()) set(trials[index.at(q.Int(0))], q);
    };
    load_rows(
        "SELECT p.trial_id, p.name, p.value FROM trial_params p "
        "JOIN trials t ON t.id = p.trial_id WHERE t.study_id = ?1",
        "SELECT trial_id, name, value FROM trial_params WHERE trial_id IN " HPO_CHANGED,
        [](FrozenTrial& t, Query& q) { t.params[q.Text(1)] = q.Real(2); });
    load_rows(
        "SELECT i.trial_id, i.step, i.value FROM trial_intermediate i "
        "JOIN trials t ON t.id = i.trial_id WHERE t.study_id = ?1",
        "SELECT trial_id, step, value FROM trial_intermediate WHERE trial_id IN " HPO_CHANGED,
        [](FrozenTrial& t, Query& q) { t.intermediate[q.Int(1)] = q.Real(2); });
    load_rows(
        "SELECT a.trial_id, a.key, a.value FROM trial_user_attrs a "
        "JOIN trials t ON t.id = a.trial_id WHERE t.study_id = ?1",
        "SELECT trial_id, key, value FROM trial_user_attrs WHERE trial_id IN " HPO_CHANGED,
        [](FrozenTrial& t, Query& q) { t.user_attrs[q.Text(1)] = q.Text(2); });
#undef HPO_CHANGED
    return out;
  }

  // Binds direction, metric, space_json, sampler, scheduler, config to parameters 1..6.
  static Query& BindDefinition(Query& q, const StudyDefinition& def) {
    return q.Bind(1, ToString(def.direction))
        .Bind(2, def.metric)
        .Bind(3, def.space_json)
        .Bind(4, def.sampler)
        .Bind(5, def.scheduler)
        .Bind(6, def.config);
  }

  // Reads columns 1..6 (direction, metric, space_json, sampler, scheduler, config).
  StudyDefinition ReadStudy(const Query& q, const std::string& name) const {
    StudyDefinition def;
    def.name = name;
    try {
      def.direction = ParseDirection(q.Text(1));
    } catch (const std::invalid_argument& e) {
      throw StorageError("SQLite database " + path_ + ": study '" + name + "': " + e.what());
    }
    def.metric = q.Text(2);
    def.space_json = q.Text(3);
    def.sampler = q.Text(4);
    def.scheduler = q.Text(5);
    def.config = q.Text(6);
    return def;
  }

  // Reads id, number, state, value, value_is_nan, fail_reason, start_time, complete_time.
  FrozenTrial ReadTrialRow(const Query& q) const {
    FrozenTrial t;
    t.id = q.Int(0);
    t.number = q.Int(1);
    try {
      t.state = ParseTrialState(q.Text(2));
    } catch (const std::invalid_argument& e) {
      throw StorageError("SQLite database " + path_ + ": trial " + std::to_string(t.id) + ": " +
                         e.what());
    }
    if (q.Int(4) != 0) {
      t.value = std::numeric_limits<double>::quiet_NaN();
    } else if (!q.IsNull(3)) {
      t.value = q.Real(3);
    }
    t.fail_reason = q.Text(5);
    t.start_time = q.Time(6);
    t.complete_time = q.Time(7);
    return t;
  }

  FrozenTrial LoadTrial(int64_t trial_id) {
    FrozenTrial t;
    {
      Query q = Prepare(
          "SELECT id, number, state, value, value_is_nan, fail_reason, start_time, "
          "complete_time FROM trials WHERE id = ?");
      q.Bind(1, trial_id);
      if (!q.Step()) throw NoTrial(trial_id);
      t = ReadTrialRow(q);
    }
    {
      Query q = Prepare("SELECT name, value FROM trial_params WHERE trial_id = ?");
      q.Bind(1, trial_id);
      while (q.Step()) t.params[q.Text(0)] = q.Real(1);
    }
    {
      Query q = Prepare("SELECT step, value FROM trial_intermediate WHERE trial_id = ?");
      q.Bind(1, trial_id);
      while (q.Step()) t.intermediate[q.Int(0)] = q.Real(1);
    }
    {
      Query q = Prepare("SELECT key, value FROM trial_user_attrs WHERE trial_id = ?");
      q.Bind(1, trial_id);
      while (q.Step()) t.user_attrs[q.Text(0)] = q.Text(1);
    }
    return t;
  }

  const std::string path_;
  const storage_internal::OwnerToken owner_;  // stored with the trials this connection runs
  std::mutex mu_;                             // guards db_ and statements_
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> statements_;  // by the SQL text's address
  std::map<size_t, std::string> param_insert_sql_;             // by row count (stable nodes)
  // The last ChangedTrials (or LastChange) that read the database: its study, `since`, and the
  // connection's data_version then.
  struct {
    int64_t study_id = -1;
    int64_t since = 0;
    int64_t data_version = -1;
  } checked_;
};

}  // namespace

std::unique_ptr<Storage> MakeSqliteStorage(const std::string& path) {
  if (path.empty()) throw StorageError("SQLite storage needs a file path");
  return std::make_unique<SqliteStorage>(path);
}

}  // namespace hpo
