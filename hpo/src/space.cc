#include "hpo/space.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "hpo/check.h"

namespace hpo {
namespace {

using json = nlohmann::json;

std::string FormatDouble(double v) {
  std::ostringstream ss;
  ss.precision(12);
  ss << v;
  return ss.str();
}

json ValueToJson(const Value& v) {
  return std::visit([](const auto& x) { return json(x); }, v);
}

Value ValueFromJson(const json& j) {
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw std::invalid_argument("unsupported value in JSON: " + j.dump());
}

// Like ToInternal's matching: 1 and 1.0 denote the same number (bools and strings match only
// themselves).
bool SameValue(const Value& a, const Value& b) {
  auto numeric = [](const Value& v) {
    return std::holds_alternative<int64_t>(v) || std::holds_alternative<double>(v);
  };
  if (numeric(a) && numeric(b)) return ValueToDouble(a) == ValueToDouble(b);
  return a == b;
}

}  // namespace

std::string ValueToString(const Value& v) {
  struct {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return FormatDouble(d); }
    std::string operator()(const std::string& s) const { return s; }
  } visitor;
  return std::visit(visitor, v);
}

double ValueToDouble(const Value& v) {
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1.0 : 0.0;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  if (auto* d = std::get_if<double>(&v)) return *d;
  throw std::invalid_argument("'" + std::get<std::string>(v) + "' is not a number");
}

Distribution Distribution::Float(double low, double high, bool log, double step) {
  if (!std::isfinite(low) || !std::isfinite(high))
    throw std::invalid_argument("low and high must be finite numbers");
  if (low > high)
    throw std::invalid_argument("inverted range: low " + FormatDouble(low) + " > high " +
                                FormatDouble(high) + "; swap them");
  if (low == high)
    throw std::invalid_argument("empty range: low == high == " + FormatDouble(low) +
                                "; use a fixed value instead");
  if (log && low <= 0)
    throw std::invalid_argument("log scale needs low > 0 (got " + FormatDouble(low) +
                                "); raise low or set log: false");
  if (step < 0 || !std::isfinite(step))
    throw std::invalid_argument("step must be > 0 (got " + FormatDouble(step) + ")");
  if (log && step > 0)
    throw std::invalid_argument("step cannot be combined with log scale; drop one of them");
  if (step > high - low)
    throw std::invalid_argument("step " + FormatDouble(step) + " is larger than the range");
  Distribution d;
  d.type_ = Type::kFloat;
  d.low_ = low;
  d.high_ = high;
  d.log_ = log;
  d.step_ = step;
  if (step > 0) {  // high snaps down onto the grid, as Optuna does
    d.high_ = low + std::floor((high - low) / step + 1e-9) * step;
  }
  return d;
}

Distribution Distribution::Int(int64_t low, int64_t high, bool log, int64_t step) {
  if (low > high)
    throw std::invalid_argument("inverted range: low " + std::to_string(low) + " > high " +
                                std::to_string(high) + "; swap them");
  if (low == high)
    throw std::invalid_argument("empty range: low == high == " + std::to_string(low) +
                                "; use a fixed value instead");
  if (step < 1) throw std::invalid_argument("step must be >= 1 (got " + std::to_string(step) + ")");
  if (log && low < 1)
    throw std::invalid_argument("log scale needs low >= 1 (got " + std::to_string(low) +
                                "); raise low or set log: false");
  if (log && step != 1)
    throw std::invalid_argument("step cannot be combined with log scale; drop one of them");
  Distribution d;
  d.type_ = Type::kInt;
  d.low_ = static_cast<double>(low);
  d.high_ = static_cast<double>(low + (high - low) / step * step);
  d.log_ = log;
  d.step_ = static_cast<double>(step);
  return d;
}

Distribution Distribution::Categorical(std::vector<Value> choices) {
  if (choices.empty()) throw std::invalid_argument("categorical needs at least one choice");
  for (size_t i = 0; i < choices.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (SameValue(choices[i], choices[j]))
        throw std::invalid_argument("duplicate choice '" + ValueToString(choices[i]) + "'");
    }
  }
  Distribution d;
  d.type_ = Type::kCategorical;
  d.low_ = 0;
  d.high_ = static_cast<double>(choices.size() - 1);
  d.choices_ = std::move(choices);
  return d;
}

bool Distribution::is_fixed() const { return cardinality() == 1; }

bool Distribution::is_finite() const { return type_ != Type::kFloat || step_ > 0; }

uint64_t Distribution::cardinality() const {
  switch (type_) {
    case Type::kCategorical:
      return choices_.size();
    case Type::kInt:
      return static_cast<uint64_t>((high_ - low_) / step_) + 1;
    case Type::kFloat:
      return step_ > 0 ? static_cast<uint64_t>(std::llround((high_ - low_) / step_)) + 1 : 0;
  }
  return 0;
}

bool Distribution::Contains(double x) const {
  if (!std::isfinite(x)) return false;
  switch (type_) {
    case Type::kCategorical:
      return x >= 0 && x < static_cast<double>(choices_.size()) && x == std::floor(x);
    case Type::kInt:
      return x >= low_ && x <= high_ && std::fmod(x - low_, step_) == 0;
    case Type::kFloat: {
      if (x < low_ || x > high_) return false;
      if (step_ <= 0) return true;
      double k = (x - low_) / step_;
      return std::abs(k - std::round(k)) < 1e-8;
    }
  }
  return false;
}

double Distribution::Snap(double x) const {
  if (std::isnan(x)) x = low_;
  x = std::min(std::max(x, low_), high_);
  if (type_ == Type::kCategorical) return std::round(x);
  if (step_ > 0) {
    double k = std::round((x - low_) / step_);
    x = low_ + k * step_;
    if (x > high_) x -= step_;
    if (type_ == Type::kInt) x = std::round(x);
  }
  return x;
}

Value Distribution::ToExternal(double x) const {
  switch (type_) {
    case Type::kCategorical: {
      HPO_CHECK(Contains(x)) << "categorical index" << x << "out of range";
      return choices_[static_cast<size_t>(x)];
    }
    case Type::kInt:
      return static_cast<int64_t>(std::llround(x));
    case Type::kFloat:
      return x;
  }
  return x;
}

double Distribution::ToInternal(const Value& v) const {
  if (type_ == Type::kCategorical) {
    for (size_t i = 0; i < choices_.size(); ++i) {
      if (choices_[i] == v) return static_cast<double>(i);
      // 1 and 1.0 denote the same number.
      if (!std::holds_alternative<std::string>(v) &&
          !std::holds_alternative<std::string>(choices_[i]) && !std::holds_alternative<bool>(v) &&
          !std::holds_alternative<bool>(choices_[i]) &&
          ValueToDouble(v) == ValueToDouble(choices_[i]))
        return static_cast<double>(i);
    }
    throw std::invalid_argument("'" + ValueToString(v) + "' is not one of the choices of " +
                                Describe());
  }
  if (std::holds_alternative<std::string>(v) || std::holds_alternative<bool>(v))
    throw std::invalid_argument("expected a number for " + Describe() + ", got '" +
                                ValueToString(v) + "'");
  double x = ValueToDouble(v);
  if (type_ == Type::kInt && x != std::floor(x))
    throw std::invalid_argument("expected an integer for " + Describe() + ", got " +
                                ValueToString(v));
  if (!Contains(x)) throw std::invalid_argument(ValueToString(v) + " is outside " + Describe());
  return x;
}

std::string Distribution::ToJson() const {
  json j;
  switch (type_) {
    case Type::kFloat:
      j["type"] = "float";
      break;
    case Type::kInt:
      j["type"] = "int";
      break;
    case Type::kCategorical:
      j["type"] = "categorical";
      break;
  }
  if (type_ == Type::kCategorical) {
    json c = json::array();
    for (const auto& v : choices_) c.push_back(ValueToJson(v));
    j["choices"] = c;
  } else {
    j["low"] = low_;
    j["high"] = high_;
    j["log"] = log_;
    j["step"] = step_;
  }
  return j.dump();
}

Distribution Distribution::FromJson(const std::string& text) {
  json j = json::parse(text);
  const std::string type = j.at("type").get<std::string>();
  if (type == "categorical") {
    std::vector<Value> choices;
    for (const auto& c : j.at("choices")) choices.push_back(ValueFromJson(c));
    return Categorical(std::move(choices));
  }
  if (type == "int")
    return Int(static_cast<int64_t>(j.at("low").get<double>()),
               static_cast<int64_t>(j.at("high").get<double>()), j.at("log").get<bool>(),
               static_cast<int64_t>(j.at("step").get<double>()));
  if (type == "float")
    return Float(j.at("low").get<double>(), j.at("high").get<double>(), j.at("log").get<bool>(),
                 j.at("step").get<double>());
  throw std::invalid_argument("unknown distribution type '" + type + "'");
}

std::string Distribution::Describe() const {
  std::ostringstream ss;
  if (type_ == Type::kCategorical) {
    ss << "categorical{";
    for (size_t i = 0; i < choices_.size(); ++i)
      ss << (i ? ", " : "") << ValueToString(choices_[i]);
    ss << "}";
    return ss.str();
  }
  ss << (type_ == Type::kInt ? "int[" : "float[") << FormatDouble(low_) << ", "
     << FormatDouble(high_) << "]";
  if (log_) ss << " log";
  if (step_ > 0 && !(type_ == Type::kInt && step_ == 1)) ss << " step " << FormatDouble(step_);
  return ss.str();
}

bool Distribution::operator==(const Distribution& o) const {
  return type_ == o.type_ && low_ == o.low_ && high_ == o.high_ && step_ == o.step_ &&
         log_ == o.log_ && choices_ == o.choices_;
}

void SearchSpace::Add(ParamSpec spec) {
  if (spec.name.empty()) throw std::invalid_argument("parameter name is empty");
  if (index_.count(spec.name))
    throw std::invalid_argument("parameter '" + spec.name + "' is declared twice");
  if (spec.condition) {
    const ParamSpec* parent = Find(spec.condition->parent);
    if (parent == nullptr)
      throw std::invalid_argument("condition of '" + spec.name + "' names parent '" +
                                  spec.condition->parent +
                                  "', which is not declared before it; declare the parent first");
    if (spec.condition->values.empty())
      throw std::invalid_argument("condition of '" + spec.name + "' lists no parent values");
    for (const Value& v : spec.condition->values) {
      try {
        parent->distribution.ToInternal(v);
      } catch (const std::invalid_argument&) {
        throw std::invalid_argument("condition of '" + spec.name + "': parent '" + parent->name +
                                    "' cannot take the value '" + ValueToString(v) + "' (" +
                                    parent->distribution.Describe() + ")");
      }
    }
  }
  index_[spec.name] = params_.size();
  params_.push_back(std::move(spec));
}

const ParamSpec* SearchSpace::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &params_[it->second];
}

std::map<std::string, Value> SearchSpace::ToExternal(const ParamMap& internal) const {
  std::map<std::string, Value> out;
  for (const auto& [name, x] : internal)
    if (const ParamSpec* spec = Find(name)) out.emplace(name, spec->distribution.ToExternal(x));
  return out;
}

bool SearchSpace::IsActive(const ParamSpec& spec, const ParamMap& chosen) const {
  if (!spec.condition) return true;
  auto it = chosen.find(spec.condition->parent);
  if (it == chosen.end()) return false;  // parent inactive → child inactive
  const ParamSpec* parent = Find(spec.condition->parent);
  HPO_CHECK(parent != nullptr);
  for (const Value& v : spec.condition->values) {
    if (parent->distribution.ToInternal(v) == it->second) return true;
  }
  return false;
}

std::string SearchSpace::ToJson() const {
  json arr = json::array();
  for (const auto& p : params_) {
    json j;
    j["name"] = p.name;
    j["distribution"] = json::parse(p.distribution.ToJson());
    if (p.condition) {
      json vals = json::array();
      for (const auto& v : p.condition->values) vals.push_back(ValueToJson(v));
      j["condition"] = {{"parent", p.condition->parent}, {"values", vals}};
    }
    arr.push_back(j);
  }
  return arr.dump();
}

SearchSpace SearchSpace::FromJson(const std::string& text) {
  SearchSpace space;
  for (const auto& j : json::parse(text)) {
    ParamSpec spec{j.at("name").get<std::string>(),
                   Distribution::FromJson(j.at("distribution").dump()), std::nullopt};
    if (j.contains("condition")) {
      Condition c;
      c.parent = j["condition"].at("parent").get<std::string>();
      for (const auto& v : j["condition"].at("values")) c.values.push_back(ValueFromJson(v));
      spec.condition = std::move(c);
    }
    space.Add(std::move(spec));
  }
  return space;
}

}  // namespace hpo
