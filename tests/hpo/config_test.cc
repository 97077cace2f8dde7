#include "hpo/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hpo/check.h"
#include "hpo/sampler.h"
#include "test_util.h"

namespace hpo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Kind = FieldSpec::Kind;

FieldSpec Field(std::string key, Kind kind, Value default_value, bool searchable = false,
                std::optional<double> min = std::nullopt, std::optional<double> max = std::nullopt,
                std::vector<std::string> allowed = {}) {
  FieldSpec f;
  f.key = std::move(key);
  f.kind = kind;
  f.default_value = std::move(default_value);
  f.searchable = searchable;
  f.min = min;
  f.max = max;
  f.allowed = std::move(allowed);
  f.description = "the " + f.key;
  return f;
}

AppSchema TestSchema() {
  AppSchema app;
  app.sections["training"] = {
      Field("learning_rate", Kind::kFloat, 0.01, /*searchable=*/true, /*min=*/0.0),
      Field("batch_size", Kind::kInt, int64_t{32}, /*searchable=*/true, /*min=*/1.0),
      Field("optimizer", Kind::kString, std::string("sgd"), /*searchable=*/true, std::nullopt,
            std::nullopt, {"sgd", "adam"}),
      Field("momentum", Kind::kFloat, 0.9, /*searchable=*/true, /*min=*/0.0, /*max=*/1.0),
      Field("nesterov", Kind::kBool, false, /*searchable=*/true),
  };
  app.sections["model"] = {
      Field("name", Kind::kString, std::string("mlp"), /*searchable=*/false, std::nullopt,
            std::nullopt, {"mlp"}),
      Field("hidden_units", Kind::kInt, int64_t{128}, /*searchable=*/true, /*min=*/1.0),
  };
  app.sections["resources"] = {
      Field("devices", Kind::kStringList, std::string("cpu")),
      Field("trials_per_device", Kind::kInt, int64_t{2}, /*searchable=*/false, /*min=*/1.0),
  };
  app.sections["data"] = {Field("path", Kind::kString, std::string("data/mnist"))};
  return app;
}

StudyConfig Parse(const std::string& text) {
  return ParseStudyConfig(text, "f.yaml", TestSchema());
}

// The message of the ConfigError that parsing `text` throws ("" when it does not throw).
std::string ErrorOf(const std::string& text) {
  return hpo::testing::ErrorOf<ConfigError>([&] { Parse(text); });
}

const char* kFullFile = R"(study:
  name: mnist-quick
  direction: maximize
  metric: val_accuracy
  seed: 7
budget:
  trials: 20
  max_epochs: 9
search_space:
  learning_rate: {type: float, low: 1.0e-4, high: 0.1, log: true}
  batch_size: {type: int, low: 16, high: 128, step: 16}
  optimizer: {type: categorical, choices: [sgd, adam]}
  momentum:
    type: float
    low: 0.5
    high: 0.99
    condition: {parent: optimizer, values: [sgd]}
  hidden_units: 64
  nesterov: {type: categorical, choices: [true, false]}
sampler: random
scheduler:
  name: asha
  reduction_factor: 4
resources:
  devices: [cuda:0, cuda:1]
training:
  learning_rate: 0.05
  batch_size: 64
)";

TEST(ConfigTest, ParsesFullFile) {
  StudyConfig c = Parse(kFullFile);
  EXPECT_EQ(c.file, "f.yaml");
  EXPECT_EQ(c.name, "mnist-quick");
  EXPECT_EQ(c.direction, Direction::kMaximize);
  EXPECT_EQ(c.metric, "val_accuracy");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.storage, "runs/mnist-quick.db");
  EXPECT_EQ(c.n_trials, 20);
  EXPECT_EQ(c.max_epochs, 9);

  EXPECT_EQ(c.sampler.name, "random");
  EXPECT_EQ(c.sampler.seed, 7u);  // the study seed
  EXPECT_EQ(c.scheduler.name, "asha");
  EXPECT_EQ(c.scheduler.direction, Direction::kMaximize);
  EXPECT_EQ(c.scheduler.max_resource, 9);
  EXPECT_EQ(c.scheduler.min_resource, 1);
  EXPECT_EQ(c.scheduler.reduction_factor, 4);
  EXPECT_EQ(c.scheduler.min_early_stopping_rate, 0);

  const auto& params = c.space.params();
  ASSERT_EQ(params.size(), 6u);
  std::vector<std::string> names;
  for (const auto& p : params) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"learning_rate", "batch_size", "optimizer", "momentum",
                                             "hidden_units", "nesterov"}));
  EXPECT_EQ(params[0].distribution, Distribution::Float(1e-4, 0.1, /*log=*/true));
  EXPECT_FALSE(params[0].condition.has_value());
  EXPECT_EQ(params[1].distribution, Distribution::Int(16, 128, /*log=*/false, /*step=*/16));
  EXPECT_EQ(params[2].distribution,
            Distribution::Categorical({std::string("sgd"), std::string("adam")}));
  EXPECT_EQ(params[3].distribution, Distribution::Float(0.5, 0.99));
  ASSERT_TRUE(params[3].condition.has_value());
  EXPECT_EQ(params[3].condition->parent, "optimizer");
  EXPECT_EQ(params[3].condition->values, std::vector<Value>{std::string("sgd")});
  EXPECT_TRUE(params[4].distribution.is_fixed());
  EXPECT_EQ(params[4].distribution, Distribution::Categorical({int64_t{64}}));
  EXPECT_EQ(params[5].distribution, Distribution::Categorical({true, false}));
  EXPECT_EQ(c.param_locations.at("momentum").ToString(), "f.yaml:13:3");
  EXPECT_EQ(c.param_locations.at("learning_rate").ToString(), "f.yaml:10:3");

  // Every application section exists, with file values and defaults.
  ASSERT_EQ(c.sections.size(), 4u);
  const Section& training = c.section("training");
  EXPECT_DOUBLE_EQ(training.GetDouble("learning_rate"), 0.05);
  EXPECT_TRUE(training.IsSetInFile("learning_rate"));
  EXPECT_EQ(training.LocationOf("learning_rate").ToString(), "f.yaml:27:18");
  EXPECT_EQ(training.GetInt("batch_size"), 64);
  EXPECT_EQ(training.GetString("optimizer"), "sgd");
  EXPECT_FALSE(training.IsSetInFile("optimizer"));
  EXPECT_EQ(training.LocationOf("optimizer").ToString(), "f.yaml:26:1");  // the section
  EXPECT_DOUBLE_EQ(training.GetDouble("momentum"), 0.9);
  EXPECT_FALSE(training.GetBool("nesterov"));
  const Section& resources = c.section("resources");
  EXPECT_EQ(resources.GetList("devices"), (std::vector<std::string>{"cuda:0", "cuda:1"}));
  EXPECT_EQ(resources.GetString("devices"), "cuda:0,cuda:1");
  EXPECT_EQ(resources.GetInt("trials_per_device"), 2);
  EXPECT_EQ(c.section("model").GetString("name"), "mlp");
  EXPECT_EQ(c.section("model").GetInt("hidden_units"), 128);
  EXPECT_EQ(c.section("data").GetString("path"), "data/mnist");
  EXPECT_EQ(c.section("data").LocationOf("path").file, "f.yaml");
}

TEST(ConfigTest, MinimalFileTakesDefaults) {
  StudyConfig c = Parse("study: {name: s}\nbudget: {trials: 3, max_epochs: 2}\n");
  EXPECT_EQ(c.direction, Direction::kMaximize);
  EXPECT_EQ(c.metric, "val_accuracy");
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.storage, "runs/s.db");
  EXPECT_TRUE(c.space.empty());
  EXPECT_EQ(c.sampler.name, "random");
  EXPECT_EQ(c.sampler.seed, 0u);
  EXPECT_EQ(c.scheduler.name, "asha");
  EXPECT_EQ(c.scheduler.min_resource, 1);
  EXPECT_EQ(c.scheduler.reduction_factor, 3);
  EXPECT_EQ(c.scheduler.max_resource, 2);
  EXPECT_EQ(c.scheduler.direction, Direction::kMaximize);
  // Median/percentile options default as Optuna's MedianPruner.
  EXPECT_EQ(c.scheduler.percentile, 50.0);
  EXPECT_EQ(c.scheduler.n_startup_trials, 5);
  EXPECT_EQ(c.scheduler.n_warmup_steps, 0);
  EXPECT_EQ(c.scheduler.interval_steps, 1);
  EXPECT_EQ(c.scheduler.n_min_trials, 1);
  ASSERT_EQ(c.sections.size(), 4u);
  EXPECT_EQ(c.section("resources").GetList("devices"), std::vector<std::string>{"cpu"});
  EXPECT_EQ(c.section("training").GetInt("batch_size"), 32);
  EXPECT_EQ(c.section("training").GetString("optimizer"), "sgd");
}

TEST(ConfigTest, ExplicitValuesAndShortForms) {
  StudyConfig c = Parse(R"(study:
  name: a.b-c_1
  direction: minimize
  metric: val_loss
  seed: 5
  storage: /tmp/x.db
budget: {trials: 1, max_epochs: 27}
sampler: {name: random, seed: 11}
scheduler: fifo
training:
  learning_rate: 1
  nesterov: true
resources:
  devices: "cuda:0, cuda:1"
data:
  path: "123"
model:
)");
  EXPECT_EQ(c.name, "a.b-c_1");
  EXPECT_EQ(c.direction, Direction::kMinimize);
  EXPECT_EQ(c.scheduler.direction, Direction::kMinimize);
  EXPECT_EQ(c.metric, "val_loss");
  EXPECT_EQ(c.storage, "/tmp/x.db");
  EXPECT_EQ(c.sampler.seed, 11u);
  EXPECT_EQ(c.scheduler.name, "fifo");
  EXPECT_EQ(c.scheduler.max_resource, 27);
  // A float key accepts an integer and stores a double.
  EXPECT_TRUE(std::holds_alternative<double>(c.section("training").Get("learning_rate")));
  EXPECT_DOUBLE_EQ(c.section("training").GetDouble("learning_rate"), 1.0);
  EXPECT_TRUE(c.section("training").GetBool("nesterov"));
  EXPECT_EQ(c.section("resources").GetList("devices"),
            (std::vector<std::string>{"cuda:0", "cuda:1"}));
  EXPECT_EQ(c.section("data").GetString("path"), "123");
  EXPECT_EQ(c.section("model").GetString("name"), "mlp");  // empty section: defaults
}

TEST(ConfigTest, SamplerOptions) {
  StudyConfig c = Parse(R"(study: {name: s, seed: 4}
budget: {trials: 10, max_epochs: 20}
sampler: {name: tpe, n_startup_trials: 3, n_ei_candidates: 48, multivariate: true,
          constant_liar: false, gamma: 0.1, prior_weight: 1.0}
)");
  EXPECT_EQ(c.sampler.name, "tpe");
  EXPECT_EQ(c.sampler.seed, 4u);
  EXPECT_EQ(c.sampler.n_startup_trials, 3);
  EXPECT_EQ(c.sampler.n_ei_candidates, 48);
  EXPECT_TRUE(c.sampler.multivariate);
  EXPECT_FALSE(c.sampler.constant_liar);
  EXPECT_TRUE(c.sampler.scramble);
  EXPECT_EQ(c.sampler.gamma, 0.1);
  EXPECT_EQ(c.sampler.prior_weight, 1.0);
  StudyConfig again = ParseStudyConfig(c.ToYaml(), "resolved.yaml", TestSchema());
  EXPECT_EQ(again.sampler.n_startup_trials, 3);
  EXPECT_EQ(again.sampler.n_ei_candidates, 48);
  EXPECT_TRUE(again.sampler.multivariate);
  EXPECT_FALSE(again.sampler.constant_liar);
  EXPECT_EQ(again.sampler.gamma, 0.1);
  EXPECT_EQ(again.sampler.prior_weight, 1.0);
  EXPECT_EQ(MakeSampler(c.sampler)->name(), "tpe");
  // Absent keys take SamplerOptions' (tuned) defaults.
  StudyConfig plain = Parse("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\nsampler: tpe\n");
  EXPECT_EQ(plain.sampler.n_ei_candidates, SamplerOptions().n_ei_candidates);
  EXPECT_EQ(plain.sampler.gamma, SamplerOptions().gamma);
  EXPECT_EQ(plain.sampler.prior_weight, SamplerOptions().prior_weight);
  EXPECT_THAT(ErrorOf("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\n"
                      "sampler: {name: tpe, gamma: 0}\n"),
              HasSubstr("f.yaml:3:"));
  EXPECT_THAT(ErrorOf("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\n"
                      "sampler: {name: tpe, n_ei_candidates: 0}\n"),
              HasSubstr("f.yaml:3:"));
  // A zero prior weight would leave a study without observations with no density at all.
  EXPECT_THAT(ErrorOf("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\n"
                      "sampler: {name: tpe, prior_weight: 0}\n"),
              HasSubstr("f.yaml:3:"));
}

TEST(ConfigTest, GridValuesFromTheFile) {
  StudyConfig c = Parse(R"(study: {name: s}
budget: {trials: 10, max_epochs: 2}
search_space:
  learning_rate: {type: float, low: 1.0e-4, high: 0.1, log: true}
  batch_size: {type: int, low: 16, high: 128, step: 16}
  optimizer: {type: categorical, choices: [sgd, adam]}
sampler:
  name: grid
  grid:
    learning_rate: [0.001, 0.01, 0.1]
    batch_size: [32, 128]
)");
  ASSERT_EQ(c.sampler.grid.size(), 2u);
  EXPECT_EQ(c.sampler.grid.at("learning_rate"), (std::vector<Value>{0.001, 0.01, 0.1}));
  EXPECT_EQ(c.sampler.grid.at("batch_size"), (std::vector<Value>{int64_t{32}, int64_t{128}}));
  StudyConfig again = ParseStudyConfig(c.ToYaml(), "resolved.yaml", TestSchema());
  EXPECT_EQ(again.sampler.grid, c.sampler.grid);
  EXPECT_EQ(again.ToYaml(), c.ToYaml());

  // The grid is the product of the declared values and the enumerable choices: 3 x 2 x 2.
  std::unique_ptr<Sampler> sampler = MakeSampler(c.sampler);
  std::vector<FrozenTrial> trials;
  std::set<std::vector<double>> seen;
  for (int i = 0; i < 12; ++i) {
    History history{Direction::kMinimize, &trials};
    ParamMap p = sampler->Sample(c.space, history);
    seen.insert({p.at("learning_rate"), p.at("batch_size"), p.at("optimizer")});
    FrozenTrial t;
    t.number = i;
    t.state = TrialState::kRunning;
    t.params = p;
    trials.push_back(t);
  }
  EXPECT_EQ(seen.size(), 12u);
  History history{Direction::kMinimize, &trials};
  EXPECT_THROW(sampler->Sample(c.space, history), GridExhausted);
}

// The median/percentile keys reach SchedulerOptions, and the scheduler built from them works.
TEST(ConfigTest, PercentileSchedulerOptions) {
  StudyConfig c = Parse(R"(study: {name: s, direction: minimize}
budget: {trials: 10, max_epochs: 20}
scheduler:
  name: percentile
  percentile: 12.5
  n_startup_trials: 0
  n_warmup_steps: 3
  interval_steps: 4
  n_min_trials: 2
)");
  EXPECT_EQ(c.scheduler.name, "percentile");
  EXPECT_EQ(c.scheduler.percentile, 12.5);
  EXPECT_EQ(c.scheduler.n_startup_trials, 0);
  EXPECT_EQ(c.scheduler.n_warmup_steps, 3);
  EXPECT_EQ(c.scheduler.interval_steps, 4);
  EXPECT_EQ(c.scheduler.n_min_trials, 2);
  // The resolved config keeps them.
  StudyConfig again = ParseStudyConfig(c.ToYaml(), "resolved.yaml", TestSchema());
  EXPECT_EQ(again.scheduler.percentile, 12.5);
  EXPECT_EQ(again.scheduler.n_startup_trials, 0);
  EXPECT_EQ(again.scheduler.n_warmup_steps, 3);
  EXPECT_EQ(again.scheduler.interval_steps, 4);
  EXPECT_EQ(again.scheduler.n_min_trials, 2);
  auto scheduler = MakeScheduler(c.scheduler);
  EXPECT_EQ(scheduler->name(), "percentile");
  // Two completed trials with 1.0 and 9.0 at epoch 3: P = 1 + 0.125 * 8 = 2 (minimize).
  scheduler->OnReport(0, 3, 1.0);
  scheduler->OnFinished(0, TrialState::kComplete);
  scheduler->OnReport(1, 3, 9.0);
  scheduler->OnFinished(1, TrialState::kComplete);
  EXPECT_EQ(scheduler->OnReport(2, 2, 100.0), Decision::kContinue);  // warmup: epoch 2 < 3
  EXPECT_EQ(scheduler->OnReport(3, 3, 2.0), Decision::kContinue);
  EXPECT_EQ(scheduler->OnReport(4, 3, 2.5), Decision::kStop);
  // An integer percentile is read as a number too; hyperband and median accept their defaults.
  EXPECT_EQ(Parse("study: {name: s}\nbudget: {trials: 1, max_epochs: 9}\n"
                  "scheduler: {name: percentile, percentile: 25}\n")
                .scheduler.percentile,
            25.0);
  for (const char* name : {"hyperband", "hyperband_stopping", "median"}) {
    StudyConfig d = Parse("study: {name: s}\nbudget: {trials: 1, max_epochs: 9}\nscheduler: " +
                          std::string(name) + "\n");
    EXPECT_EQ(MakeScheduler(d.scheduler)->name(), name);
  }
}

TEST(ConfigTest, ChoicesAreReadAsTheKeysKind) {
  StudyConfig c = Parse(R"(study: {name: s}
budget: {trials: 1, max_epochs: 1}
search_space:
  learning_rate: {type: categorical, choices: [0.1, 1]}
  batch_size: {type: categorical, choices: [16, 32]}
  momentum: {type: int, low: 0, high: 1}
)");
  // Integers written for a float key become doubles.
  EXPECT_EQ(c.space.params()[0].distribution, Distribution::Categorical({0.1, 1.0}));
  EXPECT_EQ(c.space.params()[1].distribution,
            Distribution::Categorical({int64_t{16}, int64_t{32}}));
  // An int distribution is fine for a float key.
  EXPECT_EQ(c.space.params()[2].distribution, Distribution::Int(0, 1));
}

TEST(ConfigTest, LoadsFileAndReportsItsPath) {
  testing::TempDir dir;
  const std::string path = dir.File("study.yaml");
  testing::WriteFile(path, kFullFile);
  StudyConfig c = LoadStudyConfig(path, TestSchema());
  EXPECT_EQ(c.file, path);
  EXPECT_EQ(c.name, "mnist-quick");

  testing::WriteFile(path, "study: {name: s}\nbudget: {trials: 0, max_epochs: 1}\n");
  try {
    LoadStudyConfig(path, TestSchema());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith(path + ":2:18: 'trials' in budget must be >= 1, got 0"));
    EXPECT_EQ(e.where().file, path);
    EXPECT_EQ(e.where().line, 2);
    EXPECT_EQ(e.where().column, 18);
  }
}

TEST(ConfigTest, MissingOrUnreadableFile) {
  testing::TempDir dir;
  const std::string missing = dir.File("nope.yaml");
  try {
    LoadStudyConfig(missing, TestSchema());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                StartsWith("cannot read study file " + missing + ": No such file or directory; "));
  }
  try {
    LoadStudyConfig(dir.path().string(), TestSchema());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("cannot read study file " + dir.path().string() + ": Is a directory"));
  }
}

// One malformed study file: the error's location and what the message must say.
struct ErrorCase {
  const char* name;
  std::string text;
  std::string location;                 // "L:C"
  std::vector<std::string> substrings;  // problem and fix
};

const std::string kHead = "study:\n  name: s\nbudget:\n  trials: 4\n  max_epochs: 9\n";  // 1-5

std::vector<ErrorCase> ErrorCases() {
  return {
      {"UnknownAppKey",
       kHead + "training:\n  lerning_rate: 0.1\n",
       "7:3",
       {"unknown key 'lerning_rate' in training; did you mean 'learning_rate'?"}},
      {"UnknownKeyListsKnown",
       kHead + "training:\n  zzzzzz: 1\n",
       "7:3",
       {"unknown key 'zzzzzz' in training; known keys: learning_rate, batch_size, optimizer, "
        "momentum, nesterov"}},
      {"UnknownSection",
       kHead + "trainig:\n  batch_size: 3\n",
       "6:1",
       {"unknown section 'trainig' in the study file; did you mean 'training'?"}},
      {"UnknownStudyKey",
       "study:\n  name: s\n  seeed: 3\nbudget: {trials: 1, max_epochs: 1}\n",
       "3:3",
       {"unknown key 'seeed' in study; did you mean 'seed'?"}},
      {"UnknownBudgetKey",
       "study: {name: s}\nbudget:\n  trials: 1\n  max_epoch: 1\n",
       "4:3",
       {"unknown key 'max_epoch' in budget; did you mean 'max_epochs'?"}},
      {"UnknownSchedulerKey",
       kHead + "scheduler:\n  reduction_factr: 2\n",
       "7:3",
       {"unknown key 'reduction_factr' in scheduler; did you mean 'reduction_factor'?"}},
      {"GridForAnotherSampler",
       kHead + "search_space:\n  batch_size: {type: int, low: 1, high: 4}\n"
               "sampler:\n  name: tpe\n  grid: {batch_size: [1, 2]}\n",
       "10:9",
       {"sampler tpe takes no grid values; use 'name: grid' or remove 'grid'"}},
      {"GridUnknownEntry",
       kHead + "search_space:\n  batch_size: {type: int, low: 1, high: 4}\n"
               "sampler:\n  name: grid\n  grid:\n    bach_size: [1, 2]\n",
       "11:5",
       {"unknown search_space entry 'bach_size' in sampler grid; did you mean 'batch_size'?"}},
      {"GridValueOutsideTheEntry",
       kHead + "search_space:\n  batch_size: {type: int, low: 1, high: 4}\n"
               "sampler:\n  name: grid\n  grid:\n    batch_size: [1, 8]\n",
       "11:21",
       {"a grid value of 'batch_size'", "use a value inside the search_space entry"}},
      {"GridValueOfTheWrongType",
       kHead + "search_space:\n  learning_rate: {type: float, low: 0.1, high: 1}\n"
               "sampler:\n  name: grid\n  grid:\n    learning_rate: [fast]\n",
       "11:21",
       {"expected a number for a grid value of 'learning_rate', got 'fast'"}},
      {"GridDuplicateValue",
       kHead + "search_space:\n  batch_size: {type: int, low: 1, high: 4}\n"
               "sampler:\n  name: grid\n  grid:\n    batch_size: [2, 2]\n",
       "11:21",
       {"duplicate grid value 2 for 'batch_size'; list each value once"}},
      {"GridNotAMapping",
       kHead + "search_space:\n  batch_size: {type: int, low: 1, high: 4}\n"
               "sampler:\n  name: grid\n  grid: [1, 2]\n",
       "10:9",
       {"expected a mapping for 'grid' in sampler, got a sequence"}},
      {"UnknownSamplerKey",
       kHead + "sampler:\n  sed: 2\n",
       "7:3",
       {"unknown key 'sed' in sampler; did you mean 'seed'?"}},
      {"UnknownDistributionKey",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    hihg: 1\n",
       "10:5",
       {"unknown key 'hihg' in search_space entry 'learning_rate'; did you mean 'high'?"}},
      {"UnknownConditionKey",
       kHead + "search_space:\n  optimizer: {type: categorical, choices: [sgd, adam]}\n"
               "  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n    condition:\n"
               "      parent: optimizer\n      value: [sgd]\n",
       "14:7",
       {"unknown key 'value' in the condition of 'momentum'; did you mean 'values'?"}},
      {"DuplicateKey",
       kHead + "training:\n  batch_size: 3\n  batch_size: 4\n",
       "8:3",
       {"duplicate key 'batch_size' in training; remove one of the two (the first is at line 7)"}},
      {"FractionForInt",
       kHead + "training:\n  batch_size: 3.5\n",
       "7:15",
       {"expected an integer for 'batch_size' in training, got '3.5'; write a whole number"}},
      {"QuotedInt",
       kHead + "training:\n  batch_size: \"3\"\n",
       "7:15",
       {"expected an integer for 'batch_size' in training, got '3'", "unquoted"}},
      {"WordForFloat",
       kHead + "training:\n  learning_rate: fast\n",
       "7:18",
       {"expected a number for 'learning_rate' in training, got 'fast'; write a finite number"}},
      {"WordForBool",
       kHead + "training:\n  nesterov: maybe\n",
       "7:13",
       {"expected true or false for 'nesterov' in training, got 'maybe'; write true or false"}},
      {"MappingInList",
       kHead + "resources:\n  devices: [cpu, {a: 1}]\n",
       "7:18",
       {"expected a string item in 'devices' in resources, got a mapping"}},
      {"EmptyListItem",
       kHead + "resources:\n  devices: \"cpu,,cuda:0\"\n",
       "7:12",
       {"empty item in 'devices' in resources; remove the empty item"}},
      {"MappingForScalar",
       kHead + "data:\n  path: {a: 1}\n",
       "7:9",
       {"expected a string for 'path' in data, got a mapping"}},
      {"SectionNotMapping",
       kHead + "training: 5\n",
       "6:11",
       {"expected a mapping for section 'training', got a scalar",
        "write 'training:' followed by indented 'key: value' lines"}},
      {"BelowMinimum",
       kHead + "training:\n  batch_size: 0\n",
       "7:15",
       {"'batch_size' in training must be >= 1, got 0; use a value >= 1"}},
      {"AboveMaximum",
       kHead + "training:\n  momentum: 1.5\n",
       "7:13",
       {"'momentum' in training must be <= 1, got 1.5; use a value <= 1"}},
      {"ReductionFactorTooSmall",
       kHead + "scheduler:\n  reduction_factor: 1\n",
       "7:21",
       {"'reduction_factor' in scheduler must be >= 2, got 1"}},
      {"NegativeSeed",
       "study:\n  name: s\n  seed: -1\nbudget: {trials: 1, max_epochs: 1}\n",
       "3:9",
       {"'seed' in study must be >= 0, got -1"}},
      {"NotAllowedString",
       kHead + "training:\n  optimizer: sgdd\n",
       "7:14",
       {"unknown value 'sgdd' for 'optimizer' in training; did you mean 'sgd'? allowed: sgd, "
        "adam"}},
      {"NotAllowedDirection",
       "study:\n  name: s\n  direction: maximise\nbudget: {trials: 1, "
       "max_epochs: 1}\n",
       "3:14",
       {"unknown value 'maximise' for 'direction' in study; did you mean 'maximize'?"}},
      {"MissingRequiredKey",
       "study:\n  name: s\nbudget:\n  max_epochs: 3\n",
       "3:1",
       {"missing required key 'trials' in budget; add 'trials: <an integer >= 1>'"}},
      {"MissingStudyName",
       "study:\n  seed: 1\nbudget: {trials: 1, max_epochs: 1}\n",
       "1:1",
       {"missing required key 'name' in study"}},
      {"MissingSection",
       "study:\n  name: s\n",
       "1:1",
       {"missing required section 'budget'; add 'budget:' with at least 'trials'"}},
      {"MissingValue",
       kHead + "training:\n  batch_size:\n",
       "7:3",
       {"missing value for 'batch_size' in training; write an integer or remove the key"}},
      {"InvalidStudyName",
       "study:\n  name: a b\nbudget: {trials: 1, max_epochs: 1}\n",
       "2:9",
       {"invalid study name 'a b'; use only letters, digits, '_', '.' and '-'"}},
      {"MinResourceAboveMaxEpochs",
       kHead + "scheduler:\n  min_resource: 10\n",
       "7:17",
       {"scheduler min_resource 10 exceeds budget.max_epochs 9; lower min_resource or raise "
        "max_epochs"}},
      {"UnknownSampler",
       kHead + "sampler: tpee\n",
       "6:10",
       {"unknown value 'tpee' for 'name' in sampler", "allowed: ", "random"}},
      {"PercentileAbove100",
       kHead + "scheduler:\n  name: percentile\n  percentile: 100.5\n",
       "8:15",
       {"'percentile' in scheduler must be <= 100, got 100.5; use a value <= 100"}},
      {"IntervalStepsZero",
       kHead + "scheduler:\n  interval_steps: 0\n",
       "7:19",
       {"'interval_steps' in scheduler must be >= 1, got 0"}},
      {"MedianWithAnotherPercentile",
       kHead + "scheduler:\n  name: median\n  percentile: 25\n",
       "8:15",
       {"scheduler median stops at the 50th percentile, got percentile 25; use name: "
        "percentile, or remove percentile"}},
      {"HyperbandWithMinEarlyStoppingRate",
       kHead + "scheduler:\n  name: hyperband\n  min_early_stopping_rate: 1\n",
       "8:28",
       {"scheduler hyperband sets min_early_stopping_rate per bracket, got 1; remove "
        "min_early_stopping_rate"}},
      {"UnknownScheduler",
       kHead + "scheduler:\n  name: ashaa\n",
       "7:9",
       {"unknown value 'ashaa' for 'name' in scheduler; did you mean 'asha'? allowed: ", "fifo"}},
      {"SyntaxError",
       kHead + "training: [1, 2\ndata: {}\n",
       "7:5",
       {"YAML syntax error: ", "; fix the YAML syntax"}},
      {"TopLevelNotMapping",
       "- study\n- budget\n",
       "1:1",
       {"expected a mapping of sections at the top level, got a sequence"}},
      {"EmptyFile", "", "1:1", {"the study file is empty; start with 'study:"}},
      {"InvertedRange",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 0.01\n",
       "9:10",
       {"inverted range for 'learning_rate': low 0.1 > high 0.01; swap low and high"}},
      {"InvertedIntRange",
       kHead + "search_space:\n  batch_size: {type: int, low: 64, high: 8}\n",
       "7:32",
       {"inverted range for 'batch_size': low 64 > high 8; swap low and high"}},
      {"EmptyRange",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 0.1\n",
       "9:10",
       {"empty range for 'learning_rate': low == high == 0.1; use a fixed value instead"}},
      {"LogWithZeroLow",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0\n    high: 1\n"
               "    log: true\n",
       "9:10",
       {"log scale needs low > 0 for 'learning_rate', got 0.0; raise low above 0 or remove "
        "'log: true'"}},
      {"IntLogWithZeroLow",
       kHead + "search_space:\n  hidden_units: {type: int, low: 0, high: 8, log: true}\n",
       "7:34",
       {"log scale needs low >= 1 for 'hidden_units', got 0"}},
      {"ZeroStep",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 1\n"
               "    step: 0\n",
       "11:11",
       {"step must be > 0 for 'learning_rate', got 0.0; use a positive step"}},
      {"StepWithLog",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 1\n"
               "    log: true\n    step: 0.1\n",
       "12:11",
       {"step cannot be combined with log for 'learning_rate'; remove 'step' or"}},
      {"StepLargerThanRange",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 0.2\n"
               "    step: 0.5\n",
       "11:11",
       {"invalid distribution for 'learning_rate': step 0.5 is larger than the range; fix the "
        "search_space entry 'learning_rate'"}},
      {"RangeBelowKeyMinimum",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: -1\n    high: 1\n",
       "9:10",
       {"low -1.0 of 'learning_rate' is below the minimum 0 of 'learning_rate' in training; "
        "raise low to >= 0"}},
      {"RangeAboveKeyMaximum",
       kHead + "search_space:\n  momentum:\n    type: float\n    low: 0.5\n    high: 2\n",
       "10:11",
       {"high 2.0 of 'momentum' is above the maximum 1 of 'momentum' in training"}},
      {"EmptyChoices",
       kHead + "search_space:\n  optimizer:\n    type: categorical\n    choices: []\n",
       "9:14",
       {"empty choices for 'optimizer'; list at least one choice"}},
      {"DuplicateChoices",
       kHead + "search_space:\n  optimizer:\n    type: categorical\n    choices: [sgd, sgd]\n",
       "9:14",
       {"invalid distribution for 'optimizer': duplicate choice 'sgd'"}},
      {"MissingType",
       kHead + "search_space:\n  learning_rate: {low: 0.1, high: 1}\n",
       "7:3",
       {"missing required key 'type' in search_space entry 'learning_rate'; add 'type: float'"}},
      {"UnknownType",
       kHead + "search_space:\n  learning_rate: {type: real, low: 0.1, high: 1}\n",
       "7:25",
       {"unknown value 'real' for 'type' in search_space entry 'learning_rate'"}},
      {"MissingHigh",
       kHead + "search_space:\n  learning_rate: {type: float, low: 0.1}\n",
       "7:3",
       {"missing required key 'high' in search_space entry 'learning_rate'; add 'high: "}},
      {"ChoicesForFloat",
       kHead + "search_space:\n  learning_rate:\n    type: float\n    low: 0.1\n    high: 1\n"
               "    choices: [1]\n",
       "11:5",
       {"'choices' does not apply to type float; remove it, or use type: categorical"}},
      {"LowForCategorical",
       kHead + "search_space:\n  optimizer:\n    type: categorical\n    choices: [sgd]\n"
               "    low: 1\n",
       "10:5",
       {"'low' does not apply to type categorical"}},
      {"SequenceForParam",
       kHead + "search_space:\n  optimizer: [sgd, adam]\n",
       "7:14",
       {"got a sequence; write {type: categorical, choices: [...]}"}},
      {"FloatForIntKey",
       kHead + "search_space:\n  batch_size: {type: float, low: 1, high: 8}\n",
       "7:22",
       {"'batch_size' in training is an integer; use type: int"}},
      {"NumberForStringKey",
       kHead + "search_space:\n  optimizer: {type: int, low: 1, high: 8}\n",
       "7:21",
       {"'optimizer' in training is a string, not a number; use type: categorical with string "
        "choices"}},
      {"NumberForBoolKey",
       kHead + "search_space:\n  nesterov: {type: int, low: 0, high: 1}\n",
       "7:20",
       {"use type: categorical with choices [true, false]"}},
      {"ChoiceNotAllowed",
       kHead + "search_space:\n  optimizer:\n    type: categorical\n    choices: [sgd, rmsprop]\n",
       "9:20",
       {"unknown value 'rmsprop' for 'optimizer' in training; allowed: sgd, adam"}},
      {"FractionalChoiceForIntKey",
       kHead + "search_space:\n  batch_size:\n    type: categorical\n    choices: [16, 3.5]\n",
       "9:19",
       {"expected an integer for a choice of 'batch_size'", "got '3.5'"}},
      {"StringChoiceForBoolKey",
       kHead + "search_space:\n  nesterov:\n    type: categorical\n    choices: [yes, no]\n",
       "9:15",
       {"expected true or false for a choice of 'nesterov'"}},
      {"FixedValueOutOfBounds",
       kHead + "search_space:\n  batch_size: 0\n",
       "7:15",
       {"'batch_size' in training must be >= 1, got 0"}},
      {"NotSearchable",
       kHead + "search_space:\n  name: mlp\n",
       "7:3",
       {"'name' in model is not searchable; searchable keys: batch_size, hidden_units, "
        "learning_rate, momentum, nesterov, optimizer"}},
      {"UnknownHyperparameter",
       kHead + "search_space:\n  lerning_rate: {type: float, low: 0.1, high: 1}\n",
       "7:3",
       {"unknown hyperparameter 'lerning_rate' in search_space; did you mean 'learning_rate'? "
        "searchable keys: batch_size,"}},
      {"DuplicateParam",
       kHead + "search_space:\n  batch_size: 8\n  batch_size: 16\n",
       "8:3",
       {"duplicate entry 'batch_size' in search_space"}},
      {"ConditionParentUnknown",
       kHead + "search_space:\n  optimizer: {type: categorical, choices: [sgd, adam]}\n"
               "  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n"
               "    condition: {parent: optimiser, values: [sgd]}\n",
       "12:25",
       {"unknown condition parent 'optimiser' of 'momentum'; did you mean 'optimizer'? entries "
        "above 'momentum': optimizer"}},
      {"ConditionParentLater",
       kHead + "search_space:\n  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n"
               "    condition: {parent: optimizer, values: [sgd]}\n"
               "  optimizer: {type: categorical, choices: [sgd, adam]}\n",
       "11:25",
       {"condition parent 'optimizer' of 'momentum' comes later in search_space; move "
        "'optimizer' above 'momentum'"}},
      {"ConditionOnItself",
       kHead + "search_space:\n  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n"
               "    condition: {parent: momentum, values: [0.5]}\n",
       "11:25",
       {"'momentum' cannot be conditional on itself"}},
      {"ConditionValueParentCannotTake",
       kHead + "search_space:\n  optimizer: {type: categorical, choices: [sgd, adam]}\n"
               "  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n"
               "    condition: {parent: optimizer, values: [adam, rmsprop]}\n",
       "12:51",
       {"the condition of 'momentum': 'rmsprop' is not one of the choices of",
        "; use a value that 'optimizer' can take"}},
      {"ConditionWithoutValues",
       kHead + "search_space:\n  optimizer: {type: categorical, choices: [sgd, adam]}\n"
               "  momentum:\n    type: float\n    low: 0.1\n    high: 0.9\n"
               "    condition: {parent: optimizer}\n",
       "12:16",
       {"missing required key 'values' in the condition of 'momentum'"}},
  };
}

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, ReportsLocationProblemAndFix) {
  const ErrorCase& c = GetParam();
  const std::string message = ErrorOf(c.text);
  ASSERT_FALSE(message.empty()) << "no error for:\n" << c.text;
  EXPECT_THAT(message, StartsWith("f.yaml:" + c.location + ": "));
  for (const auto& s : c.substrings) EXPECT_THAT(message, HasSubstr(s));
  EXPECT_THAT(message, HasSubstr("; "));  // problem; fix
  EXPECT_THAT(message, Not(HasSubstr("\n")));
}

INSTANTIATE_TEST_SUITE_P(Cases, ConfigErrorTest, ::testing::ValuesIn(ErrorCases()),
                         [](const ::testing::TestParamInfo<ErrorCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ConfigTest, WholeMessageForAnUnknownKey) {
  const std::string text =
      "study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\ntraining:\n  lerning_rate: 0.1\n";
  EXPECT_EQ(ErrorOf(text),
            "f.yaml:4:3: unknown key 'lerning_rate' in training; did you mean 'learning_rate'?");
  try {
    Parse(text);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.where().line, 4);
    EXPECT_EQ(e.where().column, 3);
  }
}

TEST(ConfigTest, NearestName) {
  const std::vector<std::string> keys = {"learning_rate", "batch_size", "optimizer"};
  EXPECT_EQ(NearestName("lerning_rate", keys), "learning_rate");
  EXPECT_EQ(NearestName("Batch_Size", keys), "batch_size");
  EXPECT_EQ(NearestName("optimiser", keys), "optimizer");
  EXPECT_EQ(NearestName("epochs", keys), "");
  EXPECT_EQ(NearestName("x", {"y"}), "");
  EXPECT_EQ(NearestName("anything", {}), "");
  // Distance limit max(2, len/3): 9 letters allow 3 edits, not 4.
  EXPECT_EQ(NearestName("abcdefghi", {"abcdefxyz"}), "abcdefxyz");
  EXPECT_EQ(NearestName("abcdefghi", {"abcdewxyz"}), "");
  // The closest wins.
  EXPECT_EQ(NearestName("seed", {"speed", "seed2", "sed"}), "speed");
  EXPECT_EQ(NearestName("max_epoch", {"max_epochs", "max_epoch_s"}), "max_epochs");
}

void ExpectSameConfig(const StudyConfig& a, const StudyConfig& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.direction, b.direction);
  EXPECT_EQ(a.metric, b.metric);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.storage, b.storage);
  EXPECT_EQ(a.n_trials, b.n_trials);
  EXPECT_EQ(a.max_epochs, b.max_epochs);
  EXPECT_EQ(a.space.ToJson(), b.space.ToJson());
  EXPECT_TRUE(a.space == b.space);
  EXPECT_EQ(a.sampler.name, b.sampler.name);
  EXPECT_EQ(a.sampler.seed, b.sampler.seed);
  EXPECT_EQ(a.scheduler.name, b.scheduler.name);
  EXPECT_EQ(a.scheduler.direction, b.scheduler.direction);
  EXPECT_EQ(a.scheduler.min_resource, b.scheduler.min_resource);
  EXPECT_EQ(a.scheduler.max_resource, b.scheduler.max_resource);
  EXPECT_EQ(a.scheduler.reduction_factor, b.scheduler.reduction_factor);
  EXPECT_EQ(a.scheduler.min_early_stopping_rate, b.scheduler.min_early_stopping_rate);
  EXPECT_EQ(a.scheduler.percentile, b.scheduler.percentile);
  EXPECT_EQ(a.scheduler.n_startup_trials, b.scheduler.n_startup_trials);
  EXPECT_EQ(a.scheduler.n_warmup_steps, b.scheduler.n_warmup_steps);
  EXPECT_EQ(a.scheduler.interval_steps, b.scheduler.interval_steps);
  EXPECT_EQ(a.scheduler.n_min_trials, b.scheduler.n_min_trials);
  ASSERT_EQ(a.sections.size(), b.sections.size());
  for (const auto& [name, section] : a.sections) {
    ASSERT_EQ(b.sections.count(name), 1u) << name;
    EXPECT_EQ(section.values(), b.sections.at(name).values()) << name;
  }
}

TEST(ConfigTest, ToYamlRoundTrips) {
  StudyConfig first = Parse(kFullFile);
  const std::string yaml = first.ToYaml();
  EXPECT_THAT(yaml, HasSubstr("storage: runs/mnist-quick.db"));
  EXPECT_THAT(yaml, HasSubstr("trials_per_device: 2"));  // defaults are written out
  StudyConfig second = ParseStudyConfig(yaml, "resolved.yaml", TestSchema());
  ExpectSameConfig(first, second);
  EXPECT_EQ(second.ToYaml(), yaml);
}

TEST(ConfigTest, ToYamlKeepsValueTypes) {
  StudyConfig first = Parse(R"(study: {name: s, seed: 3}
budget: {trials: 1, max_epochs: 4}
search_space:
  learning_rate: {type: categorical, choices: [0.5, 1, 2.5e-7]}
  momentum: {type: float, low: 0, high: 1, step: 0.25}
  batch_size: {type: int, low: 1, high: 9, step: 2}
  hidden_units: {type: int, low: 1, high: 1024, log: true, condition: {parent: batch_size, values: [3, 5]}}
  nesterov: true
sampler: {seed: 9}
data:
  path: "true"
training:
  momentum: 0
resources:
  devices: [a, b, c]
)");
  StudyConfig second = ParseStudyConfig(first.ToYaml(), "resolved.yaml", TestSchema());
  ExpectSameConfig(first, second);
  EXPECT_EQ(second.section("data").GetString("path"), "true");
  EXPECT_TRUE(std::holds_alternative<double>(second.section("training").Get("momentum")));
  EXPECT_EQ(second.space.params()[0].distribution, Distribution::Categorical({0.5, 1.0, 2.5e-7}));
  EXPECT_EQ(second.sampler.seed, 9u);
}

TEST(ConfigTest, DescribeSchemaMentionsEveryKey) {
  const std::string doc = DescribeSchema(TestSchema());
  for (const char* section : {"study", "budget", "search_space", "sampler", "scheduler", "training",
                              "model", "resources", "data"}) {
    EXPECT_THAT(doc, HasSubstr("## " + std::string(section) + "\n")) << section;
  }
  for (const char* key : {"name",
                          "direction",
                          "metric",
                          "seed",
                          "storage",
                          "trials",
                          "max_epochs",
                          "type",
                          "low",
                          "high",
                          "log",
                          "step",
                          "choices",
                          "condition",
                          "parent",
                          "values",
                          "min_resource",
                          "reduction_factor",
                          "min_early_stopping_rate",
                          "percentile",
                          "n_startup_trials",
                          "n_warmup_steps",
                          "interval_steps",
                          "n_min_trials",
                          "learning_rate",
                          "batch_size",
                          "optimizer",
                          "momentum",
                          "nesterov",
                          "hidden_units",
                          "devices",
                          "trials_per_device",
                          "path"}) {
    EXPECT_THAT(doc, HasSubstr("| " + std::string(key) + " |")) << key;
  }
  EXPECT_THAT(doc,
              HasSubstr("| key | type | default | range/allowed | searchable | description |"));
  EXPECT_THAT(doc,
              HasSubstr("| optimizer | string | `sgd` | `sgd`, `adam` | yes | the optimizer |"));
  EXPECT_THAT(doc, HasSubstr("| trials | int | (required) | >= 1 | no |"));
  EXPECT_THAT(doc, HasSubstr("| momentum | float | `0.9` | [0, 1] | yes |"));
  EXPECT_THAT(doc, HasSubstr("| devices | list of strings | `cpu` |"));
  EXPECT_THAT(doc, HasSubstr("| seed | int | study.seed | >= 0 |"));
  for (const auto& s : KnownSchedulers()) EXPECT_THAT(doc, HasSubstr("`" + s + "`"));
}

TEST(ConfigTest, SectionAccessors) {
  Section s("training", Location{"f.yaml", 3, 1});
  s.Set("n", int64_t{4}, Location{"f.yaml", 4, 6});
  s.Set("x", 0.5, std::nullopt);
  s.Set("list", std::string("a,b"), std::nullopt);
  s.Set("empty", std::string(), std::nullopt);
  s.Set("flag", true, std::nullopt);
  EXPECT_EQ(s.name(), "training");
  EXPECT_TRUE(s.Has("n"));
  EXPECT_FALSE(s.Has("m"));
  EXPECT_EQ(s.GetInt("n"), 4);
  EXPECT_DOUBLE_EQ(s.GetDouble("n"), 4.0);
  EXPECT_DOUBLE_EQ(s.GetDouble("x"), 0.5);
  EXPECT_TRUE(s.GetBool("flag"));
  EXPECT_EQ(s.GetList("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s.GetList("empty").empty());
  EXPECT_TRUE(s.IsSetInFile("n"));
  EXPECT_FALSE(s.IsSetInFile("x"));
  EXPECT_EQ(s.LocationOf("n").ToString(), "f.yaml:4:6");
  EXPECT_EQ(s.LocationOf("x").ToString(), "f.yaml:3:1");
  EXPECT_THROW(s.Get("missing"), InternalError);
  EXPECT_THROW(s.GetString("n"), InternalError);
  EXPECT_THROW(s.GetInt("x"), InternalError);
  EXPECT_THROW(s.GetBool("n"), InternalError);
  EXPECT_THROW(s.GetDouble("list"), InternalError);
  // Overriding without a location forgets the file's.
  s.Set("n", int64_t{5}, std::nullopt);
  EXPECT_FALSE(s.IsSetInFile("n"));
  EXPECT_EQ(s.LocationOf("n").ToString(), "f.yaml:3:1");

  StudyConfig c = Parse("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\n");
  EXPECT_THROW(c.section("nope"), InternalError);
}

TEST(ConfigTest, LocationAndErrorFormatting) {
  EXPECT_EQ((Location{"f.yaml", 3, 4}).ToString(), "f.yaml:3:4");
  EXPECT_EQ((Location{"f.yaml", 3, 0}).ToString(), "f.yaml:3");
  EXPECT_EQ((Location{"f.yaml", 0, 0}).ToString(), "f.yaml");
  ConfigError e(Location{"f.yaml", 2, 5}, "bad thing; do this");
  EXPECT_STREQ(e.what(), "f.yaml:2:5: bad thing; do this");
  EXPECT_EQ(e.where().line, 2);
  EXPECT_STREQ(ConfigError(Location{}, "m; f").what(), "m; f");
}

TEST(ConfigTest, AppSectionNamedLikeAnHpoSectionIsAProgrammingError) {
  AppSchema app;
  app.sections["study"] = {Field("x", Kind::kInt, int64_t{1})};
  EXPECT_THROW(
      ParseStudyConfig("study: {name: s}\nbudget: {trials: 1, max_epochs: 1}\n", "f.yaml", app),
      InternalError);
}

}  // namespace
}  // namespace hpo
