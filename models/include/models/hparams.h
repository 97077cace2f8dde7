// Hyperparameters as a model builder or the trainer reads them: a name → value map whose values
// come from a trial's sampled parameters over the study file's defaults.
//
// Getters convert between numeric types where lossless (an int is a valid float) and throw
// std::invalid_argument naming the key when it is absent or of the wrong type.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace models {

// Same alternatives as hpo::Value, so values pass through without conversion.
using HValue = std::variant<bool, int64_t, double, std::string>;

class HParams {
 public:
  HParams() = default;
  explicit HParams(std::map<std::string, HValue> values) : values_(std::move(values)) {}

  void Set(const std::string& key, HValue v) { values_[key] = std::move(v); }
  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  int64_t GetInt(const std::string& key) const;
  double GetDouble(const std::string& key) const;
  bool GetBool(const std::string& key) const;
  std::string GetString(const std::string& key) const;
  const std::map<std::string, HValue>& values() const { return values_; }

 private:
  const HValue& At(const std::string& key) const;
  std::map<std::string, HValue> values_;
};

// Declares one hyperparameter a component reads (for config validation and docs).
struct HParamDoc {
  enum class Kind { kString, kInt, kFloat, kBool };
  std::string key;
  Kind kind;
  HValue default_value;
  double min = -1e300, max = 1e300;  // inclusive, numbers only
  std::vector<std::string> allowed;  // strings only; empty = any
  std::string description;
};

// The registry's catalogue (declared here so that config code needs no LibTorch headers).
std::vector<std::string> KnownModels();
// Hyperparameters the models read, with defaults (union over models; each entry says which).
std::vector<HParamDoc> ModelHParams();

}  // namespace models
