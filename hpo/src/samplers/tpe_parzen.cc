#include "samplers/tpe_parzen.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <numeric>
#include <tuple>

#include "hpo/check.h"
#include "samplers/simd.h"

namespace hpo::tpe {
namespace {

constexpr double kSqrt2 = 1.4142135623730951;
constexpr double kLogSqrt2Pi = 0.91893853320467274;
constexpr double kInvSqrt2Pi = 0.39894228040143268;
// Binned kernels are summed within this many sigmas (beyond: < 3e-18 of the peak).
constexpr double kTailZ = 9.0;
// Beyond this many sigmas a kernel's density underflows a double.
constexpr double kCutZ = 38.0;
// A joint mixture indexes the keys of a stepped or log int dimension by grid point, and
// memoises its prior's values by grid point, up to this many points.
constexpr int64_t kMaxJointMemo = 1 << 16;

double NormalCdf(double z) { return 0.5 * std::erfc(-z / kSqrt2); }

}  // namespace

void DefaultWeights(int64_t n, std::vector<double>* w) {
  w->resize(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) (*w)[static_cast<size_t>(i)] = RampWeight(i, n);
}

std::vector<double> DefaultWeights(int64_t n) {
  std::vector<double> w;
  DefaultWeights(n, &w);
  return w;
}

double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double StdNormal(std::mt19937_64& rng) {
  // Marsaglia's polar method (the second variate is dropped to keep no state).
  for (;;) {
    double u = 2.0 * Uniform01(rng) - 1.0, v = 2.0 * Uniform01(rng) - 1.0;
    double s = u * u + v * v;
    if (s > 0.0 && s < 1.0) return u * std::sqrt(-2.0 * std::log(s) / s);
  }
}

double NormalMass(double a, double b) {
  if (!(a < b)) return 0.0;
  if (a >= 0) return 0.5 * (std::erfc(a / kSqrt2) - std::erfc(b / kSqrt2));
  if (b <= 0) return 0.5 * (std::erfc(-b / kSqrt2) - std::erfc(-a / kSqrt2));
  return 1.0 - 0.5 * (std::erfc(-a / kSqrt2) + std::erfc(b / kSqrt2));
}

// ---- Domain ---------------------------------------------------------------------------------

Domain Domain::Of(const Distribution& dist) {
  Domain d;
  switch (dist.type()) {
    case Distribution::Type::kCategorical:
      d.kind = Kind::kCategorical;
      d.size = static_cast<int64_t>(dist.choices().size());
      d.lo = 0;
      d.hi = static_cast<double>(d.size - 1);
      return d;
    case Distribution::Type::kInt:
    case Distribution::Type::kFloat:
      if (dist.log()) {
        d.kind = Kind::kContinuous;
        d.log = true;
        if (dist.type() == Distribution::Type::kInt) {
          d.round_int = true;
          d.lo = std::log(dist.low() - 0.5);
          d.hi = std::log(dist.high() + 0.5);
        } else {
          d.lo = std::log(dist.low());
          d.hi = std::log(dist.high());
        }
      } else if (dist.step() > 0) {
        d.kind = Kind::kDiscrete;
        d.lo = dist.low();
        d.hi = dist.high();
        d.step = dist.step();
        d.size = static_cast<int64_t>(dist.cardinality());
      } else {
        d.kind = Kind::kContinuous;
        d.lo = dist.low();
        d.hi = dist.high();
      }
      return d;
  }
  return d;
}

int64_t Domain::GridIndex(double t) const {
  const double k = kind == Kind::kDiscrete ? (t - lo) / step : t;
  // std::llround(k) clamped to [0, size - 1] (NaN: 0), without the library call: the fraction
  // k - trunc(k) of a positive double is exact.
  if (!(k > 0)) return 0;
  if (k >= static_cast<double>(size - 1)) return size - 1;
  const auto i = static_cast<int64_t>(k);
  return k - static_cast<double>(i) >= 0.5 ? i + 1 : i;
}

double Domain::ToInternal(double t, const Distribution& dist) const {
  switch (kind) {
    case Kind::kCategorical:
      return static_cast<double>(GridIndex(t));
    case Kind::kDiscrete:
      return dist.Snap(lo + static_cast<double>(GridIndex(t)) * step);
    case Kind::kContinuous: {
      double x = log ? std::exp(t) : t;
      if (round_int) x = std::round(x);
      return dist.Snap(x);
    }
  }
  return dist.Snap(t);
}

// ---- Kernels --------------------------------------------------------------------------------

double TruncationMass(const Domain& d, double mu, double sigma) {
  return std::max(NormalMass((d.L() - mu) / sigma, (d.R() - mu) / sigma), 1e-300);
}

Kernel MakeKernel(const Domain& d, double mu, double sigma, double weight) {
  Kernel k;
  k.mu = mu;
  k.sigma = sigma;
  k.weight = weight;
  k.zinv = 1.0 / TruncationMass(d, mu, sigma);
  return k;
}

Kernel PriorKernel(const Domain& d, double weight) {
  return MakeKernel(d, d.prior_mu(), d.range(), weight);
}

double KernelValue(const Domain& d, const Kernel& k, double t) {
  if (d.round_int) {
    const auto [a, b] = d.LogCell(t);
    const double za = (a - k.mu) / k.sigma, zb = (b - k.mu) / k.sigma;
    if (za > kCutZ || zb < -kCutZ) return 0.0;
    return k.weight * k.zinv * NormalMass(za, zb);
  }
  double z = (t - k.mu) / k.sigma;
  if (d.kind == Domain::Kind::kDiscrete) {
    double hz = 0.5 * d.step / k.sigma;
    if (std::abs(z) - hz > kCutZ) return 0.0;
    return k.weight * k.zinv * NormalMass(z - hz, z + hz);
  }
  if (std::abs(z) > kCutZ) return 0.0;
  return k.weight * k.zinv * kInvSqrt2Pi / k.sigma * std::exp(-0.5 * z * z);
}

double SampleKernel(const Domain& d, const Kernel& k, std::mt19937_64& rng) {
  const double a = d.L(), b = d.R();
  // The mean lies inside [a, b], so rejection accepts a third of the draws or more.
  for (int i = 0; i < 64; ++i) {
    double x = k.mu + k.sigma * StdNormal(rng);
    if (x >= a && x <= b) return x;
  }
  // Inverse CDF by bisection: only reached with vanishing probability.
  double za = (a - k.mu) / k.sigma, zb = (b - k.mu) / k.sigma;
  double pa = NormalCdf(za), pb = NormalCdf(zb);
  double target = pa + (pb - pa) * Uniform01(rng);
  double lo = za, hi = zb;
  for (int i = 0; i < 100; ++i) {
    double mid = 0.5 * (lo + hi);
    (NormalCdf(mid) < target ? lo : hi) = mid;
  }
  return std::clamp(k.mu + k.sigma * 0.5 * (lo + hi), a, b);
}

void NeighbourSigmas(const Domain& d, const std::vector<double>& mus, bool consider_endpoints,
                     const std::vector<int32_t>* order, std::vector<double>* sigma) {
  const size_t m = mus.size();
  const double range = d.range();
  sigma->resize(m);
  if (m == 0) return;
  // perm[i]: the observation of rank i, sorted by value, equal values in input order.
  std::vector<int32_t> sorted;
  if (order != nullptr) {
    HPO_CHECK(order->size() == m) << "NeighbourSigmas: order of another size";
  } else {
    std::vector<std::pair<double, int32_t>> pairs(m);
    for (size_t i = 0; i < m; ++i) pairs[i] = {mus[i], static_cast<int32_t>(i)};
    std::sort(pairs.begin(), pairs.end());
    sorted.resize(m);
    for (size_t i = 0; i < m; ++i) sorted[i] = pairs[i].second;
  }
  const int32_t* perm = order != nullptr ? order->data() : sorted.data();
  const double min_sigma = range / std::min(100.0, static_cast<double>(m) + 2.0);
  // The sorted values with the range's ends around them, as a sliding window prev, cur, next.
  double prev = d.L(), cur = mus[static_cast<size_t>(perm[0])];
  for (size_t i = 0; i < m; ++i) {
    const double next = i + 1 < m ? mus[static_cast<size_t>(perm[i + 1])] : d.R();
    double v = std::max(cur - prev, next - cur);
    if (!consider_endpoints && m >= 2) {
      if (i == 0) v = next - cur;
      if (i == m - 1) v = cur - prev;
    }
    (*sigma)[static_cast<size_t>(perm[i])] = std::clamp(v, min_sigma, range);
    prev = cur;
    cur = next;
  }
}

std::vector<Kernel> UnivariateKernels(const Domain& d, const std::vector<double>& mus,
                                      const std::vector<double>& weights, double prior_weight,
                                      bool consider_endpoints) {
  HPO_CHECK(mus.size() == weights.size());
  const size_t m = mus.size();
  std::vector<Kernel> out;
  out.reserve(m + 1);
  std::vector<double> sigma;
  NeighbourSigmas(d, mus, consider_endpoints, nullptr, &sigma);
  for (size_t i = 0; i < m; ++i) {
    out.push_back(MakeKernel(d, mus[i], sigma[i], weights[i]));
  }
  out.push_back(PriorKernel(d, prior_weight));
  return out;
}

size_t DrawIndex(const std::vector<double>& cumulative, std::mt19937_64& rng) {
  double u = Uniform01(rng) * cumulative.back();
  size_t i = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
  return std::min(i, cumulative.size() - 1);
}

Mixture1D::Mixture1D(const Domain& d, std::vector<Kernel> kernels)
    : domain_(d), kernels_(std::move(kernels)) {
  HPO_CHECK(!kernels_.empty());
  for (const Kernel& k : kernels_) {
    total_ += k.weight;
    cumulative_.push_back(total_);
  }
}

double Mixture1D::Pdf(double t) const {
  double sum = 0;
  for (const Kernel& k : kernels_) sum += KernelValue(domain_, k, t);
  return sum / total_;
}

double Mixture1D::Sample(std::mt19937_64& rng) const {
  return SampleKernel(domain_, kernels_[DrawIndex(cumulative_, rng)], rng);
}

std::vector<double> CategoricalProbs(const std::vector<double>& observed_weight,
                                     int64_t n_observations, double prior_weight) {
  const double c = static_cast<double>(observed_weight.size());
  std::vector<double> p(observed_weight.size(), 1.0 / c);
  if (n_observations == 0) return p;
  const double base = prior_weight / static_cast<double>(n_observations + 1);
  const double rowsum = 1.0 + c * base;
  double wm = 0;
  for (double w : observed_weight) wm += w;
  for (size_t i = 0; i < p.size(); ++i)
    p[i] =
        (wm * base / rowsum + observed_weight[i] / rowsum + prior_weight / c) / (wm + prior_weight);
  return p;
}

// ---- AboveIndex -----------------------------------------------------------------------------

AboveIndex::AboveIndex(const Domain& d, bool consider_endpoints)
    : d_(d), consider_endpoints_(consider_endpoints), s_narrow_(d.range() / 100.0) {
  size_t cells = 0;
  if (!d_.numeric()) {
    cells = static_cast<size_t>(d_.size);
  } else {
    if (d_.kind == Domain::Kind::kDiscrete && d_.size <= kMaxGridCells) {
      cells = static_cast<size_t>(d_.size);
      for (int64_t off = 0; off < d_.size; ++off) {
        double z = static_cast<double>(off) * d_.step / s_narrow_;
        double hz = 0.5 * d_.step / s_narrow_;
        if (z - hz > kTailZ) break;
        mass_table_.push_back(NormalMass(z - hz, z + hz));
      }
    } else {
      use_nodes_ = true;
      h_ = (d_.R() - d_.L()) / static_cast<double>(kNodes);
      cells = static_cast<size_t>(kNodes + 1);
    }
  }
  s0_.assign(cells, 0.0);
  s1_.assign(cells, 0.0);
  h_cells_.assign(cells, 0.0);
}

int32_t AboveIndex::AddSlot(double t) {
  Slot sl;
  double narrow_log_zinv = 0;
  int32_t cell = 0;
  if (d_.numeric()) {
    const double mass = TruncationMass(d_, t, s_narrow_);
    sl.zinv = 1.0 / mass;
    narrow_log_zinv = -std::log(mass);
    if (use_nodes_) {
      double u = (t - d_.L()) / h_;
      double j = std::clamp(std::floor(u), 0.0, static_cast<double>(kNodes - 1));
      cell = static_cast<int32_t>(j);
      sl.frac = std::clamp(u - j, 0.0, 1.0);
    } else {
      cell = static_cast<int32_t>(d_.GridIndex(t));
    }
  } else {
    cell = static_cast<int32_t>(d_.GridIndex(t));
  }
  t_.push_back(t);
  narrow_log_zinv_.push_back(narrow_log_zinv);
  cell_.push_back(cell);
  slots_.push_back(sl);
  const auto n = static_cast<int32_t>(slots_.size());
  const int32_t new_end = std::max<int32_t>(0, n - static_cast<int32_t>(kFlatWeights));
  while (ramp_end_ < new_end) {
    int32_t e = ramp_end_++;
    if (slots_[e].member) Attach(e);
  }
  return n - 1;
}

double AboveIndex::RawSigma(Sorted::const_iterator it) const {
  const double t = it->first;
  const bool has_prev = it != sorted_.begin();
  auto next = std::next(it);
  const bool has_next = next != sorted_.end();
  double left = has_prev ? t - std::prev(it)->first : t - d_.L();
  double right = has_next ? next->first - t : d_.R() - t;
  if (!consider_endpoints_ && sorted_.size() >= 2) {
    if (!has_prev) return right;
    if (!has_next) return left;
  }
  return std::max(left, right);
}

void AboveIndex::AddToCells(int32_t s, double sign) {
  const Slot& sl = slots_[s];
  const double z = sign * sl.zinv, pos = static_cast<double>(s);
  const int32_t cell = cell_[s];
  if (use_nodes_) {
    const double a = (1.0 - sl.frac) * z, b = sl.frac * z;
    s0_[cell] += a;
    s1_[cell] += a * pos;
    s0_[cell + 1] += b;
    s1_[cell + 1] += b * pos;
  } else {
    s0_[cell] += z;
    s1_[cell] += z * pos;
  }
  ++cell_updates_;
}

void AboveIndex::RebuildCells() {
  std::fill(s0_.begin(), s0_.end(), 0.0);
  std::fill(s1_.begin(), s1_.end(), 0.0);
  for (int32_t s = 0; s < ramp_end_; ++s)
    if (slots_[s].where == Where::kCells) AddToCells(s, 1.0);
  cell_updates_ = 0;
}

void AboveIndex::Attach(int32_t s) {
  Slot& sl = slots_[s];
  if (!sl.member || !InRamp(s) || sl.where != Where::kNone) return;
  ++ramp_count_;
  ramp_pos_sum_ += static_cast<double>(s);
  if (!d_.numeric() || !sl.wide) {
    sl.where = Where::kCells;
    AddToCells(s, 1.0);
  } else {
    sl.where = Where::kWide;
    sl.wide_pos = static_cast<int32_t>(wide_.size());
    wide_.push_back(s);
  }
}

void AboveIndex::Detach(int32_t s) {
  Slot& sl = slots_[s];
  if (sl.where == Where::kNone) return;
  --ramp_count_;
  ramp_pos_sum_ -= static_cast<double>(s);
  if (sl.where == Where::kCells) {
    AddToCells(s, -1.0);
  } else {
    int32_t last = wide_.back();
    wide_[sl.wide_pos] = last;
    slots_[last].wide_pos = sl.wide_pos;
    wide_.pop_back();
    sl.wide_pos = -1;
  }
  sl.where = Where::kNone;
}

void AboveIndex::Reclassify(Sorted::iterator it) {
  const int32_t s = it->second;
  const bool wide = RawSigma(it) > s_narrow_;
  if (wide == slots_[s].wide) return;
  Detach(s);
  slots_[s].wide = wide;
  Attach(s);
}

void AboveIndex::SetMember(int32_t s, bool member) {
  Slot& sl = slots_[s];
  if (sl.member == member) return;
  if (member) {
    sl.member = true;
    ++n_members_;
    if (d_.numeric()) {
      sl.it = sorted_.insert({t_[s], s}).first;
      sl.wide = RawSigma(sl.it) > s_narrow_;
      Attach(s);
      if (sl.it != sorted_.begin()) Reclassify(std::prev(sl.it));
      if (std::next(sl.it) != sorted_.end()) Reclassify(std::next(sl.it));
    } else {
      Attach(s);
    }
    return;
  }
  Detach(s);
  sl.member = false;
  --n_members_;
  if (d_.numeric()) {
    auto next = sorted_.erase(sl.it);
    if (next != sorted_.end()) Reclassify(next);
    if (next != sorted_.begin()) Reclassify(std::prev(next));
  }
}

void AboveIndex::Prepare(double prior_weight, bool force_exact) {
  HPO_CHECK(d_.numeric());
  const int64_t n = n_slots();
  if (force_exact || n_members_ < kAggregateMin) {
    exact_mode_ = true;
    std::vector<double> mus, weights;
    mus.reserve(n_members_);
    weights.reserve(n_members_);
    for (const auto& [t, s] : sorted_) {
      mus.push_back(t);
      weights.push_back(RampWeight(s, n));
    }
    exact_ = UnivariateKernels(d_, mus, weights, prior_weight, consider_endpoints_);
    total_weight_ = 0;
    for (const Kernel& k : exact_) total_weight_ += k.weight;
    return;
  }
  exact_mode_ = false;
  if (cell_updates_ > 4 * n + 1024) RebuildCells();
  const double a = 1.0 / static_cast<double>(n);
  const double b = n > kFlatWeights + 1 ? (1.0 - a) / static_cast<double>(n - kFlatWeights - 1) : 0;
  for (size_t c = 0; c < h_cells_.size(); ++c) h_cells_[c] = a * s0_[c] + b * s1_[c];
  const double range = d_.range();
  exact_.clear();
  auto add = [&](double mu, double sigma, double weight) {
    exact_.push_back(MakeKernel(d_, mu, sigma, weight));
  };
  double flat_weight = 0;
  for (auto s = static_cast<int32_t>(ramp_end_); s < n; ++s) {
    if (!slots_[s].member) continue;
    add(t_[s], std::clamp(RawSigma(slots_[s].it), s_narrow_, range), 1.0);
    flat_weight += 1.0;
  }
  for (int32_t s : wide_)
    add(t_[s], std::min(RawSigma(slots_[s].it), range), a + b * static_cast<double>(s));
  exact_.push_back(PriorKernel(d_, prior_weight));
  total_weight_ =
      a * static_cast<double>(ramp_count_) + b * ramp_pos_sum_ + flat_weight + prior_weight;
}

double AboveIndex::BinnedValue(double t) const {
  const double s = s_narrow_;
  if (!use_nodes_) {
    const int64_t i = d_.GridIndex(t);
    const auto reach = static_cast<int64_t>(mass_table_.size()) - 1;
    const int64_t lo = std::max<int64_t>(0, i - reach), hi = std::min(d_.size - 1, i + reach);
    double sum = 0;
    for (int64_t v = lo; v <= hi; ++v) sum += h_cells_[v] * mass_table_[std::abs(i - v)];
    return sum;
  }
  const double l = d_.L();
  const double u = (t - l) / h_;
  const double reach = kTailZ * s / h_;
  const auto jlo = static_cast<int64_t>(std::max(0.0, std::ceil(u - reach)));
  const auto jhi =
      static_cast<int64_t>(std::min(static_cast<double>(kNodes), std::floor(u + reach)));
  if (jhi < jlo) return 0.0;
  // exp(-z_j^2 / 2) for z_j = z_lo - (j - jlo) * delta by a two-multiplication recurrence.
  const double delta = h_ / s;
  const double z = (t - (l + static_cast<double>(jlo) * h_)) / s;
  double e = std::exp(-0.5 * z * z);
  double r = std::exp(z * delta - 0.5 * delta * delta);
  const double q = std::exp(-delta * delta);
  double sum = 0;
  for (int64_t j = jlo; j <= jhi; ++j) {
    sum += h_cells_[j] * e;
    e *= r;
    r *= q;
  }
  double f = kInvSqrt2Pi / s;
  if (d_.kind == Domain::Kind::kDiscrete) f *= d_.step;  // mass of a cell much narrower than s
  return sum * f;
}

double AboveIndex::Pdf(double t) const {
  double sum = 0;
  for (const Kernel& k : exact_) sum += KernelValue(d_, k, t);
  if (!exact_mode_) sum += d_.round_int ? BinnedCellMass(t) : BinnedValue(t);
  return sum / total_weight_;
}

double AboveIndex::BinnedCellMass(double t) const {
  // The binned density integrated over the log cell by composite 3-point Gauss-Legendre on
  // pieces no wider than the narrow sigma (relative error below 1e-5).
  static constexpr double kNode = 0.77459666924148338, kW0 = 8.0 / 9.0, kW1 = 5.0 / 9.0;
  const auto [a, b] = d_.LogCell(t);
  const int pieces = std::max(1, static_cast<int>(std::ceil((b - a) / s_narrow_)));
  const double h = (b - a) / pieces;
  double sum = 0;
  for (int p = 0; p < pieces; ++p) {
    const double c = a + (p + 0.5) * h, r = 0.5 * h * kNode;
    sum += kW0 * BinnedValue(c) + kW1 * (BinnedValue(c - r) + BinnedValue(c + r));
  }
  return sum * 0.5 * h;
}

std::vector<double> AboveIndex::CategoricalProbsOf(double prior_weight) {
  HPO_CHECK(!d_.numeric());
  const int64_t n = n_slots();
  if (cell_updates_ > 4 * n + 1024) RebuildCells();
  std::vector<double> w(s0_.size(), 0.0);
  if (n > 0) {
    const double a = 1.0 / static_cast<double>(n);
    const double b =
        n > kFlatWeights + 1 ? (1.0 - a) / static_cast<double>(n - kFlatWeights - 1) : 0;
    for (size_t c = 0; c < w.size(); ++c) w[c] = std::max(0.0, a * s0_[c] + b * s1_[c]);
    for (auto s = static_cast<int32_t>(ramp_end_); s < n; ++s)
      if (slots_[s].member) w[cell_[s]] += 1.0;
  }
  return CategoricalProbs(w, n_members_, prior_weight);
}

// ---- JointMixture ---------------------------------------------------------------------------

CellMassCache::Table& CellMassCache::Get(const Domain& d, double sigma) {
  HPO_CHECK(d.kind == Domain::Kind::kDiscrete && 2 * d.size - 1 <= kMaxOffsets);
  auto [it, added] = tables_.try_emplace({d.lo, d.step, d.size, sigma});
  if (added) {
    it->second.offset.assign(static_cast<size_t>(2 * d.size - 1),
                             std::numeric_limits<double>::quiet_NaN());
    it->second.log_zinv.assign(static_cast<size_t>(d.size),
                               {std::numeric_limits<double>::quiet_NaN(), 0.0});
    entries_ += 4 * d.size;
  }
  return it->second;
}

void CellMassCache::Trim() {
  if (entries_ <= kMaxEntries) return;
  tables_.clear();
  entries_ = 0;
}

namespace {

// Grid points of a log int domain.
int64_t LogIntSize(const Domain& d) {
  return std::llround(std::exp(d.hi) - 0.5) - std::llround(std::exp(d.lo) + 0.5) + 1;
}

// Of a function's variants (simd::Isa), the one simd::ActiveIsa() names.
template <class Fn>
Fn PickVariant(
#if HPO_SIMD_X86
    Fn v4, Fn v3,
#endif
    Fn baseline) {
#if HPO_SIMD_X86
  switch (simd::ActiveIsa()) {
    case simd::Isa::kAvx512:
      return v4;
    case simd::Isa::kAvx2:
      return v3;
    case simd::Isa::kBaseline:
      break;
  }
#endif
  return baseline;
}

// Lanes of a running maximum kept per candidate by AccumulateGroup (the widest vector's).
constexpr int kMaxLanes = 8;

#if defined(__GNUC__)
// The vectors of AccumulateGroup by instruction set: eight doubles, or for AVX2 four (its
// registers' width: eight accumulators of four stay in the sixteen registers, four of eight do
// not), with their load, store, categorical select and gather of by-key terms.
template <simd::Isa G>
struct KernelVec {
  using T = simd::V8;
  static constexpr int kWidth = 8;
  static T Load(const double* p) { return simd::Load8(p); }
  static void Store(double* p, T v) { simd::Store8(p, v); }
  static T SelectEq(T x, T y, T a, T b) { return simd::SelectEq8<G>(x, y, a, b); }
  static T Max(T a, T b) { return simd::Max8<G>(a, b); }
  static T Gather(const double* p, const int32_t* idx) { return simd::Gather8<G>(p, idx); }
};
#if HPO_SIMD_X86
template <>
struct KernelVec<simd::Isa::kAvx2> {
  using T = simd::V4;
  static constexpr int kWidth = 4;
  static T Load(const double* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void Store(double* p, T v) { std::memcpy(p, &v, sizeof(v)); }
  static T SelectEq(T x, T y, T a, T b) { return x == y ? a : b; }
  static T Max(T a, T b) { return a > b ? a : b; }
  static T Gather(const double* p, const int32_t* idx) { return simd::GatherAvx2x4(p, idx); }
};
#endif
#endif

// JointMixture::LogPdf's loop over the observations: acc[k] collects observation k's log kernel
// value (the weight apart), log_c[k] plus each dimension's term in dimension order.
// Candidates kC at a time, observations a vector (KernelVec) at a time: the C accumulators stay
// in registers through all the dimensions, and each observation's constants are loaded once per
// C candidates. Per (candidate, observation) the terms are added in the same order and with the
// same operations as one dimension at a time (a Gaussian term: acc -= 0.5 * z * z), whatever the
// vector width.
// `G`: the instruction set (KernelVec); its callers are flattened (see AccumulateBlock), so that
// no vector crosses a call.
// maxes[c * kMaxLanes, (c + 1) * kMaxLanes): a running maximum of the values written to acc[c]
// (in any of the lanes), for WeightedLogSumExp: the AVX-512 and baseline kernels fill all eight
// lanes, the AVX2 one the first four and the scalar tail the first; the others stay -inf.
template <int C, simd::Isa G>
inline void AccumulateGroup(double* const* acc, double* maxes, const double* log_c,
                            const JointMixture::LogPdfDim* dims, size_t nd,
                            const JointMixture::LogPdfCand* cand, int64_t k0, int64_t len) {
  int64_t k = 0;
#if defined(__GNUC__)
  using Vec = KernelVec<G>;
  using V = typename Vec::T;
  constexpr int kW = Vec::kWidth;
  for (; k + kW <= len; k += kW) {
    const int64_t o = k0 + k;
    V a[C];
    const V base = Vec::Load(log_c + o);
    for (int c = 0; c < C; ++c) a[c] = base;
    for (size_t di = 0; di < nd; ++di) {
      const JointMixture::LogPdfDim& x = dims[di];
      if (x.kind == JointMixture::LogPdfDim::kGaussian) {
        const V mu = Vec::Load(x.a + o), inv = Vec::Load(x.b + o);
        for (int c = 0; c < C; ++c) {
          const V z = (cand[c * nd + di].v - mu) * inv;
          a[c] -= 0.5 * z * z;
        }
      } else if (x.kind == JointMixture::LogPdfDim::kCategorical) {
        const V idx = Vec::Load(x.a + o);
        const V hit = V{} + x.hit, miss = V{} + x.miss;
        for (int c = 0; c < C; ++c)
          a[c] += Vec::SelectEq(idx, V{} + cand[c * nd + di].v, hit, miss);
      } else {
        // Candidates in one cell share a row of terms (LogPdf puts them next to each other):
        // one gather serves them.
        const int32_t* key = x.key + o;
        V t{};
        const double* last = nullptr;
        for (int c = 0; c < C; ++c) {
          const double* term = cand[c * nd + di].term;
          if (term != last) {
            last = term;
            t = Vec::Gather(term, key);
          }
          a[c] += t;
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      Vec::Store(acc[c] + o, a[c]);
      double* m = maxes + c * kMaxLanes;
      Vec::Store(m, Vec::Max(a[c], Vec::Load(m)));
    }
  }
#endif
  for (; k < len; ++k) {
    const int64_t o = k0 + k;
    for (int c = 0; c < C; ++c) {
      double s = log_c[o];
      for (size_t di = 0; di < nd; ++di) {
        const JointMixture::LogPdfDim& x = dims[di];
        const JointMixture::LogPdfCand& y = cand[c * nd + di];
        if (x.kind == JointMixture::LogPdfDim::kGaussian) {
          const double z = (y.v - x.a[o]) * x.b[o];
          s -= 0.5 * z * z;
        } else if (x.kind == JointMixture::LogPdfDim::kCategorical) {
          s += x.a[o] == y.v ? x.hit : x.miss;
        } else {
          s += y.term[x.key[o]];
        }
      }
      acc[c][o] = s;
      maxes[c * kMaxLanes] = std::max(maxes[c * kMaxLanes], s);
    }
  }
}

// acc[c][k] for every candidate c < nc and observation k in [k0, k0 + len), kLogPdfGroup
// candidates at a time: eight with AVX2's vectors of four (KernelVec), four otherwise (eight
// showed no gain with AVX-512's vectors of eight).
template <simd::Isa G, size_t kLogPdfGroup = G == simd::Isa::kAvx2 ? 8 : 4>
inline void AccumulateBlockWith(double* const* acc, double* maxes, const double* log_c,
                                const JointMixture::LogPdfDim* dims, size_t nd,
                                const JointMixture::LogPdfCand* cand, size_t nc, int64_t k0,
                                int64_t len) {
  size_t c = 0;
  for (; c + kLogPdfGroup <= nc; c += kLogPdfGroup)
    AccumulateGroup<kLogPdfGroup, G>(acc + c, maxes + c * kMaxLanes, log_c, dims, nd, cand + c * nd,
                                     k0, len);
  for (; c < nc; ++c)
    AccumulateGroup<1, G>(acc + c, maxes + c * kMaxLanes, log_c, dims, nd, cand + c * nd, k0, len);
}
using AccumulateBlockFn = void (*)(double* const*, double*, const double*,
                                   const JointMixture::LogPdfDim*, size_t,
                                   const JointMixture::LogPdfCand*, size_t, int64_t, int64_t);
// The variants of HPO_SIMD_CLONES, written out: the AVX2 and AVX-512 ones gather the by-key
// terms with the gather instructions (KernelVec<G>::Gather: simd::GatherAvx512 or
// simd::GatherAvx2x4), which a target_clones function cannot use.
#if HPO_SIMD_X86
__attribute__((target("arch=x86-64-v4"), flatten)) void AccumulateBlockV4(
    double* const* acc, double* maxes, const double* log_c, const JointMixture::LogPdfDim* dims,
    size_t nd, const JointMixture::LogPdfCand* cand, size_t nc, int64_t k0, int64_t len) {
  AccumulateBlockWith<simd::Isa::kAvx512>(acc, maxes, log_c, dims, nd, cand, nc, k0, len);
}
__attribute__((target("arch=x86-64-v3"), flatten)) void AccumulateBlockV3(
    double* const* acc, double* maxes, const double* log_c, const JointMixture::LogPdfDim* dims,
    size_t nd, const JointMixture::LogPdfCand* cand, size_t nc, int64_t k0, int64_t len) {
  AccumulateBlockWith<simd::Isa::kAvx2>(acc, maxes, log_c, dims, nd, cand, nc, k0, len);
}
#endif
__attribute__((flatten)) void AccumulateBlockBaseline(
    double* const* acc, double* maxes, const double* log_c, const JointMixture::LogPdfDim* dims,
    size_t nd, const JointMixture::LogPdfCand* cand, size_t nc, int64_t k0, int64_t len) {
  AccumulateBlockWith<simd::Isa::kBaseline>(acc, maxes, log_c, dims, nd, cand, nc, k0, len);
}
void AccumulateBlock(double* const* acc, double* maxes, const double* log_c,
                     const JointMixture::LogPdfDim* dims, size_t nd,
                     const JointMixture::LogPdfCand* cand, size_t nc, int64_t k0, int64_t len) {
  const AccumulateBlockFn fn = PickVariant<AccumulateBlockFn>(
#if HPO_SIMD_X86
      AccumulateBlockV4, AccumulateBlockV3,
#endif
      AccumulateBlockBaseline);
  fn(acc, maxes, log_c, dims, nd, cand, nc, k0, len);
}

// log(sum_k w[k] exp(acc[k]) + w_prior exp(prior)). Terms this far below the largest (relative
// weight < 1e-23, and fewer than 1e7 of them) cannot change a double: they are left out, and a
// block of eight without any other is skipped.
constexpr double kNegligibleLog = -53.0;
// `maxes`: kMaxLanes values whose maximum is that of acc[0, n) (AccumulateGroup's), or -inf.
template <simd::Isa I>
inline double WeightedLogSumExpWith(const double* acc, const double* w, int64_t n, double prior,
                                    double w_prior, const double* maxes) {
  double mx = prior;
  for (int j = 0; j < kMaxLanes; ++j) mx = std::max(mx, maxes[j]);
#if defined(__GNUC__)
  using simd::U8;
  using simd::V8;
#endif
  const double floor = mx + kNegligibleLog;
  double sum = w_prior * std::exp(prior - mx);
  int64_t k = 0;
#if defined(__GNUC__)
  if (n >= 8) {
    V8 s = {};
    for (; k + 8 <= n; k += 8) {
      const V8 a = simd::Load8(acc + k);
      if (!simd::AnyGreater8<I>(a, floor)) continue;
      const U8 live = simd::GreaterMask8<I>(a, floor);  // all ones where a > floor
      const V8 e = simd::Load8(w + k) * simd::ExpNeg<V8, U8>(mx - a);
      s += std::bit_cast<V8>(std::bit_cast<U8>(e) & live);
    }
    sum += simd::Sum8(s);
  }
#endif
  for (; k < n; ++k)
    if (acc[k] > floor) sum += w[k] * simd::ExpNeg<double, uint64_t>(mx - acc[k]);
  return mx + std::log(sum);
}
using WeightedLogSumExpFn = double (*)(const double*, const double*, int64_t, double, double,
                                       const double*);
#if HPO_SIMD_X86
__attribute__((target("arch=x86-64-v4"), flatten)) double WeightedLogSumExpV4(
    const double* acc, const double* w, int64_t n, double prior, double w_prior,
    const double* maxes) {
  return WeightedLogSumExpWith<simd::Isa::kAvx512>(acc, w, n, prior, w_prior, maxes);
}
__attribute__((target("arch=x86-64-v3"), flatten)) double WeightedLogSumExpV3(
    const double* acc, const double* w, int64_t n, double prior, double w_prior,
    const double* maxes) {
  return WeightedLogSumExpWith<simd::Isa::kAvx2>(acc, w, n, prior, w_prior, maxes);
}
#endif
__attribute__((flatten)) double WeightedLogSumExpBaseline(const double* acc, const double* w,
                                                          int64_t n, double prior, double w_prior,
                                                          const double* maxes) {
  return WeightedLogSumExpWith<simd::Isa::kBaseline>(acc, w, n, prior, w_prior, maxes);
}
double WeightedLogSumExp(const double* acc, const double* w, int64_t n, double prior,
                         double w_prior, const double* maxes) {
  const WeightedLogSumExpFn fn = PickVariant<WeightedLogSumExpFn>(
#if HPO_SIMD_X86
      WeightedLogSumExpV4, WeightedLogSumExpV3,
#endif
      WeightedLogSumExpBaseline);
  return fn(acc, w, n, prior, w_prior, maxes);
}

}  // namespace

JointMixture::JointMixture(const std::vector<Domain>& dims,
                           const std::vector<std::vector<double>>& obs,
                           const std::vector<double>& weights, double prior_weight,
                           bool consider_endpoints, const JointHints* hints, CellMassCache* cache) {
  Fit(dims, obs, weights, prior_weight, consider_endpoints, hints, cache);
}

void JointMixture::Dim::Reset(const Domain& domain) {
  d = domain;
  log_hit = log_miss = 0;
  rowsum = 1;
  cells = false;
  for (std::vector<double>* v : {&mu, &idx_f, &key_mu, &key_sigma, &key_log_c, &sigmas}) v->clear();
  for (std::vector<int32_t>* v : {&key_idx, &key_class}) v->clear();
}

void JointMixture::Fit(const std::vector<Domain>& dims, const std::vector<std::vector<double>>& obs,
                       const std::vector<double>& weights, double prior_weight,
                       bool consider_endpoints, const JointHints* hints, CellMassCache* cache) {
  cache_ = cache;
  n_ = static_cast<int64_t>(weights.size());
  HPO_CHECK(dims.size() == obs.size());
  HPO_CHECK(hints == nullptr ||
            (hints->orders.size() == dims.size() && hints->narrow_log_zinv.size() == dims.size() &&
             hints->grid.size() == dims.size()));
  CellMassCache local_cache;
  if (cache == nullptr) cache = &local_cache;
  double wsum = 0;
  cumulative_.clear();
  for (double w : weights) {
    wsum += w;
    cumulative_.push_back(wsum);
  }
  cumulative_.push_back(wsum + prior_weight);
  const double total = wsum + prior_weight;
  weight_.resize(weights.size());
  for (size_t k = 0; k < weights.size(); ++k) weight_[k] = weights[k] / total;
  weight_prior_ = prior_weight / total;
  log_c_.assign(weights.size(), 0.0);
  prior_.clear();
  dims_.resize(dims.size());

  const double n = static_cast<double>(n_);
  for (size_t di = 0; di < dims.size(); ++di) {
    Dim& x = dims_[di];
    x.Reset(dims[di]);
    HPO_CHECK(static_cast<int64_t>(obs[di].size()) == n_);
    const int32_t* grid =
        hints != nullptr && !hints->grid[di].empty() ? hints->grid[di].data() : nullptr;
    HPO_CHECK(grid == nullptr || std::ssize(hints->grid[di]) == n_);
    Kernel prior;
    if (x.d.numeric()) {
      x.mu.assign(obs[di].begin(), obs[di].end());
      const double range = x.d.range();
      prior = PriorKernel(x.d, 1.0);
      NeighbourSigmas(x.d, x.mu, consider_endpoints,
                      hints != nullptr ? &hints->orders[di] : nullptr, &x.sigma);
      // log(1 / truncation mass), 0 where the kernel lies well inside the bounds; `known`: that
      // value where the caller has it.
      auto log_zinv = [&](double mu, double sigma, const double* known = nullptr) {
        const double edge = kTailZ * sigma;
        if (mu - x.d.L() <= edge || x.d.R() - mu <= edge)
          return known != nullptr ? *known : -std::log(TruncationMass(x.d, mu, sigma));
        return 0.0;
      };
      x.cells = x.d.kind == Domain::Kind::kDiscrete || x.d.round_int;
      const bool cached =
          x.d.kind == Domain::Kind::kDiscrete && 2 * x.d.size - 1 <= CellMassCache::kMaxOffsets;
      if (x.cells) {
        // Keys by (grid index, sigma): a dense index of the first key per grid point (chained
        // through `next`; a grid point has few distinct sigmas), where the grid is not huge.
        const int64_t size = x.d.round_int ? LogIntSize(x.d) : x.d.size;
        const bool dense = size <= kMaxJointMemo;
        std::vector<int32_t>& first = key_first_;
        std::vector<int32_t>& next = key_next_;
        first.assign(dense ? static_cast<size_t>(size) : 0, -1);
        next.clear();
        const int64_t log_int_low = std::llround(std::exp(x.d.lo) + 0.5);  // grid index 0
        std::vector<CellMassCache::Table*> class_tables;  // where cached: by index in x.sigmas
        // Grid index of observation k's kernel: a log int's integer counted from the low bound,
        // the caller's hint, or the grid point nearest mu.
        auto grid_index = [&](size_t k, double mu) -> int64_t {
          if (x.d.round_int) return std::llround(std::exp(mu)) - log_int_low;
          if (grid != nullptr) return grid[k];
          return x.d.GridIndex(mu);
        };
        x.key.resize(x.mu.size());
        for (size_t k = 0; k < x.mu.size(); ++k) {
          const double mu = x.mu[k], sigma = x.sigma[k];
          const auto i = static_cast<int32_t>(std::clamp<int64_t>(grid_index(k, mu), 0, size - 1));
          int32_t j = dense ? first[static_cast<size_t>(i)] : -1;
          while (j >= 0 && x.key_sigma[static_cast<size_t>(j)] != sigma)
            j = next[static_cast<size_t>(j)];
          if (j < 0) {
            j = static_cast<int32_t>(x.key_idx.size());
            x.key_idx.push_back(i);
            x.key_mu.push_back(mu);
            x.key_sigma.push_back(sigma);
            const auto c = std::find(x.sigmas.begin(), x.sigmas.end(), sigma);
            x.key_class.push_back(static_cast<int32_t>(c - x.sigmas.begin()));
            if (c == x.sigmas.end()) {
              x.sigmas.push_back(sigma);
              if (cached) class_tables.push_back(&cache->Get(x.d, sigma));
            }
            if (cached) {
              auto& [cached_mu, cached_log_zinv] =
                  class_tables[static_cast<size_t>(x.key_class.back())]->log_zinv[i];
              if (cached_mu != mu) cached_log_zinv = log_zinv(cached_mu = mu, sigma);
              x.key_log_c.push_back(cached_log_zinv);
            } else {
              x.key_log_c.push_back(log_zinv(mu, sigma));
            }
            if (dense) {
              next.push_back(first[static_cast<size_t>(i)]);
              first[static_cast<size_t>(i)] = j;
            }
          }
          x.key[k] = j;
        }
      } else {
        x.inv_sigma.resize(x.mu.size());
        const std::vector<double>* narrow = hints != nullptr && !hints->narrow_log_zinv[di].empty()
                                                ? &hints->narrow_log_zinv[di]
                                                : nullptr;
        HPO_CHECK(narrow == nullptr || std::ssize(*narrow) == n_);
        const double narrow_sigma = range / 100.0;
        // 1 / last_sigma and log(last_sigma sqrt(2 pi)): most sigmas are the magic clip's.
        double last_sigma = std::numeric_limits<double>::quiet_NaN(), inv = 0, log_norm = 0;
        for (size_t k = 0; k < x.mu.size(); ++k) {
          const double mu = x.mu[k], sigma = x.sigma[k];
          if (sigma != last_sigma) {
            last_sigma = sigma;
            inv = 1.0 / sigma;
            log_norm = std::log(sigma) + kLogSqrt2Pi;
          }
          x.inv_sigma[k] = inv;
          log_c_[k] +=
              log_zinv(mu, sigma,
                       narrow != nullptr && sigma == narrow_sigma ? &(*narrow)[k] : nullptr) -
              log_norm;
        }
      }
    } else {
      const double c = static_cast<double>(x.d.size);
      const double base = prior_weight / (n + 1.0);
      x.rowsum = 1.0 + c * base;
      x.log_hit = std::log((base + 1.0) / x.rowsum);
      x.log_miss = std::log(base / x.rowsum);
      x.idx_f.resize(obs[di].size());
      for (size_t k = 0; k < obs[di].size(); ++k)
        x.idx_f[k] = static_cast<double>(grid != nullptr ? grid[k] : x.d.GridIndex(obs[di][k]));
    }
    prior_.push_back(prior);
  }
}

void JointMixture::Sample(std::mt19937_64& rng, double* out) const {
  const size_t k = DrawIndex(cumulative_, rng);
  const bool from_prior = static_cast<int64_t>(k) == n_;
  for (size_t di = 0; di < dims_.size(); ++di) {
    const Dim& x = dims_[di];
    if (!x.d.numeric()) {
      const double c = static_cast<double>(x.d.size);
      // A kernel row is base/rowsum on every choice plus 1/rowsum on the observed one.
      if (!from_prior && Uniform01(rng) * x.rowsum < 1.0) {
        out[di] = x.idx_f[k];
      } else {
        out[di] = std::min(std::floor(Uniform01(rng) * c), c - 1.0);
      }
      continue;
    }
    if (from_prior) {
      out[di] = SampleKernel(x.d, prior_[di], rng);
    } else {
      Kernel kern;
      kern.mu = x.mu[k];
      kern.sigma = x.sigma[k];
      out[di] = SampleKernel(x.d, kern, rng);
    }
  }
}

std::vector<double> JointMixture::Sample(std::mt19937_64& rng) const {
  std::vector<double> out(dims_.size());
  Sample(rng, out.data());
  return out;
}

void JointCandidates::Assign(const std::vector<Domain>& dims, const double* values, size_t n) {
  const size_t nd = dims.size();
  dims_ = dims;
  nc_ = n;
  v_.assign(values, values + n * nd);
  // Rows of equal values in the cell dimensions (stepped, log int).
  constexpr int32_t kNoRow = -1;
  row_.assign(n * nd, kNoRow);
  distinct_.resize(nd);
  for (size_t di = 0; di < nd; ++di) {
    std::vector<double>& distinct = distinct_[di];
    distinct.clear();
    const Domain& d = dims[di];
    if (d.kind != Domain::Kind::kDiscrete && !d.round_int) continue;
    // Stepped dimensions: equal values share a grid point, so the distinct values are chained
    // by grid point (bucket_first_, bucket_next_) and v is compared with those of its own only.
    const bool buckets = d.kind == Domain::Kind::kDiscrete && d.size <= kMaxJointMemo;
    if (buckets) bucket_first_.assign(static_cast<size_t>(d.size), -1);
    bucket_next_.clear();
    for (size_t c = 0; c < n; ++c) {
      const double v = v_[c * nd + di];
      int32_t r = -1;
      if (buckets) {
        int32_t& first = bucket_first_[static_cast<size_t>(d.GridIndex(v))];
        r = first;
        while (r >= 0 && !(distinct[static_cast<size_t>(r)] == v))
          r = bucket_next_[static_cast<size_t>(r)];
        if (r < 0) {
          r = static_cast<int32_t>(distinct.size());
          distinct.push_back(v);
          bucket_next_.push_back(first);
          first = r;
        }
      } else {
        r = 0;
        while (static_cast<size_t>(r) < distinct.size() && !(distinct[static_cast<size_t>(r)] == v))
          ++r;
        if (static_cast<size_t>(r) == distinct.size()) distinct.push_back(v);
      }
      row_[c * nd + di] = r;
    }
  }
  order_.resize(n);
  std::iota(order_.begin(), order_.end(), 0);
  // Stable: equal rows keep the candidates' order (std::sort with that tie-break, which unlike
  // std::stable_sort allocates no buffer).
  std::sort(order_.begin(), order_.end(), [&](int32_t p, int32_t q) {
    const auto rp = row_.begin() + p * static_cast<std::ptrdiff_t>(nd);
    const auto rq = row_.begin() + q * static_cast<std::ptrdiff_t>(nd);
    const auto [ip, iq] = std::mismatch(rp, rp + static_cast<std::ptrdiff_t>(nd), rq);
    return ip != rp + static_cast<std::ptrdiff_t>(nd) ? *ip < *iq : p < q;
  });
  lv_.resize(n * nd);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<size_t>(order_[i]);
    for (size_t di = 0; di < nd; ++di) {
      const double v = v_[c * nd + di];
      lv_[i * nd + di] = dims[di].numeric() ? v : static_cast<double>(dims[di].GridIndex(v));
    }
  }
  PriorLogPdf();
}

void JointCandidates::PriorLogPdf() {
  const size_t nd = dims_.size();
  prior_.assign(nc_, 0.0);
  for (size_t di = 0; di < nd; ++di) {
    const Domain& d = dims_[di];
    if (!d.numeric()) {
      const double log_p = -std::log(static_cast<double>(d.size));
      for (double& o : prior_) o += log_p;
      continue;
    }
    const Kernel p = PriorKernel(d, 1.0);  // JointMixture's
    if (d.kind != Domain::Kind::kDiscrete && !d.round_int) {
      const double log_c = std::log(p.zinv * kInvSqrt2Pi / p.sigma);
      for (size_t c = 0; c < nc_; ++c) {
        const double z = (v_[c * nd + di] - p.mu) / p.sigma;
        prior_[c] += log_c - 0.5 * z * z;
      }
      continue;
    }
    // Candidates repeat grid points: a stepped dimension's values are memoised by grid index.
    const bool memoised = !d.round_int && d.size <= kMaxJointMemo;
    if (memoised)
      memo_.assign(static_cast<size_t>(d.size), std::numeric_limits<double>::quiet_NaN());
    for (size_t c = 0; c < nc_; ++c) {
      const double v = v_[c * nd + di];
      double* slot = memoised ? &memo_[static_cast<size_t>(d.GridIndex(v))] : nullptr;
      if (slot == nullptr || std::isnan(*slot)) {
        const double lp = std::log(KernelValue(d, p, v));
        if (slot == nullptr) {
          prior_[c] += lp;
          continue;
        }
        *slot = lp;
      }
      prior_[c] += *slot;
    }
  }
}

std::vector<double> JointMixture::LogPdf(const std::vector<std::vector<double>>& cands) {
  std::vector<Domain> dims;
  for (const Dim& x : dims_) dims.push_back(x.d);
  std::vector<double> values;
  for (const std::vector<double>& c : cands) {
    HPO_CHECK(c.size() == dims.size()) << "JointMixture::LogPdf: candidate of another size";
    values.insert(values.end(), c.begin(), c.end());
  }
  JointCandidates points;
  points.Assign(dims, values.data(), cands.size());
  std::vector<double> out;
  LogPdf(points, &out);
  return out;
}

void JointMixture::LogPdf(const JointCandidates& cands, std::vector<double>* out) {
  const size_t nc = cands.size();
  const size_t nd = dims_.size();
  const auto n = static_cast<size_t>(n_);
  HPO_CHECK(cands.n_dims() == nd) << "JointMixture::LogPdf: candidates of other dimensions";
  for (size_t di = 0; di < nd; ++di)
    HPO_CHECK(cands.dims_[di].kind == dims_[di].d.kind &&
              cands.dims_[di].round_int == dims_[di].d.round_int)
        << "JointMixture::LogPdf: candidates of other dimensions";
  out->resize(nc);
  // A stepped dimension is translation invariant: the log mass of a key's kernel on the
  // candidate's cell depends only on (candidate index - key index, sigma), so one lazily filled
  // table per sigma serves every candidate (and, with the caller's cache, every ask), where it
  // is small enough. memo[di][class]: the table of sigmas[class].
  CellMassCache local_cache;
  CellMassCache* cache = cache_ != nullptr ? cache_ : &local_cache;
  std::vector<std::vector<double*>>& memo = memo_;
  memo.resize(nd);
  for (std::vector<double*>& tables : memo) tables.clear();
  // term_[term_base_[di] + r * n_keys + j]: the term of key j of cell dimension di for the r-th
  // distinct value of the candidates there (cands.row_[c * nd + di]: candidate c's r).
  term_base_.assign(nd, 0);
  size_t n_terms = 0;
  for (size_t di = 0; di < nd; ++di) {
    const Dim& x = dims_[di];
    term_base_[di] = n_terms;
    n_terms += x.key_idx.size() * cands.distinct_[di].size();
    if (x.d.kind != Domain::Kind::kDiscrete || 2 * x.d.size - 1 > CellMassCache::kMaxOffsets)
      continue;
    for (double sigma : x.sigmas) memo[di].push_back(cache->Get(x.d, sigma).offset.data());
  }
  term_.resize(n_terms);
  for (size_t di = 0; di < nd; ++di) {
    const Dim& x = dims_[di];
    if (!x.cells) continue;
    const size_t n_keys = x.key_idx.size();
    const std::vector<double>& distinct = cands.distinct_[di];
    for (size_t r = 0; r < distinct.size(); ++r) {
      const double v = distinct[r];
      double* term = term_.data() + term_base_[di] + r * n_keys;
      if (!memo[di].empty()) {
        const int64_t offset = x.d.GridIndex(v) + x.d.size - 1;
        const double step = x.d.step;
        double* const* tables = memo[di].data();
        for (size_t j = 0; j < n_keys; ++j) {
          const int64_t diff = offset - x.key_idx[j];
          double& lm = tables[x.key_class[j]][diff];
          if (std::isnan(lm)) {
            const double inv = 1.0 / x.sigmas[x.key_class[j]];
            const double delta = static_cast<double>(diff - (x.d.size - 1)) * step;
            lm = std::log(NormalMass((delta - 0.5 * step) * inv, (delta + 0.5 * step) * inv));
          }
          term[j] = x.key_log_c[j] + lm;
        }
      } else {
        // The cell [a, b]: the grid step around v, or the log cell of a log int.
        const auto [a, b] =
            x.d.round_int ? x.d.LogCell(v) : std::pair{v - 0.5 * x.d.step, v + 0.5 * x.d.step};
        for (size_t j = 0; j < n_keys; ++j) {
          const double inv = 1.0 / x.key_sigma[j], mu = x.key_mu[j];
          term[j] = x.key_log_c[j] + std::log(NormalMass((a - mu) * inv, (b - mu) * inv));
        }
      }
    }
  }
  std::vector<JointMixture::LogPdfDim>& ldims = logpdf_dims_;
  std::vector<JointMixture::LogPdfCand>& lcands = logpdf_cands_;
  ldims.resize(nd);
  lcands.resize(nc * nd);
  // The candidates are processed in cands.order_ (sorted by their rows of terms), so that
  // candidates sharing a row are next to each other; each keeps its own output row.
  const int32_t* order = cands.order_.data();
  for (size_t di = 0; di < nd; ++di) {
    const Dim& x = dims_[di];
    LogPdfDim& y = ldims[di];
    y = LogPdfDim{};
    if (!x.d.numeric()) {
      y.kind = JointMixture::LogPdfDim::kCategorical;
      y.a = x.idx_f.data();
      y.hit = x.log_hit;
      y.miss = x.log_miss;
    } else if (!x.cells) {
      y.kind = JointMixture::LogPdfDim::kGaussian;
      y.a = x.mu.data();
      y.b = x.inv_sigma.data();
    } else {
      y.kind = JointMixture::LogPdfDim::kByKey;
      y.key = x.key.data();
    }
    const double* term = term_.data() + term_base_[di];
    for (size_t i = 0; i < nc; ++i) {
      LogPdfCand& z = lcands[i * nd + di];
      z.v = cands.lv_[i * nd + di];
      z.term =
          y.kind == JointMixture::LogPdfDim::kByKey
              ? term + static_cast<size_t>(cands.row_[static_cast<size_t>(order[i]) * nd + di]) *
                           x.key_idx.size()
              : nullptr;
    }
  }
  // acc_[c * n + k]: observation k's log kernel value at candidate c (the weight apart). Filled
  // by blocks of observations, each block's slice of every dimension's arrays serving all the
  // candidates while it is in cache; per (c, k) the dimensions are added in order.
  acc_.resize(nc * n);
  acc_rows_.resize(nc);
  for (size_t i = 0; i < nc; ++i) acc_rows_[i] = acc_.data() + static_cast<size_t>(order[i]) * n;
  maxes_.assign(nc * kMaxLanes, -std::numeric_limits<double>::infinity());
  for (size_t k0 = 0; k0 < n; k0 += kLogPdfBlock) {
    const size_t len = std::min(kLogPdfBlock, n - k0);
    AccumulateBlock(acc_rows_.data(), maxes_.data(), log_c_.data(), ldims.data(), nd, lcands.data(),
                    nc, static_cast<int64_t>(k0), static_cast<int64_t>(len));
  }
  for (size_t i = 0; i < nc; ++i) {
    const auto c = static_cast<size_t>(order[i]);
    (*out)[c] = WeightedLogSumExp(acc_.data() + c * n, weight_.data(), n_, cands.prior_[c],
                                  weight_prior_, maxes_.data() + i * kMaxLanes);
  }
}

}  // namespace hpo::tpe
