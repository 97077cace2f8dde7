// Tests for hpo/src/storage: shared semantics run against both implementations; SQLite-only
// behaviour (files, reopening, foreign files, several processes) below.
#include "hpo/storage.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace hpo {
namespace {

using ::hpo::testing::ReadFile;
using ::hpo::testing::TempDir;
using ::hpo::testing::WriteFile;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

StudyDefinition Def(const std::string& name = "study") {
  StudyDefinition def;
  def.name = name;
  def.direction = Direction::kMaximize;
  def.metric = "val_accuracy";
  def.space_json = R"({"params":[{"name":"lr","type":"float","low":1e-05,"high":0.1,"log":true}]})";
  def.sampler = "tpe";
  def.scheduler = "asha";
  def.config = "study: {name: study}\n";
  return def;
}

// Equality that treats NaN as equal to NaN.
bool SameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void ExpectSameTrial(const FrozenTrial& a, const FrozenTrial& b) {
  SCOPED_TRACE("trial number " + std::to_string(a.number));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.params, b.params);
  ASSERT_EQ(a.value.has_value(), b.value.has_value());
  if (a.value) EXPECT_TRUE(SameDouble(*a.value, *b.value)) << *a.value << " vs " << *b.value;
  ASSERT_EQ(a.intermediate.size(), b.intermediate.size());
  for (auto ia = a.intermediate.begin(), ib = b.intermediate.begin(); ia != a.intermediate.end();
       ++ia, ++ib) {
    EXPECT_EQ(ia->first, ib->first);
    EXPECT_TRUE(SameDouble(ia->second, ib->second)) << ia->second << " vs " << ib->second;
  }
  EXPECT_EQ(a.fail_reason, b.fail_reason);
  EXPECT_EQ(a.user_attrs, b.user_attrs);
  EXPECT_EQ(a.start_time, b.start_time);
  EXPECT_EQ(a.complete_time, b.complete_time);
}

// Fills a study with trials in every state and with every kind of field; returns what the
// storage reported (via GetTrial) after all writes.
std::vector<FrozenTrial> FillStudy(Storage& s, int64_t study) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    ParamMap params = {{"lr", 0.001 * (i + 1)}, {"layers", static_cast<double>(i % 3)}};
    ids.push_back(
        s.CreateTrial(study, params, i == 6 ? TrialState::kQueued : TrialState::kRunning).id);
  }
  // 0: complete with intermediates (one NaN, one inf) and user attrs.
  s.SetIntermediate(ids[0], 1, 0.5);
  s.SetIntermediate(ids[0], 2, kNaN);
  s.SetIntermediate(ids[0], 3, kInf);
  s.SetIntermediate(ids[0], 4, -kInf);
  s.SetUserAttr(ids[0], "checkpoint", "runs/study/trial_0.pt");
  s.SetUserAttr(ids[0], "empty", "");
  s.SetTrialState(ids[0], TrialState::kComplete, 0.75);
  // 1: pruned at a rung.
  s.SetIntermediate(ids[1], 1, 0.1);
  s.SetTrialState(ids[1], TrialState::kPruned, std::nullopt);
  // 2: failed with a reason.
  s.SetTrialState(ids[2], TrialState::kFailed, std::nullopt, "CUDA out of memory");
  // 3: paused by a promoting scheduler.
  s.SetIntermediate(ids[3], 3, 0.3);
  s.SetTrialState(ids[3], TrialState::kPaused, std::nullopt);
  // 4: complete with a NaN objective (distinct from no value).
  s.SetTrialState(ids[4], TrialState::kComplete, kNaN);
  // 5: complete with -inf, and a parameter added define-by-run.
  s.SetTrialParam(ids[5], "dropout", 0.25);
  s.SetTrialState(ids[5], TrialState::kComplete, -kInf);
  // 6: still queued.
  std::vector<FrozenTrial> out;
  for (int64_t id : ids) out.push_back(s.GetTrial(id));
  return out;
}

class StorageTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Storage> Make() {
    return GetParam() == "memory" ? MakeInMemoryStorage() : MakeSqliteStorage(DbPath());
  }
  std::string DbPath() const { return dir_.File("study.db"); }

  TempDir dir_;
};

INSTANTIATE_TEST_SUITE_P(Both, StorageTest, ::testing::Values("memory", "sqlite"),
                         [](const auto& info) { return info.param; });

TEST_P(StorageTest, StudyDefinitionRoundTrip) {
  auto s = Make();
  StudyDefinition def = Def();
  int64_t id = s->OpenStudy(def);
  StudyDefinition got = s->GetStudy(id);
  EXPECT_EQ(got.name, def.name);
  EXPECT_EQ(got.direction, Direction::kMaximize);
  EXPECT_EQ(got.metric, def.metric);
  EXPECT_EQ(got.space_json, def.space_json);
  EXPECT_EQ(got.sampler, def.sampler);
  EXPECT_EQ(got.scheduler, def.scheduler);
  EXPECT_EQ(got.config, def.config);
  EXPECT_EQ(s->OpenStudy(def), id);
  EXPECT_NE(s->OpenStudy(Def("other")), id);
  EXPECT_THROW(s->GetStudy(id + 100), StorageError);
}

TEST_P(StorageTest, EveryTrialFieldRoundTrips) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  double before = std::floor(
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  std::vector<FrozenTrial> t = FillStudy(*s, study);
  ASSERT_EQ(t.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(t[i].number, i);

  EXPECT_EQ(t[0].state, TrialState::kComplete);
  EXPECT_EQ(t[0].value, 0.75);
  EXPECT_EQ(t[0].params, (ParamMap{{"lr", 0.001}, {"layers", 0.0}}));
  ASSERT_EQ(t[0].intermediate.size(), 4u);
  EXPECT_EQ(t[0].intermediate.at(1), 0.5);
  EXPECT_TRUE(std::isnan(t[0].intermediate.at(2)));
  EXPECT_EQ(t[0].intermediate.at(3), kInf);
  EXPECT_EQ(t[0].intermediate.at(4), -kInf);
  EXPECT_EQ(t[0].user_attrs, (std::map<std::string, std::string>{
                                 {"checkpoint", "runs/study/trial_0.pt"}, {"empty", ""}}));
  EXPECT_GE(t[0].start_time, before);
  EXPECT_GE(t[0].complete_time, t[0].start_time);

  EXPECT_EQ(t[1].state, TrialState::kPruned);
  EXPECT_FALSE(t[1].value.has_value());
  EXPECT_EQ(t[1].last_intermediate(), 0.1);
  EXPECT_GT(t[1].complete_time, 0);

  EXPECT_EQ(t[2].state, TrialState::kFailed);
  EXPECT_EQ(t[2].fail_reason, "CUDA out of memory");
  EXPECT_TRUE(t[2].intermediate.empty());

  EXPECT_EQ(t[3].state, TrialState::kPaused);
  EXPECT_EQ(t[3].complete_time, 0);
  EXPECT_GT(t[3].start_time, 0);

  ASSERT_TRUE(t[4].value.has_value());
  EXPECT_TRUE(std::isnan(*t[4].value));

  EXPECT_EQ(t[5].value, -kInf);
  EXPECT_EQ(t[5].params.at("dropout"), 0.25);
  EXPECT_EQ(t[5].params.size(), 3u);

  EXPECT_EQ(t[6].state, TrialState::kQueued);
  EXPECT_EQ(t[6].start_time, 0);
  EXPECT_EQ(t[6].complete_time, 0);

  std::vector<FrozenTrial> all = s->GetAllTrials(study);
  ASSERT_EQ(all.size(), t.size());
  for (size_t i = 0; i < t.size(); ++i) ExpectSameTrial(all[i], t[i]);
}

TEST_P(StorageTest, CreateTrialReturnsStoredRecord) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  FrozenTrial created = s->CreateTrial(study, {{"x", 1.5}}, TrialState::kRunning);
  ExpectSameTrial(created, s->GetTrial(created.id));
  EXPECT_THROW(s->CreateTrial(study, {}, TrialState::kComplete), std::invalid_argument);
  EXPECT_EQ(s->GetAllTrials(study).size(), 1u);
}

TEST_P(StorageTest, QueuedTrialGetsStartTimeWhenItRuns) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  FrozenTrial t = s->CreateTrial(study, {}, TrialState::kQueued);
  EXPECT_EQ(t.start_time, 0);
  s->SetTrialState(t.id, TrialState::kRunning, std::nullopt);
  FrozenTrial running = s->GetTrial(t.id);
  EXPECT_GT(running.start_time, 0);
  s->SetTrialState(t.id, TrialState::kPaused, std::nullopt);
  s->SetTrialState(t.id, TrialState::kRunning, std::nullopt);
  EXPECT_EQ(s->GetTrial(t.id).start_time, running.start_time);
}

// ClaimTrial moves a queued or paused trial to running only while it is still in that state:
// the second claim of the same trial, by this or another connection, gets nothing.
TEST_P(StorageTest, ATrialIsClaimedOnce) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  FrozenTrial queued = s->CreateTrial(study, {{"x", 0.5}}, TrialState::kQueued);
  std::optional<TrialTimes> first = s->ClaimTrial(queued.id, TrialState::kQueued);
  ASSERT_TRUE(first.has_value());
  EXPECT_GT(first->start_time, 0);
  EXPECT_EQ(first->complete_time, 0);
  EXPECT_FALSE(s->ClaimTrial(queued.id, TrialState::kQueued).has_value());
  FrozenTrial stored = s->GetTrial(queued.id);
  EXPECT_EQ(stored.state, TrialState::kRunning);
  EXPECT_EQ(stored.start_time, first->start_time);
  EXPECT_EQ(stored.params.at("x"), 0.5);

  s->SetTrialState(queued.id, TrialState::kPaused, std::nullopt);
  EXPECT_FALSE(s->ClaimTrial(queued.id, TrialState::kQueued).has_value());  // wrong `from`
  std::optional<TrialTimes> resumed = s->ClaimTrial(queued.id, TrialState::kPaused);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(resumed->start_time, first->start_time);  // the first start is kept
  EXPECT_EQ(s->GetTrial(queued.id).state, TrialState::kRunning);
  EXPECT_THROW(s->ClaimTrial(queued.id + 1000, TrialState::kQueued), StorageError);

  if (GetParam() == "sqlite") {  // another connection sees the claim and cannot take the trial
    FrozenTrial next = s->CreateTrial(study, {}, TrialState::kQueued);
    auto other = MakeSqliteStorage(DbPath());
    other->OpenStudy(Def());
    ASSERT_TRUE(other->ClaimTrial(next.id, TrialState::kQueued).has_value());
    EXPECT_FALSE(s->ClaimTrial(next.id, TrialState::kQueued).has_value());
  }
}

// The first distribution registered under a name stays; later ones get it back.
TEST_P(StorageTest, DefineByRunDistributionsKeepTheFirst) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  const std::string lr = Distribution::Float(1e-5, 1e-1, true).ToJson();
  const std::string other = Distribution::Float(0, 1).ToJson();
  EXPECT_EQ(s->RegisterParamDistribution(study, "lr", lr), lr);
  EXPECT_EQ(s->RegisterParamDistribution(study, "lr", other), lr);
  EXPECT_EQ(s->RegisterParamDistribution(study, "momentum", other), other);
  EXPECT_EQ(s->GetParamDistributions(study),
            (std::map<std::string, std::string>{{"lr", lr}, {"momentum", other}}));
  StudyDefinition second = Def();
  second.name = "second";
  EXPECT_TRUE(s->GetParamDistributions(s->OpenStudy(second)).empty());  // per study
  if (GetParam() == "sqlite") {
    auto reopened = MakeSqliteStorage(DbPath());
    EXPECT_EQ(reopened->GetParamDistributions(reopened->OpenStudy(Def())).at("lr"), lr);
  }
}

TEST_P(StorageTest, OverwritesIntermediateParamAndUserAttr) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  int64_t id = s->CreateTrial(study, {{"a", 1}}, TrialState::kRunning).id;
  s->SetIntermediate(id, 5, 1.0);
  s->SetIntermediate(id, 5, 2.0);
  s->SetTrialParam(id, "a", 3.0);
  s->SetUserAttr(id, "k", "v1");
  s->SetUserAttr(id, "k", "v2");
  FrozenTrial t = s->GetTrial(id);
  EXPECT_EQ(t.intermediate, (std::map<int64_t, double>{{5, 2.0}}));
  EXPECT_EQ(t.params, (ParamMap{{"a", 3.0}}));
  EXPECT_EQ(t.user_attrs.at("k"), "v2");
}

TEST_P(StorageTest, NumbersArePerStudyAndIdsStorageWide) {
  auto s = Make();
  int64_t a = s->OpenStudy(Def("a"));
  int64_t b = s->OpenStudy(Def("b"));
  std::set<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    FrozenTrial ta = s->CreateTrial(a, {}, TrialState::kRunning);
    FrozenTrial tb = s->CreateTrial(b, {}, TrialState::kRunning);
    EXPECT_EQ(ta.number, i);
    EXPECT_EQ(tb.number, i);
    ids.insert(ta.id);
    ids.insert(tb.id);
  }
  EXPECT_EQ(ids.size(), 6u);
  EXPECT_EQ(s->GetAllTrials(a).size(), 3u);
  EXPECT_EQ(s->GetAllTrials(b).size(), 3u);
}

TEST_P(StorageTest, UnknownIdsThrow) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  int64_t id = s->CreateTrial(study, {}, TrialState::kRunning).id;
  const int64_t bad = id + 1000;
  EXPECT_THROW(s->GetTrial(bad), StorageError);
  EXPECT_THROW(s->SetTrialState(bad, TrialState::kComplete, 1.0), StorageError);
  EXPECT_THROW(s->SetTrialParam(bad, "x", 1.0), StorageError);
  EXPECT_THROW(s->SetIntermediate(bad, 1, 1.0), StorageError);
  EXPECT_THROW(s->SetUserAttr(bad, "k", "v"), StorageError);
  EXPECT_THROW(s->CreateTrial(study + 1000, {}, TrialState::kRunning), StorageError);
  EXPECT_THROW(s->GetAllTrials(study + 1000), StorageError);
  EXPECT_THROW(s->FailStaleRunningTrials(study + 1000), StorageError);
  // The error names the unknown id.
  auto names = [](const std::function<void()>& fn, int64_t id) {
    const std::string message = hpo::testing::ErrorOf<StorageError>(fn);
    EXPECT_NE(message.find(std::to_string(id)), std::string::npos) << "'" << message << "'";
  };
  names([&] { s->RegisterParamDistribution(study + 1000, "x", "{}"); }, study + 1000);
  names([&] { s->GetParamDistributions(study + 1000); }, study + 1000);
  names([&] { s->GetTrial(bad); }, bad);
}

TEST_P(StorageTest, DefinitionMismatchNeedsAllowExtend) {
  auto s = Make();
  int64_t id = s->OpenStudy(Def());
  struct Case {
    const char* what;
    void (*change)(StudyDefinition&);
  };
  const Case cases[] = {
      {"direction", [](StudyDefinition& d) { d.direction = Direction::kMinimize; }},
      {"search space", [](StudyDefinition& d) { d.space_json = R"({"params":[]})"; }},
      {"sampler", [](StudyDefinition& d) { d.sampler = "random"; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    StudyDefinition changed = Def();
    c.change(changed);
    try {
      s->OpenStudy(changed);
      ADD_FAILURE() << "expected StorageError";
    } catch (const StorageError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(c.what), std::string::npos) << msg;
      EXPECT_NE(msg.find("pass allow_extend (--extend)"), std::string::npos) << msg;
      EXPECT_NE(msg.find("'study'"), std::string::npos) << msg;
    }
    EXPECT_EQ(s->GetStudy(id).sampler, "tpe");  // unchanged by the failed open
  }

  StudyDefinition extended = Def();
  extended.sampler = "random";
  extended.space_json = R"({"params":[{"name":"lr"},{"name":"wd"}]})";
  EXPECT_EQ(s->OpenStudy(extended, /*allow_extend=*/true), id);
  StudyDefinition got = s->GetStudy(id);
  EXPECT_EQ(got.sampler, "random");
  EXPECT_EQ(got.space_json, extended.space_json);
  EXPECT_EQ(s->OpenStudy(extended), id);  // the new definition is now the stored one
  EXPECT_THROW(s->OpenStudy(Def()), StorageError);
}

TEST_P(StorageTest, SchedulerMetricAndConfigAreNotIdentity) {
  auto s = Make();
  int64_t id = s->OpenStudy(Def());
  StudyDefinition changed = Def();
  changed.scheduler = "median";
  changed.metric = "val_loss";
  changed.config = "other";
  EXPECT_EQ(s->OpenStudy(changed), id);
  StudyDefinition got = s->GetStudy(id);
  EXPECT_EQ(got.scheduler, "median");
  EXPECT_EQ(got.metric, "val_loss");
  EXPECT_EQ(got.config, "other");
}

TEST_P(StorageTest, FailStaleRunningTrials) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  int64_t other = s->OpenStudy(Def("other"));
  int64_t r0 = s->CreateTrial(study, {{"x", 1}}, TrialState::kRunning).id;
  int64_t done = s->CreateTrial(study, {}, TrialState::kRunning).id;
  s->SetTrialState(done, TrialState::kComplete, 1.0);
  int64_t queued = s->CreateTrial(study, {}, TrialState::kQueued).id;
  int64_t paused = s->CreateTrial(study, {}, TrialState::kRunning).id;
  s->SetTrialState(paused, TrialState::kPaused, std::nullopt);
  int64_t r4 = s->CreateTrial(study, {}, TrialState::kRunning).id;
  s->SetIntermediate(r4, 1, 0.5);
  int64_t other_running = s->CreateTrial(other, {}, TrialState::kRunning).id;

  std::vector<FrozenTrial> failed = s->FailStaleRunningTrials(study);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].id, r0);
  EXPECT_EQ(failed[1].id, r4);
  for (const FrozenTrial& t : failed) {
    EXPECT_EQ(t.state, TrialState::kFailed);
    EXPECT_EQ(t.fail_reason, "interrupted: process exited while the trial was running");
    EXPECT_GT(t.complete_time, 0);
    ExpectSameTrial(t, s->GetTrial(t.id));
  }
  EXPECT_EQ(failed[0].params, (ParamMap{{"x", 1}}));
  EXPECT_EQ(failed[1].intermediate.at(1), 0.5);
  EXPECT_EQ(s->GetTrial(done).state, TrialState::kComplete);
  EXPECT_EQ(s->GetTrial(queued).state, TrialState::kQueued);
  EXPECT_EQ(s->GetTrial(paused).state, TrialState::kPaused);
  EXPECT_EQ(s->GetTrial(other_running).state, TrialState::kRunning);
  EXPECT_TRUE(s->FailStaleRunningTrials(study).empty());
}

// Many threads sharing one Storage object.
TEST_P(StorageTest, ConcurrentThreads) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  constexpr int kThreads = 8, kPerThread = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      try {
        for (int i = 0; i < kPerThread; ++i) {
          FrozenTrial t = s->CreateTrial(study, {{"w", w}, {"i", i}}, TrialState::kRunning);
          s->SetIntermediate(t.id, 1, w + i);
          s->SetUserAttr(t.id, "worker", std::to_string(w));
          s->SetTrialState(t.id, TrialState::kComplete, w * 1000 + i);
          if (i % 5 == 0) s->GetAllTrials(study);
        }
      } catch (const std::exception& e) {
        std::cerr << "worker " << w << ": " << e.what() << "\n";
        ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  std::vector<FrozenTrial> all = s->GetAllTrials(study);
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t n = 0; n < all.size(); ++n) {
    const FrozenTrial& t = all[n];
    EXPECT_EQ(t.number, static_cast<int64_t>(n));
    int w = static_cast<int>(t.params.at("w")), i = static_cast<int>(t.params.at("i"));
    EXPECT_EQ(t.state, TrialState::kComplete);
    EXPECT_EQ(t.value, w * 1000 + i);
    EXPECT_EQ(t.intermediate.at(1), w + i);
    EXPECT_EQ(t.user_attrs.at("worker"), std::to_string(w));
  }
}

// ---- SQLite only ---------------------------------------------------------------------------

// Opens `path` with the raw SQLite API and runs `sql`; returns the first column of each row.
std::vector<std::string> RawQuery(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::vector<std::string> rows;
  auto callback = [](void* out, int n, char** values, char**) {
    static_cast<std::vector<std::string>*>(out)->push_back(n > 0 && values[0] ? values[0] : "");
    return 0;
  };
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), callback, &rows, &err), SQLITE_OK)
      << (err ? err : "") << " in " << sql;
  sqlite3_free(err);
  sqlite3_close(db);
  return rows;
}

TEST(SqliteStorageTest, ReopenSeesEverything) {
  TempDir dir;
  std::string path = dir.File("study.db");
  std::vector<FrozenTrial> written;
  int64_t study;
  {
    auto s = MakeSqliteStorage(path);
    study = s->OpenStudy(Def());
    s->OpenStudy(Def("second"));
    written = FillStudy(*s, study);
  }
  auto s = MakeSqliteStorage(path);
  EXPECT_EQ(s->url(), "sqlite:" + path);
  EXPECT_EQ(s->OpenStudy(Def()), study);
  EXPECT_EQ(s->GetStudy(study).config, Def().config);
  std::vector<FrozenTrial> read = s->GetAllTrials(study);
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) ExpectSameTrial(read[i], written[i]);
  EXPECT_EQ(s->CreateTrial(study, {}, TrialState::kRunning).number, 7);
}

TEST(SqliteStorageTest, SchemaIsVersionedAndWal) {
  TempDir dir;
  std::string path = dir.File("study.db");
  { MakeSqliteStorage(path)->OpenStudy(Def()); }
  EXPECT_EQ(RawQuery(path, "SELECT value FROM hpo_meta WHERE key = 'schema_version'"),
            std::vector<std::string>{"5"});
  EXPECT_EQ(RawQuery(path, "SELECT value FROM hpo_meta WHERE key = 'application'"),
            std::vector<std::string>{"hpo"});
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(RawQuery(path, "SELECT name FROM studies"), std::vector<std::string>{"study"});
}

TEST(SqliteStorageTest, CreatesParentDirectories) {
  TempDir dir;
  std::string path = dir.File("runs/nested/study.db");
  auto s = MakeSqliteStorage(path);
  s->OpenStudy(Def());
  EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(SqliteStorageTest, EmptyFileBecomesADatabase) {
  TempDir dir;
  std::string path = dir.File("empty.db");
  WriteFile(path, "");
  auto s = MakeSqliteStorage(path);
  int64_t study = s->OpenStudy(Def());
  EXPECT_EQ(s->CreateTrial(study, {}, TrialState::kRunning).number, 0);
}

TEST(SqliteStorageTest, ForeignFileIsRejectedAndUntouched) {
  TempDir dir;
  for (const std::string& contents : {std::string("hello world"), std::string(4096, 'x')}) {
    std::string path = dir.File("x.db");
    WriteFile(path, contents);
    std::string msg = hpo::testing::ErrorOf<StorageError>([&] { MakeSqliteStorage(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("not a SQLite database"), std::string::npos) << msg;
    EXPECT_TRUE(ReadFile(path) == contents) << "the file changed: " << path;
    EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
    EXPECT_FALSE(std::filesystem::exists(path + "-journal"));
    EXPECT_THROW(Storage::Open(path), StorageError);
    EXPECT_TRUE(ReadFile(path) == contents) << "the file changed: " << path;
  }
}

TEST(SqliteStorageTest, OtherApplicationsDatabaseIsRejectedAndUntouched) {
  TempDir dir;
  std::string path = dir.File("other.db");
  RawQuery(path,
           "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT); "
           "INSERT INTO users(name) VALUES ('ada')");
  std::string before = ReadFile(path);
  ASSERT_FALSE(before.empty());
  std::string msg = hpo::testing::ErrorOf<StorageError>([&] { MakeSqliteStorage(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("another application"), std::string::npos) << msg;
  EXPECT_NE(msg.find("users"), std::string::npos) << msg;
  EXPECT_TRUE(ReadFile(path) == before) << "the file changed: " << path;
  EXPECT_EQ(RawQuery(path, "PRAGMA journal_mode"), std::vector<std::string>{"delete"});

  // An hpo_meta table that names another application is rejected too.
  std::string path2 = dir.File("other2.db");
  RawQuery(path2,
           "CREATE TABLE hpo_meta(key TEXT PRIMARY KEY, value TEXT); "
           "INSERT INTO hpo_meta VALUES ('application', 'not-hpo')");
  std::string before2 = ReadFile(path2);
  msg = hpo::testing::ErrorOf<StorageError>([&] { MakeSqliteStorage(path2); });
  EXPECT_NE(msg.find("not-hpo"), std::string::npos) << msg;
  EXPECT_TRUE(ReadFile(path2) == before2) << "the file changed: " << path2;
}

TEST(SqliteStorageTest, NewerSchemaIsRejectedAndUntouched) {
  TempDir dir;
  std::string path = dir.File("new.db");
  { MakeSqliteStorage(path)->OpenStudy(Def()); }
  RawQuery(path, "UPDATE hpo_meta SET value = '99' WHERE key = 'schema_version'");
  // A clean close checkpoints the WAL into the file; make sure nothing is pending.
  RawQuery(path, "PRAGMA wal_checkpoint(TRUNCATE)");
  std::string before = ReadFile(path);
  std::string msg = hpo::testing::ErrorOf<StorageError>([&] { MakeSqliteStorage(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("newer"), std::string::npos) << msg;
  EXPECT_TRUE(ReadFile(path) == before) << "the file changed: " << path;
}

TEST(SqliteStorageTest, DirectoryIsRejected) {
  TempDir dir;
  std::string path = dir.File("dir.db");
  std::filesystem::create_directories(path);
  std::string msg = hpo::testing::ErrorOf<StorageError>([&] { MakeSqliteStorage(path); });
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(SqliteStorageTest, ManyTrialsLoadWithAllFields) {
  TempDir dir;
  auto s = MakeSqliteStorage(dir.File("many.db"));
  int64_t study = s->OpenStudy(Def());
  constexpr int kTrials = 2000;
  for (int i = 0; i < kTrials; ++i) {
    FrozenTrial t = s->CreateTrial(study, {{"a", i}, {"b", -i}}, TrialState::kRunning);
    if (i % 2 == 0) s->SetIntermediate(t.id, 1, i * 0.5);
  }
  std::vector<FrozenTrial> all = s->GetAllTrials(study);
  ASSERT_EQ(all.size(), static_cast<size_t>(kTrials));
  for (int i = 0; i < kTrials; ++i) {
    ASSERT_EQ(all[i].number, i);
    ASSERT_EQ(all[i].params.at("a"), i);
    ASSERT_EQ(all[i].params.at("b"), -i);
    ASSERT_EQ(all[i].intermediate.size(), i % 2 == 0 ? 1u : 0u);
  }
}

// Several processes writing one file: every trial lands, numbers are unique and dense.
TEST(SqliteStorageTest, ConcurrentProcesses) {
  TempDir dir;
  const std::string path = dir.File("runs/shared.db");  // created by the children, concurrently
  constexpr int kChildren = 8, kPerChild = 50;
  hpo::testing::RunInChildren(kChildren, [&](int c) {
    auto s = Storage::Open("sqlite:" + path);
    int64_t study = s->OpenStudy(Def());
    for (int i = 0; i < kPerChild; ++i) {
      FrozenTrial t = s->CreateTrial(study, {{"child", c}, {"i", i}}, TrialState::kRunning);
      s->SetIntermediate(t.id, 1, i);
      s->SetIntermediate(t.id, 2, i + 1);
      s->SetUserAttr(t.id, "child", std::to_string(c));
      if (i % 10 == 0) s->GetAllTrials(study);
      s->SetTrialState(t.id, TrialState::kComplete, c * 1000 + i);
    }
  });
  auto s = MakeSqliteStorage(path);
  int64_t study = s->OpenStudy(Def());
  std::vector<FrozenTrial> all = s->GetAllTrials(study);
  ASSERT_EQ(all.size(), static_cast<size_t>(kChildren * kPerChild));
  std::map<std::string, int> per_child;
  std::set<std::pair<int, int>> seen;
  for (size_t n = 0; n < all.size(); ++n) {
    const FrozenTrial& t = all[n];
    EXPECT_EQ(t.number, static_cast<int64_t>(n));
    EXPECT_EQ(t.state, TrialState::kComplete);
    int c = static_cast<int>(t.params.at("child")), i = static_cast<int>(t.params.at("i"));
    EXPECT_TRUE(seen.insert({c, i}).second);
    EXPECT_EQ(t.value, c * 1000 + i);
    EXPECT_EQ(t.intermediate, (std::map<int64_t, double>{{1, i}, {2, i + 1}}));
    ++per_child[t.user_attrs.at("child")];
  }
  EXPECT_EQ(per_child.size(), static_cast<size_t>(kChildren));
  for (const auto& [child, count] : per_child) EXPECT_EQ(count, kPerChild) << child;
  EXPECT_EQ(RawQuery(path, "SELECT count(*) FROM studies"), std::vector<std::string>{"1"});
}

TEST_P(StorageTest, SetTrialStateReturnsTheStoredTimes) {
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  FrozenTrial queued = s->CreateTrial(study, {}, TrialState::kQueued);
  TrialTimes running = s->SetTrialState(queued.id, TrialState::kRunning, std::nullopt);
  EXPECT_GT(running.start_time, 0);
  EXPECT_EQ(running.complete_time, 0);
  TrialTimes done = s->SetTrialState(queued.id, TrialState::kComplete, 1.0);
  EXPECT_EQ(done.start_time, running.start_time);
  EXPECT_GE(done.complete_time, done.start_time);
  FrozenTrial stored = s->GetTrial(queued.id);
  EXPECT_EQ(stored.start_time, done.start_time);
  EXPECT_EQ(stored.complete_time, done.complete_time);
}

TEST_P(StorageTest, ChangedTrialsWithoutOtherWriters) {
  // One object sees no other writer: whatever it returns, `seq` never goes backwards.
  auto s = Make();
  int64_t study = s->OpenStudy(Def());
  int64_t seq = s->LastChange(study);
  FrozenTrial t = s->CreateTrial(study, {{"x", 1}}, TrialState::kRunning);
  s->SetTrialState(t.id, TrialState::kComplete, 2.0);
  TrialChanges changes = s->ChangedTrials(study, seq);
  EXPECT_GE(changes.seq, seq);
  for (const FrozenTrial& c : changes.trials) EXPECT_EQ(c.id, t.id);
  EXPECT_THROW(s->LastChange(study + 1000), StorageError);
}

TEST(SqliteStorageTest, ChangedTrialsReturnsAnotherConnectionsChanges) {
  TempDir dir;
  const std::string path = dir.File("shared.db");
  auto reader = MakeSqliteStorage(path);
  auto writer = MakeSqliteStorage(path);
  int64_t study = reader->OpenStudy(Def());
  ASSERT_EQ(writer->OpenStudy(Def()), study);
  int64_t seq = reader->LastChange(study);
  EXPECT_EQ(seq, 0);
  // Nothing written: nothing changed.
  TrialChanges none = reader->ChangedTrials(study, seq);
  EXPECT_TRUE(none.trials.empty());
  EXPECT_EQ(none.seq, seq);

  FrozenTrial a = writer->CreateTrial(study, {{"x", 0.5}}, TrialState::kRunning);
  FrozenTrial b = writer->CreateTrial(study, {{"x", 0.25}}, TrialState::kRunning);
  writer->SetIntermediate(a.id, 1, 0.75);
  writer->SetUserAttr(a.id, "k", "v");
  writer->SetTrialParam(a.id, "y", 3);
  TrialChanges first = reader->ChangedTrials(study, seq);
  ASSERT_EQ(first.trials.size(), 2u);
  EXPECT_GT(first.seq, seq);
  EXPECT_EQ(first.trials[0].id, a.id);  // by number
  EXPECT_EQ(first.trials[1].id, b.id);
  ExpectSameTrial(first.trials[0], writer->GetTrial(a.id));
  ExpectSameTrial(first.trials[1], writer->GetTrial(b.id));

  // Only what changed after `first.seq` comes back, with the whole record.
  writer->SetTrialState(b.id, TrialState::kComplete, 0.125);
  TrialChanges second = reader->ChangedTrials(study, first.seq);
  ASSERT_EQ(second.trials.size(), 1u);
  EXPECT_GT(second.seq, first.seq);
  ExpectSameTrial(second.trials[0], writer->GetTrial(b.id));
  EXPECT_TRUE(reader->ChangedTrials(study, second.seq).trials.empty());

  // The reader's own changes need not come back, but the next foreign one does.
  FrozenTrial own = reader->CreateTrial(study, {}, TrialState::kRunning);
  writer->SetIntermediate(a.id, 2, 0.5);
  TrialChanges third = reader->ChangedTrials(study, second.seq);
  bool saw_a = false;
  for (const FrozenTrial& t : third.trials) {
    EXPECT_TRUE(t.id == a.id || t.id == own.id) << t.id;
    if (t.id == a.id) {
      saw_a = true;
      EXPECT_EQ(t.intermediate.at(2), 0.5);
    }
  }
  EXPECT_TRUE(saw_a);
  // Failing stale running trials is a change too. `own` belongs to the reader, another open
  // connection: it keeps running.
  ASSERT_EQ(writer->FailStaleRunningTrials(study).size(), 1u);  // a
  reader.reset();
  ASSERT_EQ(writer->FailStaleRunningTrials(study).size(), 1u);  // own, its connection closed
  reader = MakeSqliteStorage(path);
  TrialChanges fourth = reader->ChangedTrials(study, third.seq);
  ASSERT_EQ(fourth.trials.size(), 2u);
  for (const FrozenTrial& t : fourth.trials) EXPECT_EQ(t.state, TrialState::kFailed);
}

TEST(SqliteStorageTest, Version1DatabaseIsUpgradedInPlace) {
  TempDir dir;
  const std::string path = dir.File("v1.db");
  std::vector<FrozenTrial> written;
  {
    auto s = MakeSqliteStorage(path);
    written = FillStudy(*s, s->OpenStudy(Def()));
  }
  // Turn it into what version 1 wrote: no change log, an index by state.
  RawQuery(path,
           "DROP TABLE trial_changes; DROP TABLE param_distributions; "
           "ALTER TABLE trials DROP COLUMN owner; "
           "CREATE INDEX trials_by_state ON trials(study_id, state); "
           "UPDATE hpo_meta SET value = '1' WHERE key = 'schema_version'");
  auto s = MakeSqliteStorage(path);
  EXPECT_EQ(RawQuery(path, "SELECT value FROM hpo_meta WHERE key = 'schema_version'"),
            std::vector<std::string>{"5"});
  EXPECT_EQ(RawQuery(path, "SELECT name FROM sqlite_master WHERE name LIKE 'trial%' ORDER BY name"),
            (std::vector<std::string>{"trial_changes", "trial_intermediate", "trial_params",
                                      "trial_user_attrs", "trials"}));
  EXPECT_EQ(RawQuery(path, "SELECT name FROM sqlite_master WHERE name = 'param_distributions'"),
            std::vector<std::string>{"param_distributions"});
  int64_t study = s->OpenStudy(Def());
  std::vector<FrozenTrial> read = s->GetAllTrials(study);
  ASSERT_EQ(read.size(), written.size());
  for (size_t i = 0; i < read.size(); ++i) ExpectSameTrial(read[i], written[i]);
  int64_t seq = s->LastChange(study);
  EXPECT_EQ(seq, 0);  // the log starts with the upgrade; readers read every trial on open
  auto other = MakeSqliteStorage(path);
  FrozenTrial t = other->CreateTrial(study, {}, TrialState::kRunning);
  TrialChanges changes = s->ChangedTrials(study, seq);
  ASSERT_EQ(changes.trials.size(), 1u);
  EXPECT_EQ(changes.trials[0].id, t.id);
  EXPECT_EQ(changes.trials[0].number, static_cast<int64_t>(written.size()));
}

// Running trials of a live runner are not "stale": another open connection of this process, or
// another live process, keeps its trials; a closed connection, a killed process does not.
TEST(SqliteStorageTest, RunningTrialsOfALiveRunnerAreNotFailed) {
  TempDir dir;
  const std::string path = dir.File("live.db");
  auto first = MakeSqliteStorage(path);
  const int64_t study = first->OpenStudy(Def());
  const int64_t mine = first->CreateTrial(study, {}, TrialState::kRunning).id;
  const int64_t resumed = first->CreateTrial(study, {}, TrialState::kRunning).id;
  first->SetTrialState(resumed, TrialState::kPaused, std::nullopt);
  first->SetTrialState(resumed, TrialState::kRunning, std::nullopt);  // owner set again

  auto second = MakeSqliteStorage(path);
  EXPECT_TRUE(second->FailStaleRunningTrials(study).empty());
  EXPECT_EQ(second->GetTrial(mine).state, TrialState::kRunning);

  // A child process runs a trial and waits; while it lives its trial is not stale.
  const std::string ready = dir.File("ready");
  pid_t child = fork();
  ASSERT_GE(child, 0) << "fork failed";
  if (child == 0) {
    try {
      auto s = MakeSqliteStorage(path);
      FrozenTrial t = s->CreateTrial(s->OpenStudy(Def()), {}, TrialState::kRunning);
      WriteFile(ready, std::to_string(t.id));
      while (true) pause();
    } catch (...) {
    }
    _exit(2);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(ready) || ReadFile(ready).empty()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "child did not start";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t childs = std::stoll(ReadFile(ready));
  EXPECT_TRUE(second->FailStaleRunningTrials(study).empty());
  EXPECT_EQ(second->GetTrial(childs).state, TrialState::kRunning);
  kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);

  // The killed child's trial is stale; so are the first connection's once it is closed.
  std::vector<FrozenTrial> failed = second->FailStaleRunningTrials(study);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].id, childs);
  first.reset();
  failed = second->FailStaleRunningTrials(study);
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].id, mine);
  EXPECT_EQ(failed[1].id, resumed);
  // A running trial without an owner (written by an older hpo) is stale.
  const int64_t legacy = second->CreateTrial(study, {}, TrialState::kRunning).id;
  RawQuery(path, "UPDATE trials SET owner = NULL WHERE id = " + std::to_string(legacy));
  auto third = MakeSqliteStorage(path);
  failed = third->FailStaleRunningTrials(study);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].id, legacy);
}

// ---- Storage::Open ------------------------------------------------------------------------

TEST(StorageOpenTest, AcceptedUrlForms) {
  TempDir dir;
  EXPECT_EQ(Storage::Open("memory")->url(), "memory");
  const std::string a = dir.File("a.db");
  EXPECT_EQ(Storage::Open("sqlite:" + a)->url(), "sqlite:" + a);
  EXPECT_TRUE(std::filesystem::exists(a));
  for (const char* name : {"b.db", "c.sqlite", "d.sqlite3", "E.DB"}) {
    const std::string p = dir.File(name);
    EXPECT_EQ(Storage::Open(p)->url(), "sqlite:" + p);
    EXPECT_TRUE(std::filesystem::exists(p)) << p;
  }
  // SQLAlchemy-style sqlite:///absolute/path.
  const std::string f = dir.File("f.data");
  ASSERT_EQ(f.front(), '/');
  EXPECT_EQ(Storage::Open("sqlite://" + f)->url(), "sqlite:" + f);
}

TEST(StorageOpenTest, UnknownUrlNamesAcceptedForms) {
  for (const char* url : {"postgres://localhost/hpo", "results.txt", "", "mem"}) {
    std::string msg = hpo::testing::ErrorOf<StorageError>([&] { Storage::Open(url); });
    EXPECT_NE(msg.find("memory"), std::string::npos) << url << ": " << msg;
    EXPECT_NE(msg.find("sqlite:PATH"), std::string::npos) << url << ": " << msg;
    EXPECT_NE(msg.find(".db"), std::string::npos) << url << ": " << msg;
  }
  EXPECT_THROW(Storage::Open("sqlite:"), StorageError);
}

}  // namespace
}  // namespace hpo
