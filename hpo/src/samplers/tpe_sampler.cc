#include "samplers/tpe_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "hpo/check.h"
#include "samplers/random_sampler.h"

namespace hpo {

struct TpeSampler::ParamModel {
  uint64_t serial = 0;  // unique per sampler: a replaced model never matches a cached one
  Distribution dist;
  tpe::Domain domain;
  std::unique_ptr<tpe::AboveIndex> above;
  std::vector<int32_t> slot;  // by trial index; -1 where the trial lacks the parameter

  int32_t SlotOf(int64_t i) const {
    return i < static_cast<int64_t>(slot.size()) ? slot[static_cast<size_t>(i)] : -1;
  }
};

namespace {

// The value in the direction of "smaller is better"; NaN ranks last.
double Oriented(double v, Direction d) {
  if (std::isnan(v)) return std::numeric_limits<double>::infinity();
  return d == Direction::kMaximize ? -v : v;
}

bool SameValue(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

double FixedValue(const Distribution& dist) {
  return dist.type() == Distribution::Type::kCategorical ? 0.0 : dist.Snap(dist.low());
}

}  // namespace

int64_t TpeDefaultGamma(int64_t n) { return std::min<int64_t>((n + 9) / 10, 25); }

std::function<int64_t(int64_t)> TpeGamma(double fraction) {
  if (!(fraction > 0 && fraction <= 1))
    throw std::invalid_argument("tpe gamma must be in (0, 1], got " + std::to_string(fraction));
  return [fraction](int64_t n) {
    return std::min<int64_t>(static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n))),
                             25);
  };
}

bool TpeSampler::RankKey::operator<(const RankKey& o) const {
  if (tier != o.tier) return tier < o.tier;
  if (k1 != o.k1) return k1 < o.k1;
  if (k2 != o.k2) return k2 < o.k2;
  return index < o.index;
}

TpeSampler::TpeSampler(TpeOptions options) : options_(std::move(options)), rng_(options_.seed()) {
  if (options_.n_startup_trials() < 0)
    throw std::invalid_argument("tpe: n_startup_trials must be >= 0");
  if (options_.n_ei_candidates() < 1)
    throw std::invalid_argument("tpe: n_ei_candidates must be >= 1");
  if (!(options_.prior_weight() > 0) || !std::isfinite(options_.prior_weight()))
    throw std::invalid_argument("tpe: prior_weight must be a positive number");
  if (!options_.gamma()) throw std::invalid_argument("tpe: gamma must be a function");
  if (options_.max_joint_kernels() < 0)
    throw std::invalid_argument("tpe: max_joint_kernels must be >= 0");
}

TpeSampler::~TpeSampler() = default;

// ---- History index --------------------------------------------------------------------------

void TpeSampler::Reset(const History& history) {
  trials_ = history.trials;
  direction_ = history.direction;
  info_.clear();
  above_.clear();
  volatile_.clear();
  complete_.clear();
  pruned_.clear();
  below_.clear();
  n_ranked_ = 0;
  n_finished_ranked_ = 0;
  finished_with_param_.clear();
  models_.clear();
  joint_order_ = JointOrder{};
}

void TpeSampler::Classify(int64_t i, TrialInfo* info) const {
  const FrozenTrial& t = (*trials_)[static_cast<size_t>(i)];
  info->state = t.state;
  info->n_params = t.params.size();
  info->n_intermediate = t.intermediate.size();
  if (!t.intermediate.empty()) {
    info->last_step = t.intermediate.rbegin()->first;
    info->last_value = t.intermediate.rbegin()->second;
  }
  info->final = IsFinished(t.state);
  info->role = Role::kNone;
  info->key = RankKey{};
  info->key.index = i;
  auto pruned_like = [&] {
    info->role = Role::kRanked;
    info->key.tier = 1;
    if (t.intermediate.empty()) {  // after every trial that reported something
      info->key.k1 = 1;
      info->key.k2 = 0;
    } else {  // deeper first, then by value
      info->key.k1 = -static_cast<double>(info->last_step);
      info->key.k2 = Oriented(info->last_value, direction_);
    }
  };
  switch (t.state) {
    case TrialState::kComplete:
      info->role = Role::kRanked;
      info->key.tier = 0;
      info->key.k1 =
          Oriented(t.value.value_or(std::numeric_limits<double>::quiet_NaN()), direction_);
      break;
    case TrialState::kPruned:
      pruned_like();
      break;
    case TrialState::kPaused:
      if (!t.intermediate.empty()) {
        info->role = Role::kPending;
      } else if (options_.constant_liar()) {
        info->role = Role::kLiar;
      }
      break;
    case TrialState::kRunning:
      if (!t.intermediate.empty()) {
        pruned_like();
      } else if (options_.constant_liar()) {
        info->role = Role::kLiar;
      }
      break;
    case TrialState::kFailed:
    case TrialState::kQueued:
      break;
  }
}

bool TpeSampler::InAbove(int64_t i) const {
  const TrialInfo& info = info_[static_cast<size_t>(i)];
  return info.role != Role::kNone && !info.below;
}

void TpeSampler::RegisterParams(int64_t i) {
  for (const auto& [name, v] : (*trials_)[static_cast<size_t>(i)].params) {
    auto it = models_.find(name);
    if (it == models_.end()) continue;
    ParamModel& m = *it->second;
    if (m.SlotOf(i) >= 0 || !m.dist.Contains(v)) continue;
    if (static_cast<int64_t>(m.slot.size()) <= i) m.slot.resize(static_cast<size_t>(i) + 1, -1);
    m.slot[static_cast<size_t>(i)] = m.above->AddSlot(m.domain.ToT(v));
  }
}

void TpeSampler::UpdateMembership(int64_t i) {
  const bool member = InAbove(i);
  above_[static_cast<size_t>(i)] = member;
  for (const auto& [name, v] : (*trials_)[static_cast<size_t>(i)].params) {
    auto it = models_.find(name);
    if (it == models_.end()) continue;
    int32_t s = it->second->SlotOf(i);
    if (s >= 0) it->second->above->SetMember(s, member);
  }
}

void TpeSampler::UpdateBelow(const std::vector<RankKey>& volatile_ranked, int64_t n_pending,
                             std::vector<int64_t>* changed) {
  const auto n_rankable =
      static_cast<int64_t>(complete_.size() + pruned_.size() + volatile_ranked.size());
  n_ranked_ = n_rankable + n_pending;  // pending trials count, but never join the good group
  const int64_t g = std::clamp<int64_t>(options_.gamma()(n_ranked_), 0, n_rankable);
  std::vector<int64_t> below;
  below.reserve(static_cast<size_t>(g));
  for (auto it = complete_.begin(); it != complete_.end() && std::ssize(below) < g; ++it)
    below.push_back(it->index);
  const int64_t rest = g - std::ssize(below);
  if (rest > 0) {
    // Pruned-like trials: finished ones (kept sorted) merged with this ask's volatile ones.
    std::vector<RankKey> vol = volatile_ranked;
    const auto take = std::min<int64_t>(rest, std::ssize(vol));
    std::partial_sort(vol.begin(), vol.begin() + take, vol.end());
    auto p = pruned_.begin();
    int64_t v = 0;
    while (std::ssize(below) < g) {
      if (p != pruned_.end() && (v >= take || *p < vol[static_cast<size_t>(v)])) {
        below.push_back((p++)->index);
      } else {
        below.push_back(vol[static_cast<size_t>(v++)].index);
      }
    }
  }
  std::sort(below.begin(), below.end());
  std::vector<int64_t> diff;
  std::set_symmetric_difference(below.begin(), below.end(), below_.begin(), below_.end(),
                                std::back_inserter(diff));
  below_ = std::move(below);
  for (int64_t i : diff) {
    info_[static_cast<size_t>(i)].below = std::binary_search(below_.begin(), below_.end(), i);
    changed->push_back(i);
  }
}

void TpeSampler::Sync(const History& history) {
  HPO_CHECK(history.trials != nullptr) << "History without trials";
  if (history.trials != trials_ || history.direction != direction_ ||
      history.trials->size() < info_.size())
    Reset(history);
  const std::vector<FrozenTrial>& trials = *trials_;
  std::vector<int64_t> changed;
  std::vector<RankKey> volatile_ranked;
  int64_t n_pending = 0;
  auto on_final = [&](int64_t i) {
    const TrialInfo& info = info_[static_cast<size_t>(i)];
    if (info.role != Role::kRanked) return;
    (info.key.tier == 0 ? complete_ : pruned_).insert(info.key);
    ++n_finished_ranked_;
    for (const auto& [name, v] : trials[static_cast<size_t>(i)].params)
      ++finished_with_param_[name];
  };
  // Trials that were running, paused or queued: re-read only those that changed.
  size_t keep = 0;
  for (int64_t i : volatile_) {
    TrialInfo& info = info_[static_cast<size_t>(i)];
    const FrozenTrial& t = trials[static_cast<size_t>(i)];
    bool same =
        t.state == info.state && t.params.size() == info.n_params &&
        t.intermediate.size() == info.n_intermediate &&
        (t.intermediate.empty() || (t.intermediate.rbegin()->first == info.last_step &&
                                    SameValue(t.intermediate.rbegin()->second, info.last_value)));
    if (!same) {
      const bool new_params = t.params.size() != info.n_params;
      Classify(i, &info);
      if (new_params) RegisterParams(i);
      if (info.final) on_final(i);
      changed.push_back(i);
    }
    if (!info.final) {
      volatile_[keep++] = i;
      if (info.role == Role::kRanked) volatile_ranked.push_back(info.key);
      n_pending += info.role == Role::kPending;
    }
  }
  volatile_.resize(keep);
  // Trials created since the last call.
  for (auto i = static_cast<int64_t>(info_.size()); i < std::ssize(trials); ++i) {
    info_.emplace_back();
    Classify(i, &info_.back());
    RegisterParams(i);
    if (info_.back().final) {
      on_final(i);
    } else {
      volatile_.push_back(i);
      if (info_.back().role == Role::kRanked) volatile_ranked.push_back(info_.back().key);
      n_pending += info_.back().role == Role::kPending;
    }
    changed.push_back(i);
  }
  UpdateBelow(volatile_ranked, n_pending, &changed);
  above_.resize(info_.size(), 0);
  for (int64_t i : changed) UpdateMembership(i);
}

TpeSampler::ParamModel& TpeSampler::Model(const std::string& name, const Distribution& dist) {
  auto it = models_.find(name);
  if (it != models_.end() && it->second->dist == dist) return *it->second;
  auto m = std::make_unique<ParamModel>();
  m->serial = next_model_serial_++;
  m->dist = dist;
  m->domain = tpe::Domain::Of(dist);
  m->above = std::make_unique<tpe::AboveIndex>(m->domain, options_.consider_endpoints());
  m->slot.assign(info_.size(), -1);
  ParamModel& model = *m;
  models_[name] = std::move(m);
  for (int64_t i = 0; i < std::ssize(info_); ++i) {
    const ParamMap& params = (*trials_)[static_cast<size_t>(i)].params;
    auto p = params.find(name);
    if (p == params.end() || !dist.Contains(p->second)) continue;
    int32_t s = model.above->AddSlot(model.domain.ToT(p->second));
    model.slot[static_cast<size_t>(i)] = s;
    if (InAbove(i)) model.above->SetMember(s, true);
  }
  return model;
}

// ---- Sampling -------------------------------------------------------------------------------

double TpeSampler::SampleUnivariate(ParamModel& model) {
  const tpe::Domain& d = model.domain;
  const double pw = options_.prior_weight();
  std::vector<double> mus;
  for (int64_t i : below_) {
    int32_t s = model.SlotOf(i);
    if (s >= 0) mus.push_back(model.above->t(s));
  }
  const std::vector<double> w = tpe::DefaultWeights(std::ssize(mus));

  if (!d.numeric()) {
    std::vector<double> observed(static_cast<size_t>(d.size), 0.0);
    for (size_t k = 0; k < mus.size(); ++k) observed[d.GridIndex(mus[k])] += w[k];
    const std::vector<double> pl = tpe::CategoricalProbs(observed, std::ssize(mus), pw);
    const std::vector<double> pg = model.above->CategoricalProbsOf(pw);
    std::vector<double> cumulative(pl.size());
    std::partial_sum(pl.begin(), pl.end(), cumulative.begin());
    size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < options_.n_ei_candidates(); ++c) {
      size_t idx = tpe::DrawIndex(cumulative, rng_);
      double score = std::log(pl[idx]) - std::log(pg[idx]);
      if (c == 0 || score > best_score) {
        best = idx;
        best_score = score;
      }
    }
    return static_cast<double>(best);
  }

  const tpe::Mixture1D below(d,
                             tpe::UnivariateKernels(d, mus, w, pw, options_.consider_endpoints()));
  model.above->Prepare(pw);
  std::vector<std::pair<double, double>> scored;  // (value, score): candidates repeat on grids
  double best = 0, best_score = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < options_.n_ei_candidates(); ++c) {
    const double x = d.ToInternal(below.Sample(rng_), model.dist);
    double score = 0;
    auto hit =
        std::find_if(scored.begin(), scored.end(), [&](const auto& e) { return e.first == x; });
    if (hit != scored.end()) {
      score = hit->second;
    } else {
      const double t = d.ToT(x);
      score = std::log(below.Pdf(t)) - std::log(model.above->Pdf(t));
      scored.emplace_back(x, score);
    }
    if (c == 0 || score > best_score) {
      best = x;
      best_score = score;
    }
  }
  return best;
}

std::map<std::string, double> TpeSampler::SampleJoint(const SearchSpace& space) {
  std::map<std::string, double> out;
  if (n_finished_ranked_ == 0) return out;
  std::vector<const ParamSpec*> specs;
  for (const ParamSpec& spec : space.params()) {
    if (spec.distribution.is_fixed()) continue;
    auto it = finished_with_param_.find(spec.name);
    if (it != finished_with_param_.end() && it->second == n_finished_ranked_)
      specs.push_back(&spec);
  }
  if (specs.empty()) return out;
  std::vector<ParamModel*> models;
  std::vector<tpe::Domain> domains;
  for (const ParamSpec* spec : specs) {
    models.push_back(&Model(spec->name, spec->distribution));
    domains.push_back(models.back()->domain);
  }
  const size_t n_dims = specs.size();
  // Rows: trials that have every jointly sampled parameter, in index order. Computed model by
  // model over their slots by trial index (contiguous), not trial by trial.
  JointScratch& js = joint_scratch_;
  const size_t n_trials = info_.size();
  js.has_all.assign(n_trials, 1);
  for (const ParamModel* m : models) {
    const size_t known = std::min(m->slot.size(), n_trials);
    const int32_t* slot = m->slot.data();
    char* has_all = js.has_all.data();
    for (size_t i = 0; i < known; ++i) has_all[i] &= static_cast<char>(slot[i] >= 0);
    std::fill(js.has_all.begin() + static_cast<std::ptrdiff_t>(known), js.has_all.end(), 0);
  }
  std::vector<int64_t>& below_rows = js.below_rows;
  std::vector<int64_t>& above_rows = js.above_rows;
  below_rows.clear();
  above_rows.clear();
  for (int64_t i : below_)
    if (js.has_all[static_cast<size_t>(i)]) below_rows.push_back(i);
  for (size_t i = 0; i < n_trials; ++i)
    if (js.has_all[i] & above_[i]) above_rows.push_back(static_cast<int64_t>(i));
  // The sorted orders of the bad group's rows change little between asks: kept, not re-sorted.
  UpdateJointOrder(models, above_rows);
  std::vector<double>& above_weights = js.above_weights;
  tpe::DefaultWeights(std::ssize(above_rows), &above_weights);
  const int64_t cap = options_.max_joint_kernels();
  if (cap > 0 && std::ssize(above_rows) > cap) {
    // Systematic sample by weight: `cap` equally spaced points on the cumulative weight, from a
    // random offset; an observation hit twice keeps twice the share.
    double total = 0;
    for (double w : above_weights) total += w;
    const double spacing = total / static_cast<double>(cap);
    double target = std::uniform_real_distribution<double>(0.0, spacing)(rng_);
    std::vector<int64_t>& rows = js.sampled_rows;
    std::vector<double>& weights = js.sampled_weights;
    rows.clear();
    weights.clear();
    double cum = 0;
    int64_t picked = 0;
    for (size_t r = 0; r < above_rows.size() && picked < cap; ++r) {
      cum += above_weights[r];
      int64_t hits = 0;
      for (; target < cum && picked < cap; ++picked, ++hits) target += spacing;
      if (hits > 0) {
        rows.push_back(above_rows[r]);
        weights.push_back(static_cast<double>(hits) * spacing);
      }
    }
    std::swap(above_rows, rows);
    std::swap(above_weights, weights);
  }
  tpe::JointHints& hints = js.hints;
  JointOrders(above_rows, &hints.orders);
  hints.narrow_log_zinv.resize(n_dims);
  hints.grid.resize(n_dims);
  std::vector<std::vector<double>>& obs_below = js.obs_below;
  std::vector<std::vector<double>>& obs_above = js.obs_above;
  obs_below.resize(n_dims);
  obs_above.resize(n_dims);
  // Per dimension, each row's value (and the bad group's hints) read from the index's dense
  // arrays through the row's slot.
  for (size_t k = 0; k < n_dims; ++k) {
    const ParamModel& m = *models[k];
    const double* ts = m.above->ts();
    const int32_t* slot = m.slot.data();
    obs_below[k].resize(below_rows.size());
    double* ob = obs_below[k].data();
    for (size_t r = 0; r < below_rows.size(); ++r)
      ob[r] = ts[slot[static_cast<size_t>(below_rows[r])]];
    obs_above[k].resize(above_rows.size());
    double* oa = obs_above[k].data();
    const size_t na = above_rows.size();
    // Each above row's value into oa and its slot's hint (per_slot[s]) into *hint.
    auto read_with_hint = [&](auto* hint, const auto* per_slot) {
      hint->resize(na);
      auto* h = hint->data();
      for (size_t r = 0; r < na; ++r) {
        const int32_t s = slot[static_cast<size_t>(above_rows[r])];
        oa[r] = ts[s];
        h[r] = per_slot[s];
      }
    };
    if (m.above->has_grid_index()) {
      hints.narrow_log_zinv[k].clear();
      read_with_hint(&hints.grid[k], m.above->grid_indices());
    } else if (m.domain.kind == tpe::Domain::Kind::kContinuous && !m.domain.round_int) {
      hints.grid[k].clear();
      read_with_hint(&hints.narrow_log_zinv[k], m.above->narrow_log_zinvs());
    } else {
      hints.grid[k].clear();
      hints.narrow_log_zinv[k].clear();
      for (size_t r = 0; r < na; ++r) oa[r] = ts[slot[static_cast<size_t>(above_rows[r])]];
    }
  }
  const double pw = options_.prior_weight();
  const bool ends = options_.consider_endpoints();
  cell_cache_.Trim();
  tpe::JointMixture& l = js.below;
  tpe::JointMixture& g = js.above;
  tpe::DefaultWeights(std::ssize(below_rows), &js.below_weights);
  l.Fit(domains, obs_below, js.below_weights, pw, ends, nullptr, &cell_cache_);
  g.Fit(domains, obs_above, above_weights, pw, ends, &hints, &cell_cache_);

  // Candidates: values[c * n_dims + k] (internal) and points (the same in kernel space).
  const auto nc = static_cast<size_t>(options_.n_ei_candidates());
  std::vector<double>& values = js.values;
  std::vector<double>& points = js.points;
  values.resize(nc * n_dims);
  points.resize(nc * n_dims);
  for (size_t c = 0; c < nc; ++c) {
    double* t = points.data() + c * n_dims;
    double* v = values.data() + c * n_dims;
    l.Sample(rng_, t);
    for (size_t k = 0; k < n_dims; ++k) {
      v[k] = domains[k].ToInternal(t[k], models[k]->dist);
      t[k] = domains[k].ToT(v[k]);
    }
  }
  js.cands.Assign(domains, points.data(), nc);
  std::vector<double>& ll = js.ll;
  std::vector<double>& lg = js.lg;
  l.LogPdf(js.cands, &ll);
  g.LogPdf(js.cands, &lg);
  size_t best = 0;
  for (size_t c = 1; c < nc; ++c)
    if (ll[c] - lg[c] > ll[best] - lg[best]) best = c;
  for (size_t k = 0; k < n_dims; ++k) out[specs[k]->name] = values[best * n_dims + k];
  return out;
}

void TpeSampler::UpdateJointOrder(const std::vector<ParamModel*>& models,
                                  const std::vector<int64_t>& rows) {
  JointOrder& jo = joint_order_;
  JointScratch& js = joint_scratch_;
  const size_t n_dims = models.size();
  std::vector<uint64_t>& serials = js.serials;
  serials.clear();
  for (const ParamModel* m : models) serials.push_back(m->serial);
  const bool rebuild = jo.serials != serials;
  std::vector<char>& now = js.member;
  now.assign(info_.size(), 0);
  for (int64_t i : rows) now[static_cast<size_t>(i)] = 1;
  std::vector<int64_t>& added = js.added;
  added.clear();
  if (rebuild) {
    jo.serials = serials;
    jo.sorted.assign(n_dims, {});
    added = rows;
  } else {
    for (int64_t i : rows)
      if (static_cast<size_t>(i) >= jo.member.size() || !jo.member[static_cast<size_t>(i)])
        added.push_back(i);
  }
  // Rows leave the bad group rarely (a trial joins the good group, or loses a parameter): the
  // sorted orders are filtered only then.
  const bool removed = !rebuild && jo.n_rows + added.size() != rows.size();
  jo.n_rows = rows.size();
  for (size_t k = 0; k < n_dims; ++k) {
    const ParamModel& m = *models[k];
    if (!m.domain.numeric()) continue;
    auto& sorted = jo.sorted[k];
    if (removed)
      std::erase_if(sorted, [&](const auto& e) { return !now[static_cast<size_t>(e.second)]; });
    if (added.size() <= kJointOrderInserts) {
      // The usual ask adds a trial or two: inserted in place (no merge buffer to allocate).
      for (int64_t i : added) {
        const std::pair<double, int64_t> e{m.above->t(m.SlotOf(i)), i};
        sorted.insert(std::upper_bound(sorted.begin(), sorted.end(), e), e);
      }
      continue;
    }
    const auto mid = static_cast<std::ptrdiff_t>(sorted.size());
    for (int64_t i : added) sorted.emplace_back(m.above->t(m.SlotOf(i)), i);
    std::sort(sorted.begin() + mid, sorted.end());
    std::inplace_merge(sorted.begin(), sorted.begin() + mid, sorted.end());
  }
  std::swap(jo.member, now);  // the previous membership becomes the next call's buffer
}

void TpeSampler::JointOrders(const std::vector<int64_t>& rows,
                             std::vector<std::vector<int32_t>>* orders) {
  const JointOrder& jo = joint_order_;
  std::vector<int32_t>& pos = joint_scratch_.pos;
  pos.assign(info_.size(), -1);
  for (size_t r = 0; r < rows.size(); ++r)
    pos[static_cast<size_t>(rows[r])] = static_cast<int32_t>(r);
  orders->resize(jo.sorted.size());
  for (size_t k = 0; k < jo.sorted.size(); ++k) {
    std::vector<int32_t>& out = (*orders)[k];
    if (jo.sorted[k].empty()) {  // categorical, or no rows
      out.clear();
      continue;
    }
    // Branch-free filter: every position is written, and kept where the trial is a row.
    out.resize(jo.sorted[k].size() + 1);
    size_t w = 0;
    for (const auto& [t, i] : jo.sorted[k]) {
      const int32_t p = pos[static_cast<size_t>(i)];
      out[w] = p;
      w += p >= 0;
    }
    HPO_CHECK(w == rows.size()) << "joint order misses rows";
    out.resize(w);
  }
}

ParamMap TpeSampler::Sample(const SearchSpace& space, const History& history) {
  Sync(history);
  std::map<std::string, double> joint;
  if (!InStartup() && options_.multivariate()) joint = SampleJoint(space);
  ParamMap chosen;
  for (const ParamSpec& spec : space.params()) {
    if (!space.IsActive(spec, chosen)) continue;
    const Distribution& dist = spec.distribution;
    double v = 0;
    if (InStartup()) {
      v = SampleUniform(dist, rng_);  // as RandomSampler, fixed parameters included
    } else if (dist.is_fixed()) {
      v = FixedValue(dist);
    } else if (auto it = joint.find(spec.name); it != joint.end()) {
      v = it->second;
    } else {
      v = SampleUnivariate(Model(spec.name, dist));
    }
    chosen[spec.name] = v;
  }
  return chosen;
}

double TpeSampler::SampleOne(const std::string& name, const Distribution& dist, const ParamMap&,
                             const History& history) {
  Sync(history);
  if (InStartup()) return SampleUniform(dist, rng_);
  if (dist.is_fixed()) return FixedValue(dist);
  return SampleUnivariate(Model(name, dist));
}

}  // namespace hpo
