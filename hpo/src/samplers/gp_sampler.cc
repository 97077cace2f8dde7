#include "samplers/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "samplers/gp_acquisition.h"
#include "samplers/gp_model.h"
#include "samplers/random_sampler.h"

namespace hpo {
namespace {

// Discrete parameters with more grid points than this are optimised as continuous ones (and
// snapped afterwards) rather than searched on an explicit grid.
constexpr uint64_t kMaxGridPoints = 4096;
// See the acquisition budget in SuggestJoint.
constexpr double kFullEffortPoints = 200;
constexpr int kMinCandidates = 256;
constexpr int kMinLocalSearches = 3;

// One GP dimension: how a parameter's internal value maps to the normalised coordinate.
class EncodedDim {
 public:
  EncodedDim(std::string name, Distribution dist) : name_(std::move(name)), dist_(std::move(dist)) {
    categorical_ = dist_.type() == Distribution::Type::kCategorical;
    if (categorical_) return;
    double half = dist_.step() > 0 ? 0.5 * dist_.step() : 0.0;
    lo_ = dist_.low() - half;
    hi_ = dist_.high() + half;
    if (dist_.log()) {
      lo_ = std::log(lo_);
      hi_ = std::log(hi_);
    }
  }

  const std::string& name() const { return name_; }
  const Distribution& dist() const { return dist_; }
  bool categorical() const { return categorical_; }

  double Encode(double internal) const {
    if (categorical_) return internal;
    double t = dist_.log() ? std::log(internal) : internal;
    return (t - lo_) / (hi_ - lo_);
  }
  // Normalised coordinate -> the nearest valid internal value.
  double Decode(double x) const {
    if (categorical_) return dist_.Snap(std::round(x));
    double t = lo_ + x * (hi_ - lo_);
    return dist_.Snap(dist_.log() ? std::exp(t) : t);
  }

  gp::AcqfDim AcqfSpec() const {
    gp::AcqfDim spec;
    if (categorical_) {
      spec.kind = gp::AcqfDim::Kind::kCategorical;
      for (size_t i = 0; i < dist_.choices().size(); ++i)
        spec.grid.push_back(static_cast<double>(i));
    } else if (dist_.is_finite() && dist_.cardinality() <= kMaxGridPoints) {
      spec.kind = gp::AcqfDim::Kind::kDiscrete;
      for (uint64_t k = 0; k < dist_.cardinality(); ++k)
        spec.grid.push_back(
            Encode(dist_.Snap(dist_.low() + static_cast<double>(k) * dist_.step())));
    }
    return spec;
  }

 private:
  std::string name_;
  Distribution dist_;
  bool categorical_ = false;
  double lo_ = 0, hi_ = 1;
};

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

bool IsPending(TrialState s) {
  return s == TrialState::kRunning || s == TrialState::kPaused || s == TrialState::kQueued;
}

// Whether `t` has a value for `d` that its distribution contains.
bool HasValue(const FrozenTrial& t, const EncodedDim& d) {
  auto it = t.params.find(d.name());
  return it != t.params.end() && d.dist().Contains(it->second);
}

bool HasAll(const FrozenTrial& t, const std::vector<EncodedDim>& dims) {
  for (const EncodedDim& d : dims)
    if (!HasValue(t, d)) return false;
  return true;
}

// Oriented (larger is better), clipped to the finite range, standardised targets.
Eigen::VectorXd StandardisedTargets(const std::vector<double>& raw, Direction direction) {
  const Eigen::Index n = static_cast<Eigen::Index>(raw.size());
  Eigen::VectorXd y(n);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (Eigen::Index i = 0; i < n; ++i) {
    y[i] = direction == Direction::kMinimize ? -raw[i] : raw[i];
    if (std::isfinite(y[i])) {
      lo = std::min(lo, y[i]);
      hi = std::max(hi, y[i]);
    }
  }
  if (!(lo <= hi)) return Eigen::VectorXd::Zero(n);  // nothing finite
  y = y.cwiseMax(lo).cwiseMin(hi);
  double scale = std::max(std::abs(lo), std::abs(hi));  // avoids overflow in mean and variance
  if (scale > 0) y /= scale;
  y.array() -= y.mean();
  double sd = std::sqrt(y.squaredNorm() / static_cast<double>(n));
  y /= std::max(sd, 1e-10);
  return y;
}

}  // namespace

struct GpSampler::FitCache {
  std::vector<std::string> dims;
  gp::KernelParams params;
  gp::LbfgsMemory memory;
  // Buffers reused from one ask to the next: the fit's scratch memory and the posterior.
  gp::FitWorkspace fit_workspace;
  gp::GpPosterior posterior;
};

GpSampler::GpSampler(uint64_t seed, GpSamplerOptions options)
    : seed_(seed), options_(options), rng_(seed) {}

GpSampler::~GpSampler() = default;

std::vector<double> GpSampler::last_raw_kernel_params() const {
  if (!fit_cache_) return {};
  Eigen::VectorXd raw = fit_cache_->params.ToRaw();
  return std::vector<double>(raw.data(), raw.data() + raw.size());
}

ParamMap GpSampler::Sample(const SearchSpace& space, const History& history) {
  std::vector<Candidate> candidates;
  for (const ParamSpec& spec : space.params())
    candidates.emplace_back(spec.name, spec.distribution);
  std::optional<ParamMap> joint = SuggestJoint(candidates, /*fixed=*/{}, history);
  ParamMap chosen;
  for (const ParamSpec& spec : space.params()) {
    if (!space.IsActive(spec, chosen)) continue;
    if (joint) {
      auto it = joint->find(spec.name);
      if (it != joint->end()) {
        chosen[spec.name] = it->second;
        continue;
      }
    }
    chosen[spec.name] = SampleUniform(spec.distribution, rng_);
  }
  last_from_gp_ = joint.has_value();
  return chosen;
}

double GpSampler::SampleOne(const std::string& name, const Distribution& dist,
                            const ParamMap& chosen, const History& history) {
  seen_.insert_or_assign(name, dist);
  last_from_gp_ = false;
  if (dist.is_fixed() || history.trials == nullptr) return SampleUniform(dist, rng_);

  // A GP dimension must have a valid value in every complete trial (and the start-up must be
  // over); anything else is sampled uniformly without touching the GP or its cached suggestion.
  size_t n_finished = 0;
  int n_observed = 0;
  bool everywhere = true;
  for (const FrozenTrial& t : *history.trials) {
    n_finished += IsFinished(t.state) ? 1 : 0;
    if (t.state != TrialState::kComplete || !t.value || std::isnan(*t.value)) continue;
    ++n_observed;
    auto it = t.params.find(name);
    everywhere = everywhere && it != t.params.end() && dist.Contains(it->second);
  }
  if (!everywhere || n_observed < std::max(1, options_.n_startup_trials))
    return SampleUniform(dist, rng_);

  const bool same_history = joint_cache_.valid && joint_cache_.n_trials == history.trials->size() &&
                            joint_cache_.n_finished == n_finished;
  bool consistent = same_history && joint_cache_.values.count(name) > 0;
  for (const auto& [k, v] : chosen) {
    if (!consistent) break;
    auto it = joint_cache_.values.find(k);
    consistent = it == joint_cache_.values.end() || it->second == v;
  }
  if (consistent) {
    last_from_gp_ = true;
    return joint_cache_.values.at(name);
  }

  std::vector<Candidate> candidates(seen_.begin(), seen_.end());
  std::optional<ParamMap> joint = SuggestJoint(candidates, chosen, history);
  joint_cache_.valid = joint.has_value();
  if (!joint) return SampleUniform(dist, rng_);
  joint_cache_ = {true, history.trials->size(), n_finished, *joint};
  auto it = joint->find(name);
  if (it == joint->end()) return SampleUniform(dist, rng_);
  last_from_gp_ = true;
  return it->second;
}

std::optional<ParamMap> GpSampler::SuggestJoint(const std::vector<Candidate>& candidates,
                                                const ParamMap& fixed, const History& history) {
  if (history.trials == nullptr) return std::nullopt;
  const std::vector<FrozenTrial>& trials = *history.trials;

  std::vector<const FrozenTrial*> observed;
  for (const FrozenTrial& t : trials)
    if (t.state == TrialState::kComplete && t.value && !std::isnan(*t.value))
      observed.push_back(&t);
  if (static_cast<int>(observed.size()) < std::max(1, options_.n_startup_trials))
    return std::nullopt;

  // The intersection search space.
  std::vector<EncodedDim> dims;
  for (const auto& [name, dist] : candidates) {
    if (dist.is_fixed()) continue;
    EncodedDim dim(name, dist);
    bool everywhere = true;
    for (const FrozenTrial* t : observed) everywhere = everywhere && HasValue(*t, dim);
    if (everywhere) dims.push_back(std::move(dim));
  }
  if (dims.empty()) return std::nullopt;
  bool any_free = false;
  for (const EncodedDim& d : dims) any_free = any_free || fixed.count(d.name()) == 0;
  if (!any_free) return std::nullopt;

  // Bound the training set: the best half, then the most recent.
  const size_t cap = static_cast<size_t>(std::max(2, options_.max_observations));
  if (observed.size() > cap) {
    const double sign = history.direction == Direction::kMinimize ? 1.0 : -1.0;
    std::stable_sort(observed.begin(), observed.end(), [&](const auto* a, const auto* b) {
      return sign * *a->value < sign * *b->value;
    });
    std::stable_sort(observed.begin() + static_cast<std::ptrdiff_t>(cap / 2), observed.end(),
                     [](const auto* a, const auto* b) { return a->number > b->number; });
    observed.resize(cap);
  }

  const int n_dims = static_cast<int>(dims.size());
  const int n = static_cast<int>(observed.size());
  gp::GpData data;
  data.X.resize(n_dims, n);
  for (const EncodedDim& d : dims) data.is_categorical.push_back(d.categorical() ? 1 : 0);
  std::vector<double> raw_values;
  for (int i = 0; i < n; ++i) {
    for (int d = 0; d < n_dims; ++d)
      data.X(d, i) = dims[d].Encode(observed[i]->params.at(dims[d].name()));
    raw_values.push_back(*observed[i]->value);
  }
  data.y = StandardisedTargets(raw_values, history.direction);
  if (!data.X.allFinite() || !data.y.allFinite()) return std::nullopt;

  std::vector<const FrozenTrial*> pending_trials;
  for (const FrozenTrial& t : trials)
    if (IsPending(t.state) && HasAll(t, dims)) pending_trials.push_back(&t);
  Eigen::MatrixXd pending(n_dims, static_cast<Eigen::Index>(pending_trials.size()));
  for (size_t j = 0; j < pending_trials.size(); ++j)
    for (int d = 0; d < n_dims; ++d)
      pending(d, static_cast<Eigen::Index>(j)) =
          dims[d].Encode(pending_trials[j]->params.at(dims[d].name()));

  // Kernel fit, warm-started from the previous one when the dimensions are the same.
  std::vector<std::string> dim_names;
  for (const EncodedDim& d : dims) dim_names.push_back(d.name());
  if (!fit_cache_ || fit_cache_->dims != dim_names) {
    fit_cache_ = std::make_unique<FitCache>();
    fit_cache_->dims = dim_names;
    fit_cache_->params = gp::KernelParams::Default(n_dims);
  }
  gp::GpData fit_data;
  const int fit_cap = std::max(16, options_.max_fit_observations);
  if (n > fit_cap) {
    // The observations with the smallest seeded hash of their trial number: a subset that
    // changes by at most a point or two from one ask to the next, so the warm start stays good.
    std::vector<std::pair<uint64_t, int>> keys;
    for (int i = 0; i < n; ++i)
      keys.emplace_back(SplitMix64(seed_ ^ static_cast<uint64_t>(observed[i]->number)), i);
    std::nth_element(keys.begin(), keys.begin() + fit_cap, keys.end());
    keys.resize(fit_cap);
    std::sort(keys.begin(), keys.end(),
              [](const auto& a, const auto& b) { return a.second < b.second; });
    fit_data.X.resize(n_dims, fit_cap);
    fit_data.y.resize(fit_cap);
    for (int i = 0; i < fit_cap; ++i) {
      fit_data.X.col(i) = data.X.col(keys[i].second);
      fit_data.y[i] = data.y[keys[i].second];
    }
    fit_data.is_categorical = data.is_categorical;
  }
  gp::FitOptions fit_options;
  fit_options.max_iterations = options_.fit_max_iterations;
  gp::KernelParams params =
      gp::FitKernelParams(n > fit_cap ? fit_data : data, fit_cache_->params, fit_options,
                          &fit_cache_->memory, &fit_cache_->fit_workspace);
  fit_cache_->params = params;

  gp::GpPosterior& posterior = fit_cache_->posterior;
  // Fitted on all the points, the fit's last factorisation is the posterior's (Build checks).
  if (!posterior.Build(data, params, pending, &fit_cache_->fit_workspace)) {
    params = gp::KernelParams::Default(n_dims);
    if (!posterior.Build(data, params, pending)) return std::nullopt;
  }

  std::vector<gp::AcqfDim> acqf_dims;
  for (const EncodedDim& d : dims) {
    gp::AcqfDim spec = d.AcqfSpec();
    auto it = fixed.find(d.name());
    if (it != fixed.end() && d.dist().Contains(it->second)) {
      spec.fixed = true;
      spec.fixed_value = d.Encode(it->second);
    }
    acqf_dims.push_back(std::move(spec));
  }
  // The incumbent includes the pending points' fantasies (their posterior means): otherwise a
  // pending point predicted to improve keeps EI = mean - best > 0 however small its variance.
  Eigen::Index best_i = 0;
  double f0 = data.y.maxCoeff(&best_i);
  for (Eigen::Index j = 0; j < pending.cols(); ++j) {
    double mean, var;
    posterior.Predict(pending.col(j).data(), &mean, &var);
    if (std::isfinite(mean)) f0 = std::max(f0, mean);
  }
  gp::LogEiAcquisition acqf(posterior, f0);
  gp::AcqfOptions acqf_options;
  // Scoring a candidate and each step of a local search cost O(N^2) (N = observed + pending
  // points): beyond kFullEffortPoints points both counts shrink as (kFullEffortPoints / N)^2, so
  // the acquisition step's cost stays about flat and the O(N^3) factorisation dominates.
  const double total_points = static_cast<double>(n + pending.cols());
  const double shrink = std::min(1.0, std::pow(kFullEffortPoints / total_points, 2));
  acqf_options.n_candidates = std::max(std::min(options_.n_candidates, kMinCandidates),
                                       static_cast<int>(options_.n_candidates * shrink));
  acqf_options.n_local_search =
      std::max(std::min(options_.n_local_search, kMinLocalSearches),
               static_cast<int>(std::lround(options_.n_local_search * shrink)));
  auto [x, value] = gp::MaximizeLogEi(acqf, acqf_dims, {data.X.col(best_i)}, rng_, acqf_options);
  if (!std::isfinite(value) || !x.allFinite()) return std::nullopt;

  ParamMap out;
  for (int d = 0; d < n_dims; ++d) {
    auto it = fixed.find(dims[d].name());
    double v = acqf_dims[d].fixed ? it->second : dims[d].Decode(x[d]);
    if (!std::isfinite(v) || !dims[d].dist().Contains(v)) return std::nullopt;
    out[dims[d].name()] = v;
  }
  return out;
}

}  // namespace hpo
