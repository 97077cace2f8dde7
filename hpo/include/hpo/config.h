// Study files: YAML → validated StudyConfig. Errors carry file:line:column and the fix.
//
// A study file has these top-level sections (reference: docs/CONFIG.md):
//   study:        name, direction, metric, seed, storage
//   budget:       trials (number of new configurations), max_epochs (resource of a full trial)
//   search_space: name → distribution ({type: float|int|categorical, ...}) or a fixed scalar
//   sampler:      name (random, ...), seed
//   scheduler:    name (asha, hyperband, median, fifo, ...), min_resource, reduction_factor,
//                 min_early_stopping_rate; percentile, n_startup_trials, n_warmup_steps,
//                 interval_steps, n_min_trials (median/percentile)
//   resources, data, model, training: application sections, validated against the FieldSpec
//                 lists the application (the trainer) passes in AppSchema.
// Every key of every section is declared once in a FieldSpec (type, default, range,
// description): the parser fills defaults, rejects unknown keys with a did-you-mean, and the
// reference documentation is generated from the same tables (DescribeSchema).
//
// Thread safety: plain values. Errors: ConfigError (what() is the whole one-line message).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/space.h"
#include "hpo/trial.h"

namespace hpo {

struct Location {
  std::string file;
  int line = 0;                  // 1-based; 0 when unknown
  int column = 0;                // 1-based; 0 when unknown
  std::string ToString() const;  // "file:line:column", "file:line" or "file"
};

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const Location& where, const std::string& message);
  const Location& where() const { return where_; }

 private:
  Location where_;
};

// One key of a section.
struct FieldSpec {
  enum class Kind { kString, kInt, kFloat, kBool, kStringList };
  std::string key;
  Kind kind = Kind::kString;
  Value default_value;               // used when the key is absent
  std::optional<double> min, max;    // inclusive bounds for numbers
  std::vector<std::string> allowed;  // closed set of strings (empty: any)
  std::string description;
  bool searchable = false;  // may be named in search_space (a hyperparameter)
};

// A validated section: every declared key has a value (the file's or the default).
// A kStringList value is stored as its items joined by ','.
class Section {
 public:
  Section() = default;
  Section(std::string name, Location where) : name_(std::move(name)), where_(std::move(where)) {}

  const std::string& name() const { return name_; }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  bool IsSetInFile(const std::string& key) const { return set_in_file_.count(key) > 0; }
  // Throw hpo::InternalError on a key that was not declared (a programming error).
  const Value& Get(const std::string& key) const;
  std::string GetString(const std::string& key) const;
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  std::vector<std::string> GetList(const std::string& key) const;
  // Where the key was set, or where the section starts.
  Location LocationOf(const std::string& key) const;
  const std::map<std::string, Value>& values() const { return values_; }

  void Set(const std::string& key, Value v, std::optional<Location> where);

 private:
  std::string name_;
  Location where_;
  std::map<std::string, Value> values_;
  std::map<std::string, Location> set_in_file_;
};

// Schemas of the application sections (resources, data, model, training).
struct AppSchema {
  std::map<std::string, std::vector<FieldSpec>> sections;
};

struct StudyConfig {
  std::string file;  // path as given
  // study:
  std::string name;
  Direction direction = Direction::kMaximize;
  std::string metric;
  uint64_t seed = 0;
  std::string storage;  // storage URL; default "runs/<name>.db" next to the working directory
  bool requeue_interrupted = false;  // see StudyOptions::requeue_interrupted
  // budget:
  int64_t n_trials = 0;
  int64_t max_epochs = 0;
  // search_space:
  SearchSpace space;
  std::map<std::string, Location> param_locations;
  SamplerOptions sampler;
  SchedulerOptions scheduler;  // direction and max_resource filled from study/budget
  // application sections, validated against AppSchema
  std::map<std::string, Section> sections;

  const Section& section(const std::string& name) const;
  // The resolved configuration as YAML (defaults filled), stored with the study.
  std::string ToYaml() const;
};

// Reads and validates a study file. Throws ConfigError (missing or unreadable file, YAML syntax,
// unknown keys, wrong types, empty/inverted ranges, log with low <= 0, unknown sampler or
// scheduler names, search_space names that are not searchable keys of an application section).
StudyConfig LoadStudyConfig(const std::string& path, const AppSchema& app);
// Same, from text; `file` is the name used in messages.
StudyConfig ParseStudyConfig(const std::string& text, const std::string& file,
                             const AppSchema& app);

// Markdown reference of every section and key (the docs come from the same tables).
std::string DescribeSchema(const AppSchema& app);

// Levenshtein-nearest candidate within a small distance, or "" (for did-you-mean messages).
std::string NearestName(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace hpo
