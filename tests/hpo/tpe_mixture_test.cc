// Tests for hpo/src/samplers/tpe_parzen.cc's JointMixture shortcuts: a mixture built with the
// hints the sampler passes (bandwidth orders, the bad-group index's truncation logs and grid
// indices) and a CellMassCache kept between asks, refitted as the sampler refits its mixtures,
// must give the same log-densities as the plain construction (no hints, a fresh cache), on a
// mixed space, from 0 to 1,000 observations; and LogPdf's instruction-set variants agree to
// rounding.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../../hpo/src/samplers/simd.h"
#include "../../hpo/src/samplers/tpe_parzen.h"
#include "hpo/space.h"

namespace hpo {
namespace {

using tpe::Domain;

Value S(const char* s) { return std::string(s); }

// The mixed space: every kind of kernel dimension (continuous linear and log, stepped float and
// int, log int, categorical).
std::vector<Distribution> MixedSpace() {
  return {Distribution::Float(1e-4, 1.0, true),
          Distribution::Float(-2.0, 3.0),
          Distribution::Float(-1.0, 2.0, false, 0.1),
          Distribution::Int(0, 100, false, 5),
          Distribution::Int(1, 1024, true),
          Distribution::Categorical({S("a"), S("b"), S("c"), S("d"), S("e")})};
}

// n observations (internal values, snapped): a third of them within 1% of the range's ends, where
// the kernels' truncation terms are not negligible.
std::vector<std::vector<double>> Observations(const std::vector<Distribution>& dists, int64_t n,
                                              std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::vector<double>> obs(dists.size());
  for (size_t p = 0; p < dists.size(); ++p) {
    const Distribution& dist = dists[p];
    const Domain d = Domain::Of(dist);
    for (int64_t k = 0; k < n; ++k) {
      double f = u(rng);
      if (k % 3 == 0) f = f < 0.5 ? 0.01 * f : 1.0 - 0.01 * (f - 0.5);
      double t = 0;
      if (!d.numeric()) {
        t = std::floor(f * static_cast<double>(d.size));
      } else {
        t = d.L() + f * (d.R() - d.L());
      }
      obs[p].push_back(dist.Snap(d.numeric() ? d.ToInternal(t, dist) : t));
    }
  }
  return obs;
}

// Observations in kernel space (Domain::ToT of the numeric ones).
std::vector<std::vector<double>> ToKernelSpace(const std::vector<Domain>& domains,
                                               const std::vector<std::vector<double>>& obs) {
  std::vector<std::vector<double>> obs_t(obs.size());
  for (size_t p = 0; p < obs.size(); ++p)
    for (double v : obs[p]) obs_t[p].push_back(domains[p].numeric() ? domains[p].ToT(v) : v);
  return obs_t;
}

// Candidates as the sampler makes them (n draws from `mix` snapped to valid values), plus every
// range's ends.
std::vector<std::vector<double>> Candidates(const tpe::JointMixture& mix,
                                            const std::vector<Distribution>& dists,
                                            const std::vector<Domain>& domains, int n,
                                            std::mt19937_64& rng) {
  std::vector<std::vector<double>> cands;
  for (int c = 0; c < n; ++c) {
    std::vector<double> t = mix.Sample(rng);
    for (size_t p = 0; p < dists.size(); ++p)
      if (domains[p].numeric()) t[p] = domains[p].ToT(domains[p].ToInternal(t[p], dists[p]));
    cands.push_back(std::move(t));
  }
  for (bool high : {false, true}) {
    std::vector<double> t;
    for (size_t p = 0; p < dists.size(); ++p) {
      const double v = dists[p].Snap(high ? 1e9 : -1e9);
      t.push_back(domains[p].numeric() ? domains[p].ToT(v) : v);
    }
    cands.push_back(std::move(t));
  }
  return cands;
}

// The permutation sorting v by (value, position).
std::vector<int32_t> Order(const std::vector<double>& v) {
  std::vector<int32_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return v[a] < v[b]; });
  return order;
}

// The hints as the sampler builds them: orders, and the bad-group index's per-slot truncation logs
// (continuous dimensions) and grid indices (categorical and stepped ones).
tpe::JointHints Hints(const std::vector<Domain>& domains,
                      const std::vector<std::vector<double>>& obs_t) {
  tpe::JointHints hints;
  for (size_t p = 0; p < domains.size(); ++p) {
    const Domain& d = domains[p];
    tpe::AboveIndex index(d, false);
    std::vector<int32_t> slots;
    for (double t : obs_t[p]) slots.push_back(index.AddSlot(t));
    hints.orders.push_back(d.numeric() ? Order(obs_t[p]) : std::vector<int32_t>{});
    hints.narrow_log_zinv.emplace_back();
    hints.grid.emplace_back();
    if (index.has_grid_index()) {
      for (int32_t s : slots) hints.grid.back().push_back(index.grid_indices()[s]);
    } else if (d.kind == Domain::Kind::kContinuous && !d.round_int) {
      for (int32_t s : slots) hints.narrow_log_zinv.back().push_back(index.narrow_log_zinvs()[s]);
    }
  }
  return hints;
}

TEST(TpeJointMixtureTest, HintsAndKeptCacheGiveThePlainLogDensities) {
  const std::vector<Distribution> dists = MixedSpace();
  std::vector<Domain> domains;
  for (const Distribution& dist : dists) domains.push_back(Domain::Of(dist));
  std::mt19937_64 rng(7);
  tpe::CellMassCache kept;  // as the sampler's: shared by every fit below
  // As the sampler's, refitted at every step; first on another space (the dimensions reversed).
  tpe::JointMixture hinted;
  {
    const std::vector<Domain> reversed(domains.rbegin(), domains.rend());
    std::vector<std::vector<double>> obs(domains.size(), std::vector<double>(1000, 0.0));
    hinted.Fit(reversed, obs, tpe::DefaultWeights(1000), 1.0, false, nullptr, &kept);
  }
  // Growing, then shrinking: a refit must leave nothing of the previous one.
  for (int64_t n : {0, 1, 50, 1000, 50, 1, 0}) {
    SCOPED_TRACE("observations: " + std::to_string(n));
    const std::vector<std::vector<double>> obs_t =
        ToKernelSpace(domains, Observations(dists, n, rng));
    const std::vector<double> w = tpe::DefaultWeights(n);
    const tpe::JointHints hints = Hints(domains, obs_t);
    tpe::JointMixture plain(domains, obs_t, w, 1.0);
    kept.Trim();
    hinted.Fit(domains, obs_t, w, 1.0, false, &hints, &kept);

    const std::vector<std::vector<double>> cands = Candidates(plain, dists, domains, 200, rng);

    const std::vector<double> want = plain.LogPdf(cands);
    // Twice: the second evaluation reads the cell masses the first left in the cache.
    for (int round = 0; round < 2; ++round) {
      const std::vector<double> got = hinted.LogPdf(cands);
      ASSERT_EQ(got.size(), want.size());
      for (size_t c = 0; c < cands.size(); ++c) {
        ASSERT_TRUE(std::isfinite(want[c])) << c;
        EXPECT_NEAR(got[c], want[c], 1e-12 * std::abs(want[c])) << "candidate " << c;
      }
    }
  }
}

// LogPdf's hand-dispatched kernels (simd::Isa: baseline, AVX2, AVX-512) give the same
// log-densities up to rounding: every variant this machine has against the baseline, with
// observation counts around the vector widths. (Measured: a few values in a thousand differ, by
// one unit in the last place; a wrong lane, tail or gather would be off by far more.)
TEST(TpeJointMixtureTest, EveryInstructionSetGivesTheSameLogDensities) {
  const simd::Isa best = simd::ActiveIsa();
  if (best == simd::Isa::kBaseline)
    GTEST_SKIP() << "only the baseline variant runs here (no AVX2, or an unoptimised build)";
  struct Restore {
    ~Restore() { simd::LimitIsa(simd::Isa::kAvx512); }
  } restore;
  const std::vector<Distribution> dists = MixedSpace();
  std::vector<Domain> domains;
  for (const Distribution& dist : dists) domains.push_back(Domain::Of(dist));
  std::mt19937_64 rng(11);
  for (int64_t n : {1, 3, 4, 5, 8, 9, 17, 50, 1000}) {
    SCOPED_TRACE("observations: " + std::to_string(n));
    const std::vector<std::vector<double>> obs_t =
        ToKernelSpace(domains, Observations(dists, n, rng));
    tpe::JointMixture mix(domains, obs_t, tpe::DefaultWeights(n), 1.0);
    const std::vector<std::vector<double>> cands = Candidates(mix, dists, domains, 61, rng);
    simd::LimitIsa(simd::Isa::kBaseline);
    ASSERT_EQ(simd::ActiveIsa(), simd::Isa::kBaseline);
    const std::vector<double> want = mix.LogPdf(cands);
    for (simd::Isa isa : {simd::Isa::kAvx2, simd::Isa::kAvx512}) {
      if (isa > best) continue;
      simd::LimitIsa(isa);
      ASSERT_EQ(simd::ActiveIsa(), isa);
      const std::vector<double> got = mix.LogPdf(cands);
      ASSERT_EQ(got.size(), want.size());
      for (size_t c = 0; c < cands.size(); ++c)
        EXPECT_NEAR(got[c], want[c], 1e-14 * std::abs(want[c]))
            << "candidate " << c << ", isa " << static_cast<int>(isa);
    }
  }
}

}  // namespace
}  // namespace hpo
