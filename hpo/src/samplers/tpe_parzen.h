// Parzen estimators for the TPE sampler (private to hpo/src/samplers).
//
// Kernels live in a per-parameter "kernel space" (see Domain): log ranges are worked in log space,
// stepped ranges are discretised truncated Gaussians (a kernel's probability is its mass on
// [x - step/2, x + step/2]; for a log int range, on [log(x - 1/2), log(x + 1/2)]), categorical
// parameters use Optuna's categorical kernel. Bandwidths, the prior component and the
// observation weights follow optuna 5.0's `_ParzenEstimator` (consider_magic_clip on): see
// UnivariateKernels and JointMixture.
//
// Thread safety: none; the sampler that owns these objects is called under the study lock.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "hpo/space.h"

namespace hpo::tpe {

// Optuna's `default_weights`: the newest kFlatWeights observations weigh 1, older ones ramp
// linearly from 1/n (oldest) towards 1.
inline constexpr int64_t kFlatWeights = 25;
// Weight of the pos-th oldest of n observations (inline: the samplers call it per observation).
inline double RampWeight(int64_t pos, int64_t n) {
  if (n <= kFlatWeights || pos >= n - kFlatWeights) return 1.0;
  double inv = 1.0 / static_cast<double>(n);
  if (n == kFlatWeights + 1) return inv;
  return inv + (1.0 - inv) * static_cast<double>(pos) / static_cast<double>(n - kFlatWeights - 1);
}
std::vector<double> DefaultWeights(int64_t n);
// The same into *w, reusing its capacity.
void DefaultWeights(int64_t n, std::vector<double>* w);

// Uniform double in [0, 1) and a standard normal draw, reproducible across standard libraries.
double Uniform01(std::mt19937_64& rng);
double StdNormal(std::mt19937_64& rng);
// P(a < Z < b) for a standard normal Z, accurate in both tails.
double NormalMass(double a, double b);

// The space in which one parameter's kernels live.
struct Domain {
  enum class Kind { kContinuous, kDiscrete, kCategorical };
  Kind kind = Kind::kContinuous;
  bool log = false;        // kernel value t = log(internal value)
  bool round_int = false;  // log int: rounded draws, kernels give the mass of the log cell
  double lo = 0, hi = 0;   // kernel bounds; discrete: first and last grid point
  double step = 0;         // discrete: grid step; 0 otherwise
  int64_t size = 0;        // discrete: grid points; categorical: choices

  // Optuna 5's transform: log ranges in log space; a log int range is drawn on
  // [log(low - 1/2), log(high + 1/2)] and rounded, and a kernel's value at the integer x is its
  // mass on the cell [log(x - 1/2), log(x + 1/2)] (optuna 4.x used the density at log x).
  static Domain Of(const Distribution& dist);
  bool numeric() const { return kind != Kind::kCategorical; }
  double L() const { return lo - step / 2; }  // truncation bounds
  double R() const { return hi + step / 2; }
  double range() const { return hi - lo + step; }
  double prior_mu() const { return 0.5 * (lo + hi); }
  double ToT(double internal) const { return log ? std::log(internal) : internal; }
  // Log int: the cell [a, b] in kernel space of the integer nearest exp(t).
  std::pair<double, double> LogCell(double t) const {
    const double x = std::round(std::exp(t));
    return {std::log(x - 0.5), std::log(x + 0.5)};
  }
  // A kernel-space draw → the nearest valid internal value of `dist`.
  double ToInternal(double t, const Distribution& dist) const;
  int64_t GridIndex(double t) const;  // discrete and categorical
};

// One Gaussian kernel truncated to the domain; `weight` is not normalised.
struct Kernel {
  double mu = 0, sigma = 1, weight = 1;
  double zinv = 1;  // 1 / (mass of the kernel inside the truncation bounds)
};
// Mass of N(mu, sigma) inside the domain's truncation bounds.
double TruncationMass(const Domain& d, double mu, double sigma);
// A kernel at mu with sigma and weight, its truncation mass computed on d.
Kernel MakeKernel(const Domain& d, double mu, double sigma, double weight);
// The prior kernel of a numeric domain (Optuna's): centred on the range's middle, sigma the range,
// with `weight`.
Kernel PriorKernel(const Domain& d, double weight);
// weight * (truncated density at t, or truncated mass of t's grid cell for a discrete or log int
// domain).
double KernelValue(const Domain& d, const Kernel& k, double t);
// A draw from the truncated kernel, in kernel space (not yet snapped to the grid).
double SampleKernel(const Domain& d, const Kernel& k, std::mt19937_64& rng);

// Optuna 5's Parzen estimator of one numeric domain: one kernel per observation, its sigma the
// larger distance to its sorted neighbours or the range's ends (the prior mean does not take part,
// unlike optuna 4.x; with consider_endpoints=false and two or more observations the outermost use
// their inner neighbour), clipped to [range / min(100, n + 2), range]; plus the prior
// N(mid, range) with `prior_weight`. Multivariate mode applies the same rule per dimension.
// `mus` and `weights` have equal length; equal mus keep their input order.
// The clipped bandwidths of that rule, one per observation, into *sigma (resized; its capacity is
// reused). `order`, when given, is the permutation that sorts mus by (value, position) (the
// caller keeps it up to date); otherwise it is computed here.
void NeighbourSigmas(const Domain& d, const std::vector<double>& mus, bool consider_endpoints,
                     const std::vector<int32_t>* order, std::vector<double>* sigma);
std::vector<Kernel> UnivariateKernels(const Domain& d, const std::vector<double>& mus,
                                      const std::vector<double>& weights, double prior_weight,
                                      bool consider_endpoints);

// A small mixture evaluated kernel by kernel (the good group, or a small bad group).
class Mixture1D {
 public:
  Mixture1D(const Domain& d, std::vector<Kernel> kernels);
  double Pdf(double t) const;  // normalised density (or grid-cell probability)
  double Sample(std::mt19937_64& rng) const;
  const std::vector<Kernel>& kernels() const { return kernels_; }

 private:
  Domain domain_;
  std::vector<Kernel> kernels_;
  std::vector<double> cumulative_;  // normalised cumulative weights
  double total_ = 0;
};

// Optuna's categorical Parzen estimator from per-choice sums of observation weights
// (`observed_weight[c]`), `n_observations` observations and the prior: each observation's
// kernel puts prior_weight/(n+1) on every choice plus 1 on its own, normalised; the prior
// kernel is uniform.
std::vector<double> CategoricalProbs(const std::vector<double>& observed_weight,
                                     int64_t n_observations, double prior_weight);

// Draws an index from unnormalised non-negative weights.
size_t DrawIndex(const std::vector<double>& cumulative, std::mt19937_64& rng);

// The bad-group ("above") estimator of one parameter, maintained incrementally so that an ask
// costs O(1) in the number of trials once there are many.
//
// Each trial that has the parameter gets a slot, in the order the sampler first saw it; a slot's
// index is its age for the ramp weights (RampWeight(slot, n_slots)). Slots are members of the
// bad group or not (SetMember), as the caller's good/bad split says.
//
// Below kAggregateMin members, Prepare() builds UnivariateKernels from the members (exact
// Optuna rule). From there on, the magic clip is range/100 and almost every member's sigma is
// exactly that: those "narrow" members of the ramp zone are kept aggregated on a grid (the
// discrete grid itself, the categorical choices, or kNodes linear-binning nodes for continuous
// domains: relative error of the density below 2e-3), with two sums per cell so that the
// ramp weights, affine in the slot, are applied at ask time. The remaining members (the
// newest kFlatWeights slots, members whose neighbour distance exceeds range/100) and the prior
// are evaluated kernel by kernel.
class AboveIndex {
 public:
  static constexpr int64_t kAggregateMin = 128;
  static constexpr int64_t kNodes = 2048;
  static constexpr int64_t kMaxGridCells = 2048;

  AboveIndex(const Domain& d, bool consider_endpoints);
  AboveIndex(const AboveIndex&) = delete;
  AboveIndex& operator=(const AboveIndex&) = delete;

  int32_t AddSlot(double t);  // t in kernel space; returns the new slot
  void SetMember(int32_t slot, bool member);
  bool member(int32_t slot) const { return slots_[slot].member; }
  // A slot's kernel-space value; ts() and the arrays below are indexed by slot (pointers valid
  // until the next AddSlot).
  double t(int32_t slot) const { return t_[slot]; }
  const double* ts() const { return t_.data(); }
  // Numeric domains, at each slot: -log(TruncationMass(d, t(slot), d.range() / 100)), the log
  // truncation term of the slot's kernel at the magic clip's sigma (see JointHints).
  const double* narrow_log_zinvs() const { return narrow_log_zinv_.data(); }
  // Categorical domains and stepped ones of at most kMaxGridCells points (has_grid_index()), at
  // each slot: d.GridIndex(t(slot)).
  bool has_grid_index() const { return !use_nodes_; }
  const int32_t* grid_indices() const { return cell_.data(); }
  int64_t n_slots() const { return static_cast<int64_t>(slots_.size()); }
  int64_t n_members() const { return n_members_; }

  // Numeric domains: freezes the estimator for this ask; then Pdf() is the normalised density
  // (discrete: probability of t's grid cell). `force_exact` evaluates every kernel (tests).
  void Prepare(double prior_weight, bool force_exact = false);
  double Pdf(double t) const;
  // Categorical domains: probability of each choice (exact).
  std::vector<double> CategoricalProbsOf(double prior_weight);

 private:
  enum class Where : uint8_t { kNone, kCells, kWide };
  using Sorted = std::set<std::pair<double, int32_t>>;
  // A slot's value t, the log truncation term of a narrow kernel there and its cell (grid index,
  // or node below t) live in the dense arrays t_, narrow_log_zinv_ and cell_.
  struct Slot {
    double zinv = 1;  // 1 / truncation mass of a narrow kernel at t
    double frac = 0;  // linear binning share of cell + 1
    bool member = false;
    bool wide = false;
    Where where = Where::kNone;
    int32_t wide_pos = -1;
    Sorted::iterator it;
  };

  bool InRamp(int32_t s) const { return s < ramp_end_; }
  double RawSigma(Sorted::const_iterator it) const;
  void Attach(int32_t s);
  void Detach(int32_t s);
  void Reclassify(Sorted::iterator it);
  void AddToCells(int32_t s, double sign);
  void RebuildCells();
  double BinnedValue(double t) const;
  double BinnedCellMass(double t) const;  // log int: the binned kernels' mass on t's cell

  Domain d_;
  bool consider_endpoints_;
  double s_narrow_;  // range / 100: sigma of every narrow member once n >= 98
  std::vector<Slot> slots_;
  std::vector<double> t_, narrow_log_zinv_;  // by slot
  std::vector<int32_t> cell_;                // by slot
  Sorted sorted_;                            // numeric members
  int64_t n_members_ = 0;
  int32_t ramp_end_ = 0;  // slots below this are in the ramp zone
  int64_t ramp_count_ = 0;
  double ramp_pos_sum_ = 0;
  std::vector<int32_t> wide_;
  std::vector<double> s0_, s1_;  // per cell: sum of share*zinv and of share*zinv*slot
  int64_t cell_updates_ = 0;
  // Node grid (continuous or large discrete): node j at L + j*h.
  bool use_nodes_ = false;
  double h_ = 0;
  std::vector<double> mass_table_;  // discrete grid: narrow kernel mass at offset d

  // Frozen by Prepare().
  bool exact_mode_ = true;
  std::vector<Kernel> exact_;
  std::vector<double> h_cells_;
  double total_weight_ = 1;
};

// Optional inputs of a JointMixture that save it work; given or not, the mixture is the same.
struct JointHints {
  // Each has one entry per dimension.
  // The permutation sorting obs[d] by (value, position) (see NeighbourSigmas); categorical
  // dimensions: ignored, may be empty.
  std::vector<std::vector<int32_t>> orders;
  // Per continuous dimension (not stepped, not log int), -log(TruncationMass(d, obs[d][k],
  // d.range() / 100)) for each observation k (AboveIndex::narrow_log_zinvs()): used for the
  // observations whose bandwidth is the magic clip's; empty elsewhere.
  std::vector<std::vector<double>> narrow_log_zinv;
  // Categorical and stepped dimensions: d.GridIndex(obs[d][k]) for each observation k
  // (AboveIndex::grid_indices()); may be empty.
  std::vector<std::vector<int32_t>> grid;
};

// The log cell masses and log truncation terms of stepped dimensions' kernels, which depend only
// on the domain, the kernel's sigma and a grid offset (or grid point): a sampler keeps one
// between asks so that each is computed once, not at every ask. Memory: about kMaxEntries
// doubles (see Trim). Thread safety: none.
class CellMassCache {
 public:
  static constexpr int64_t kMaxEntries = 1 << 20;
  // Tables exist for grids with 2 size - 1 <= kMaxOffsets points (larger: no memo).
  static constexpr int64_t kMaxOffsets = 1 << 16;
  struct Table {
    // log NormalMass((delta - step/2) / sigma, (delta + step/2) / sigma) at index i, with
    // delta = (i - (size - 1)) * step; NaN until computed.
    std::vector<double> offset;
    // Per grid point: (the kernel's mu, -log(TruncationMass(d, mu, sigma))); mu NaN until
    // computed (a stepped float's kernel is centred on an observed value, which may differ from
    // the grid point in the last bits: the entry serves that mu only).
    std::vector<std::pair<double, double>> log_zinv;
  };
  // The table of a stepped domain (Kind::kDiscrete, 2 size - 1 <= kMaxOffsets) and sigma;
  // references to tables stay valid until Trim().
  Table& Get(const Domain& d, double sigma);
  // Clears the tables if they hold more than kMaxEntries doubles; to be called between asks.
  void Trim();

 private:
  std::map<std::tuple<double, double, int64_t, double>, Table> tables_;  // (lo, step, size, sigma)
  int64_t entries_ = 0;
};

// The candidates of an ask, at which the good and the bad group's JointMixtures are both
// evaluated: what depends only on the candidates and the dimensions is computed once here, not
// once per mixture (the product prior's log density, the grouping of equal values in stepped and
// log int dimensions, the order in which JointMixture::LogPdf visits the candidates). Keep one
// between asks so that its buffers are not reallocated. Thread safety: none.
class JointCandidates {
 public:
  // Makes these the n candidates values[c * dims.size() + d] (snapped values in kernel space;
  // categorical: the choice index) over the dimensions `dims`, which must be those of the
  // mixtures it is given to.
  void Assign(const std::vector<Domain>& dims, const double* values, size_t n);
  size_t size() const { return nc_; }
  size_t n_dims() const { return dims_.size(); }

 private:
  friend class JointMixture;
  // The product prior's log density at each candidate (it is the same in every mixture).
  void PriorLogPdf();

  std::vector<Domain> dims_;
  size_t nc_ = 0;
  std::vector<double> v_;  // as given
  // row_[c * n_dims + d]: in a stepped or log int dimension d, the index of candidate c's value
  // among the distinct values there (first occurrences in candidate order, distinct_[d]); -1 in
  // the other dimensions.
  std::vector<int32_t> row_;
  std::vector<std::vector<double>> distinct_;
  // The candidates sorted by their rows (stable), so that those sharing rows are neighbours.
  std::vector<int32_t> order_;
  // lv_[i * n_dims + d]: the value of candidate order_[i] as LogPdf's kernel reads it
  // (categorical: the choice index of its grid point).
  std::vector<double> lv_;
  std::vector<double> prior_;                        // per candidate
  std::vector<double> memo_;                         // PriorLogPdf's, by grid index
  std::vector<int32_t> bucket_first_, bucket_next_;  // Assign's, see there
};

// Optuna 5's multivariate Parzen estimator: one product kernel per observation, in every numeric
// dimension with that dimension's univariate sigma (UnivariateKernels: neighbour distances and
// the magic clip; optuna 4.x used 0.2 * n^(-1/(dims+4)) * range), plus the product prior.
//
// LogPdf is the cost of a multivariate ask (candidates x observations x dimensions): the
// observations are kept as structure of arrays with their per-kernel constants folded into one
// log term, and its loops are vectorised (simd.h: one variant each for AVX-512, AVX2 and the
// baseline, picked at run time; by-key terms are read with the gather instructions) and run
// block of observations by block, all candidates per block (kLogPdfBlock). In a stepped or log int
// dimension the observations sharing a grid point and a sigma share one log cell mass per candidate
// (the kernel of a stepped float is centred on the first such observation's value).
class JointMixture {
 public:
  struct LogPdfDim {
    enum Kind : int32_t { kCategorical, kGaussian, kByKey };
    Kind kind;
    const double* a = nullptr;     // categorical: choice index (as a double); Gaussian: mu
    const double* b = nullptr;     // Gaussian: 1 / sigma
    const int32_t* key = nullptr;  // by key: key index
    double hit = 0, miss = 0;      // categorical: the kernel's log terms
  };
  // Per (candidate, dimension): the candidate's value (categorical: choice index as a double;
  // Gaussian: the value) and, for a by-key dimension, its row of per-key terms.
  struct LogPdfCand {
    double v;
    const double* term;
  };

  // An empty mixture, to be Fit() before use.
  JointMixture() = default;
  // obs[d][k]: kernel-space value of observation k in dimension d (categorical: the index).
  // `hints` and `cache` (optional) make it cheaper, not different; `cache` must outlive the
  // mixture, which uses it in LogPdf too.
  JointMixture(const std::vector<Domain>& dims, const std::vector<std::vector<double>>& obs,
               const std::vector<double>& weights, double prior_weight,
               bool consider_endpoints = false, const JointHints* hints = nullptr,
               CellMassCache* cache = nullptr);
  // Makes this the mixture the constructor would build from the same arguments, reusing this
  // one's buffers (a sampler keeps its mixtures between asks so that they are not reallocated).
  void Fit(const std::vector<Domain>& dims, const std::vector<std::vector<double>>& obs,
           const std::vector<double>& weights, double prior_weight, bool consider_endpoints,
           const JointHints* hints, CellMassCache* cache);
  // A draw in kernel space, not snapped: into out[0, dims) or as a vector.
  void Sample(std::mt19937_64& rng, double* out) const;
  std::vector<double> Sample(std::mt19937_64& rng) const;
  // Log density of each candidate into *out (resized to cands.size()). `cands` must have been
  // assigned with this mixture's dimensions (checked: their number, kinds and rounding; not
  // their ranges). Not const: it reuses the mixture's work buffers and
  // fills the cell mass cache given to Fit().
  void LogPdf(const JointCandidates& cands, std::vector<double>* out);
  // The same for cands[c][d] (snapped values in kernel space).
  std::vector<double> LogPdf(const std::vector<std::vector<double>>& cands);

 private:
  struct Dim {
    Domain d;
    std::vector<double> mu, sigma;  // numeric: per observation
    std::vector<double> inv_sigma;  // continuous: per observation
    // Categorical kernel.
    double log_hit = 0, log_miss = 0;
    double rowsum = 1;          // normaliser
    std::vector<double> idx_f;  // categorical: choice index per observation, as a double
    // Stepped and log int ("cell") dimensions: observation k's term is the log mass of its
    // key's kernel on the candidate's cell, plus the key's log_c.
    bool cells = false;
    std::vector<int32_t> key;        // per observation
    std::vector<int32_t> key_idx;    // grid index of the key's kernel
    std::vector<int32_t> key_class;  // index of the key's sigma in `sigmas`
    std::vector<double> key_mu, key_sigma;
    std::vector<double> key_log_c;  // log(1 / truncation mass)
    std::vector<double> sigmas;     // the distinct sigmas of the keys

    // Empties the per-observation and per-key vectors (keeping their capacity) and resets the
    // scalars, for the domain d; sigma, inv_sigma and key are left as they are, since Fit
    // resizes and overwrites them wherever the domain uses them (emptied, each refit would
    // zero-fill them first).
    void Reset(const Domain& domain);
  };
  std::vector<Dim> dims_;
  CellMassCache* cache_ = nullptr;
  int64_t n_ = 0;
  // Per observation: the sum over continuous dimensions of log(zinv / (sigma sqrt(2 pi))).
  std::vector<double> log_c_;
  std::vector<double> weight_;  // per observation, normalised
  double weight_prior_ = 0;
  std::vector<Kernel> prior_;       // per numeric dimension
  std::vector<double> cumulative_;  // observations then the prior
  // LogPdf's block of observations (see there): its slice of the per-observation arrays of all
  // dimensions (about 100 bytes per observation on mixed10: 26 KiB) stays in a 48 KiB L1d.
  static constexpr size_t kLogPdfBlock = 256;
  // Work buffers, kept between Fit()s and LogPdf()s: the key index of Fit (first key per grid
  // point, next key of the same point), and LogPdf's per-(candidate, observation) and
  // per-(distinct value, key) terms and per-dimension cell mass tables.
  std::vector<int32_t> key_first_, key_next_;
  std::vector<double> acc_, term_;
  std::vector<size_t> term_base_;
  std::vector<std::vector<double*>> memo_;
  std::vector<LogPdfDim> logpdf_dims_;
  std::vector<LogPdfCand> logpdf_cands_;
  std::vector<double*> acc_rows_;
  std::vector<double> maxes_;  // per candidate (in evaluation order): the maximum of its acc_ row
};

}  // namespace hpo::tpe
