// Grid search: each combination of the declared space's finite parameters is tried once.
//
// Points. The grid follows the conditional tree: a point fixes exactly the parameters active
// under it, so a child multiplies only the branches where its condition holds (not the full
// product with inactive parameters). A parameter's values are its categorical choices, the
// integers low..high by step, or the stepped floats low + k*step; SamplerOptions::grid replaces
// them with explicit values (the only way to put a continuous float into a grid). A continuous
// float without explicit values is an error at the first Sample (std::invalid_argument), as is a
// grid of more than kMaxPoints points or explicit values for an undeclared parameter.
//
// Order. The points are visited in a permutation shuffled by the seed (deterministic across
// platforms). Sample proposes the first point in that order that no trial of the history holds.
// A point is held by a queued, running, paused, complete or pruned trial, so concurrent Asks
// (which see each other's running trials) never get the same point. A failed trial frees its
// point (a crash or an interrupted run may succeed on retry): failed points are proposed again
// after every never-tried point, until a point has failed kMaxFailures times; then it stays
// used, so a configuration that always crashes cannot stall an unlimited study. With no free
// point left Sample throws GridExhausted (Study::Ask returns nullopt). A point held by a
// running trial that later fails becomes free again.
//
// State is derived from the history alone, so a reopened study continues where it stopped. Each
// Sample looks only at trials added since the last call and at trials not yet finished, not at
// the whole history.
//
// An empty declared space (define-by-run only) has nothing to enumerate: Sample returns no
// parameters and never exhausts. SampleOne (define-by-run parameters) samples uniformly at random.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hpo/sampler.h"

namespace hpo {

class GridSampler : public Sampler {
 public:
  static constexpr int kMaxFailures = 3;
  static constexpr size_t kMaxPoints = 1'000'000;

  // `explicit_grid`: values per parameter name, see SamplerOptions::grid.
  GridSampler(uint64_t seed, std::map<std::string, std::vector<Value>> explicit_grid);

  std::string name() const override { return "grid"; }
  ParamMap Sample(const SearchSpace& space, const History& history) override;
  double SampleOne(const std::string& name, const Distribution& dist, const ParamMap& chosen,
                   const History& history) override;

 private:
  // How one trial uses the grid: the point it holds (-1: none), and whether it failed there.
  struct Use {
    int64_t point = -1;
    bool failed = false;
    bool operator==(const Use&) const = default;
  };
  struct Param {
    const ParamSpec* spec = nullptr;                 // in space_
    std::vector<double> values;                      // internal values, in enumeration order
    std::vector<std::pair<double, int32_t>> lookup;  // (value, index) sorted by value
  };

  void Build(const SearchSpace& space);
  void Enumerate(size_t i, std::vector<int32_t>& row, ParamMap& chosen);
  void ResetUses();
  void Scan(const History& history);
  int32_t ValueIndex(size_t param, double x) const;
  int64_t FindPoint(const std::vector<int32_t>& row) const;
  Use Classify(const FrozenTrial& trial) const;
  void Apply(const Use& use, int sign);
  bool IsFresh(size_t point) const { return held_[point] == 0 && failures_[point] == 0; }
  size_t Next();

  const uint64_t seed_;
  const std::map<std::string, std::vector<Value>> explicit_grid_;
  std::mt19937_64 rng_;  // fallback sampling (SampleOne)

  // The grid of the space last built.
  std::string space_json_;
  SearchSpace space_;
  std::vector<Param> params_;  // one per declared parameter, in space order
  size_t n_points_ = 0;
  std::vector<int32_t> points_;     // n_points_ rows of params_.size() value indices (-1 inactive),
                                    // in lexicographic order
  std::vector<uint32_t> order_;     // shuffled point indices
  std::vector<uint32_t> position_;  // point index → position in order_

  // Uses of the points by the history.
  std::vector<int32_t> held_;      // per point: trials holding it (not failed)
  std::vector<int32_t> failures_;  // per point: failed trials
  size_t fresh_cursor_ = 0;        // no fresh point before this position of order_
  std::set<uint32_t> retry_;       // positions in order_ of failed, retryable, free points
  const std::vector<FrozenTrial>* scanned_trials_ = nullptr;
  size_t scanned_ = 0;                // trials of *scanned_trials_ seen so far
  int64_t last_scanned_id_ = -1;      // id of the last one (to notice another history)
  std::map<size_t, Use> unfinished_;  // trial position → its use, for trials not finished
};

}  // namespace hpo
