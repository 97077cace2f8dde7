// Tests for hpo/src/samplers/tpe_sampler.cc and tpe_parzen.cc: Optuna's estimator rules on
// hand-computed cases, the incremental bad-group index against a from-scratch evaluation,
// ranges and grids, determinism, the good/bad split (direction, pruned and paused trials),
// constant liar, conditional and categorical parameters, multivariate mode, and that TPE beats
// random search on simple functions. All runs use fixed seeds, so they are deterministic.
#include "../../hpo/src/samplers/tpe_sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/scheduler.h"
#include "hpo/storage.h"
#include "hpo/study.h"

namespace hpo {
namespace {

using tpe::Domain;

Value S(const char* s) { return std::string(s); }

SearchSpace MixedSpace() {
  SearchSpace s;
  s.Add({"f", Distribution::Float(-2.0, 3.0), std::nullopt});
  s.Add({"flog", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  s.Add({"fstep", Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.125), std::nullopt});
  s.Add({"i", Distribution::Int(-3, 7), std::nullopt});
  s.Add({"istep", Distribution::Int(16, 512, /*log=*/false, /*step=*/16), std::nullopt});
  s.Add({"ilog", Distribution::Int(1, 1024, /*log=*/true), std::nullopt});
  s.Add({"c", Distribution::Categorical({S("a"), S("b"), S("c"), S("d")}), std::nullopt});
  s.Add({"fixed", Distribution::Categorical({S("only")}), std::nullopt});
  return s;
}

StudyDefinition Def(Direction direction) {
  StudyDefinition def;
  def.name = "tpe";
  def.direction = direction;
  def.metric = "score";
  return def;
}

std::unique_ptr<Study> NewStudy(SearchSpace space, std::unique_ptr<Sampler> sampler,
                                Direction direction = Direction::kMinimize) {
  SchedulerOptions so;
  so.name = "fifo";
  so.direction = direction;
  return std::make_unique<Study>(Def(direction), std::move(space), MakeInMemoryStorage(),
                                 std::move(sampler), MakeScheduler(so));
}

std::unique_ptr<Sampler> Tpe(TpeOptions options) {
  return std::make_unique<TpeSampler>(std::move(options));
}

// Runs `n` ask/tell rounds; returns every trial's parameters in order.
template <typename F>
std::vector<ParamMap> Optimize(Study& study, int n, F objective) {
  std::vector<ParamMap> out;
  for (int k = 0; k < n; ++k) {
    auto t = study.Ask();
    EXPECT_TRUE(t.has_value());
    out.push_back(t->params());
    study.Tell(*t, objective(t->params()));
  }
  return out;
}

double BestValue(const Study& study) { return *study.BestTrial()->value; }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The k-th of 20 points spread over [0, 1], in an order unrelated to k (observation weights
// depend on age, so positions must not follow trial numbers).
double Spread(int k) { return ((k * 7) % 20 + 0.5) / 20.0; }

FrozenTrial Trial(int64_t number, TrialState state, ParamMap params,
                  std::optional<double> value = std::nullopt) {
  FrozenTrial t;
  t.id = t.number = number;
  t.state = state;
  t.params = std::move(params);
  t.value = value;
  return t;
}

// ---- Estimator rules ------------------------------------------------------------------------

TEST(TpeRulesTest, DefaultGammaAndWeightsAreOptunas) {
  EXPECT_EQ(TpeDefaultGamma(0), 0);
  EXPECT_EQ(TpeDefaultGamma(1), 1);
  EXPECT_EQ(TpeDefaultGamma(10), 1);
  EXPECT_EQ(TpeDefaultGamma(11), 2);
  EXPECT_EQ(TpeDefaultGamma(249), 25);
  EXPECT_EQ(TpeDefaultGamma(100000), 25);
  // The configurable fraction rounds up and caps at 25; at 0.1 it is Optuna's rule exactly.
  const auto optunas = TpeGamma(0.1);
  for (int64_t n = 0; n <= 300; ++n) EXPECT_EQ(optunas(n), TpeDefaultGamma(n)) << n;
  EXPECT_EQ(optunas(100000), TpeDefaultGamma(100000));
  EXPECT_EQ(TpeGamma(0.15)(10), 2);
  EXPECT_EQ(TpeGamma(0.15)(100), 15);
  EXPECT_EQ(TpeGamma(0.15)(167), 25);
  EXPECT_EQ(TpeGamma(0.15)(1000), 25);
  EXPECT_THROW(TpeGamma(0.0), std::invalid_argument);
  EXPECT_THROW(TpeGamma(1.5), std::invalid_argument);

  EXPECT_EQ(tpe::DefaultWeights(25), std::vector<double>(25, 1.0));
  std::vector<double> w = tpe::DefaultWeights(30);  // linspace(1/30, 1, 5) then 25 ones
  ASSERT_EQ(w.size(), 30u);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(w[i], 1.0 / 30 + (1 - 1.0 / 30) * i / 4.0, 1e-15);
  for (int i = 5; i < 30; ++i) EXPECT_EQ(w[i], 1.0);
  EXPECT_NEAR(tpe::DefaultWeights(26)[0], 1.0 / 26, 1e-15);
}

TEST(TpeRulesTest, UnivariateBandwidthsFollowNeighbourRuleAndMagicClip) {
  // Optuna 5's rule: [0, 20], observations 6, 3, 4 (the prior mean 10 takes no part): sorted
  // 3, 4, 6. Raw sigmas: 3 → right gap 1 (outermost), 4 → max(1, 2), 6 → left gap 2
  // (outermost); the magic clip lifts them to 20 / min(100, 3 + 2) = 4.
  Domain d = Domain::Of(Distribution::Float(0.0, 20.0));
  auto k = tpe::UnivariateKernels(d, {6.0, 3.0, 4.0}, {1, 1, 1}, /*prior_weight=*/1.0,
                                  /*consider_endpoints=*/false);
  ASSERT_EQ(k.size(), 4u);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(k[i].sigma, 4.0);
  EXPECT_DOUBLE_EQ(k[3].mu, 10.0);  // the prior
  EXPECT_DOUBLE_EQ(k[3].sigma, 20.0);
  // Wider gaps: 2, 9, 17 → 2: 7 (inner), 9: max(7, 8), 17: 8 (inner); clip 4 leaves them.
  k = tpe::UnivariateKernels(d, {2.0, 9.0, 17.0}, {1, 1, 1}, 1.0, false);
  EXPECT_DOUBLE_EQ(k[0].sigma, 7.0);
  EXPECT_DOUBLE_EQ(k[1].sigma, 8.0);
  EXPECT_DOUBLE_EQ(k[2].sigma, 8.0);
  // With endpoints, 6, 3, 4: 3 uses max(3 - 0, 1) and 6 uses max(2, 20 - 6).
  k = tpe::UnivariateKernels(d, {6.0, 3.0, 4.0}, {1, 1, 1}, 1.0, /*consider_endpoints=*/true);
  EXPECT_DOUBLE_EQ(k[0].sigma, 14.0);
  EXPECT_DOUBLE_EQ(k[1].sigma, 4.0);
  // A single observation uses the larger distance to the range's ends, endpoints or not.
  k = tpe::UnivariateKernels(d, {15.0}, {1}, 1.0, false);
  EXPECT_DOUBLE_EQ(k[0].sigma, 15.0);
}

// Log densities of optuna 5.0.0's _ParzenEstimator (prior_weight 1, magic clip on, endpoints
// off, default_weights) for five observations, per parameter and jointly, computed with:
//   pe = _ParzenEstimator({name: obs}, {name: dist}, params); pe.log_pdf({name: points})
// (the space, observations and points below).
TEST(TpeRulesTest, LogDensitiesMatchOptuna5) {
  // f Float(-2, 3), flog Float(1e-3, 10, log), fstep Float(0, 1, step 0.125), i Int(-3, 7),
  // ilog Int(1, 1024, log), c Categorical(a, b, c, d).
  const std::vector<Distribution> dists = {
      Distribution::Float(-2.0, 3.0),
      Distribution::Float(1e-3, 10.0, true),
      Distribution::Float(0.0, 1.0, false, 0.125),
      Distribution::Int(-3, 7),
      Distribution::Int(1, 1024, true),
      Distribution::Categorical({S("a"), S("b"), S("c"), S("d")})};
  const std::vector<std::vector<double>> obs = {{0.5, -1.5, 2.9, 0.7, 0.1},
                                                {0.01, 5.0, 0.2, 0.0015, 1.0},
                                                {0.25, 0.875, 0.0, 0.5, 0.25},
                                                {7, -3, 0, 1, 2},
                                                {1, 3, 700, 40, 2},
                                                {0, 3, 3, 1, 0}};
  const std::vector<std::vector<double>> pts = {
      {-2.0, 0.55, 2.5}, {0.001, 0.3, 9.0}, {0.0, 0.375, 1.0}, {-3, 1, 5}, {1, 2, 512}, {0, 2, 3}};
  const std::vector<std::vector<double>> expected = {
      {-1.9731245040819747, -1.2821126601152861, -1.9637328417770976},
      {-2.2817831169706286, -2.2278993221109697, -2.244814416886836},
      {-2.0381417391174432, -1.9660410105697088, -2.823227824645063},
      {-2.465379479635195, -2.0574423579671803, -2.760318443807596},
      {-1.5437922218654312, -2.2187215882100126, -8.676865998327477},
      {-1.1239300966523997, -2.079441541679836, -1.1239300966523997}};
  const std::vector<double> joint_expected = {-13.805219062990457, -11.777558679486013,
                                              -20.057213345268845};
  const std::vector<double> w(5, 1.0);
  std::vector<Domain> domains;
  std::vector<std::vector<double>> obs_t(dists.size());
  std::vector<std::vector<double>> joint_pts(3, std::vector<double>(dists.size()));
  for (size_t p = 0; p < dists.size(); ++p) {
    const Domain d = Domain::Of(dists[p]);
    domains.push_back(d);
    for (double v : obs[p]) obs_t[p].push_back(d.ToT(v));
    for (size_t j = 0; j < 3; ++j) joint_pts[j][p] = d.ToT(pts[p][j]);
    // Univariate: one parameter at a time, both through JointMixture and the 1-D estimators.
    std::vector<std::vector<double>> one;
    for (double v : pts[p]) one.push_back({d.ToT(v)});
    const std::vector<double> lp = tpe::JointMixture({d}, {obs_t[p]}, w, 1.0).LogPdf(one);
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(lp[j], expected[p][j], 1e-12) << p << " " << j;
      double direct = 0;
      if (d.numeric()) {
        direct = tpe::Mixture1D(d, tpe::UnivariateKernels(d, obs_t[p], w, 1.0, false))
                     .Pdf(d.ToT(pts[p][j]));
      } else {
        std::vector<double> counts(static_cast<size_t>(d.size), 0.0);
        for (double v : obs[p]) counts[static_cast<size_t>(v)] += 1.0;
        direct = tpe::CategoricalProbs(counts, 5, 1.0)[static_cast<size_t>(pts[p][j])];
      }
      EXPECT_NEAR(std::log(direct), expected[p][j], 1e-12) << p << " " << j;
    }
  }
  const std::vector<double> lp = tpe::JointMixture(domains, obs_t, w, 1.0).LogPdf(joint_pts);
  for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(lp[j], joint_expected[j], 1e-11) << j;
}

TEST(TpeRulesTest, DomainsWorkInLogSpaceAndOnGrids) {
  Domain flog = Domain::Of(Distribution::Float(1e-4, 1.0, true));
  EXPECT_EQ(flog.kind, Domain::Kind::kContinuous);
  EXPECT_NEAR(flog.lo, std::log(1e-4), 1e-12);
  EXPECT_NEAR(flog.ToT(1e-2), std::log(1e-2), 1e-12);
  // Optuna 5's log-int rule: drawn on [log(low - 1/2), log(high + 1/2)] and rounded; a kernel
  // gives the integer x the mass of [log(x - 1/2), log(x + 1/2)].
  Distribution ilog_dist = Distribution::Int(1, 100, true);
  Domain ilog = Domain::Of(ilog_dist);
  EXPECT_NEAR(ilog.lo, std::log(0.5), 1e-12);
  EXPECT_NEAR(ilog.hi, std::log(100.5), 1e-12);
  EXPECT_EQ(ilog.ToInternal(std::log(41.7), ilog_dist), 42.0);
  tpe::Kernel k;
  k.mu = std::log(3.0);
  k.sigma = 0.7;
  k.zinv = 1.0 / tpe::TruncationMass(ilog, k.mu, k.sigma);
  double sum = 0;
  for (int x = 1; x <= 100; ++x) sum += tpe::KernelValue(ilog, k, std::log(x));
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(tpe::KernelValue(ilog, k, std::log(2.0)) / k.zinv,
              tpe::NormalMass((std::log(1.5) - k.mu) / 0.7, (std::log(2.5) - k.mu) / 0.7), 1e-15);
  Distribution istep_dist = Distribution::Int(0, 100, false, 10);
  Domain istep = Domain::Of(istep_dist);
  EXPECT_EQ(istep.kind, Domain::Kind::kDiscrete);
  EXPECT_EQ(istep.size, 11);
  EXPECT_DOUBLE_EQ(istep.L(), -5.0);
  EXPECT_DOUBLE_EQ(istep.R(), 105.0);
  EXPECT_EQ(istep.ToInternal(64.0, istep_dist), 60.0);
  EXPECT_EQ(istep.ToInternal(1000.0, istep_dist), 100.0);
}

TEST(TpeRulesTest, DiscreteKernelGivesTheMassOfTheCell) {
  // A discrete kernel's value at a grid point is its truncated mass on [x - step/2, x + step/2],
  // so the values over the grid sum to one.
  Domain d = Domain::Of(Distribution::Int(0, 10, false, 2));
  tpe::Kernel k;
  k.mu = 4;
  k.sigma = 1.5;
  k.zinv = 1.0 / tpe::TruncationMass(d, k.mu, k.sigma);
  double sum = 0;
  for (int x = 0; x <= 10; x += 2) sum += tpe::KernelValue(d, k, x);
  EXPECT_NEAR(sum, 1.0, 1e-12);
  EXPECT_NEAR(tpe::KernelValue(d, k, 4) / k.zinv, tpe::NormalMass(-1 / 1.5, 1 / 1.5), 1e-15);
}

TEST(TpeRulesTest, CategoricalKernelIsOptunas) {
  // Observations 0, 0, 2 of 3 choices, prior weight 1: each observation row is
  // 1/4 everywhere + 1 on its choice, over 1.75; the prior row is uniform; weights 1,1,1,1.
  std::vector<double> p = tpe::CategoricalProbs({2.0, 0.0, 1.0}, 3, 1.0);
  const double base = 0.25 / 1.75;
  EXPECT_NEAR(p[0], (3 * base + 2 / 1.75 + 1.0 / 3) / 4, 1e-15);
  EXPECT_NEAR(p[1], (3 * base + 1.0 / 3) / 4, 1e-15);
  EXPECT_NEAR(p[2], (3 * base + 1 / 1.75 + 1.0 / 3) / 4, 1e-15);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-15);
}

// ---- The incremental bad-group index --------------------------------------------------------

// The aggregated evaluation (binned narrow kernels) must agree with the kernel-by-kernel one,
// and an index built through churn (members leaving and re-entering) with a fresh one.
class TpeAboveIndexTest : public ::testing::TestWithParam<Distribution> {};

TEST_P(TpeAboveIndexTest, AggregatedMatchesExactAndChurnMatchesFresh) {
  const Distribution dist = GetParam();
  const Domain d = Domain::Of(dist);
  std::mt19937_64 rng(11);
  const int n = 3000;
  std::vector<double> ts;
  for (int i = 0; i < n; ++i) {
    // Clustered values, as TPE produces: half near one point, half uniform.
    const double u = tpe::Uniform01(rng);
    const double where = i % 2 == 0 ? 0.3 + 0.05 * (u - 0.5) : u;
    ts.push_back(d.ToT(d.ToInternal(d.lo + where * (d.hi - d.lo), dist)));
  }
  tpe::AboveIndex churned(d, false), fresh(d, false);
  std::vector<bool> final_member(n);
  for (int i = 0; i < n; ++i) final_member[i] = (i % 7) != 3;
  for (int i = 0; i < n; ++i) {
    churned.AddSlot(ts[i]);
    churned.SetMember(i, true);
    if (i >= 5 && i % 5 == 0) churned.SetMember(i - 5, false);  // leaves ...
    if (i >= 9 && i % 5 == 4) churned.SetMember(i - 9, true);   // ... and comes back
  }
  for (int i = 0; i < n; ++i) churned.SetMember(i, final_member[i]);
  for (int i = 0; i < n; ++i) {
    fresh.AddSlot(ts[i]);
    fresh.SetMember(i, final_member[i]);
  }
  ASSERT_EQ(churned.n_members(), fresh.n_members());
  churned.Prepare(1.0);
  fresh.Prepare(1.0);
  tpe::AboveIndex exact(d, false);
  for (int i = 0; i < n; ++i) {
    exact.AddSlot(ts[i]);
    exact.SetMember(i, final_member[i]);
  }
  exact.Prepare(1.0, /*force_exact=*/true);
  double max_rel = 0, integral = 0;
  for (int k = 0; k <= 400; ++k) {
    double t = d.lo + (d.hi - d.lo) * k / 400.0;
    if (d.kind == Domain::Kind::kDiscrete || d.round_int) t = d.ToT(d.ToInternal(t, dist));
    const double a = churned.Pdf(t), b = fresh.Pdf(t), e = exact.Pdf(t);
    EXPECT_NEAR(a, b, 1e-9 * b) << "t=" << t;
    max_rel = std::max(max_rel, std::abs(b - e) / e);
    integral += e;
  }
  EXPECT_LT(max_rel, 5e-3) << dist.Describe();
  EXPECT_GT(integral, 0);
}

INSTANTIATE_TEST_SUITE_P(
    Domains, TpeAboveIndexTest,
    ::testing::Values(Distribution::Float(-1.0, 4.0), Distribution::Float(1e-5, 1.0, true),
                      Distribution::Int(0, 20), Distribution::Int(0, 900, false, 3),
                      Distribution::Int(0, 100000), Distribution::Int(1, 4096, true)));

TEST(TpeAboveIndexTest, CategoricalCountsAreExactWithRampWeights) {
  Domain d = Domain::Of(Distribution::Categorical({S("a"), S("b"), S("c")}));
  tpe::AboveIndex index(d, false);
  const int n = 200;
  std::vector<double> observed(3, 0.0);
  int members = 0;
  for (int i = 0; i < n; ++i) {
    index.AddSlot(i % 3 == 0 ? 0.0 : (i % 3 == 1 ? 1.0 : 2.0));
    index.SetMember(i, i % 4 != 0);
  }
  for (int i = 0; i < n; ++i)
    if (i % 4 != 0) {
      observed[i % 3] += tpe::RampWeight(i, n);
      ++members;
    }
  std::vector<double> want = tpe::CategoricalProbs(observed, members, 1.0);
  std::vector<double> got = index.CategoricalProbsOf(1.0);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(got[c], want[c], 1e-12);
}

// ---- The sampler ----------------------------------------------------------------------------

TEST(TpeSamplerTest, RegisteredAsTpeAndValidatesOptions) {
  auto s = MakeSampler({"tpe", 3});
  EXPECT_EQ(s->name(), "tpe");
  auto known = KnownSamplers();
  EXPECT_NE(std::find(known.begin(), known.end(), "tpe"), known.end());
  EXPECT_THROW(TpeSampler(TpeOptions().n_ei_candidates(0)), std::invalid_argument);
  EXPECT_THROW(TpeSampler(TpeOptions().prior_weight(0)), std::invalid_argument);
  EXPECT_THROW(TpeSampler(TpeOptions().n_startup_trials(-1)), std::invalid_argument);
}

TEST(TpeSamplerTest, StartupIsRandomSamplingWithTheSameSeed) {
  auto tpe = MakeSampler({"tpe", 5});
  auto random = MakeSampler({"random", 5});
  std::vector<FrozenTrial> trials;
  History h{Direction::kMinimize, &trials};
  SearchSpace space = MixedSpace();
  for (int i = 0; i < 10; ++i) {
    ParamMap a = tpe->Sample(space, h);
    EXPECT_EQ(a, random->Sample(space, h));
    trials.push_back(Trial(i, TrialState::kComplete, a, 1.0 * i));
  }
}

TEST(TpeSamplerTest, ValuesAreInRangeAndOnGridForEveryDistribution) {
  for (bool multivariate : {false, true}) {
    auto study = NewStudy(MixedSpace(), Tpe(TpeOptions().seed(1).multivariate(multivariate)));
    Optimize(*study, 80, [](const ParamMap& p) {
      return std::pow(p.at("f") - 1, 2) + std::abs(std::log10(p.at("flog")) + 3) +
             std::abs(p.at("fstep") - 0.5) + std::abs(p.at("i") - 2) +
             std::abs(p.at("istep") - 128) / 64 + std::abs(std::log2(p.at("ilog")) - 5) +
             (p.at("c") == 2 ? 0 : 1);
    });
    const SearchSpace& space = study->space();
    for (const FrozenTrial& t : study->Trials()) {
      ASSERT_EQ(t.params.size(), space.params().size());
      for (const ParamSpec& spec : space.params())
        EXPECT_TRUE(spec.distribution.Contains(t.params.at(spec.name)))
            << spec.name << "=" << t.params.at(spec.name) << " in trial " << t.number;
    }
  }
}

TEST(TpeSamplerTest, SameSeedSameSuggestionsOtherSeedOthers) {
  auto run = [](uint64_t seed, bool multivariate) {
    auto study = NewStudy(MixedSpace(), Tpe(TpeOptions().seed(seed).multivariate(multivariate)));
    return Optimize(*study, 40, [](const ParamMap& p) {
      return std::pow(p.at("f") - 1, 2) + p.at("i") * 0.1 + (p.at("c") == 1 ? 0 : 1);
    });
  };
  for (bool multivariate : {false, true}) {
    EXPECT_EQ(run(4, multivariate), run(4, multivariate));
    EXPECT_NE(run(4, multivariate), run(5, multivariate));
  }
}

double Quadratic(const ParamMap& p) {
  return std::pow(p.at("x") - 1.3, 2) + std::pow(p.at("y") + 0.7, 2);
}

SearchSpace Square() {
  SearchSpace s;
  s.Add({"x", Distribution::Float(-5.0, 5.0), std::nullopt});
  s.Add({"y", Distribution::Float(-5.0, 5.0), std::nullopt});
  return s;
}

TEST(TpeSamplerTest, BeatsRandomOnAQuadratic) {
  for (bool multivariate : {false, true}) {
    std::vector<double> tpe_best, random_best;
    for (uint64_t seed = 1; seed <= 5; ++seed) {
      auto tpe = NewStudy(Square(), Tpe(TpeOptions().seed(seed).multivariate(multivariate)));
      Optimize(*tpe, 60, Quadratic);
      tpe_best.push_back(BestValue(*tpe));
      auto random = NewStudy(Square(), MakeSampler({"random", seed}));
      Optimize(*random, 60, Quadratic);
      random_best.push_back(BestValue(*random));
    }
    // Random search's median best with 60 points is ~0.2 here; TPE's is far lower.
    EXPECT_LT(Median(tpe_best), Median(random_best) / 3) << "multivariate=" << multivariate;
  }
}

TEST(TpeSamplerTest, RespectsTheDirection) {
  // Maximising -(x - 0.7)^2 must home in on 0.7; minimising it on the ends.
  SearchSpace s;
  s.Add({"x", Distribution::Float(0.0, 1.0), std::nullopt});
  auto f = [](const ParamMap& p) { return -std::pow(p.at("x") - 0.7, 2); };
  auto max_study = NewStudy(s, Tpe(TpeOptions().seed(2)), Direction::kMaximize);
  auto xs = Optimize(*max_study, 60, f);
  std::vector<double> late;
  for (size_t k = 40; k < xs.size(); ++k) late.push_back(xs[k].at("x"));
  EXPECT_NEAR(Median(late), 0.7, 0.05);
  auto min_study = NewStudy(s, Tpe(TpeOptions().seed(2)), Direction::kMinimize);
  xs = Optimize(*min_study, 60, f);
  late.clear();
  for (size_t k = 40; k < xs.size(); ++k) late.push_back(std::abs(xs[k].at("x") - 0.7));
  EXPECT_GT(Median(late), 0.4);
}

TEST(TpeSamplerTest, ConstantLiarSpreadsParallelAsks) {
  // After 30 trials on a 1-D problem with a sharp optimum, 8 asks without any tell: running
  // trials join the bad group, so no two asks may coincide; without the liar they pile up.
  SearchSpace s;
  s.Add({"k", Distribution::Int(0, 40), std::nullopt});
  auto f = [](const ParamMap& p) { return std::abs(p.at("k") - 17); };
  auto distinct = [&](bool liar) {
    auto study = NewStudy(s, Tpe(TpeOptions().seed(3).constant_liar(liar)));
    Optimize(*study, 30, f);
    std::set<double> seen;
    for (int k = 0; k < 8; ++k) seen.insert(study->Ask()->params().at("k"));
    return seen.size();
  };
  EXPECT_EQ(distinct(true), 8u);
  EXPECT_LT(distinct(false), 6u);
}

TEST(TpeSamplerTest, CategoricalConcentratesOnTheBestChoice) {
  SearchSpace s;
  s.Add({"c", Distribution::Categorical({S("a"), S("b"), S("c"), S("d"), S("e")}), std::nullopt});
  s.Add({"x", Distribution::Float(0.0, 1.0), std::nullopt});
  // Share of the best choice among the last 50 of 100 trials; random: 10 of 50. Optuna 5 gets
  // 27-32 (multivariate, its default) and 39-41 (univariate) over seeds 0-7.
  for (bool multivariate : {true, false}) {
    auto study = NewStudy(s, Tpe(TpeOptions().seed(8).multivariate(multivariate)));
    auto params = Optimize(*study, 100, [](const ParamMap& p) {
      return (p.at("c") == 3 ? 0.0 : 1.0) + 0.1 * p.at("x");
    });
    int best = 0;
    for (size_t k = 50; k < params.size(); ++k) best += params[k].at("c") == 3;
    EXPECT_GT(best, multivariate ? 25 : 35) << multivariate;
  }
}

SearchSpace ConditionalSpace() {
  SearchSpace s;
  s.Add({"model", Distribution::Categorical({S("linear"), S("tree")}), std::nullopt});
  s.Add({"alpha", Distribution::Float(1e-4, 1.0, true), Condition{"model", {S("linear")}}});
  s.Add({"depth", Distribution::Int(1, 12), Condition{"model", {S("tree")}}});
  s.Add({"x", Distribution::Float(0.0, 1.0), std::nullopt});
  return s;
}

double ConditionalObjective(const ParamMap& p) {
  if (p.at("model") == 0) return 1.0 + std::abs(std::log10(p.at("alpha")) + 2) + p.at("x");
  return std::abs(p.at("depth") - 9) * 0.1 + std::abs(p.at("x") - 0.25);
}

TEST(TpeSamplerTest, ConditionalParametersAreActiveExactlyWhenTheirParentSaysSo) {
  for (bool multivariate : {false, true}) {
    auto study = NewStudy(ConditionalSpace(), Tpe(TpeOptions().seed(4).multivariate(multivariate)));
    auto params = Optimize(*study, 80, ConditionalObjective);
    int tree = 0;
    for (size_t k = 0; k < params.size(); ++k) {
      const ParamMap& p = params[k];
      const bool linear = p.at("model") == 0;
      EXPECT_EQ(p.count("alpha"), linear ? 1u : 0u);
      EXPECT_EQ(p.count("depth"), linear ? 0u : 1u);
      if (k >= 40) tree += !linear;
    }
    EXPECT_GT(tree, 30) << "multivariate=" << multivariate;
    EXPECT_LT(BestValue(*study), 0.15);
  }
}

TEST(TpeSamplerTest, DefineByRunWithConditionalSuggestions) {
  auto study = NewStudy(SearchSpace{}, Tpe(TpeOptions().seed(6)));
  for (int k = 0; k < 60; ++k) {
    auto t = study->Ask();
    Value kind = t->SuggestCategorical("kind", {S("a"), S("b")});
    double v = 0;
    if (kind == S("a")) {
      v = std::abs(t->SuggestFloat("u", -1.0, 1.0) - 0.4);
    } else {
      v = 1.0 + static_cast<double>(t->SuggestInt("m", 0, 10));
    }
    study->Tell(*t, v);
  }
  for (const FrozenTrial& t : study->Trials()) {
    ASSERT_EQ(t.params.count("kind"), 1u);
    EXPECT_EQ(t.params.count("u") + t.params.count("m"), 1u);
  }
  EXPECT_LT(BestValue(*study), 0.02);
}

TEST(TpeSamplerTest, PrunedTrialsRankByDepthThenValue) {
  // Only pruned and paused trials, spread over [0, 1]. Shallow ones (step 1) report excellent
  // values, best near x = 0.2; deep ones (step 9) worse values, best near x = 0.8. Deeper steps
  // rank first, so the good group, and the suggestions, sit near 0.8.
  std::vector<FrozenTrial> trials;
  for (int i = 0; i < 40; ++i) {
    const bool deep = i % 2 == 0;
    const double x = Spread(i / 2);
    FrozenTrial t = Trial(i, i % 4 == 0 ? TrialState::kPaused : TrialState::kPruned, {{"x", x}});
    if (deep) {
      for (int step = 1; step <= 9; ++step) t.intermediate[step] = std::abs(x - 0.8) + 1.0;
    } else {
      t.intermediate[1] = -100.0 + std::abs(x - 0.2);
    }
    trials.push_back(t);
  }
  // Uniformly spread pruned trials without intermediate values rank last.
  for (int i = 40; i < 60; ++i)
    trials.push_back(Trial(i, TrialState::kPruned, {{"x", (i - 40) / 19.0}}));
  TpeSampler sampler(TpeOptions().seed(1));
  History h{Direction::kMinimize, &trials};
  const Distribution dist = Distribution::Float(0.0, 1.0);
  std::vector<double> xs;
  for (int k = 0; k < 30; ++k) xs.push_back(sampler.SampleOne("x", dist, {}, h));
  EXPECT_NEAR(Median(xs), 0.8, 0.1);
}

TEST(TpeSamplerTest, PausedTrialsCountButNeverJoinTheGoodGroup) {
  // Two complete trials near x = 0.3 and 38 paused ones spread over [0, 1] whose (provisional)
  // step-1 values are excellent near x = 0.9. gamma(40) = 4, but only the two complete trials
  // may be good: a paused trial's value is not final (the scheduler may still promote it). The
  // paused trials count (no startup: 40 >= 10) and sit in the bad group, so suggestions stay
  // near 0.3.
  std::vector<FrozenTrial> trials;
  trials.push_back(Trial(0, TrialState::kComplete, {{"x", 0.29}}, 1.0));
  trials.push_back(Trial(1, TrialState::kComplete, {{"x", 0.31}}, 1.0));
  for (int i = 2; i < 40; ++i) {
    const double x = ((i * 7) % 38 + 0.5) / 38.0;
    FrozenTrial t = Trial(i, TrialState::kPaused, {{"x", x}});
    t.intermediate[1] = -100.0 + std::abs(x - 0.9);
    trials.push_back(t);
  }
  TpeSampler sampler(TpeOptions().seed(3));
  History h{Direction::kMinimize, &trials};
  const Distribution dist = Distribution::Float(0.0, 1.0);
  std::vector<double> xs;
  for (int k = 0; k < 30; ++k) xs.push_back(sampler.SampleOne("x", dist, {}, h));
  EXPECT_NEAR(Median(xs), 0.3, 0.1);
}

TEST(TpeSamplerTest, CompleteTrialsRankAheadOfPrunedOnes) {
  // Complete trials with poor values, best near 0.3; pruned ones with better values, best near
  // 0.9: the good group is taken from the complete trials first.
  std::vector<FrozenTrial> trials;
  for (int i = 0; i < 40; ++i) {
    const double x = Spread(i / 2);
    if (i % 2 == 0) {
      trials.push_back(Trial(i, TrialState::kComplete, {{"x", x}}, 50.0 + std::abs(x - 0.3)));
    } else {
      FrozenTrial t = Trial(i, TrialState::kPruned, {{"x", x}});
      t.intermediate[3] = -5.0 + std::abs(x - 0.9);
      trials.push_back(t);
    }
  }
  TpeSampler sampler(TpeOptions().seed(2));
  History h{Direction::kMinimize, &trials};
  std::vector<double> xs;
  for (int k = 0; k < 30; ++k)
    xs.push_back(sampler.SampleOne("x", Distribution::Float(0.0, 1.0), {}, h));
  EXPECT_NEAR(Median(xs), 0.3, 0.1);
}

TEST(TpeSamplerTest, FailedAndQueuedTrialsAreIgnored) {
  std::vector<FrozenTrial> trials;
  for (int i = 0; i < 30; ++i) trials.push_back(Trial(i, TrialState::kFailed, {{"x", 0.95}}));
  trials.push_back(Trial(30, TrialState::kQueued, {{"x", 0.95}}));
  TpeSampler sampler(TpeOptions().seed(3).n_startup_trials(5));
  auto random = MakeSampler({"random", 3});
  History h{Direction::kMinimize, &trials};
  const Distribution dist = Distribution::Float(0.0, 1.0);
  // No ranked trial yet: still the start-up phase.
  EXPECT_EQ(sampler.SampleOne("x", dist, {}, h), random->SampleOne("x", dist, {}, h));
  for (int i = 0; i < 20; ++i) {
    const double x = Spread(i);
    trials.push_back(Trial(31 + i, TrialState::kComplete, {{"x", x}}, std::abs(x - 0.15)));
  }
  std::vector<double> xs;
  for (int k = 0; k < 20; ++k) xs.push_back(sampler.SampleOne("x", dist, {}, h));
  EXPECT_NEAR(Median(xs), 0.15, 0.1);
}

TEST(TpeSamplerTest, StateChangesOfRunningTrialsAreSeen) {
  // Running trials (lies, in the bad group) that complete with the best values move to the
  // good group: the sampler's incremental index must notice.
  std::vector<FrozenTrial> trials;
  for (int i = 0; i < 20; ++i) {
    const double x = Spread(i);
    trials.push_back(Trial(i, TrialState::kComplete, {{"x", x}}, 10.0 + std::abs(x - 0.2)));
  }
  for (int i = 20; i < 22; ++i) trials.push_back(Trial(i, TrialState::kRunning, {{"x", 0.9}}));
  TpeSampler sampler(TpeOptions().seed(9));
  History h{Direction::kMinimize, &trials};
  const Distribution dist = Distribution::Float(0.0, 1.0);
  std::vector<double> before, after;
  for (int k = 0; k < 20; ++k) before.push_back(sampler.SampleOne("x", dist, {}, h));
  for (int i = 20; i < 22; ++i) {
    trials[i].state = TrialState::kComplete;
    trials[i].value = -1.0;
  }
  for (int k = 0; k < 20; ++k) after.push_back(sampler.SampleOne("x", dist, {}, h));
  EXPECT_LT(Median(before), 0.4);
  EXPECT_NEAR(Median(after), 0.9, 0.1);
}

TEST(TpeSamplerTest, MultivariateLearnsACorrelatedValley) {
  // f = (x - y)^2 + 0.05 (x + y - 1)^2 on [-3, 3]^2 plus two categorical distractors.
  SearchSpace s;
  s.Add({"x", Distribution::Float(-3.0, 3.0), std::nullopt});
  s.Add({"y", Distribution::Float(-3.0, 3.0), std::nullopt});
  s.Add({"n", Distribution::Int(0, 9), std::nullopt});
  s.Add({"c", Distribution::Categorical({S("p"), S("q"), S("r")}), std::nullopt});
  auto f = [](const ParamMap& p) {
    return std::pow(p.at("x") - p.at("y"), 2) + 0.05 * std::pow(p.at("x") + p.at("y") - 1, 2) +
           0.1 * std::abs(p.at("n") - 4) + (p.at("c") == 0 ? 0.0 : 0.5);
  };
  std::vector<double> multi, random;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    auto m = NewStudy(s, Tpe(TpeOptions().seed(seed).multivariate(true)));
    Optimize(*m, 80, f);
    multi.push_back(BestValue(*m));
    auto r = NewStudy(s, MakeSampler({"random", seed}));
    Optimize(*r, 80, f);
    random.push_back(BestValue(*r));
  }
  EXPECT_LT(Median(multi), Median(random) / 2);
}

TEST(TpeSamplerTest, JointMixtureSamplesItsDensity) {
  // A joint mixture's density integrates to one over a continuous x discrete x categorical
  // space, and its samples fall where it puts its mass.
  std::vector<Domain> dims = {Domain::Of(Distribution::Float(0.0, 1.0)),
                              Domain::Of(Distribution::Int(0, 4)),
                              Domain::Of(Distribution::Categorical({S("a"), S("b")}))};
  std::vector<std::vector<double>> obs = {{0.2, 0.25, 0.8}, {1, 1, 3}, {0, 0, 1}};
  tpe::JointMixture mix(dims, obs, {1, 1, 1}, 1.0);
  std::vector<std::vector<double>> grid;
  const int nx = 2000;
  for (int i = 0; i < nx; ++i)
    for (int k = 0; k <= 4; ++k)
      for (int c = 0; c < 2; ++c) grid.push_back({(i + 0.5) / nx, double(k), double(c)});
  std::vector<double> lp = mix.LogPdf(grid);
  auto in_cell = [](const std::vector<double>& t) {
    return t[0] < 0.45 && std::llround(t[1]) == 1 && t[2] == 0;
  };
  double total = 0, cell = 0;
  for (size_t i = 0; i < grid.size(); ++i) {
    total += std::exp(lp[i]) / nx;
    if (in_cell(grid[i])) cell += std::exp(lp[i]) / nx;
  }
  EXPECT_NEAR(total, 1.0, 1e-3);
  std::mt19937_64 rng(1);
  const int n = 4000;
  int hits = 0;
  for (int i = 0; i < n; ++i) hits += in_cell(mix.Sample(rng));
  // Within 5 binomial standard deviations of the density's mass on that cell.
  EXPECT_NEAR(hits, n * cell, 5 * std::sqrt(n * cell * (1 - cell)));
  EXPECT_GT(cell, 0.1);
}

TEST(TpeSamplerTest, JointMixtureBandwidthAndWeightsMatchTheRuleAtScale) {
  // Many observations in one continuous dimension: the joint mixture is the univariate mixture
  // (neighbour-distance sigmas with the magic clip), default_weights and the prior.
  const Domain d = Domain::Of(Distribution::Float(-1.0, 2.0));
  std::mt19937_64 rng(3);
  const int n = 3000;
  std::vector<double> mus;
  for (int i = 0; i < n; ++i) mus.push_back(-1.0 + 3.0 * std::pow(tpe::Uniform01(rng), 3));
  const std::vector<double> w = tpe::DefaultWeights(n);
  tpe::JointMixture joint({d}, {mus}, w, 1.0);
  std::vector<tpe::Kernel> kernels = tpe::UnivariateKernels(d, mus, w, 1.0, false);
  ASSERT_EQ(kernels.back().mu, 0.5);  // the prior
  ASSERT_EQ(kernels.back().sigma, 3.0);
  tpe::Mixture1D reference(d, kernels);
  std::vector<std::vector<double>> points;
  for (int k = 0; k <= 60; ++k) points.push_back({-1.0 + 3.0 * k / 60.0});
  std::vector<double> lp = joint.LogPdf(points);
  for (size_t k = 0; k < points.size(); ++k)
    EXPECT_NEAR(lp[k], std::log(reference.Pdf(points[k][0])), 1e-12) << points[k][0];
}

TEST(TpeSamplerTest, KeptJointOrdersEqualAFreshSort) {
  // The multivariate sampler keeps its bad group's sorted orders between asks instead of
  // sorting again. Running trials join and leave the bad group (liars that complete, fail or
  // move to the good group), so the kept orders see rows come and go. A second sampler with the
  // same seed gets a copy of the history in a new vector at every ask, which makes it rebuild
  // everything from scratch (the random stream is not reset): both must propose the same points.
  SearchSpace s = MixedSpace();
  std::vector<FrozenTrial> trials;
  std::vector<FrozenTrial> copies[2];
  std::mt19937_64 rng(5);
  TpeSampler kept(TpeOptions().seed(11)), rebuilt(TpeOptions().seed(11));
  for (int round = 0; round < 80; ++round) {
    ParamMap a = kept.Sample(s, History{Direction::kMinimize, &trials});
    std::vector<FrozenTrial>& copy = copies[round % 2];
    copy = trials;
    ParamMap b = rebuilt.Sample(s, History{Direction::kMinimize, &copy});
    ASSERT_EQ(a, b) << "round " << round;
    trials.push_back(Trial(std::ssize(trials), TrialState::kRunning, a));
    // Settle some running trials (a few with very good values, so the good group churns).
    for (FrozenTrial& t : trials) {
      if (t.state != TrialState::kRunning || tpe::Uniform01(rng) < 0.3) continue;
      const double u = tpe::Uniform01(rng);
      if (u < 0.1) {
        t.state = TrialState::kFailed;
      } else {
        t.state = TrialState::kComplete;
        t.value = u < 0.2 ? -10.0 * u : std::abs(t.params.at("f") - 0.5) + 0.01 * t.params.at("i");
      }
    }
  }
}

TEST(TpeSamplerTest, JointBadGroupIsSampledPastTheCap) {
  // max_joint_kernels bounds the bad group's joint estimator; below the cap nothing changes,
  // past it the sampler still proposes valid points, deterministically, that beat random search.
  auto run = [](uint64_t seed, int64_t cap, int n) {
    auto study = NewStudy(Square(), Tpe(TpeOptions().seed(seed).max_joint_kernels(cap)));
    auto params = Optimize(*study, n, Quadratic);
    return std::make_pair(params, BestValue(*study));
  };
  // 60 trials: fewer rows than a cap of 64, so a cap of 64 and no cap propose the same points.
  EXPECT_EQ(run(3, 64, 60).first, run(3, 0, 60).first);
  // 150 trials with a cap of 16: same seed, same points; in range; better than random.
  const auto capped = run(3, 16, 150);
  EXPECT_EQ(capped.first, run(3, 16, 150).first);
  EXPECT_NE(capped.first, run(3, 0, 150).first);
  for (const ParamMap& p : capped.first) {
    EXPECT_GE(p.at("x"), -5.0);
    EXPECT_LE(p.at("x"), 5.0);
  }
  std::vector<double> tpe_best, random_best;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    tpe_best.push_back(run(seed, 16, 150).second);
    auto random = NewStudy(Square(), MakeSampler({"random", seed}));
    Optimize(*random, 150, Quadratic);
    random_best.push_back(BestValue(*random));
  }
  EXPECT_LT(Median(tpe_best), Median(random_best) / 3);
  EXPECT_THROW(TpeSampler(TpeOptions().max_joint_kernels(-1)), std::invalid_argument);
}

}  // namespace
}  // namespace hpo
