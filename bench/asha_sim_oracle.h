// An independent account of "a job is available" for the scheduler simulator (asha_sim.cc).
//
// The simulator counts a worker-second as wrongly idle when a worker has no job although one was
// available: a new trial (the study's budget of new trials is not spent) or, for the promotion
// variants, a paused trial that ASHA's rule (Li et al., MLSys 2020, Alg. 2) allows to promote —
// it waits at rung k and ranks within the top floor(n_k / eta) of the n_k values recorded there.
// This class keeps that account from the reports and decisions the simulator sees, without
// looking into the scheduler. Brackets follow the layout documented in
// hpo/src/schedulers/hyperband.h (bracket b = an ASHA with min_early_stopping_rate b; trial ids
// assigned by Fibonacci hashing over the bracket weights); plain ASHA is one bracket with s = 0.
//
// Cost: O(log n) per report, O(brackets * rungs * log n) per Available().
#pragma once

#include <cstdint>
#include <ext/pb_ds/assoc_container.hpp>
#include <ext/pb_ds/tree_policy.hpp>
#include <set>
#include <unordered_map>
#include <vector>

namespace asha_sim {

class PromotionOracle {
 public:
  // hyperband: several brackets as in HyperbandScheduler; else one ASHA bracket (s = 0).
  PromotionOracle(int64_t min_resource, int64_t max_resource, int64_t eta, bool hyperband)
      : eta_(eta) {
    int64_t s_max = 0;
    for (int64_t r = min_resource; r <= max_resource / eta; r *= eta) ++s_max;
    int64_t n_brackets = hyperband ? s_max + 1 : 1;
    uint64_t total = 0;
    for (int64_t b = 0; b < n_brackets; ++b) {
      Bracket bracket;
      int64_t r = min_resource;
      for (int64_t i = 0; i < b && r < max_resource; ++i) r *= eta;
      for (; r <= max_resource / eta; r *= eta) bracket.rungs.push_back(r);
      bracket.recorded.resize(bracket.rungs.size());
      bracket.waiting.resize(bracket.rungs.size());
      brackets_.push_back(std::move(bracket));
      // n_s = ceil((s_max + 1) eta^s / (s + 1)), s = s_max - b.
      int64_t s = s_max - b;
      uint64_t power = 1;
      for (int64_t i = 0; i < s; ++i) power *= static_cast<uint64_t>(eta);
      uint64_t numerator = static_cast<uint64_t>(s_max + 1) * power;
      total += (numerator + static_cast<uint64_t>(s)) / static_cast<uint64_t>(s + 1);
      cumulative_.push_back(total);
    }
  }

  size_t n_brackets() const { return brackets_.size(); }
  size_t BracketOf(int64_t trial_id) const {
    if (brackets_.size() == 1) return 0;
    uint64_t fraction = static_cast<uint64_t>(trial_id) * 0x9E3779B97F4A7C15ull;
    uint64_t u = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(fraction) * cumulative_.back()) >> 64);
    size_t b = 0;
    while (u >= cumulative_[b]) ++b;
    return b;
  }
  // Rung resources of bracket b (ascending, below R).
  const std::vector<int64_t>& rungs(size_t b) const { return brackets_[b].rungs; }

  // A report of `value` (minimised) at `resource`; `paused`: the scheduler paused the trial.
  void OnReport(int64_t trial_id, int64_t resource, double value, bool paused) {
    Bracket& br = brackets_[BracketOf(trial_id)];
    for (size_t k = 0; k < br.rungs.size(); ++k) {
      if (br.rungs[k] != resource) continue;
      Entry e{-value, order_++, trial_id};
      br.recorded[k].insert(e);
      if (paused) {
        br.waiting[k].insert(e);
        where_[trial_id] = {k, e};
      }
    }
  }
  // The trial was resumed (promoted) or finished: it no longer waits. Returns whether the rule
  // allowed promoting it (false also when it was not waiting).
  bool Leave(int64_t trial_id) {
    auto it = where_.find(trial_id);
    if (it == where_.end()) return false;
    Bracket& br = brackets_[BracketOf(trial_id)];
    size_t k = it->second.first;
    bool allowed = br.recorded[k].order_of_key(it->second.second) <
                   br.recorded[k].size() / static_cast<size_t>(eta_);
    br.waiting[k].erase(it->second.second);
    where_.erase(it);
    return allowed;
  }
  // Some paused trial may be promoted now.
  bool PromotionAvailable() const {
    for (const Bracket& br : brackets_) {
      for (size_t k = 0; k < br.rungs.size(); ++k) {
        if (br.waiting[k].empty()) continue;
        if (br.recorded[k].order_of_key(*br.waiting[k].begin()) <
            br.recorded[k].size() / static_cast<size_t>(eta_))
          return true;
      }
    }
    return false;
  }

 private:
  struct Entry {
    double score;  // larger is better
    int64_t order;
    int64_t trial_id;
  };
  struct Better {
    bool operator()(const Entry& a, const Entry& b) const {
      return a.score != b.score ? a.score > b.score : a.order < b.order;
    }
  };
  using RankedSet = __gnu_pbds::tree<Entry, __gnu_pbds::null_type, Better, __gnu_pbds::rb_tree_tag,
                                     __gnu_pbds::tree_order_statistics_node_update>;
  struct Bracket {
    std::vector<int64_t> rungs;
    std::vector<RankedSet> recorded;
    std::vector<std::set<Entry, Better>> waiting;
  };

  int64_t eta_;
  std::vector<Bracket> brackets_;
  std::vector<uint64_t> cumulative_;
  std::unordered_map<int64_t, std::pair<size_t, Entry>> where_;
  int64_t order_ = 0;
};

}  // namespace asha_sim
