// Search spaces: parameter distributions, values and conditional activation.
//
// A parameter has a Distribution (float, int or categorical). Samplers work on an "internal"
// double per parameter: the value itself for float and int parameters, the index of the choice
// for categorical ones. `ToExternal`/`ToInternal` convert between the two. A fixed value is a
// categorical distribution with one choice.
//
// A SearchSpace is an ordered list of ParamSpec. A parameter may be conditional on a parent that
// precedes it: it is active only while the parent's value is one of `condition->values`. An
// inactive parameter is absent from the trial (not defaulted).
//
// Thread safety: all types here are immutable values once built; const methods are thread-safe.
// Errors: invalid distributions throw std::invalid_argument with a message that names the
// problem and the fix (without a location; callers add file:line).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hpo {

// A parameter's value as the user sees it.
using Value = std::variant<bool, int64_t, double, std::string>;

std::string ValueToString(const Value& v);
// Numeric view of a value: bool → 0/1, int → double; throws std::invalid_argument on a string.
double ValueToDouble(const Value& v);

class Distribution {
 public:
  enum class Type { kFloat, kInt, kCategorical };

  // Factories validate their arguments (throw std::invalid_argument).
  // Float in [low, high]; `log` samples log-uniformly (needs low > 0); `step` > 0 quantises to
  // low + k*step (not together with log).
  static Distribution Float(double low, double high, bool log = false, double step = 0.0);
  // Integer in [low, high] with `step` >= 1; `log` needs low >= 1 and step == 1.
  static Distribution Int(int64_t low, int64_t high, bool log = false, int64_t step = 1);
  // One of `choices` (at least one, no duplicates).
  static Distribution Categorical(std::vector<Value> choices);

  Type type() const { return type_; }
  double low() const { return low_; }
  double high() const { return high_; }
  double step() const { return step_; }  // 0 for an unstepped float
  bool log() const { return log_; }
  const std::vector<Value>& choices() const { return choices_; }
  bool is_fixed() const;   // exactly one possible value
  bool is_finite() const;  // categorical, int, or stepped float
  // Number of possible values for finite distributions; 0 for a continuous float.
  uint64_t cardinality() const;

  // Whether an internal value lies in the distribution (inside the range, on the step grid,
  // a valid index).
  bool Contains(double internal) const;
  // Snaps an internal value to the nearest valid one (clamp, round to step/int/index).
  double Snap(double internal) const;
  Value ToExternal(double internal) const;
  // Throws std::invalid_argument when `v` has the wrong type or is outside the distribution.
  double ToInternal(const Value& v) const;

  // Compact JSON, stable across versions: used to store a study's space and to compare spaces.
  std::string ToJson() const;
  static Distribution FromJson(const std::string& json);
  std::string Describe() const;  // human-readable, e.g. "float[1e-05, 0.1] log"

  bool operator==(const Distribution& o) const;

 private:
  Type type_ = Type::kFloat;
  double low_ = 0, high_ = 0, step_ = 0;
  bool log_ = false;
  std::vector<Value> choices_;
};

struct Condition {
  std::string parent;
  std::vector<Value> values;  // active while parent's value is one of these
};

struct ParamSpec {
  std::string name;
  Distribution distribution;
  std::optional<Condition> condition;
};

// Internal values of a trial's active parameters, by name.
using ParamMap = std::map<std::string, double>;

class SearchSpace {
 public:
  SearchSpace() = default;
  // Throws std::invalid_argument on duplicate names or a condition whose parent is unknown,
  // comes later, or names a value the parent cannot take.
  void Add(ParamSpec spec);

  const std::vector<ParamSpec>& params() const { return params_; }
  const ParamSpec* Find(const std::string& name) const;
  bool empty() const { return params_.empty(); }

  // Whether `spec` is active given the values already chosen for its parents.
  bool IsActive(const ParamSpec& spec, const ParamMap& chosen) const;
  // The declared parameters among `internal` (a trial's stored values) as external values;
  // names this space does not declare (define-by-run ones) are left out.
  std::map<std::string, Value> ToExternal(const ParamMap& internal) const;

  std::string ToJson() const;
  static SearchSpace FromJson(const std::string& json);
  bool operator==(const SearchSpace& o) const { return ToJson() == o.ToJson(); }

 private:
  std::vector<ParamSpec> params_;
  std::map<std::string, size_t> index_;
};

}  // namespace hpo
