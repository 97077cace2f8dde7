// Tests for hpo/src/samplers/sobol_sampler.cc (through MakeSampler and Study): the unscrambled
// sequence's known first points and its stratification (net property), the same properties
// after seeded scrambling, the mapping onto each kind of distribution, conditional parameters,
// continuing the sequence, and dimensions past the table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "hpo/sampler.h"
#include "hpo/study.h"

namespace hpo {
namespace {

std::unique_ptr<Sampler> Sobol(uint64_t seed, bool scramble) {
  SamplerOptions o;
  o.name = "sobol";
  o.seed = seed;
  o.scramble = scramble;
  return MakeSampler(o);
}

// `dims` floats u0, u1, ... in [0, 1]: internal values are the sequence's coordinates.
SearchSpace UnitCube(int dims) {
  SearchSpace s;
  for (int d = 0; d < dims; ++d)
    s.Add({"u" + std::to_string(d), Distribution::Float(0.0, 1.0), std::nullopt});
  return s;
}

std::vector<std::vector<double>> Points(Sampler& sampler, int dims, int n) {
  SearchSpace space = UnitCube(dims);
  std::vector<FrozenTrial> none;
  std::vector<std::vector<double>> out;
  for (int i = 0; i < n; ++i) {
    ParamMap p = sampler.Sample(space, History{Direction::kMinimize, &none});
    std::vector<double> row;
    for (int d = 0; d < dims; ++d) row.push_back(p.at("u" + std::to_string(d)));
    out.push_back(row);
  }
  return out;
}

// Whether the points fall one into each box [i/2^a, (i+1)/2^a) x [j/2^b, (j+1)/2^b) of
// dimensions d0, d1, for every a + b = k (n = 2^k points).
::testing::AssertionResult Stratified2D(const std::vector<std::vector<double>>& pts, size_t d0,
                                        size_t d1, int k) {
  for (int a = 0; a <= k; ++a) {
    int b = k - a;
    std::set<std::pair<int64_t, int64_t>> boxes;
    for (const auto& p : pts) {
      if (p[d0] < 0 || p[d0] >= 1 || p[d1] < 0 || p[d1] >= 1)
        return ::testing::AssertionFailure() << "point outside [0, 1)";
      boxes.emplace(static_cast<int64_t>(std::ldexp(p[d0], a)),
                    static_cast<int64_t>(std::ldexp(p[d1], b)));
    }
    if (boxes.size() != pts.size())
      return ::testing::AssertionFailure()
             << "dims " << d0 << "," << d1 << ": " << pts.size() << " points fill only "
             << boxes.size() << " boxes of 2^" << a << " x 2^" << b;
  }
  return ::testing::AssertionSuccess();
}

// Whether the points fall one into each interval [i/n, (i+1)/n) of dimension d.
::testing::AssertionResult Stratified1D(const std::vector<std::vector<double>>& pts, size_t d) {
  std::set<int64_t> cells;
  for (const auto& p : pts)
    cells.insert(static_cast<int64_t>(p[d] * static_cast<double>(pts.size())));
  if (cells.size() == pts.size()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "dim " << d << ": " << pts.size() << " points fill " << cells.size() << " intervals";
}

TEST(SobolSamplerTest, Registered) {
  auto names = KnownSamplers();
  EXPECT_NE(std::find(names.begin(), names.end(), "sobol"), names.end());
  EXPECT_EQ(Sobol(0, true)->name(), "sobol");
}

TEST(SobolSamplerTest, UnscrambledStartsWithTheKnownPoints) {
  // The first points of the Joe-Kuo Sobol sequence in Gray-code order (as scipy's
  // qmc.Sobol(d=3, scramble=False) lists them).
  auto sampler = Sobol(0, false);
  std::vector<std::vector<double>> pts = Points(*sampler, 3, 8);
  std::vector<std::vector<double>> expected = {{0, 0, 0},
                                               {0.5, 0.5, 0.5},
                                               {0.75, 0.25, 0.25},
                                               {0.25, 0.75, 0.75},
                                               {0.375, 0.375, 0.625},
                                               {0.875, 0.875, 0.125},
                                               {0.625, 0.125, 0.875},
                                               {0.125, 0.625, 0.375}};
  EXPECT_EQ(pts, expected);
}

TEST(SobolSamplerTest, UnscrambledIsStratified) {
  auto sampler = Sobol(0, false);
  std::vector<std::vector<double>> pts = Points(*sampler, 40, 1024);
  for (int k = 1; k <= 10; ++k) {
    std::vector<std::vector<double>> first(pts.begin(), pts.begin() + (1 << k));
    EXPECT_TRUE(Stratified2D(first, 0, 1, k)) << "k = " << k;
    for (size_t d = 0; d < 40; ++d) EXPECT_TRUE(Stratified1D(first, d)) << "k = " << k;
  }
  // Every later block of 2^k points is stratified as well.
  std::vector<std::vector<double>> block(pts.begin() + 512, pts.begin() + 768);
  EXPECT_TRUE(Stratified2D(block, 0, 1, 8));
}

TEST(SobolSamplerTest, ScrambledIsStratifiedAndDeterministicBySeed) {
  auto a = Sobol(42, true), b = Sobol(42, true), c = Sobol(43, true);
  std::vector<std::vector<double>> pa = Points(*a, 40, 256), pb = Points(*b, 40, 256),
                                   pc = Points(*c, 40, 256);
  EXPECT_EQ(pa, pb);
  EXPECT_NE(pa, pc);
  EXPECT_NE(pa, Points(*Sobol(42, false), 40, 256));
  EXPECT_NE(pa[0], std::vector<double>(40, 0.0));  // the origin is scrambled away
  for (const auto* pts : {&pa, &pc}) {
    EXPECT_TRUE(Stratified2D(*pts, 0, 1, 8));
    for (size_t d = 0; d < 40; ++d) EXPECT_TRUE(Stratified1D(*pts, d)) << d;
  }
  // The scrambled sequence has full 32-bit resolution: no coordinate is on the 1/256 lattice
  // of the unscrambled points (a pure coincidence otherwise, probability ~ 40*256/2^24).
  int on_lattice = 0;
  for (const auto& p : pa)
    for (double x : p) on_lattice += std::ldexp(x, 8) == std::floor(std::ldexp(x, 8));
  EXPECT_LT(on_lattice, 3);
}

TEST(SobolSamplerTest, MapsCoordinatesOntoEachDistribution) {
  SearchSpace space;
  space.Add({"cat",
             Distribution::Categorical(
                 {std::string("a"), std::string("b"), std::string("c"), std::string("d")}),
             std::nullopt});
  space.Add({"int", Distribution::Int(1, 8), std::nullopt});
  space.Add({"step", Distribution::Float(0.0, 1.0, /*log=*/false, /*step=*/0.25), std::nullopt});
  space.Add({"log", Distribution::Float(1e-4, 1.0, /*log=*/true), std::nullopt});
  space.Add({"logint", Distribution::Int(1, 1000, /*log=*/true), std::nullopt});
  space.Add({"lin", Distribution::Float(-2.0, 3.0), std::nullopt});
  for (bool scramble : {false, true}) {
    auto sampler = Sobol(7, scramble);
    std::vector<FrozenTrial> none;
    std::map<std::string, std::map<double, int>> counts;
    std::vector<double> logs, logints;
    const int n = 1024;
    for (int i = 0; i < n; ++i) {
      ParamMap p = sampler->Sample(space, History{Direction::kMinimize, &none});
      ASSERT_EQ(p.size(), 6u);
      for (const auto& [name, x] : p) {
        EXPECT_TRUE(space.Find(name)->distribution.Contains(x)) << name << " = " << x;
        ++counts[name][x];
      }
      logs.push_back(std::log10(p.at("log")));
      logints.push_back(p.at("logint"));
    }
    // Stratification makes the finite parameters exactly (or within one) balanced.
    EXPECT_EQ(counts["cat"].size(), 4u);
    for (const auto& [x, c] : counts["cat"]) EXPECT_EQ(c, n / 4) << x;
    EXPECT_EQ(counts["int"].size(), 8u);
    for (const auto& [x, c] : counts["int"]) EXPECT_EQ(c, n / 8) << x;
    EXPECT_EQ(counts["step"].size(), 5u);
    for (const auto& [x, c] : counts["step"]) EXPECT_NEAR(c, n / 5.0, 1.5) << x;
    // Log scale: a quarter of the points in each decade of 1e-4..1.
    for (int decade = -4; decade < 0; ++decade) {
      auto in = std::count_if(logs.begin(), logs.end(),
                              [&](double l) { return l >= decade && l < decade + 1; });
      EXPECT_NEAR(static_cast<double>(in), n / 4.0, 2.0) << "decade " << decade;
    }
    std::sort(logints.begin(), logints.end());
    EXPECT_NEAR(logints[n / 2], std::sqrt(0.5 * 1000.5), 4.0);  // median ~ geometric mean
    EXPECT_NEAR(counts["lin"].begin()->first, -2.0, 0.01);
  }
}

TEST(SobolSamplerTest, ConditionalParametersKeepTheirDimension) {
  SearchSpace space;
  space.Add({"model", Distribution::Categorical({std::string("linear"), std::string("mlp")}),
             std::nullopt});
  space.Add({"width", Distribution::Float(0.0, 1.0), Condition{"model", {std::string("mlp")}}});
  space.Add({"lr", Distribution::Float(0.0, 1.0), std::nullopt});
  auto sampler = Sobol(0, false);
  auto cube = Sobol(0, false);
  std::vector<FrozenTrial> none;
  History h{Direction::kMinimize, &none};
  std::vector<std::vector<double>> reference = Points(*cube, 3, 64);
  for (int i = 0; i < 64; ++i) {
    ParamMap p = sampler->Sample(space, h);
    const bool mlp = p.at("model") == 1.0;
    EXPECT_EQ(mlp, reference[i][0] >= 0.5);
    EXPECT_EQ(p.count("width"), mlp ? 1u : 0u);
    if (mlp) EXPECT_EQ(p.at("width"), reference[i][1]);
    EXPECT_EQ(p.at("lr"), reference[i][2]);  // dimension 2 even when width is inactive
  }
}

TEST(SobolSamplerTest, ContinuesFromTheHistorySize) {
  auto fresh = Sobol(3, true);
  std::vector<std::vector<double>> pts = Points(*fresh, 2, 6);
  std::vector<FrozenTrial> four(4);
  auto resumed = Sobol(3, true);
  SearchSpace space = UnitCube(2);
  ParamMap p = resumed->Sample(space, History{Direction::kMinimize, &four});
  EXPECT_EQ(p.at("u0"), pts[4][0]);
  EXPECT_EQ(p.at("u1"), pts[4][1]);
  // The same history again does not repeat the point.
  p = resumed->Sample(space, History{Direction::kMinimize, &four});
  EXPECT_EQ(p.at("u0"), pts[5][0]);
}

TEST(SobolSamplerTest, DimensionsPastTheTableAreRandom) {
  auto sampler = Sobol(5, false);
  std::vector<std::vector<double>> pts = Points(*sampler, 45, 64);
  for (int k = 1; k <= 6; ++k) {
    std::vector<std::vector<double>> first(pts.begin(), pts.begin() + (1 << k));
    EXPECT_TRUE(Stratified1D(first, 39));
  }
  std::set<double> extra;
  for (const auto& p : pts) {
    for (size_t d = 40; d < 45; ++d) {
      EXPECT_GE(p[d], 0.0);
      EXPECT_LE(p[d], 1.0);
      extra.insert(p[d]);
    }
  }
  EXPECT_EQ(extra.size(), 64u * 5);
  // Define-by-run parameters are random too.
  Distribution d = Distribution::Int(0, 100);
  std::vector<FrozenTrial> none;
  std::set<double> drawn;
  for (int i = 0; i < 30; ++i) {
    double x = sampler->SampleOne("k", d, {}, History{Direction::kMinimize, &none});
    EXPECT_TRUE(d.Contains(x));
    drawn.insert(x);
  }
  EXPECT_GT(drawn.size(), 10u);
}

TEST(SobolSamplerTest, DrivesAStudy) {
  StudyDefinition def;
  def.name = "sobol";
  SchedulerOptions fifo;
  fifo.name = "fifo";
  StudyOptions options;
  options.n_trials = 16;
  Study study(def, UnitCube(2), MakeInMemoryStorage(), Sobol(0, false), MakeScheduler(fifo),
              options);
  std::vector<std::vector<double>> pts;
  while (std::optional<Trial> t = study.Ask()) {
    pts.push_back({t->params().at("u0"), t->params().at("u1")});
    study.Tell(*t, pts.back()[0]);
  }
  ASSERT_EQ(pts.size(), 16u);
  EXPECT_TRUE(Stratified2D(pts, 0, 1, 4));
  EXPECT_EQ(study.definition().sampler, "sobol");
}

}  // namespace
}  // namespace hpo
