// Tests for hpo/src/samplers/random_sampler.cc (through MakeSampler): ranges, grids,
// determinism, and the shape of the distributions (log-uniform, uniform over grid points).
//
// The statistical checks use fixed seeds, so they are deterministic; their thresholds are the
// critical values at significance 1e-5, so a correct sampler fails them with any seed only
// with negligible probability, while a wrong shape (e.g. linear instead of log) misses by orders
// of magnitude.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/sampler.h"

namespace hpo {
namespace {

// Chi-square critical values at significance 1e-5, by degrees of freedom.
constexpr double kChi2Crit3 = 25.90;
constexpr double kChi2Crit4 = 28.47;
constexpr double kChi2Crit5 = 30.86;
constexpr double kChi2Crit9 = 39.34;
// Kolmogorov-Smirnov: D * sqrt(n) exceeds this with probability 1e-5 under the null.
constexpr double kKsCrit = 2.47;

std::unique_ptr<Sampler> Random(uint64_t seed) {
  return MakeSampler(SamplerOptions{/*name=*/"random", /*seed=*/seed});
}

std::vector<double> Draw(Sampler& sampler, const Distribution& d, int n) {
  std::vector<double> out;
  std::vector<FrozenTrial> none;
  History history{Direction::kMinimize, &none};
  out.reserve(n);
  for (int i = 0; i < n; ++i) out.push_back(sampler.SampleOne("x", d, {}, history));
  return out;
}

double ChiSquare(const std::vector<int>& counts, const std::vector<double>& probs) {
  double n = 0;
  for (int c : counts) n += c;
  double chi2 = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double e = n * probs[i];
    chi2 += (counts[i] - e) * (counts[i] - e) / e;
  }
  return chi2;
}

// Expects each count within 5 binomial standard deviations of n * p.
void ExpectCountsNear(const std::vector<int>& counts, const std::vector<double>& probs) {
  double n = 0;
  for (int c : counts) n += c;
  for (size_t i = 0; i < counts.size(); ++i) {
    double mean = n * probs[i];
    double sd = std::sqrt(n * probs[i] * (1 - probs[i]));
    EXPECT_NEAR(counts[i], mean, 5 * sd) << "bin " << i;
  }
}

// Kolmogorov-Smirnov statistic of `u` against Uniform(0, 1).
double KsUniform(std::vector<double> u) {
  std::sort(u.begin(), u.end());
  double n = static_cast<double>(u.size()), d = 0;
  for (size_t i = 0; i < u.size(); ++i) {
    d = std::max(d, (i + 1) / n - u[i]);
    d = std::max(d, u[i] - i / n);
  }
  return d;
}

// ---- ranges and grids -----------------------------------------------------------------------

TEST(RandomSamplerTest, NameAndRegistry) {
  EXPECT_EQ(Random(0)->name(), "random");
  std::vector<std::string> known = KnownSamplers();
  EXPECT_NE(std::find(known.begin(), known.end(), "random"), known.end());
  try {
    MakeSampler(SamplerOptions{/*name=*/"bayes-magic", /*seed=*/0});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("unknown sampler 'bayes-magic'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("known: "), std::string::npos) << msg;
    EXPECT_NE(msg.find("random"), std::string::npos) << msg;
  }
}

TEST(RandomSamplerTest, ValuesStayInRangeAndOnGrid) {
  auto sampler = Random(1);
  const std::vector<Distribution> dists = {
      Distribution::Float(-3.0, 2.0),
      Distribution::Float(1e-5, 1e-1, /*log=*/true),
      Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.1),
      Distribution::Float(0.5, 2.0, /*log=*/false, /*step=*/0.5),
      Distribution::Int(-4, 4),
      Distribution::Int(0, 10, /*log=*/false, /*step=*/3),
      Distribution::Int(1, 1000, /*log=*/true),
      Distribution::Int(1, 3, /*log=*/true),
      Distribution::Categorical({std::string("a"), std::string("b"), std::string("c")}),
      Distribution::Categorical({int64_t{42}}),
  };
  for (const Distribution& d : dists) {
    std::vector<double> xs = Draw(*sampler, d, 3000);
    double lo = xs[0], hi = xs[0];
    std::set<double> distinct;
    for (double x : xs) {
      ASSERT_TRUE(d.Contains(x)) << d.Describe() << " produced " << x;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
      distinct.insert(x);
    }
    if (d.is_finite()) {
      // 3000 draws visit every point of these small grids (the largest has 10 points, the log
      // int[1, 1000] is checked by its extremes below).
      if (d.cardinality() <= 11) {
        EXPECT_EQ(distinct.size(), d.cardinality()) << d.Describe();
      }
    } else {
      EXPECT_EQ(distinct.size(), xs.size()) << d.Describe();  // continuous: no repeats
    }
    // The draws spread over the whole range.
    double span = d.log() ? std::log(d.high() / d.low()) : d.high() - d.low();
    double covered = d.log() ? std::log(hi / lo) : hi - lo;
    EXPECT_GE(covered, 0.9 * span) << d.Describe();
  }
}

TEST(RandomSamplerTest, SameSeedSameSequence) {
  SearchSpace space;
  space.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  space.Add({"units", Distribution::Int(16, 512, /*log=*/false, /*step=*/16), std::nullopt});
  space.Add(
      {"act", Distribution::Categorical({std::string("relu"), std::string("tanh")}), std::nullopt});
  std::vector<FrozenTrial> none;
  History history{Direction::kMaximize, &none};

  auto a = Random(42), b = Random(42), c = Random(43);
  std::vector<ParamMap> seq_a, seq_b, seq_c;
  for (int i = 0; i < 50; ++i) {
    seq_a.push_back(a->Sample(space, history));
    seq_b.push_back(b->Sample(space, history));
    seq_c.push_back(c->Sample(space, history));
  }
  EXPECT_EQ(seq_a, seq_b);
  EXPECT_NE(seq_a, seq_c);
  int same_lr = 0;
  for (int i = 0; i < 50; ++i) same_lr += seq_a[i].at("lr") == seq_c[i].at("lr");
  EXPECT_EQ(same_lr, 0);
}

// ---- distribution shape ---------------------------------------------------------------------

// 20,000 draws of float[1e-5, 1e-1] log: each decade holds 1/4 of the mass.
TEST(RandomSamplerTest, LogFloatIsLogUniform) {
  constexpr int kN = 20000;
  auto sampler = Random(7);
  Distribution d = Distribution::Float(1e-5, 1e-1, /*log=*/true);
  std::vector<double> xs = Draw(*sampler, d, kN);

  std::vector<int> decades(4, 0);
  std::vector<double> u;  // position in log space, Uniform(0, 1) under the null
  for (double x : xs) {
    double l = std::log10(x);  // in [-5, -1]
    decades[std::min(3, static_cast<int>(std::floor(l + 5)))]++;
    u.push_back((l + 5) / 4);
  }
  // Binomial: mean 5000, sd sqrt(20000 * 0.25 * 0.75) = 61.2, so each bin within 5000 ± 306.
  ExpectCountsNear(decades, {0.25, 0.25, 0.25, 0.25});
  EXPECT_LT(ChiSquare(decades, {0.25, 0.25, 0.25, 0.25}), kChi2Crit3);
  EXPECT_LT(KsUniform(u) * std::sqrt(kN), kKsCrit);
}

// The same range on a linear scale puts ~90% of draws in the top decade [1e-2, 1e-1]: the
// checks above would fail by orders of magnitude (so they do test the log scale).
TEST(RandomSamplerTest, LinearFloatIsNotLogUniform) {
  constexpr int kN = 20000;
  auto sampler = Random(7);
  Distribution d = Distribution::Float(1e-5, 1e-1);
  std::vector<double> xs = Draw(*sampler, d, kN);

  std::vector<int> decades(4, 0);
  std::vector<double> u, lin;
  for (double x : xs) {
    double l = std::log10(x);
    decades[std::max(0, std::min(3, static_cast<int>(std::floor(l + 5))))]++;
    u.push_back((l + 5) / 4);
    lin.push_back((x - 1e-5) / (1e-1 - 1e-5));
  }
  // P(decade [10^k, 10^(k+1)]) = 0.9 * 10^(k+1) / (0.1 - 1e-5): 0.0009, 0.009, 0.09, 0.9
  // (expected counts 18, 180, 1800, 18002).
  std::vector<double> linear_probs;
  for (double top : {1e-4, 1e-3, 1e-2, 1e-1}) linear_probs.push_back(0.9 * top / (1e-1 - 1e-5));
  ExpectCountsNear(decades, linear_probs);
  EXPECT_GT(ChiSquare(decades, {0.25, 0.25, 0.25, 0.25}), 100 * kChi2Crit3);
  EXPECT_GT(KsUniform(u) * std::sqrt(kN), 10 * kKsCrit);
  // ...and it is uniform on the linear scale.
  EXPECT_LT(KsUniform(lin) * std::sqrt(kN), kKsCrit);
}

// int[1, 10] log: integer k owns the log-space cell [k - 0.5, k + 0.5], so
// P(k) = ln((k + 0.5) / (k - 0.5)) / ln(10.5 / 0.5); e.g. P(1) = ln 3 / ln 21 = 0.3608,
// P(10) = ln(10.5 / 9.5) / ln 21 = 0.0329.
TEST(RandomSamplerTest, LogIntMatchesLogCellMass) {
  constexpr int kN = 20000;
  auto sampler = Random(11);
  Distribution d = Distribution::Int(1, 10, /*log=*/true);
  std::vector<int> counts(10, 0);
  for (double x : Draw(*sampler, d, kN)) counts[static_cast<int>(x) - 1]++;

  std::vector<double> probs;
  double total = std::log(10.5 / 0.5);
  for (int k = 1; k <= 10; ++k) probs.push_back(std::log((k + 0.5) / (k - 0.5)) / total);
  EXPECT_NEAR(probs[0], 0.3608, 1e-4);
  EXPECT_NEAR(probs[9], 0.0329, 1e-4);
  ExpectCountsNear(counts, probs);
  EXPECT_LT(ChiSquare(counts, probs), kChi2Crit9);
  // Monotone: smaller integers are more likely.
  for (int k = 1; k < 10; ++k) EXPECT_GT(counts[k - 1], counts[k]) << "k=" << k;
}

TEST(RandomSamplerTest, SteppedGridPointsEquallyLikely) {
  constexpr int kN = 20000;
  auto sampler = Random(3);

  // float[0, 1] step 0.25: five points, 1/5 each (the end points included).
  Distribution f = Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25);
  std::vector<int> fc(5, 0);
  for (double x : Draw(*sampler, f, kN)) fc[static_cast<int>(std::lround(x / 0.25))]++;
  ExpectCountsNear(fc, std::vector<double>(5, 0.2));
  EXPECT_LT(ChiSquare(fc, std::vector<double>(5, 0.2)), kChi2Crit4);

  // int[0, 10] step 2: six points 0, 2, ..., 10.
  Distribution i = Distribution::Int(0, 10, /*log=*/false, /*step=*/2);
  std::vector<int> ic(6, 0);
  for (double x : Draw(*sampler, i, kN)) ic[static_cast<int>(x) / 2]++;
  ExpectCountsNear(ic, std::vector<double>(6, 1.0 / 6));
  EXPECT_LT(ChiSquare(ic, std::vector<double>(6, 1.0 / 6)), kChi2Crit5);

  // Categorical with four choices.
  Distribution c = Distribution::Categorical({int64_t{1}, int64_t{2}, int64_t{4}, int64_t{8}});
  std::vector<int> cc(4, 0);
  for (double x : Draw(*sampler, c, kN)) cc[static_cast<int>(x)]++;
  ExpectCountsNear(cc, std::vector<double>(4, 0.25));
  EXPECT_LT(ChiSquare(cc, std::vector<double>(4, 0.25)), kChi2Crit3);
}

// ---- conditional spaces ---------------------------------------------------------------------

TEST(RandomSamplerTest, InactiveConditionalParamsAreAbsent) {
  SearchSpace space;
  space.Add({"optimizer", Distribution::Categorical({std::string("sgd"), std::string("adam")}),
             std::nullopt});
  space.Add(
      {"momentum", Distribution::Float(0.0, 0.99), Condition{"optimizer", {std::string("sgd")}}});
  space.Add({"nesterov", Distribution::Categorical({true, false}),
             Condition{"momentum", {0.0}}});  // never active: momentum 0.0 has measure zero
  space.Add(
      {"beta1", Distribution::Float(0.8, 0.99), Condition{"optimizer", {std::string("adam")}}});
  std::vector<FrozenTrial> none;
  History history{Direction::kMinimize, &none};

  auto sampler = Random(5);
  int sgd = 0, adam = 0;
  for (int i = 0; i < 1000; ++i) {
    ParamMap p = sampler->Sample(space, history);
    ASSERT_EQ(p.count("optimizer"), 1u);
    EXPECT_EQ(p.count("nesterov"), 0u);
    if (p.at("optimizer") == 0.0) {
      ++sgd;
      EXPECT_EQ(p.size(), 2u);
      ASSERT_EQ(p.count("momentum"), 1u);
      EXPECT_TRUE(space.Find("momentum")->distribution.Contains(p.at("momentum")));
    } else {
      ++adam;
      EXPECT_EQ(p.size(), 2u);
      ASSERT_EQ(p.count("beta1"), 1u);
      EXPECT_TRUE(space.Find("beta1")->distribution.Contains(p.at("beta1")));
    }
  }
  // Binomial(1000, 0.5): sd 15.8.
  EXPECT_NEAR(sgd, 500, 80);
  EXPECT_EQ(sgd + adam, 1000);
}

}  // namespace
}  // namespace hpo
