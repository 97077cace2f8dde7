// Synthetic learning curves for the scheduler simulator (bench/asha_sim.cc), mirrored line for
// line in bench/asha_sim_optuna.py so that Optuna's pruners see exactly the same curves. Change
// both or neither; `bench_asha_sim --check` and `asha_sim_optuna.py --check` print the same
// numbers (bench/run_schedulers.sh compares them).
//
// Search space (4-D):
//   lr        float in [1e-4, 1e-1], log           u = log10(lr)
//   width     int in [16, 1024], log               w = log2(width)
//   dropout   float in [0, 0.6]                    d
//   optimizer categorical {sgd, adam, rmsprop}     o = 0, 1, 2
//
// The metric is a validation error, minimised. With u*_o = (-1.5, -3.0, -3.3)[o] (best log10 lr
// per optimizer), offset_o = (0, 0, 0.004)[o], d*(w) = 0.05 (w - 3) (best dropout grows with the
// width), the asymptotic error is
//   excess(x) = 0.012 (u - u*_o)^2 + 0.001 (w - 9)^2 + 0.03 (d - d*(w))^2
//   final(x)  = 0.10 + offset_o + excess(x)
// and the learning rate (per epoch) is
//   k(x) = K_o * 2^(0.5 tanh(u - u*_o)) * (1 - 0.3 d) * 2^(-0.05 (w - 6)) * exp(-excess(x) / 0.05)
// with K_o = (1.4, 3.0, 3.0)[o]. The noise-free error after t >= 0 epochs starts at
// start = 0.90 (chance on ten classes) and follows the optimizer's curve family:
//   sgd (exponential saturation):  v(x, t) = final + (start - final) * exp(-k t)
//   adam, rmsprop (power law):     v(x, t) = final + (start - final) * (1 + t)^(-k)
// Curves cross: a larger lr than u*_o learns faster (up to 1.4x) but ends worse; dropout
// and width slow learning but (up to their optima) lower the final error; the exponential family
// (sgd) starts slowly and ends at the same best error as adam. So slow starters end best, and a
// rung at 1 or 3 epochs misranks some of the best configurations (as real curves do).
//
// The reported value at epoch t is v(x, t) + 0.003 z, z ~ N(0, 1) drawn from a hash of
// (seed, x, t): a trial resumed after a pause sees exactly the values it would have seen
// without one, and the same configuration sees the same noise in C++ and Python.
//   h = SplitMix64(seed); h = SplitMix64(h ^ bits(lr)); h = SplitMix64(h ^ width);
//   h = SplitMix64(h ^ bits(dropout)); h = SplitMix64(h ^ o); h = SplitMix64(h ^ t);
//   u1 = ((h >> 11) + 1) * 2^-53 in (0, 1];  h2 = SplitMix64(h);  u2 = (h2 >> 11) * 2^-53
//   z = sqrt(-2 ln u1) cos(2 pi u2)                                 (Box-Muller)
// bits(x) is the IEEE-754 bit pattern of the double; SplitMix64 is Vigna's finaliser with the
// golden-ratio increment (below).
//
// One epoch takes (6 + 54 width / 1024) * (1.0, 1.15, 1.1)[o] simulated seconds (wide networks
// are slow; the best configurations, near width 512, cost about five times the narrowest).
//
// The best final value of the family at a budget of R epochs, f*(R) = min over the space of
// v(x, R) (noise-free), is found by a zooming grid over (u, d) for every optimizer and every
// integer width (BestFinal); "within 1%" means v(x, R) <= 1.01 f*(R).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numbers>
#include <string>

namespace asha_sim {

inline constexpr double kStartError = 0.90;
inline constexpr double kBaseError = 0.10;
inline constexpr double kNoiseSigma = 0.003;
inline constexpr double kBestLog10Lr[3] = {-1.5, -3.0, -3.3};
inline constexpr double kOffset[3] = {0.0, 0.0, 0.004};
inline constexpr double kRate[3] = {1.4, 3.0, 3.0};
inline constexpr double kSecondsFactor[3] = {1.0, 1.15, 1.1};
inline constexpr const char* kOptimizers[3] = {"sgd", "adam", "rmsprop"};

// One configuration (external values).
struct Config {
  double lr = 1e-3;
  int64_t width = 64;
  double dropout = 0.0;
  int optimizer = 0;  // index into kOptimizers
};

inline uint64_t SplitMix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline uint64_t Bits(double x) {
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// Asymptotic error and per-epoch rate of a configuration (see the header comment).
struct CurveParams {
  double final_error;
  double rate;
  bool exponential;
};

inline CurveParams Params(double u, double w, double d, int o) {
  double du = u - kBestLog10Lr[o];
  double dw = w - 9.0;
  double dd = d - 0.05 * (w - 3.0);
  double excess = 0.012 * du * du + 0.001 * dw * dw + 0.03 * dd * dd;
  double final_error = kBaseError + kOffset[o] + excess;
  double rate = kRate[o] * std::pow(2.0, 0.5 * std::tanh(du)) * (1.0 - 0.3 * d) *
                std::pow(2.0, -0.05 * (w - 6.0)) * std::exp(-excess / 0.05);
  return {final_error, rate, o == 0};
}

inline double CurveAt(const CurveParams& p, double t) {
  double decay = p.exponential ? std::exp(-p.rate * t) : std::pow(1.0 + t, -p.rate);
  return p.final_error + (kStartError - p.final_error) * decay;
}

// Noise-free error after `epoch` epochs.
inline double TrueValue(const Config& c, int64_t epoch) {
  return CurveAt(
      Params(std::log10(c.lr), std::log2(static_cast<double>(c.width)), c.dropout, c.optimizer),
      static_cast<double>(epoch));
}

// Standard normal draw keyed by (seed, configuration, epoch).
inline double Noise(uint64_t seed, const Config& c, int64_t epoch) {
  uint64_t h = SplitMix64(seed);
  h = SplitMix64(h ^ Bits(c.lr));
  h = SplitMix64(h ^ static_cast<uint64_t>(c.width));
  h = SplitMix64(h ^ Bits(c.dropout));
  h = SplitMix64(h ^ static_cast<uint64_t>(c.optimizer));
  h = SplitMix64(h ^ static_cast<uint64_t>(epoch));
  double u1 = static_cast<double>((h >> 11) + 1) * 0x1.0p-53;
  double u2 = static_cast<double>(SplitMix64(h) >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// The value a trial reports after `epoch` epochs.
inline double Observe(uint64_t seed, const Config& c, int64_t epoch) {
  return TrueValue(c, epoch) + kNoiseSigma * Noise(seed, c, epoch);
}

// Simulated seconds of one epoch.
inline double EpochSeconds(const Config& c) {
  return (6.0 + 54.0 * static_cast<double>(c.width) / 1024.0) * kSecondsFactor[c.optimizer];
}

// f*(R): the smallest noise-free error after `max_epochs` epochs over the whole space. For every
// optimizer and integer width: a 61 x 31 grid over (u, d), then four zooms by 5x around the best
// point (the grid error is far below the 1% band).
inline double BestFinal(int64_t max_epochs, Config* argmin = nullptr) {
  double best = std::numeric_limits<double>::infinity();
  const double t = static_cast<double>(max_epochs);
  for (int o = 0; o < 3; ++o) {
    for (int64_t width = 16; width <= 1024; ++width) {
      double w = std::log2(static_cast<double>(width));
      double u_lo = -4.0, u_hi = -1.0, d_lo = 0.0, d_hi = 0.6;
      double bu = 0, bd = 0, bv = std::numeric_limits<double>::infinity();
      for (int zoom = 0; zoom < 5; ++zoom) {
        const int nu = 61, nd = 31;
        for (int i = 0; i < nu; ++i) {
          double u = u_lo + (u_hi - u_lo) * i / (nu - 1);
          for (int j = 0; j < nd; ++j) {
            double d = d_lo + (d_hi - d_lo) * j / (nd - 1);
            double v = CurveAt(Params(u, w, d, o), t);
            if (v < bv) bv = v, bu = u, bd = d;
          }
        }
        double su = (u_hi - u_lo) / 10, sd = (d_hi - d_lo) / 10;
        u_lo = std::max(-4.0, bu - su), u_hi = std::min(-1.0, bu + su);
        d_lo = std::max(0.0, bd - sd), d_hi = std::min(0.6, bd + sd);
      }
      if (bv < best) {
        best = bv;
        if (argmin != nullptr) *argmin = Config{std::pow(10.0, bu), width, bd, o};
      }
    }
  }
  return best;
}

}  // namespace asha_sim
