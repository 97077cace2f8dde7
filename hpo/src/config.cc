#include "hpo/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "hpo/check.h"

namespace hpo {

// ---------------------------------------------------------------------------------------------
// Location, ConfigError, Section

std::string Location::ToString() const {
  if (line <= 0) return file;
  std::string s = file + ":" + std::to_string(line);
  if (column > 0) s += ":" + std::to_string(column);
  return s;
}

ConfigError::ConfigError(const Location& where, const std::string& message)
    : std::runtime_error(where.ToString().empty() ? message : where.ToString() + ": " + message),
      where_(where) {}

const Value& Section::Get(const std::string& key) const {
  auto it = values_.find(key);
  HPO_CHECK(it != values_.end()) << "section '" + name_ + "' has no key '" + key + "'";
  return it->second;
}

std::string Section::GetString(const std::string& key) const {
  const Value& v = Get(key);
  HPO_CHECK(std::holds_alternative<std::string>(v)) << name_ + "." + key + " is not a string";
  return std::get<std::string>(v);
}

int64_t Section::GetInt(const std::string& key) const {
  const Value& v = Get(key);
  HPO_CHECK(std::holds_alternative<int64_t>(v)) << name_ + "." + key + " is not an integer";
  return std::get<int64_t>(v);
}

double Section::GetDouble(const std::string& key) const {
  const Value& v = Get(key);
  if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
  HPO_CHECK(std::holds_alternative<double>(v)) << name_ + "." + key + " is not a number";
  return std::get<double>(v);
}

bool Section::GetBool(const std::string& key) const {
  const Value& v = Get(key);
  HPO_CHECK(std::holds_alternative<bool>(v)) << name_ + "." + key + " is not a boolean";
  return std::get<bool>(v);
}

std::vector<std::string> Section::GetList(const std::string& key) const {
  std::string joined = GetString(key);
  std::vector<std::string> items;
  if (joined.empty()) return items;
  size_t start = 0;
  while (true) {
    size_t comma = joined.find(',', start);
    items.push_back(joined.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

Location Section::LocationOf(const std::string& key) const {
  auto it = set_in_file_.find(key);
  return it != set_in_file_.end() ? it->second : where_;
}

void Section::Set(const std::string& key, Value v, std::optional<Location> where) {
  values_[key] = std::move(v);
  if (where) {
    set_in_file_[key] = std::move(*where);
  } else {
    set_in_file_.erase(key);
  }
}

const Section& StudyConfig::section(const std::string& name) const {
  auto it = sections.find(name);
  HPO_CHECK(it != sections.end()) << "no application section '" + name + "'";
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// NearestName

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t Levenshtein(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string NearestName(const std::string& name, const std::vector<std::string>& candidates) {
  // Case-insensitive; a suggestion must keep part of the name (distance < length).
  const std::string lowered = Lower(name);
  const size_t limit = std::max<size_t>(2, name.size() / 3);
  std::string best;
  size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    size_t d = Levenshtein(lowered, Lower(candidate));
    if (d < best_distance && d < name.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Schema tables: the single source of truth for hpo's own sections (validation and docs).

namespace {

using Kind = FieldSpec::Kind;

// A key of one of hpo's own sections (the application passes plain FieldSpecs).
struct HpoField {
  FieldSpec spec;
  bool required = false;
  std::string default_text;  // documentation of a computed default ("" → spec.default_value)
  std::string type_text;     // documentation of a type FieldSpec::Kind cannot express
  std::string range_text;    // documentation of a constraint FieldSpec cannot express
  bool by_caller = false;    // a nested value the caller parses; ReadSection only checks the key
};

struct SchemaSection {
  std::string name;
  std::string description;
  std::vector<HpoField> fields;
  std::string short_key;  // `section: value` is short for `section: {short_key: value}`
};

FieldSpec Spec(std::string key, Kind kind, Value default_value, std::optional<double> min,
               std::optional<double> max, std::vector<std::string> allowed,
               std::string description) {
  FieldSpec f;
  f.key = std::move(key);
  f.kind = kind;
  f.default_value = std::move(default_value);
  f.min = min;
  f.max = max;
  f.allowed = std::move(allowed);
  f.description = std::move(description);
  return f;
}

HpoField Required(FieldSpec spec, std::string range_text = "") {
  return HpoField{std::move(spec), /*required=*/true, "", "", std::move(range_text)};
}
HpoField Optional(FieldSpec spec, std::string default_text = "", std::string type_text = "") {
  return HpoField{std::move(spec), /*required=*/false, std::move(default_text),
                  std::move(type_text), ""};
}

const std::vector<std::string> kHpoSectionNames = {"study", "budget", "search_space", "sampler",
                                                   "scheduler"};

SchemaSection StudySchema() {
  return {"study",
          "What the study optimizes and where it is stored.",
          {Required(Spec("name", Kind::kString, std::string(), std::nullopt, std::nullopt, {},
                         "Study name; identifies the study in its storage."),
                    "[A-Za-z0-9_.-]+"),
           Optional(Spec("direction", Kind::kString, std::string("maximize"), std::nullopt,
                         std::nullopt, {"minimize", "maximize"},
                         "Whether the metric is minimized or maximized.")),
           Optional(Spec("metric", Kind::kString, std::string("val_accuracy"), std::nullopt,
                         std::nullopt, {}, "Name of the reported metric that is the objective.")),
           Optional(Spec("seed", Kind::kInt, int64_t{0}, 0, std::nullopt, {},
                         "Seed of the study (default of the sampler seed).")),
           Optional(Spec("storage", Kind::kString, std::string(), std::nullopt, std::nullopt, {},
                         "Storage URL or SQLite path of the study's records."),
                    "runs/<name>.db"),
           Optional(Spec("requeue_interrupted", Kind::kBool, false, std::nullopt, std::nullopt, {},
                         "When a reopened study finds trials a dead process left running, "
                         "enqueue their configurations again (they are marked failed either "
                         "way)."))},
          ""};
}

SchemaSection BudgetSchema() {
  return {"budget",
          "How much the study may train.",
          {Required(Spec("trials", Kind::kInt, int64_t{0}, 1, std::nullopt, {},
                         "Number of new configurations to try.")),
           Required(Spec("max_epochs", Kind::kInt, int64_t{0}, 1, std::nullopt, {},
                         "Epochs of a full trial (the scheduler's maximum resource)."))},
          ""};
}

// The keys of one search_space entry; parsed by ParseParam, documented from here.
SchemaSection SearchSpaceEntrySchema() {
  return {"search_space",
          "Maps a searchable key of an application section to a distribution, or to a fixed "
          "scalar value. Entries are sampled in file order; a conditional entry must come after "
          "its parent. The keys of one entry:",
          {Required(Spec("type", Kind::kString, std::string(), std::nullopt, std::nullopt,
                         {"float", "int", "categorical"}, "Kind of distribution.")),
           Optional(Spec("low", Kind::kFloat, 0.0, std::nullopt, std::nullopt, {},
                         "Lower bound, inclusive (float and int; required there)."),
                    "(required for float/int)", "number"),
           Optional(Spec("high", Kind::kFloat, 0.0, std::nullopt, std::nullopt, {},
                         "Upper bound, inclusive, > low (float and int; required there)."),
                    "(required for float/int)", "number"),
           Optional(Spec("log", Kind::kBool, false, std::nullopt, std::nullopt, {},
                         "Sample on a log scale (needs low > 0; not with step).")),
           HpoField{Spec("step", Kind::kFloat, 0.0, std::nullopt, std::nullopt, {},
                         "Grid spacing: values are low + k*step (float: none, int: 1)."),
                    /*required=*/false, "none / 1", "number", "> 0; not with log"},
           Optional(Spec("choices", Kind::kStringList, std::string(), std::nullopt, std::nullopt,
                         {}, "Possible values (categorical; required there)."),
                    "(required for categorical)", "list of scalars"),
           Optional(Spec("condition", Kind::kString, std::string(), std::nullopt, std::nullopt, {},
                         "{parent: <earlier entry>, values: [...]}: the entry is active only "
                         "while the parent takes one of the values."),
                    "none", "mapping")},
          ""};
}

SchemaSection ConditionSchema() {
  return {"condition",
          "",
          {Required(Spec("parent", Kind::kString, std::string(), std::nullopt, std::nullopt, {},
                         "An entry of search_space that comes before this one.")),
           HpoField{Spec("values", Kind::kStringList, std::string(), std::nullopt, std::nullopt, {},
                         "Parent values that activate this entry."),
                    /*required=*/true, "", "list of scalars", ""}},
          ""};
}

SchemaSection SamplerSchema() {
  return {
      "sampler",
      "Proposes the configurations of new trials. `sampler: <name>` is short for "
      "`sampler: {name: <name>}`.",
      {Optional(Spec("name", Kind::kString, std::string("random"), std::nullopt, std::nullopt,
                     KnownSamplers(), "Sampler algorithm.")),
       Optional(Spec("seed", Kind::kInt, int64_t{0}, 0, std::nullopt, {}, "Seed of the sampler."),
                "study.seed"),
       Optional(Spec("n_startup_trials", Kind::kInt, SamplerOptions{}.n_startup_trials, 0,
                     std::nullopt, {},
                     "tpe, gp: random sampling until this many trials have a value.")),
       Optional(Spec("n_ei_candidates", Kind::kInt, SamplerOptions{}.n_ei_candidates, 1,
                     std::nullopt, {},
                     "tpe: candidates drawn from the good-group density per ask (Optuna: 24).")),
       Optional(Spec(
           "gamma", Kind::kFloat, SamplerOptions{}.gamma, 0.01, 1.0, {},
           "tpe: the good group is the best min(ceil(gamma * n), 25) of n trials (Optuna: 0.1).")),
       Optional(Spec("prior_weight", Kind::kFloat, SamplerOptions{}.prior_weight, 0.001,
                     std::nullopt, {},
                     "tpe: weight of the prior kernel in each Parzen estimator, > 0 (Optuna: 1).")),
       Optional(Spec("multivariate", Kind::kBool, true, std::nullopt, std::nullopt, {},
                     "tpe: model the parameters jointly instead of one by one.")),
       Optional(Spec("constant_liar", Kind::kBool, true, std::nullopt, std::nullopt, {},
                     "tpe: running trials count as bad observations, so parallel asks spread "
                     "out.")),
       Optional(Spec("scramble", Kind::kBool, true, std::nullopt, std::nullopt, {},
                     "sobol: scramble the sequence (seeded).")),
       HpoField{Spec("grid", Kind::kString, std::string(), std::nullopt, std::nullopt, {},
                     "grid: values per search_space entry, e.g. {lr: [0.001, 0.01]}; they "
                     "replace the values the grid enumerates for that entry (the only way to "
                     "put a continuous float into a grid). Other samplers reject it."),
                /*required=*/false, "none", "mapping", "values each entry can take",
                /*by_caller=*/true}},
      "name"};
}

SchemaSection SchedulerSchema() {
  return {"scheduler",
          "Decides at each epoch whether a trial continues, pauses or stops. Resources are "
          "epochs; the maximum resource is budget.max_epochs. `scheduler: <name>` is short for "
          "`scheduler: {name: <name>}`.",
          {Optional(Spec("name", Kind::kString, std::string("asha"), std::nullopt, std::nullopt,
                         KnownSchedulers(), "Scheduler algorithm.")),
           Optional(Spec("min_resource", Kind::kInt, int64_t{1}, 1, std::nullopt, {},
                         "Epochs before the first decision (r); at most budget.max_epochs.")),
           Optional(Spec("reduction_factor", Kind::kInt, int64_t{3}, 2, std::nullopt, {},
                         "Keep 1/eta of the trials at each rung (eta).")),
           Optional(Spec("min_early_stopping_rate", Kind::kInt, int64_t{0}, 0, std::nullopt, {},
                         "Skip the first s rungs (s); asha only (hyperband sets it per "
                         "bracket).")),
           Optional(Spec("percentile", Kind::kFloat, 50.0, 0, 100, {},
                         "median/percentile: stop a trial whose best value is worse than this "
                         "percentile of the completed trials' values at the same epoch (25: "
                         "keep the best quarter); median requires 50.")),
           Optional(Spec("n_startup_trials", Kind::kInt, int64_t{5}, 0, std::nullopt, {},
                         "median/percentile: no stopping until this many trials completed.")),
           Optional(Spec("n_warmup_steps", Kind::kInt, int64_t{0}, 0, std::nullopt, {},
                         "median/percentile: no stopping at epochs below this.")),
           Optional(Spec("interval_steps", Kind::kInt, int64_t{1}, 1, std::nullopt, {},
                         "median/percentile: check every this many epochs after the warmup.")),
           Optional(Spec("n_min_trials", Kind::kInt, int64_t{1}, 1, std::nullopt, {},
                         "median/percentile: no stopping at an epoch fewer completed trials "
                         "reported."))},
          "name"};
}

const FieldSpec& FieldOf(const SchemaSection& schema, const std::string& key) {
  auto it = std::find_if(schema.fields.begin(), schema.fields.end(),
                         [&](const HpoField& f) { return f.spec.key == key; });
  HPO_CHECK(it != schema.fields.end()) << "no key '" + key + "' in the schema of " + schema.name;
  return it->spec;
}

SchemaSection AppSectionSchema(const std::string& name, const std::vector<FieldSpec>& specs) {
  SchemaSection s{name, "Application section (validated against the trainer's schema).", {}, ""};
  for (const FieldSpec& spec : specs) {
    HpoField f;
    f.spec = spec;
    // A default left untouched (variant's bool false) on a non-bool key means "zero value".
    if (spec.kind != Kind::kBool && std::holds_alternative<bool>(spec.default_value) &&
        !std::get<bool>(spec.default_value)) {
      if (spec.kind == Kind::kInt) f.spec.default_value = int64_t{0};
      if (spec.kind == Kind::kFloat) f.spec.default_value = 0.0;
      if (spec.kind == Kind::kString || spec.kind == Kind::kStringList)
        f.spec.default_value = std::string();
    }
    const Value& d = f.spec.default_value;
    if (spec.kind == Kind::kFloat && std::holds_alternative<int64_t>(d))
      f.spec.default_value = static_cast<double>(std::get<int64_t>(d));
    bool type_ok = false;
    switch (spec.kind) {
      case Kind::kString:
      case Kind::kStringList:
        type_ok = std::holds_alternative<std::string>(d);
        break;
      case Kind::kInt:
        type_ok = std::holds_alternative<int64_t>(d);
        break;
      case Kind::kFloat:
        type_ok = std::holds_alternative<double>(f.spec.default_value);
        break;
      case Kind::kBool:
        type_ok = std::holds_alternative<bool>(d);
        break;
    }
    HPO_CHECK(type_ok) << "default of " + name + "." + spec.key + " does not match its kind";
    s.fields.push_back(std::move(f));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

std::string Join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// Shortest text that reads back as the same double, always recognisable as a float.
std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  HPO_CHECK(ec == std::errc()) << "cannot format double";
  std::string s(buf, end);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string FormatNumber(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  return FormatDouble(v);
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "string";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kBool:
      return "bool";
    case Kind::kStringList:
      return "list of strings";
  }
  return "?";
}

// "an integer", "a number", ...: what a value of `kind` is called in messages.
const char* KindNoun(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kInt:
      return "an integer";
    case Kind::kFloat:
      return "a number";
    case Kind::kBool:
      return "a boolean";
    case Kind::kStringList:
      return "a string or a list of strings";
  }
  return "?";
}

const char* NodeKindName(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a sequence";
  if (n.IsNull()) return "nothing";
  return "a scalar";
}

std::string DisplayValue(const Value& v) {
  if (std::holds_alternative<std::string>(v)) return Quote(std::get<std::string>(v));
  if (std::holds_alternative<double>(v)) return FormatDouble(std::get<double>(v));
  return ValueToString(v);
}

// Strict YAML 1.2 core-schema scalars.
std::optional<bool> ParseBool(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> ParseInt(const std::string& s) {
  std::string_view t = s;
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  if (t.empty()) return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) return std::nullopt;
  return v;
}

std::optional<double> ParseDouble(const std::string& s) {
  std::string_view t = s;
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  if (t.empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool IsQuoted(const YAML::Node& n) { return n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str"; }

// Whether a plain scalar with this text would read back as something other than this string.
bool NeedsQuotes(const std::string& s) {
  static const std::set<std::string> kSpecial = {
      "",    "~",  "null", "Null", "NULL", "yes", "no", "Yes", "No", "YES",  "NO",   "on",
      "off", "On", "Off",  "ON",   "OFF",  "y",   "n",  "Y",   "N",  ".inf", ".nan", "-.inf"};
  if (kSpecial.count(s) || ParseBool(s) || ParseInt(s)) return true;
  double d = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  return ec == std::errc() || ec == std::errc::result_out_of_range;
}

void EmitValue(YAML::Emitter& out, const Value& v) {
  if (std::holds_alternative<bool>(v)) {
    out << std::get<bool>(v);
  } else if (std::holds_alternative<int64_t>(v)) {
    out << std::get<int64_t>(v);
  } else if (std::holds_alternative<double>(v)) {
    out << FormatDouble(std::get<double>(v));
  } else {
    const auto& s = std::get<std::string>(v);
    if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
    out << s;
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

struct SearchableField {
  std::string section;
  FieldSpec spec;
};

class Parser {
 public:
  Parser(std::string file, const AppSchema& app) : file_(std::move(file)), app_(app) {}

  StudyConfig Parse(const std::string& text);

 private:
  Location At(const YAML::Node& n) const {
    const YAML::Mark m = n.Mark();
    if (m.is_null() || m.line < 0) return Location{file_, 0, 0};
    return Location{file_, m.line + 1, m.column + 1};
  }
  // Where a key's value is; a missing value has no useful mark of its own, so its key's.
  Location ValueAt(const Entry& e) const { return e.value.IsNull() ? At(e.key_node) : At(e.value); }
  [[noreturn]] void Fail(const Location& where, const std::string& problem,
                         const std::string& fix) const {
    throw ConfigError(where, problem + "; " + fix);
  }

  std::vector<Entry> Entries(const YAML::Node& map, const std::string& context,
                             const std::vector<std::string>& known, const std::string& noun);
  Section ReadSection(const SchemaSection& schema, const YAML::Node& node, const Location& where);
  Value ReadField(const std::string& section, const FieldSpec& spec, const Entry& e);
  Value ReadScalar(Kind kind, const YAML::Node& node, const Location& where,
                   const std::string& what);
  void CheckValue(const FieldSpec& spec, const Value& v, const Location& where,
                  const std::string& what);
  // `add_at` receives where errors of SearchSpace::Add belong.
  ParamSpec ParseParam(const Entry& e, const SearchableField& field,
                       const std::vector<std::string>& earlier, const std::vector<std::string>& all,
                       const SearchSpace& space, Location* add_at);
  // `values_at` receives where the condition's values are (for errors about them).
  std::optional<Condition> ParseCondition(const std::string& name, const Entry& e,
                                          const std::vector<std::string>& earlier,
                                          const std::vector<std::string>& all,
                                          const SearchSpace& space, Location* values_at);
  void ParseSearchSpace(const YAML::Node& node, StudyConfig* config);
  void ParseGrid(const YAML::Node& node, const Location& where, StudyConfig* config);

  std::string file_;
  const AppSchema& app_;
  std::map<std::string, SearchableField> searchable_;
};

std::vector<Entry> Parser::Entries(const YAML::Node& map, const std::string& context,
                                   const std::vector<std::string>& known, const std::string& noun) {
  std::vector<Entry> entries;
  std::map<std::string, Location> seen;
  for (const auto& kv : map) {
    Entry e{"", kv.first, kv.second};
    if (!e.key_node.IsScalar())
      Fail(At(e.key_node),
           "expected a plain key in " + context + ", got " + NodeKindName(e.key_node),
           "write 'key: value'");
    e.key = e.key_node.Scalar();
    auto [it, inserted] = seen.emplace(e.key, At(e.key_node));
    if (!inserted)
      Fail(At(e.key_node), "duplicate " + noun + " " + Quote(e.key) + " in " + context,
           "remove one of the two (the first is at line " + std::to_string(it->second.line) + ")");
    if (std::find(known.begin(), known.end(), e.key) == known.end()) {
      std::string nearest = NearestName(e.key, known);
      std::string fix = !nearest.empty() ? "did you mean " + Quote(nearest) + "?"
                        : known.empty()  ? "this section takes no keys"
                                         : "known " + noun + "s: " + Join(known);
      Fail(At(e.key_node), "unknown " + noun + " " + Quote(e.key) + " in " + context, fix);
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

Value Parser::ReadScalar(Kind kind, const YAML::Node& node, const Location& where,
                         const std::string& what) {
  if (!node.IsScalar())
    Fail(where,
         "expected " + std::string(KindNoun(kind)) + " for " + what + ", got " + NodeKindName(node),
         "write a single value");
  const std::string& s = node.Scalar();
  if (kind == Kind::kString || kind == Kind::kStringList) return s;
  const bool quoted = IsQuoted(node);
  switch (kind) {
    case Kind::kBool:
      if (auto b = ParseBool(s); b && !quoted) return *b;
      Fail(where, "expected true or false for " + what + ", got " + Quote(s),
           "write true or false");
    case Kind::kInt:
      if (auto i = ParseInt(s); i && !quoted) return *i;
      Fail(where, "expected an integer for " + what + ", got " + Quote(s),
           ParseDouble(s) && !quoted ? "write a whole number without a fraction"
                                     : "write a whole number, unquoted");
    case Kind::kFloat:
      if (auto i = ParseInt(s); i && !quoted) return static_cast<double>(*i);
      if (auto d = ParseDouble(s); d && !quoted) return *d;
      Fail(where, "expected a number for " + what + ", got " + Quote(s),
           "write a finite number, unquoted (e.g. 0.001 or 1e-3)");
    default:
      break;
  }
  HPO_CHECK(false) << "unhandled kind";
  return {};
}

void Parser::CheckValue(const FieldSpec& spec, const Value& v, const Location& where,
                        const std::string& what) {
  if (std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v)) {
    double x = ValueToDouble(v);
    if (spec.min && x < *spec.min)
      Fail(where, what + " must be >= " + FormatNumber(*spec.min) + ", got " + DisplayValue(v),
           "use a value >= " + FormatNumber(*spec.min));
    if (spec.max && x > *spec.max)
      Fail(where, what + " must be <= " + FormatNumber(*spec.max) + ", got " + DisplayValue(v),
           "use a value <= " + FormatNumber(*spec.max));
  }
  if (std::holds_alternative<std::string>(v) && !spec.allowed.empty()) {
    const std::string& s = std::get<std::string>(v);
    if (std::find(spec.allowed.begin(), spec.allowed.end(), s) == spec.allowed.end()) {
      std::string nearest = NearestName(s, spec.allowed);
      Fail(where, "unknown value " + Quote(s) + " for " + what,
           (nearest.empty() ? "" : "did you mean " + Quote(nearest) + "? ") +
               "allowed: " + Join(spec.allowed));
    }
  }
}

Value Parser::ReadField(const std::string& section, const FieldSpec& spec, const Entry& e) {
  const std::string what = Quote(spec.key) + " in " + section;
  const Location where = ValueAt(e);
  if (e.value.IsNull())
    Fail(where, "missing value for " + what,
         "write " + std::string(KindNoun(spec.kind)) + " or remove the key to use the default");
  if (spec.kind != Kind::kStringList) {
    Value v = ReadScalar(spec.kind, e.value, where, what);
    CheckValue(spec, v, where, what);
    return v;
  }
  // A list of strings: a sequence of scalars, or one scalar of comma-separated items.
  std::vector<std::pair<std::string, Location>> items;
  if (e.value.IsSequence()) {
    for (const auto& item : e.value) {
      Location at = item.IsNull() ? where : At(item);
      if (!item.IsScalar())
        Fail(at, "expected a string item in " + what + ", got " + NodeKindName(item),
             "write each item as a plain string");
      if (item.Scalar().find(',') != std::string::npos)
        Fail(at, "item " + Quote(item.Scalar()) + " of " + what + " contains ','",
             "write each item separately");
      items.emplace_back(item.Scalar(), at);
    }
  } else if (e.value.IsScalar()) {
    std::string s = e.value.Scalar();
    size_t start = 0;
    while (true) {
      size_t comma = s.find(',', start);
      items.emplace_back(s.substr(start, comma - start), where);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    Fail(where, "expected a string or a list of strings for " + what + ", got a mapping",
         "write 'item' or [item1, item2]");
  }
  std::vector<std::string> joined;
  for (auto& [item, at] : items) {
    size_t b = item.find_first_not_of(" \t");
    size_t end = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, end - b + 1);
    if (item.empty()) Fail(at, "empty item in " + what, "remove the empty item");
    CheckValue(spec, item, at, what);
    joined.push_back(item);
  }
  return Join(joined, ",");
}

Section Parser::ReadSection(const SchemaSection& schema, const YAML::Node& node,
                            const Location& where) {
  Section section(schema.name, where);
  std::vector<std::string> keys;
  for (const auto& f : schema.fields) keys.push_back(f.spec.key);
  std::vector<Entry> entries;
  if (node.IsDefined() && !node.IsNull()) {
    if (node.IsScalar() && !schema.short_key.empty()) {
      // `sampler: random` is short for `sampler: {name: random}`.
      entries.push_back(Entry{schema.short_key, node, node});
    } else if (!node.IsMap()) {
      Fail(At(node),
           "expected a mapping for section " + Quote(schema.name) + ", got " + NodeKindName(node),
           "write '" + schema.name + ":' followed by indented 'key: value' lines" +
               (schema.short_key.empty() ? "" : " (or '" + schema.name + ": <name>')"));
    } else {
      entries = Entries(node, schema.name, keys, "key");
    }
  }
  for (const auto& field : schema.fields) {
    const FieldSpec& spec = field.spec;
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const Entry& e) { return e.key == spec.key; });
    if (it != entries.end() && field.by_caller) {
      section.Set(spec.key, spec.default_value, ValueAt(*it));
    } else if (it != entries.end()) {
      section.Set(spec.key, ReadField(schema.name, spec, *it), ValueAt(*it));
    } else if (field.required) {
      std::string hint = spec.key + ": <" + KindNoun(spec.kind) +
                         (spec.min ? " >= " + FormatNumber(*spec.min) : "") + ">";
      Fail(where, "missing required key " + Quote(spec.key) + " in " + schema.name,
           "add '" + hint + "'");
    } else {
      section.Set(spec.key, spec.default_value, std::nullopt);
    }
  }
  return section;
}

std::optional<Condition> Parser::ParseCondition(const std::string& name, const Entry& e,
                                                const std::vector<std::string>& earlier,
                                                const std::vector<std::string>& all,
                                                const SearchSpace& space, Location* values_at_out) {
  const std::string context = "the condition of " + Quote(name);
  if (!e.value.IsMap())
    Fail(ValueAt(e), "expected a mapping for " + context + ", got " + NodeKindName(e.value),
         "write 'condition: {parent: <earlier entry>, values: [...]}'");
  SchemaSection schema = ConditionSchema();
  std::vector<std::string> keys;
  for (const auto& f : schema.fields) keys.push_back(f.spec.key);
  std::vector<Entry> entries = Entries(e.value, context, keys, "key");
  const Entry* parent_entry = nullptr;
  const Entry* values_entry = nullptr;
  for (const auto& ce : entries) (ce.key == "parent" ? parent_entry : values_entry) = &ce;
  if (!parent_entry)
    Fail(ValueAt(e), "missing required key 'parent' in " + context,
         "add 'parent: <an entry of search_space above " + Quote(name) + ">'");
  if (!values_entry)
    Fail(ValueAt(e), "missing required key 'values' in " + context,
         "add 'values: [<parent values that activate " + Quote(name) + ">]'");

  Condition condition;
  condition.parent = std::get<std::string>(ReadScalar(
      Kind::kString, parent_entry->value, ValueAt(*parent_entry), "'parent' in " + context));
  const Location parent_at = ValueAt(*parent_entry);
  if (condition.parent == name)
    Fail(parent_at, Quote(name) + " cannot be conditional on itself",
         "name an entry of search_space above it");
  if (std::find(earlier.begin(), earlier.end(), condition.parent) == earlier.end()) {
    if (std::find(all.begin(), all.end(), condition.parent) != all.end())
      Fail(parent_at,
           "condition parent " + Quote(condition.parent) + " of " + Quote(name) +
               " comes later in search_space",
           "move " + Quote(condition.parent) + " above " + Quote(name));
    std::string nearest = NearestName(condition.parent, earlier);
    Fail(parent_at, "unknown condition parent " + Quote(condition.parent) + " of " + Quote(name),
         (nearest.empty() ? "" : "did you mean " + Quote(nearest) + "? ") + "entries above " +
             Quote(name) + ": " + (earlier.empty() ? "(none)" : Join(earlier)));
  }
  // Values are read as the parent's key kind.
  const Kind parent_kind = searchable_.at(condition.parent).spec.kind;
  const Location values_at = ValueAt(*values_entry);
  *values_at_out = values_at;
  const std::string what = "a value of " + context;
  const ParamSpec* parent = space.Find(condition.parent);
  HPO_CHECK(parent != nullptr) << "parent " + condition.parent + " not in the space";
  auto add_value = [&](const YAML::Node& item, const Location& at) {
    Value v = ReadScalar(parent_kind, item, at, what);
    try {
      parent->distribution.ToInternal(v);
    } catch (const std::invalid_argument& ex) {
      Fail(at, context + ": " + ex.what(),
           "use a value that " + Quote(condition.parent) + " can take");
    }
    condition.values.push_back(std::move(v));
  };
  if (values_entry->value.IsSequence()) {
    for (const auto& item : values_entry->value)
      add_value(item, item.IsNull() ? values_at : At(item));
  } else if (!values_entry->value.IsNull()) {
    add_value(values_entry->value, values_at);
  }
  if (condition.values.empty())
    Fail(values_at, "empty 'values' in " + context,
         "list the values of " + Quote(condition.parent) + " that activate " + Quote(name));
  return condition;
}

ParamSpec Parser::ParseParam(const Entry& e, const SearchableField& field,
                             const std::vector<std::string>& earlier,
                             const std::vector<std::string>& all, const SearchSpace& space,
                             Location* add_at) {
  *add_at = At(e.key_node);
  const std::string& name = e.key;
  const FieldSpec& spec = field.spec;
  const Kind kind = spec.kind == Kind::kStringList ? Kind::kString : spec.kind;
  const std::string field_what = Quote(name) + " in " + field.section;
  ParamSpec param;
  param.name = name;

  auto make = [&](const Location& where, auto&& factory) {
    try {
      return factory();
    } catch (const std::invalid_argument& ex) {
      std::string msg = ex.what();
      throw ConfigError(where, "invalid distribution for " + Quote(name) + ": " + msg +
                                   (msg.find(';') == std::string::npos
                                        ? "; fix the search_space entry " + Quote(name)
                                        : ""));
    }
  };

  if (e.value.IsNull())
    Fail(ValueAt(e), "missing distribution for " + Quote(name) + " in search_space",
         "write {type: float|int|categorical, ...} or a fixed value");
  if (e.value.IsSequence())
    Fail(ValueAt(e),
         "expected a distribution mapping or a fixed value for " + Quote(name) +
             " in search_space, got a sequence",
         "write {type: categorical, choices: [...]}");
  if (e.value.IsScalar()) {  // a fixed value
    Value v = ReadScalar(kind, e.value, At(e.value), "the fixed value of " + Quote(name));
    CheckValue(spec, v, At(e.value), field_what);
    param.distribution = make(At(e.value), [&] { return Distribution::Categorical({v}); });
    return param;
  }

  SchemaSection schema = SearchSpaceEntrySchema();
  std::vector<std::string> keys;
  for (const auto& f : schema.fields) keys.push_back(f.spec.key);
  const std::string context = "search_space entry " + Quote(name);
  std::vector<Entry> entries = Entries(e.value, context, keys, "key");
  auto find = [&](const std::string& key) -> const Entry* {
    for (const auto& x : entries)
      if (x.key == key) return &x;
    return nullptr;
  };
  const Entry* type_entry = find("type");
  if (!type_entry)
    Fail(At(e.key_node), "missing required key 'type' in " + context,
         "add 'type: float', 'type: int' or 'type: categorical'");
  const std::string type =
      std::get<std::string>(ReadField(context, FieldOf(schema, "type"), *type_entry));
  const Location type_at = ValueAt(*type_entry);

  if (type == "categorical") {
    for (const char* key : {"low", "high", "log", "step"}) {
      if (const Entry* x = find(key))
        Fail(At(x->key_node), Quote(key) + " does not apply to type categorical",
             "remove it, or use type: float or int");
    }
    const Entry* choices = find("choices");
    if (!choices)
      Fail(At(e.key_node), "missing required key 'choices' in " + context, "add 'choices: [...]'");
    if (!choices->value.IsNull() && !choices->value.IsSequence())
      Fail(ValueAt(*choices),
           "expected a list for 'choices' of " + Quote(name) + ", got " +
               NodeKindName(choices->value),
           "write choices: [a, b, ...]");
    if (choices->value.IsNull() || choices->value.size() == 0)
      Fail(ValueAt(*choices), "empty choices for " + Quote(name),
           "list at least one choice (or write a fixed value)");
    std::vector<Value> values;
    for (const auto& item : choices->value) {
      Location at = item.IsNull() ? ValueAt(*choices) : At(item);
      Value v = ReadScalar(kind, item, at, "a choice of " + field_what);
      CheckValue(spec, v, at, field_what);
      values.push_back(std::move(v));
    }
    param.distribution =
        make(ValueAt(*choices), [&] { return Distribution::Categorical(std::move(values)); });
  } else {
    // float or int: the key's kind must be numeric.
    if (kind == Kind::kString || kind == Kind::kBool)
      Fail(type_at, field_what + " is " + KindNoun(kind) + ", not a number",
           "use type: categorical with " +
               std::string(kind == Kind::kBool ? "choices [true, false]" : "string choices"));
    if (kind == Kind::kInt && type == "float")
      Fail(type_at, field_what + " is an integer", "use type: int");
    if (const Entry* x = find("choices"))
      Fail(At(x->key_node), "'choices' does not apply to type " + type,
           "remove it, or use type: categorical");
    const Entry* low_entry = find("low");
    const Entry* high_entry = find("high");
    if (!low_entry)
      Fail(At(e.key_node), "missing required key 'low' in " + context, "add 'low: <number>'");
    if (!high_entry)
      Fail(At(e.key_node), "missing required key 'high' in " + context, "add 'high: <number>'");
    const Kind bound_kind = type == "int" ? Kind::kInt : Kind::kFloat;
    const Location low_at = ValueAt(*low_entry), high_at = ValueAt(*high_entry);
    auto read_bound = [&](const Entry& b) {
      if (b.value.IsNull())
        Fail(ValueAt(b), "missing value for " + Quote(b.key) + " of " + Quote(name),
             "write " + std::string(KindNoun(bound_kind)));
      return ReadScalar(bound_kind, b.value, ValueAt(b), Quote(b.key) + " of " + Quote(name));
    };
    Value low = read_bound(*low_entry), high = read_bound(*high_entry);
    double lo = ValueToDouble(low), hi = ValueToDouble(high);
    bool log = false;
    if (const Entry* x = find("log"))
      log = std::get<bool>(ReadField(context, FieldOf(schema, "log"), *x));
    std::optional<Value> step;
    const Entry* step_entry = find("step");
    if (step_entry) step = read_bound(*step_entry);

    if (lo > hi)
      Fail(low_at,
           "inverted range for " + Quote(name) + ": low " + DisplayValue(low) + " > high " +
               DisplayValue(high),
           "swap low and high");
    if (lo == hi)
      Fail(low_at, "empty range for " + Quote(name) + ": low == high == " + DisplayValue(low),
           "use a fixed value instead ('" + name + ": " + DisplayValue(low) + "')");
    if (log && type == "float" && lo <= 0)
      Fail(low_at, "log scale needs low > 0 for " + Quote(name) + ", got " + DisplayValue(low),
           "raise low above 0 or remove 'log: true'");
    if (log && type == "int" && lo < 1)
      Fail(low_at, "log scale needs low >= 1 for " + Quote(name) + ", got " + DisplayValue(low),
           "raise low to 1 or more, or remove 'log: true'");
    if (step) {
      const Location step_at = ValueAt(*step_entry);
      if (ValueToDouble(*step) <= 0)
        Fail(step_at, "step must be > 0 for " + Quote(name) + ", got " + DisplayValue(*step),
             "use a positive step or remove it");
      if (log && (type == "float" || std::get<int64_t>(*step) != 1))
        Fail(step_at, "step cannot be combined with log for " + Quote(name),
             "remove 'step' or 'log: true'");
    }
    // The range must lie within the key's own bounds.
    if (spec.min && lo < *spec.min)
      Fail(low_at,
           "low " + DisplayValue(low) + " of " + Quote(name) + " is below the minimum " +
               FormatNumber(*spec.min) + " of " + field_what,
           "raise low to >= " + FormatNumber(*spec.min));
    if (spec.max && hi > *spec.max)
      Fail(high_at,
           "high " + DisplayValue(high) + " of " + Quote(name) + " is above the maximum " +
               FormatNumber(*spec.max) + " of " + field_what,
           "lower high to <= " + FormatNumber(*spec.max));
    const Location at = step_entry ? ValueAt(*step_entry) : low_at;
    if (type == "int") {
      int64_t s = step ? std::get<int64_t>(*step) : 1;
      param.distribution = make(at, [&] {
        return Distribution::Int(std::get<int64_t>(low), std::get<int64_t>(high), log, s);
      });
    } else {
      double s = step ? ValueToDouble(*step) : 0.0;
      param.distribution = make(at, [&] { return Distribution::Float(lo, hi, log, s); });
    }
  }
  if (const Entry* c = find("condition"))
    param.condition = ParseCondition(name, *c, earlier, all, space, add_at);
  return param;
}

void Parser::ParseSearchSpace(const YAML::Node& node, StudyConfig* config) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap())
    Fail(At(node),
         std::string("expected a mapping for section 'search_space', got ") + NodeKindName(node),
         "write 'search_space:' followed by indented '<key>: <distribution>' lines");
  std::vector<std::string> searchable_names;
  for (const auto& [key, _] : searchable_) searchable_names.push_back(key);
  std::vector<std::string> all;
  for (const auto& kv : node)
    if (kv.first.IsScalar()) all.push_back(kv.first.Scalar());
  // Unknown names are reported below with the searchable-specific message.
  std::vector<Entry> entries = Entries(node, "search_space", all, "entry");
  std::vector<std::string> earlier;
  for (const Entry& e : entries) {
    auto it = searchable_.find(e.key);
    if (it == searchable_.end()) {
      const std::string list =
          "searchable keys: " + (searchable_names.empty() ? "(none)" : Join(searchable_names));
      for (const auto& [section, specs] : app_.sections) {
        for (const auto& spec : specs) {
          if (spec.key == e.key)
            Fail(At(e.key_node), Quote(e.key) + " in " + section + " is not searchable", list);
        }
      }
      std::string nearest = NearestName(e.key, searchable_names);
      Fail(At(e.key_node), "unknown hyperparameter " + Quote(e.key) + " in search_space",
           (nearest.empty() ? "" : "did you mean " + Quote(nearest) + "? ") + list);
    }
    Location where;
    ParamSpec param = ParseParam(e, it->second, earlier, all, config->space, &where);
    try {
      config->space.Add(std::move(param));
    } catch (const std::invalid_argument& ex) {
      std::string msg = ex.what();
      throw ConfigError(
          where,
          "invalid search_space entry " + Quote(e.key) + ": " + msg +
              (msg.find(';') == std::string::npos ? "; fix the entry or its condition" : ""));
    }
    config->param_locations[e.key] = At(e.key_node);
    earlier.push_back(e.key);
  }
}

void Parser::ParseGrid(const YAML::Node& node, const Location& where, StudyConfig* config) {
  if (config->sampler.name != "grid")
    Fail(where, "sampler " + config->sampler.name + " takes no grid values",
         "use 'name: grid' or remove 'grid'");
  if (!node.IsMap())
    Fail(where, std::string("expected a mapping for 'grid' in sampler, got ") + NodeKindName(node),
         "write 'grid: {<search_space entry>: [value, ...], ...}'");
  std::vector<std::string> names;
  for (const ParamSpec& p : config->space.params()) names.push_back(p.name);
  for (const Entry& e : Entries(node, "sampler grid", names, "search_space entry")) {
    const ParamSpec* param = config->space.Find(e.key);
    HPO_CHECK(param != nullptr) << "grid entry " + e.key + " not in the space";
    const Kind kind = searchable_.at(e.key).spec.kind;
    const std::string what = "a grid value of " + Quote(e.key);
    std::vector<Value>& values = config->sampler.grid[e.key];
    auto add = [&](const YAML::Node& item, const Location& at) {
      Value v = ReadScalar(kind, item, at, what);
      try {
        param->distribution.ToInternal(v);
      } catch (const std::invalid_argument& ex) {
        Fail(at, what + ": " + ex.what(), "use a value inside the search_space entry");
      }
      if (std::find(values.begin(), values.end(), v) != values.end())
        Fail(at, "duplicate grid value " + DisplayValue(v) + " for " + Quote(e.key),
             "list each value once");
      values.push_back(std::move(v));
    };
    const Location values_at = ValueAt(e);
    if (e.value.IsSequence()) {
      for (const auto& item : e.value) add(item, item.IsNull() ? values_at : At(item));
    } else if (!e.value.IsNull()) {
      add(e.value, values_at);
    }
    if (values.empty())
      Fail(values_at, "no grid values for " + Quote(e.key),
           "list the values to try, e.g. [0.001, 0.01]");
  }
}

StudyConfig Parser::Parse(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& ex) {
    Location where{file_, ex.mark.line >= 0 ? ex.mark.line + 1 : 0,
                   ex.mark.column >= 0 ? ex.mark.column + 1 : 0};
    Fail(where, "YAML syntax error: " + ex.msg, "fix the YAML syntax at this position");
  } catch (const YAML::Exception& ex) {
    Fail(Location{file_}, std::string("YAML error: ") + ex.what(), "fix the YAML syntax");
  }
  const std::string required_hint = "start with 'study: {name: ...}' and 'budget: {...}'";
  if (!root.IsDefined() || root.IsNull())
    Fail(Location{file_, 1, 1}, "the study file is empty", required_hint);
  if (!root.IsMap())
    Fail(At(root),
         std::string("expected a mapping of sections at the top level, got ") + NodeKindName(root),
         required_hint);

  // Application sections (defaults normalized), and which of their keys are searchable.
  std::vector<SchemaSection> app_schemas;
  for (const auto& [name, specs] : app_.sections) {
    HPO_CHECK(std::find(kHpoSectionNames.begin(), kHpoSectionNames.end(), name) ==
              kHpoSectionNames.end())
        << "application section '" + name + "' collides with an hpo section";
    app_schemas.push_back(AppSectionSchema(name, specs));
    for (const auto& f : app_schemas.back().fields) {
      if (f.spec.searchable && !searchable_.count(f.spec.key))
        searchable_[f.spec.key] = SearchableField{name, f.spec};
    }
  }

  std::vector<std::string> sections = kHpoSectionNames;
  for (const auto& [name, _] : app_.sections) sections.push_back(name);
  std::vector<Entry> top = Entries(root, "the study file", sections, "section");
  auto find = [&](const std::string& name) -> const Entry* {
    for (const auto& e : top)
      if (e.key == name) return &e;
    return nullptr;
  };
  auto read = [&](const SchemaSection& schema) {
    const Entry* e = find(schema.name);
    if (!e) {
      bool required = std::any_of(schema.fields.begin(), schema.fields.end(),
                                  [](const HpoField& f) { return f.required; });
      if (required) {
        std::string first = schema.fields.front().spec.key;
        Fail(Location{file_, 1, 1}, "missing required section " + Quote(schema.name),
             "add '" + schema.name + ":' with at least '" + first + "'");
      }
      return ReadSection(schema, YAML::Node(), Location{file_});
    }
    return ReadSection(schema, e->value, At(e->key_node));
  };

  StudyConfig config;
  config.file = file_;

  Section study = read(StudySchema());
  config.name = study.GetString("name");
  static const std::string kNameChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  if (config.name.empty() || config.name.find_first_not_of(kNameChars) != std::string::npos)
    Fail(study.LocationOf("name"), "invalid study name " + Quote(config.name),
         "use only letters, digits, '_', '.' and '-'");
  config.direction = ParseDirection(study.GetString("direction"));
  config.metric = study.GetString("metric");
  if (config.metric.empty())
    Fail(study.LocationOf("metric"), "empty metric name in study",
         "name the reported metric to optimize, e.g. val_accuracy");
  config.seed = static_cast<uint64_t>(study.GetInt("seed"));
  config.storage = study.GetString("storage");
  if (config.storage.empty()) config.storage = "runs/" + config.name + ".db";
  config.requeue_interrupted = study.GetBool("requeue_interrupted");

  Section budget = read(BudgetSchema());
  config.n_trials = budget.GetInt("trials");
  config.max_epochs = budget.GetInt("max_epochs");

  Section sampler = read(SamplerSchema());
  config.sampler.name = sampler.GetString("name");
  config.sampler.seed =
      sampler.IsSetInFile("seed") ? static_cast<uint64_t>(sampler.GetInt("seed")) : config.seed;
  config.sampler.n_startup_trials = sampler.GetInt("n_startup_trials");
  config.sampler.n_ei_candidates = sampler.GetInt("n_ei_candidates");
  config.sampler.gamma = sampler.GetDouble("gamma");
  config.sampler.prior_weight = sampler.GetDouble("prior_weight");
  config.sampler.multivariate = sampler.GetBool("multivariate");
  config.sampler.constant_liar = sampler.GetBool("constant_liar");
  config.sampler.scramble = sampler.GetBool("scramble");

  Section scheduler = read(SchedulerSchema());
  config.scheduler.name = scheduler.GetString("name");
  config.scheduler.direction = config.direction;
  config.scheduler.min_resource = scheduler.GetInt("min_resource");
  config.scheduler.max_resource = config.max_epochs;
  config.scheduler.reduction_factor = scheduler.GetInt("reduction_factor");
  config.scheduler.min_early_stopping_rate = scheduler.GetInt("min_early_stopping_rate");
  config.scheduler.percentile = scheduler.GetDouble("percentile");
  config.scheduler.n_startup_trials = scheduler.GetInt("n_startup_trials");
  config.scheduler.n_warmup_steps = scheduler.GetInt("n_warmup_steps");
  config.scheduler.interval_steps = scheduler.GetInt("interval_steps");
  config.scheduler.n_min_trials = scheduler.GetInt("n_min_trials");
  if (config.scheduler.name == "median" && config.scheduler.percentile != 50)
    Fail(scheduler.LocationOf("percentile"),
         "scheduler median stops at the 50th percentile, got percentile " +
             FormatNumber(config.scheduler.percentile),
         "use name: percentile, or remove percentile");
  if (config.scheduler.min_early_stopping_rate != 0 &&
      (config.scheduler.name == "hyperband" || config.scheduler.name == "hyperband_stopping"))
    Fail(scheduler.LocationOf("min_early_stopping_rate"),
         "scheduler " + config.scheduler.name + " sets min_early_stopping_rate per bracket, got " +
             std::to_string(config.scheduler.min_early_stopping_rate),
         "remove min_early_stopping_rate");
  if (config.scheduler.min_resource > config.max_epochs)
    Fail(scheduler.LocationOf("min_resource"),
         "scheduler min_resource " + std::to_string(config.scheduler.min_resource) +
             " exceeds budget.max_epochs " + std::to_string(config.max_epochs),
         "lower min_resource or raise max_epochs");

  for (const auto& schema : app_schemas) config.sections[schema.name] = read(schema);

  if (const Entry* e = find("search_space")) ParseSearchSpace(e->value, &config);
  if (sampler.IsSetInFile("grid")) {
    const Entry* e = find("sampler");
    ParseGrid(e->value["grid"], sampler.LocationOf("grid"), &config);
  }
  return config;
}

// ---------------------------------------------------------------------------------------------
// Documentation

std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

std::string DocValue(const Value& v) {
  if (std::holds_alternative<std::string>(v)) {
    const auto& s = std::get<std::string>(v);
    return s.empty() ? "`\"\"`" : "`" + s + "`";
  }
  return "`" + DisplayValue(v) + "`";
}

void DescribeSection(const SchemaSection& schema, std::ostringstream& out,
                     const std::string& heading = "") {
  out << (heading.empty() ? "## " + schema.name : heading) << "\n\n";
  if (!schema.description.empty()) out << schema.description << "\n\n";
  out << "| key | type | default | range/allowed | searchable | description |\n"
      << "|---|---|---|---|---|---|\n";
  for (const HpoField& f : schema.fields) {
    const FieldSpec& s = f.spec;
    std::string type = f.type_text.empty() ? KindName(s.kind) : f.type_text;
    std::string def =
        f.required                ? "(required)"
        : !f.default_text.empty() ? f.default_text
        : s.kind == Kind::kStringList && std::get<std::string>(s.default_value).empty()
            ? "(empty)"
            : DocValue(s.default_value);
    std::string range = f.range_text;
    if (s.min && s.max) {
      range = "[" + FormatNumber(*s.min) + ", " + FormatNumber(*s.max) + "]";
    } else if (s.min) {
      range = ">= " + FormatNumber(*s.min);
    } else if (s.max) {
      range = "<= " + FormatNumber(*s.max);
    }
    if (!s.allowed.empty()) {
      std::vector<std::string> quoted;
      for (const auto& a : s.allowed) quoted.push_back("`" + a + "`");
      range += (range.empty() ? "" : "; ") + Join(quoted);
    }
    out << "| " << Cell(s.key) << " | " << Cell(type) << " | " << Cell(def) << " | "
        << Cell(range.empty() ? "" : range) << " | " << (s.searchable ? "yes" : "no") << " | "
        << Cell(s.description) << " |\n";
  }
  out << "\n";
}

}  // namespace

StudyConfig ParseStudyConfig(const std::string& text, const std::string& file,
                             const AppSchema& app) {
  return Parser(file, app).Parse(text);
}

StudyConfig LoadStudyConfig(const std::string& path, const AppSchema& app) {
  auto unreadable = [&](int err) {
    throw ConfigError(Location{}, "cannot read study file " + path + ": " + std::strerror(err) +
                                      "; check the path and its permissions");
  };
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) unreadable(EISDIR);
  std::ifstream in(path, std::ios::binary);
  if (!in) unreadable(errno != 0 ? errno : ENOENT);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) unreadable(errno != 0 ? errno : EIO);
  return ParseStudyConfig(text.str(), path, app);
}

std::string StudyConfig::ToYaml() const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "study" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value;
  EmitValue(out, name);
  out << YAML::Key << "direction" << YAML::Value << hpo::ToString(direction);
  out << YAML::Key << "metric" << YAML::Value;
  EmitValue(out, metric);
  out << YAML::Key << "seed" << YAML::Value << seed;
  out << YAML::Key << "storage" << YAML::Value;
  EmitValue(out, storage);
  out << YAML::Key << "requeue_interrupted" << YAML::Value << requeue_interrupted;
  out << YAML::EndMap;

  out << YAML::Key << "budget" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "trials" << YAML::Value << n_trials;
  out << YAML::Key << "max_epochs" << YAML::Value << max_epochs;
  out << YAML::EndMap;

  out << YAML::Key << "search_space" << YAML::Value << YAML::BeginMap;
  for (const ParamSpec& p : space.params()) {
    const Distribution& d = p.distribution;
    out << YAML::Key << p.name << YAML::Value;
    if (d.type() == Distribution::Type::kCategorical && d.choices().size() == 1 && !p.condition) {
      EmitValue(out, d.choices()[0]);
      continue;
    }
    out << YAML::BeginMap;
    switch (d.type()) {
      case Distribution::Type::kFloat:
        out << YAML::Key << "type" << YAML::Value << "float";
        out << YAML::Key << "low" << YAML::Value << FormatDouble(d.low());
        out << YAML::Key << "high" << YAML::Value << FormatDouble(d.high());
        out << YAML::Key << "log" << YAML::Value << d.log();
        if (d.step() > 0) out << YAML::Key << "step" << YAML::Value << FormatDouble(d.step());
        break;
      case Distribution::Type::kInt:
        out << YAML::Key << "type" << YAML::Value << "int";
        out << YAML::Key << "low" << YAML::Value << static_cast<int64_t>(std::llround(d.low()));
        out << YAML::Key << "high" << YAML::Value << static_cast<int64_t>(std::llround(d.high()));
        out << YAML::Key << "log" << YAML::Value << d.log();
        out << YAML::Key << "step" << YAML::Value << static_cast<int64_t>(std::llround(d.step()));
        break;
      case Distribution::Type::kCategorical:
        out << YAML::Key << "type" << YAML::Value << "categorical";
        out << YAML::Key << "choices" << YAML::Value << YAML::Flow << YAML::BeginSeq;
        for (const Value& v : d.choices()) EmitValue(out, v);
        out << YAML::EndSeq;
        break;
    }
    if (p.condition) {
      out << YAML::Key << "condition" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "parent" << YAML::Value << p.condition->parent;
      out << YAML::Key << "values" << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const Value& v : p.condition->values) EmitValue(out, v);
      out << YAML::EndSeq << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;

  out << YAML::Key << "sampler" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << sampler.name;
  out << YAML::Key << "seed" << YAML::Value << sampler.seed;
  out << YAML::Key << "n_startup_trials" << YAML::Value << sampler.n_startup_trials;
  out << YAML::Key << "n_ei_candidates" << YAML::Value << sampler.n_ei_candidates;
  out << YAML::Key << "gamma" << YAML::Value << sampler.gamma;
  out << YAML::Key << "prior_weight" << YAML::Value << sampler.prior_weight;
  out << YAML::Key << "multivariate" << YAML::Value << sampler.multivariate;
  out << YAML::Key << "constant_liar" << YAML::Value << sampler.constant_liar;
  out << YAML::Key << "scramble" << YAML::Value << sampler.scramble;
  if (!sampler.grid.empty()) {
    out << YAML::Key << "grid" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, values] : sampler.grid) {
      out << YAML::Key << name << YAML::Value << YAML::Flow << YAML::BeginSeq;
      for (const Value& v : values) EmitValue(out, v);
      out << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;

  out << YAML::Key << "scheduler" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << scheduler.name;
  out << YAML::Key << "min_resource" << YAML::Value << scheduler.min_resource;
  out << YAML::Key << "reduction_factor" << YAML::Value << scheduler.reduction_factor;
  out << YAML::Key << "min_early_stopping_rate" << YAML::Value << scheduler.min_early_stopping_rate;
  out << YAML::Key << "percentile" << YAML::Value;
  EmitValue(out, Value(scheduler.percentile));
  out << YAML::Key << "n_startup_trials" << YAML::Value << scheduler.n_startup_trials;
  out << YAML::Key << "n_warmup_steps" << YAML::Value << scheduler.n_warmup_steps;
  out << YAML::Key << "interval_steps" << YAML::Value << scheduler.interval_steps;
  out << YAML::Key << "n_min_trials" << YAML::Value << scheduler.n_min_trials;
  out << YAML::EndMap;

  for (const auto& [section_name, section] : sections) {
    out << YAML::Key << section_name << YAML::Value << YAML::BeginMap;
    for (const auto& [key, value] : section.values()) {
      out << YAML::Key << key << YAML::Value;
      EmitValue(out, value);
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  HPO_CHECK(out.good()) << "YAML emitter: " + out.GetLastError();
  return std::string(out.c_str()) + "\n";
}

std::string DescribeSchema(const AppSchema& app) {
  std::ostringstream out;
  out << "# Study file reference\n\n"
      << "Generated from the schema tables (hpo/src/config.cc and the trainer's AppSchema). "
         "Unknown keys are errors; absent keys take their defaults.\n\n";
  DescribeSection(StudySchema(), out);
  DescribeSection(BudgetSchema(), out);
  DescribeSection(SearchSpaceEntrySchema(), out);
  DescribeSection(ConditionSchema(), out, "### search_space: condition");
  DescribeSection(SamplerSchema(), out);
  DescribeSection(SchedulerSchema(), out);
  for (const auto& [name, specs] : app.sections)
    DescribeSection(AppSectionSchema(name, specs), out);
  return out.str();
}

}  // namespace hpo
