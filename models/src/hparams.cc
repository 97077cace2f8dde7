#include "models/hparams.h"

#include <stdexcept>

namespace models {

const HValue& HParams::At(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw std::invalid_argument("hyperparameter '" + key + "' is not set");
  return it->second;
}

int64_t HParams::GetInt(const std::string& key) const {
  const HValue& v = At(key);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* d = std::get_if<double>(&v); d && *d == static_cast<double>(static_cast<int64_t>(*d)))
    return static_cast<int64_t>(*d);
  throw std::invalid_argument("hyperparameter '" + key + "' must be an integer");
}

double HParams::GetDouble(const std::string& key) const {
  const HValue& v = At(key);
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw std::invalid_argument("hyperparameter '" + key + "' must be a number");
}

bool HParams::GetBool(const std::string& key) const {
  const HValue& v = At(key);
  if (auto* b = std::get_if<bool>(&v)) return *b;
  throw std::invalid_argument("hyperparameter '" + key + "' must be true or false");
}

std::string HParams::GetString(const std::string& key) const {
  const HValue& v = At(key);
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw std::invalid_argument("hyperparameter '" + key + "' must be a string");
}

}  // namespace models
