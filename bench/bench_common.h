// Shared pieces of the benchmark programs: the search spaces and objective functions (mirrored
// one-for-one in bench/bench_common.py, which the Optuna peers use), timing statistics and the
// JSON-lines output that bench/compare_*.py merge into tables.
//
// Every benchmark prints one JSON object per line on stdout; progress goes to stderr.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <numbers>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hpo/scheduler.h"
#include "hpo/space.h"
#include "hpo/storage.h"
#include "hpo/study.h"

namespace hpo_bench {

// ---- Timing -------------------------------------------------------------------------------

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Quantile by linear interpolation (numpy's default), q in [0, 1]. `v` must not be empty. An
// infinite value (e.g. "not reached") sorts last and is returned as soon as the interpolation
// touches it.
inline double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  if (std::isinf(v[lo])) return v[lo];
  if (std::isinf(v[hi])) return pos > static_cast<double>(lo) ? v[hi] : v[lo];
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

// ---- JSON lines ---------------------------------------------------------------------------

// Builds one flat JSON object; Print() writes it as a line on stdout and flushes.
class JsonLine {
 public:
  JsonLine& Add(const std::string& key, const std::string& value) {
    std::string escaped;
    for (char c : value) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    return Raw(key, "\"" + escaped + "\"");
  }
  JsonLine& Add(const std::string& key, const char* value) { return Add(key, std::string(value)); }
  JsonLine& Add(const std::string& key, double value) {
    if (!std::isfinite(value)) return Raw(key, "null");
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.10g", value);
    return Raw(key, buf);
  }
  JsonLine& Add(const std::string& key, int64_t value) { return Raw(key, std::to_string(value)); }
  JsonLine& Add(const std::string& key, int value) { return Raw(key, std::to_string(value)); }
  void Print() const {
    std::printf("{%s}\n", body_.c_str());
    std::fflush(stdout);
  }

 private:
  JsonLine& Raw(const std::string& key, const std::string& value) {
    if (!body_.empty()) body_ += ", ";
    body_ += "\"" + key + "\": " + value;
    return *this;
  }
  std::string body_;
};

// ---- Command line -------------------------------------------------------------------------

// "--key value" pairs; Get() with a default, GetList() for comma-separated integers.
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string key = argv[i];
      if (key.rfind("--", 0) != 0) throw std::invalid_argument("expected --key, got " + key);
      bool has_value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0;
      values_.insert_or_assign(key.substr(2), std::string(has_value ? argv[++i] : "1"));
    }
  }
  std::string Get(const std::string& key, const std::string& def) const {
    auto it = values_.find(key);
    return it == values_.end() ? def : it->second;
  }
  int64_t GetInt(const std::string& key, int64_t def) const {
    auto it = values_.find(key);
    return it == values_.end() ? def : std::stoll(it->second);
  }
  double GetDouble(const std::string& key, double def) const {
    auto it = values_.find(key);
    return it == values_.end() ? def : std::stod(it->second);
  }

  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  std::vector<std::string> GetList(const std::string& key, const std::string& def) const {
    std::vector<std::string> out;
    std::stringstream ss(Get(key, def));
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) out.push_back(item);
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

// ---- Spaces and objectives ----------------------------------------------------------------

// A benchmark problem: a search space and an objective (minimised) over external values.
struct Problem {
  std::string name;
  hpo::SearchSpace space;
  // Objective on the trial's external values (name → value).
  double (*objective)(const std::map<std::string, hpo::Value>& x) = nullptr;
  double optimum = 0;  // known global minimum
};

inline double Num(const std::map<std::string, hpo::Value>& x, const std::string& name) {
  return hpo::ValueToDouble(x.at(name));
}
inline const std::string& Str(const std::map<std::string, hpo::Value>& x, const std::string& name) {
  return std::get<std::string>(x.at(name));
}

inline hpo::SearchSpace Box(const std::string& prefix, int dims, double low, double high) {
  hpo::SearchSpace space;
  for (int i = 0; i < dims; ++i)
    space.Add({prefix + std::to_string(i), hpo::Distribution::Float(low, high), std::nullopt});
  return space;
}

// x0, x1, ... of a Box("x", dims, ...) space as a vector (dims <= 10).
inline std::vector<double> Vec(const std::map<std::string, hpo::Value>& x, int dims) {
  static const char* const kNames[] = {"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9"};
  std::vector<double> v(dims);
  for (int i = 0; i < dims; ++i) v[i] = Num(x, kNames[i]);
  return v;
}

inline double Branin(const std::map<std::string, hpo::Value>& x) {
  constexpr double kPi = std::numbers::pi;
  double x1 = Num(x, "x0"), x2 = Num(x, "x1");
  double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  double u = x2 - b * x1 * x1 + c * x1 - 6;
  return u * u + 10 * (1 - t) * std::cos(x1) + 10;
}

inline double Hartmann6(const std::map<std::string, hpo::Value>& x) {
  static const double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                  {0.05, 10, 17, 0.1, 8, 14},
                                  {3, 3.5, 1.7, 10, 17, 8},
                                  {17, 8, 0.05, 10, 0.1, 14}};
  static const double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                  {2329, 4135, 8307, 3736, 1004, 9991},
                                  {2348, 1451, 3522, 2883, 3047, 6650},
                                  {4047, 8828, 8732, 5743, 1091, 381}};
  std::vector<double> v = Vec(x, 6);
  double f = 0;
  for (int i = 0; i < 4; ++i) {
    double s = 0;
    for (int j = 0; j < 6; ++j) s += kA[i][j] * (v[j] - 1e-4 * kP[i][j]) * (v[j] - 1e-4 * kP[i][j]);
    f -= kAlpha[i] * std::exp(-s);
  }
  return f;
}

inline double Rosenbrock4(const std::map<std::string, hpo::Value>& x) {
  std::vector<double> v = Vec(x, 4);
  double f = 0;
  for (int i = 0; i + 1 < 4; ++i)
    f += 100 * (v[i + 1] - v[i] * v[i]) * (v[i + 1] - v[i] * v[i]) + (1 - v[i]) * (1 - v[i]);
  return f;
}

inline double Ackley5(const std::map<std::string, hpo::Value>& x) {
  constexpr double kPi = std::numbers::pi;
  std::vector<double> v = Vec(x, 5);
  double sq = 0, cs = 0;
  for (double xi : v) {
    sq += xi * xi;
    cs += std::cos(2 * kPi * xi);
  }
  return -20 * std::exp(-0.2 * std::sqrt(sq / 5)) - std::exp(cs / 5) + 20 + std::numbers::e;
}

inline double StyblinskiTang8(const std::map<std::string, hpo::Value>& x) {
  std::vector<double> v = Vec(x, 8);
  double f = 0;
  for (double xi : v) f += xi * xi * xi * xi - 16 * xi * xi + 5 * xi;
  return 0.5 * f;
}

// Mixed-6: three integers (one stepped), two categoricals with an offset table and one
// log-scaled float. Minimum 0 at k1 = 3, k2 = -6, k3 = 24, c1 = "c", c2 = "y", lr = 0.01.
inline double Mixed6(const std::map<std::string, hpo::Value>& x) {
  static const std::map<std::string, double> kC1 = {
      {"a", 3.0}, {"b", 1.5}, {"c", 0.0}, {"d", 2.0}, {"e", 4.0}};
  static const std::map<std::string, double> kC2 = {{"x", 1.0}, {"y", 0.0}, {"z", 2.5}};
  double k1 = Num(x, "k1"), k2 = Num(x, "k2"), k3 = Num(x, "k3");
  double l = std::log10(Num(x, "lr")) + 2;
  return (k1 - 3) * (k1 - 3) + 0.5 * (k2 + 6) * (k2 + 6) + ((k3 - 24) / 4) * ((k3 - 24) / 4) +
         kC1.at(Str(x, "c1")) + kC2.at(Str(x, "c2")) + l * l;
}

inline hpo::SearchSpace Mixed6Space() {
  using hpo::Distribution;
  using hpo::Value;
  hpo::SearchSpace s;
  s.Add({"k1", Distribution::Int(-10, 10), std::nullopt});
  s.Add({"k2", Distribution::Int(-10, 10), std::nullopt});
  s.Add({"k3", Distribution::Int(0, 40, /*log=*/false, /*step=*/4), std::nullopt});
  s.Add({"c1",
         Distribution::Categorical({Value(std::string("a")), Value(std::string("b")),
                                    Value(std::string("c")), Value(std::string("d")),
                                    Value(std::string("e"))}),
         std::nullopt});
  s.Add({"c2",
         Distribution::Categorical(
             {Value(std::string("x")), Value(std::string("y")), Value(std::string("z"))}),
         std::nullopt});
  s.Add({"lr", Distribution::Float(1e-5, 1.0, /*log=*/true), std::nullopt});
  return s;
}

// The quality problems, by name (bench/bench_common.py defines the same ones).
inline std::vector<Problem> QualityProblems() {
  return {
      {"branin",
       [] {
         hpo::SearchSpace s;
         s.Add({"x0", hpo::Distribution::Float(-5, 10), std::nullopt});
         s.Add({"x1", hpo::Distribution::Float(0, 15), std::nullopt});
         return s;
       }(),
       Branin, 0.397887357729739},
      {"hartmann6", Box("x", 6, 0, 1), Hartmann6, -3.32236801141551},
      {"rosenbrock4", Box("x", 4, -5, 10), Rosenbrock4, 0},
      {"ackley5", Box("x", 5, -32.768, 32.768), Ackley5, 0},
      {"styblinski_tang8", Box("x", 8, -5, 5), StyblinskiTang8, -39.16616570377142 * 8},
      {"mixed6", Mixed6Space(), Mixed6, 0},
  };
}

// The 10-parameter mixed space of the latency benchmarks: 4 floats (lr and wd log-scaled),
// 3 ints (units stepped by 16), 3 categoricals; and a cheap synthetic objective over it.
inline hpo::SearchSpace Mixed10Space() {
  using hpo::Distribution;
  using hpo::Value;
  auto cat = [](std::vector<std::string> names) {
    std::vector<Value> v;
    for (auto& n : names) v.emplace_back(n);
    return Distribution::Categorical(v);
  };
  hpo::SearchSpace s;
  s.Add({"lr", Distribution::Float(1e-5, 1e-1, /*log=*/true), std::nullopt});
  s.Add({"wd", Distribution::Float(1e-6, 1e-2, /*log=*/true), std::nullopt});
  s.Add({"dropout", Distribution::Float(0.0, 0.5), std::nullopt});
  s.Add({"momentum", Distribution::Float(0.5, 0.99), std::nullopt});
  s.Add({"layers", Distribution::Int(1, 8), std::nullopt});
  s.Add({"units", Distribution::Int(16, 1024, /*log=*/false, /*step=*/16), std::nullopt});
  s.Add({"epochs", Distribution::Int(1, 100), std::nullopt});
  s.Add({"optimizer", cat({"adam", "sgd", "rmsprop", "adagrad"}), std::nullopt});
  s.Add({"activation", cat({"relu", "tanh", "gelu"}), std::nullopt});
  s.Add({"norm", cat({"none", "batch", "layer"}), std::nullopt});
  return s;
}

inline double Mixed10(const std::map<std::string, hpo::Value>& x) {
  static const std::map<std::string, double> kOpt = {
      {"adam", 0.0}, {"sgd", 0.3}, {"rmsprop", 0.2}, {"adagrad", 0.5}};
  static const std::map<std::string, double> kAct = {{"relu", 0.1}, {"tanh", 0.3}, {"gelu", 0.0}};
  static const std::map<std::string, double> kNorm = {
      {"none", 0.4}, {"batch", 0.0}, {"layer", 0.1}};
  auto sq = [](double v) { return v * v; };
  return sq(std::log10(Num(x, "lr")) + 3) + 0.25 * sq(std::log10(Num(x, "wd")) + 4) +
         sq(Num(x, "dropout") - 0.2) + sq(Num(x, "momentum") - 0.9) +
         sq(Num(x, "layers") - 4) / 16 + sq((Num(x, "units") - 256) / 512) +
         sq((Num(x, "epochs") - 50) / 50) + kOpt.at(Str(x, "optimizer")) +
         kAct.at(Str(x, "activation")) + kNorm.at(Str(x, "norm"));
}

// Every problem by name: the quality problems and "mixed10". Throws on an unknown name.
inline Problem FindProblem(const std::string& name) {
  std::vector<Problem> all = QualityProblems();
  all.push_back({"mixed10", Mixed10Space(), Mixed10, 0});
  std::string known;
  for (Problem& p : all) {
    if (p.name == name) return p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  throw std::invalid_argument("unknown problem '" + name + "' (known: " + known + ")");
}

// A uniformly random point of `space` in external values (for pre-filling studies).
inline std::map<std::string, hpo::Value> RandomPoint(const hpo::SearchSpace& space,
                                                     std::mt19937_64& rng) {
  std::map<std::string, hpo::Value> out;
  std::uniform_real_distribution<double> u(0.0, 1.0);
  for (const hpo::ParamSpec& spec : space.params()) {
    const hpo::Distribution& d = spec.distribution;
    double internal = 0;
    switch (d.type()) {
      case hpo::Distribution::Type::kFloat:
        internal =
            d.log()
                ? std::exp(std::log(d.low()) + u(rng) * (std::log(d.high()) - std::log(d.low())))
                : d.low() + u(rng) * (d.high() - d.low());
        break;
      case hpo::Distribution::Type::kInt: {
        int64_t n = static_cast<int64_t>(std::llround((d.high() - d.low()) / d.step())) + 1;
        internal = d.low() + d.step() * static_cast<double>(
                                            std::uniform_int_distribution<int64_t>(0, n - 1)(rng));
        break;
      }
      case hpo::Distribution::Type::kCategorical:
        internal = static_cast<double>(
            std::uniform_int_distribution<size_t>(0, d.choices().size() - 1)(rng));
        break;
    }
    out[spec.name] = d.ToExternal(d.Snap(internal));
  }
  return out;
}

// TPE settings a benchmark may change (defaults: SamplerOptions'), from --tpe-gamma,
// --tpe-prior-weight and --tpe-candidates.
struct TpeKnobs {
  double gamma = hpo::SamplerOptions().gamma;
  double prior_weight = hpo::SamplerOptions().prior_weight;
  int64_t n_ei_candidates = hpo::SamplerOptions().n_ei_candidates;
};
inline TpeKnobs TpeKnobsFromArgs(const Args& args) {
  TpeKnobs k;
  k.gamma = args.GetDouble("tpe-gamma", k.gamma);
  k.prior_weight = args.GetDouble("tpe-prior-weight", k.prior_weight);
  k.n_ei_candidates = args.GetInt("tpe-candidates", k.n_ei_candidates);
  return k;
}

// A study over `space` with the sampler `sampler` (seeded; TPE with `knobs`), FIFO scheduling and
// `storage_url` ("memory", "sqlite:PATH").
inline std::unique_ptr<hpo::Study> MakeStudy(const hpo::SearchSpace& space,
                                             const std::string& sampler, uint64_t seed,
                                             const std::string& storage_url,
                                             const std::string& name = "bench",
                                             const TpeKnobs& knobs = TpeKnobs()) {
  hpo::StudyDefinition def;
  def.name = name;
  def.direction = hpo::Direction::kMinimize;
  def.metric = "objective";
  hpo::SchedulerOptions sched;
  sched.name = "fifo";
  hpo::SamplerOptions sopts;
  sopts.name = sampler;
  sopts.seed = seed;
  sopts.gamma = knobs.gamma;
  sopts.prior_weight = knobs.prior_weight;
  sopts.n_ei_candidates = knobs.n_ei_candidates;
  if (sampler == "tpe_mv") {  // TPE with multivariate Parzen estimators (Optuna 5's default)
    sopts.name = "tpe";
    sopts.multivariate = true;
  } else if (sampler == "tpe_uv") {  // TPE with univariate Parzen estimators
    sopts.name = "tpe";
    sopts.multivariate = false;
  }
  return std::make_unique<hpo::Study>(def, space, hpo::Storage::Open(storage_url),
                                      hpo::MakeSampler(sopts), hpo::MakeScheduler(sched));
}

// A deterministic test point of `space` (external values), number `k`: parameter j sits at the
// fraction frac = ((k + 1) * 0.137 + j * 0.291) mod 1 of its range (log range for log
// parameters, grid index for int and categorical ones). bench_common.py builds the same points,
// so the two implementations of every objective can be checked against each other.
inline std::map<std::string, hpo::Value> TestPoint(const hpo::SearchSpace& space, int k) {
  std::map<std::string, hpo::Value> out;
  int j = 0;
  for (const hpo::ParamSpec& spec : space.params()) {
    double frac = std::fmod((k + 1) * 0.137 + j * 0.291, 1.0);
    ++j;
    const hpo::Distribution& d = spec.distribution;
    switch (d.type()) {
      case hpo::Distribution::Type::kFloat:
        out[spec.name] =
            d.log() ? std::exp(std::log(d.low()) + frac * (std::log(d.high()) - std::log(d.low())))
                    : d.low() + frac * (d.high() - d.low());
        break;
      case hpo::Distribution::Type::kInt: {
        int64_t n = static_cast<int64_t>(std::llround((d.high() - d.low()) / d.step())) + 1;
        out[spec.name] = static_cast<int64_t>(d.low()) +
                         static_cast<int64_t>(d.step()) * static_cast<int64_t>(frac * n);
        break;
      }
      case hpo::Distribution::Type::kCategorical:
        out[spec.name] = d.choices()[static_cast<size_t>(frac * d.choices().size())];
        break;
    }
  }
  return out;
}

}  // namespace hpo_bench
