#include "samplers/grid_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <stdexcept>

#include "hpo/check.h"
#include "samplers/random_sampler.h"

namespace hpo {
namespace {

// A uniform integer in [0, n) from the raw generator output (rejection sampling), so that the
// shuffle is the same with every standard library.
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

bool IsUnfinished(TrialState s) { return !IsFinished(s); }

bool Close(double a, double b) {
  return a == b || std::abs(a - b) <= 1e-9 * std::max(1.0, std::max(std::abs(a), std::abs(b)));
}

}  // namespace

GridSampler::GridSampler(uint64_t seed, std::map<std::string, std::vector<Value>> explicit_grid)
    : seed_(seed), explicit_grid_(std::move(explicit_grid)), rng_(seed) {}

void GridSampler::Build(const SearchSpace& space) {
  space_json_.clear();  // set again once the grid is complete
  space_ = space;
  params_.clear();
  points_.clear();
  n_points_ = 0;
  for (const auto& [name, values] : explicit_grid_) {
    if (space_.Find(name) == nullptr) {
      std::string declared;
      for (const ParamSpec& spec : space_.params())
        declared += (declared.empty() ? "" : ", ") + spec.name;
      throw std::invalid_argument(
          "grid values are given for '" + name +
          "', which the search space does not declare (declared: " + declared + ")");
    }
  }
  for (const ParamSpec& spec : space_.params()) {
    Param p;
    p.spec = &spec;
    const Distribution& dist = spec.distribution;
    auto given = explicit_grid_.find(spec.name);
    if (given != explicit_grid_.end()) {
      if (given->second.empty())
        throw std::invalid_argument("grid values for '" + spec.name + "' are empty");
      for (const Value& v : given->second) {
        double x;
        try {
          x = dist.ToInternal(v);
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument("grid value for '" + spec.name + "': " + e.what());
        }
        for (double y : p.values) {
          if (Close(x, y))
            throw std::invalid_argument("grid value '" + ValueToString(v) + "' for '" + spec.name +
                                        "' is listed twice");
        }
        p.values.push_back(x);
      }
    } else {
      if (!dist.is_finite())
        throw std::invalid_argument("grid needs finite parameters: give '" + spec.name +
                                    "' a step or choices");
      uint64_t n = dist.cardinality();
      if (n > kMaxPoints)
        throw std::invalid_argument("grid: '" + spec.name + "' alone has " + std::to_string(n) +
                                    " values (at most " + std::to_string(kMaxPoints) +
                                    " grid points); give it a coarser step or explicit values");
      for (uint64_t k = 0; k < n; ++k) {
        double x = dist.type() == Distribution::Type::kCategorical
                       ? static_cast<double>(k)
                       : dist.Snap(dist.low() + static_cast<double>(k) * dist.step());
        p.values.push_back(x);
      }
    }
    for (size_t k = 0; k < p.values.size(); ++k)
      p.lookup.emplace_back(p.values[k], static_cast<int32_t>(k));
    std::sort(p.lookup.begin(), p.lookup.end());
    params_.push_back(std::move(p));
  }

  std::vector<int32_t> row(params_.size(), -1);
  ParamMap chosen;
  Enumerate(0, row, chosen);

  // Fisher-Yates with the seed's own generator: the order depends on the seed and the space only.
  std::mt19937_64 shuffle_rng(seed_);
  order_.resize(n_points_);
  for (size_t k = 0; k < n_points_; ++k) order_[k] = static_cast<uint32_t>(k);
  for (size_t k = n_points_; k > 1; --k)
    std::swap(order_[k - 1], order_[UniformBelow(shuffle_rng, k)]);
  position_.resize(n_points_);
  for (size_t k = 0; k < n_points_; ++k) position_[order_[k]] = static_cast<uint32_t>(k);
  ResetUses();
  space_json_ = space.ToJson();
}

// Depth-first over the parameters in space order: an inactive parameter is skipped (-1), an
// active one branches over its values in order. Rows therefore come out sorted
// lexicographically (at a given prefix, a parameter is either inactive in every row or active
// in every row), which FindPoint relies on.
void GridSampler::Enumerate(size_t i, std::vector<int32_t>& row, ParamMap& chosen) {
  if (i == params_.size()) {
    if (n_points_ >= kMaxPoints)
      throw std::invalid_argument("grid has more than " + std::to_string(kMaxPoints) +
                                  " points; give parameters fewer choices or coarser steps");
    points_.insert(points_.end(), row.begin(), row.end());
    ++n_points_;
    return;
  }
  const Param& p = params_[i];
  if (!space_.IsActive(*p.spec, chosen)) {
    row[i] = -1;
    Enumerate(i + 1, row, chosen);
    return;
  }
  for (size_t k = 0; k < p.values.size(); ++k) {
    row[i] = static_cast<int32_t>(k);
    chosen[p.spec->name] = p.values[k];
    Enumerate(i + 1, row, chosen);
  }
  chosen.erase(p.spec->name);
  row[i] = -1;
}

void GridSampler::ResetUses() {
  held_.assign(n_points_, 0);
  failures_.assign(n_points_, 0);
  fresh_cursor_ = 0;
  retry_.clear();
  scanned_trials_ = nullptr;
  scanned_ = 0;
  last_scanned_id_ = -1;
  unfinished_.clear();
}

int32_t GridSampler::ValueIndex(size_t param, double x) const {
  const auto& lookup = params_[param].lookup;
  auto it = std::lower_bound(lookup.begin(), lookup.end(), std::make_pair(x, INT32_MIN));
  if (it != lookup.end() && Close(it->first, x)) return it->second;
  if (it != lookup.begin() && Close(std::prev(it)->first, x)) return std::prev(it)->second;
  return -1;
}

int64_t GridSampler::FindPoint(const std::vector<int32_t>& row) const {
  const size_t width = params_.size();
  size_t lo = 0, hi = n_points_;  // binary search over the sorted rows
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const int32_t* r = points_.data() + mid * width;
    if (std::lexicographical_compare(r, r + width, row.begin(), row.end())) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < n_points_ && std::equal(row.begin(), row.end(), points_.data() + lo * width))
    return static_cast<int64_t>(lo);
  return -1;
}

GridSampler::Use GridSampler::Classify(const FrozenTrial& trial) const {
  Use use;
  use.failed = trial.state == TrialState::kFailed;
  std::vector<int32_t> row(params_.size(), -1);
  ParamMap chosen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamSpec& spec = *params_[i].spec;
    if (!space_.IsActive(spec, chosen)) continue;  // ignore what the trial has for it
    auto it = trial.params.find(spec.name);
    if (it == trial.params.end()) return use;  // not (yet) a grid point
    int32_t k = ValueIndex(i, it->second);
    if (k < 0) return use;  // off the grid (enqueued by hand, or another space)
    row[i] = k;
    chosen[spec.name] = params_[i].values[k];
  }
  use.point = FindPoint(row);
  return use;
}

void GridSampler::Apply(const Use& use, int sign) {
  if (use.point < 0) return;
  const size_t p = static_cast<size_t>(use.point);
  (use.failed ? failures_ : held_)[p] += sign;
  HPO_CHECK(held_[p] >= 0 && failures_[p] >= 0) << "grid point" << p << "count below zero";
  const uint32_t pos = position_[p];
  if (held_[p] == 0 && failures_[p] > 0 && failures_[p] < kMaxFailures) {
    retry_.insert(pos);
  } else {
    retry_.erase(pos);
  }
  if (IsFresh(p) && pos < fresh_cursor_) fresh_cursor_ = pos;
}

void GridSampler::Scan(const History& history) {
  static const std::vector<FrozenTrial> kNone;
  const std::vector<FrozenTrial>& trials = history.trials ? *history.trials : kNone;
  if (&trials != scanned_trials_ || trials.size() < scanned_ ||
      (scanned_ > 0 && trials[scanned_ - 1].id != last_scanned_id_)) {
    ResetUses();  // another history than the one seen so far: start over
    scanned_trials_ = &trials;
  }
  for (auto it = unfinished_.begin(); it != unfinished_.end();) {
    const FrozenTrial& t = trials[it->first];
    Use now = Classify(t);
    if (!(now == it->second)) {
      Apply(it->second, -1);
      Apply(now, +1);
      it->second = now;
    }
    it = IsUnfinished(t.state) ? std::next(it) : unfinished_.erase(it);
  }
  for (; scanned_ < trials.size(); ++scanned_) {
    const FrozenTrial& t = trials[scanned_];
    Use use = Classify(t);
    Apply(use, +1);
    if (IsUnfinished(t.state)) unfinished_[scanned_] = use;
  }
  if (scanned_ > 0) last_scanned_id_ = trials[scanned_ - 1].id;
}

size_t GridSampler::Next() {
  while (fresh_cursor_ < n_points_ && !IsFresh(order_[fresh_cursor_])) ++fresh_cursor_;
  if (fresh_cursor_ < n_points_) return order_[fresh_cursor_];
  if (!retry_.empty()) return order_[*retry_.begin()];
  size_t given_up = 0;
  for (size_t p = 0; p < n_points_; ++p) given_up += held_[p] == 0 ? 1 : 0;
  throw GridExhausted(
      "grid exhausted: every one of its " + std::to_string(n_points_) + " points has been tried" +
      (given_up > 0 ? " (" + std::to_string(given_up) + " failed " + std::to_string(kMaxFailures) +
                          " times and are not retried)"
                    : std::string()));
}

ParamMap GridSampler::Sample(const SearchSpace& space, const History& history) {
  if (space.empty()) return {};
  if (space.ToJson() != space_json_) Build(space);
  Scan(history);
  const size_t point = Next();
  const int32_t* row = points_.data() + point * params_.size();
  ParamMap out;
  for (size_t i = 0; i < params_.size(); ++i) {
    if (row[i] >= 0) out[params_[i].spec->name] = params_[i].values[row[i]];
  }
  return out;
}

double GridSampler::SampleOne(const std::string&, const Distribution& dist, const ParamMap&,
                              const History&) {
  return SampleUniform(dist, rng_);
}

}  // namespace hpo
