#include "schedulers/hyperband.h"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace hpo {

HyperbandScheduler::HyperbandScheduler(const SchedulerOptions& o, bool promote)
    : promote_(promote) {
  if (o.min_early_stopping_rate != 0)
    throw std::invalid_argument(
        "hyperband sets each bracket's min_early_stopping_rate itself; leave it at 0 (got " +
        std::to_string(o.min_early_stopping_rate) + ")");
  // Validates r, R and eta (the same rules as ASHA).
  auto first = std::make_unique<AshaScheduler>(o, promote);
  // s_max = floor(log_eta(R / r)), in integers: the largest s with r * eta^s <= R.
  size_t s_max = 0;
  for (int64_t resource = o.min_resource; resource <= o.max_resource / o.reduction_factor;
       resource *= o.reduction_factor)
    ++s_max;
  brackets_.push_back(std::move(first));
  for (size_t b = 1; b <= s_max; ++b) {
    SchedulerOptions bracket = o;
    bracket.min_early_stopping_rate = static_cast<int64_t>(b);
    brackets_.push_back(std::make_unique<AshaScheduler>(bracket, promote));
  }
  // Weight of bracket b: n_s = ceil((s_max + 1) * eta^s / (s + 1)) with s = s_max - b.
  // eta^s <= R / r < 2^63, so the products fit in 128 bits.
  unsigned __int128 total = 0;
  for (size_t b = 0; b <= s_max; ++b) {
    size_t s = s_max - b;
    unsigned __int128 power = 1;
    for (size_t i = 0; i < s; ++i) power *= static_cast<unsigned __int128>(o.reduction_factor);
    unsigned __int128 numerator = static_cast<unsigned __int128>(s_max + 1) * power;
    unsigned __int128 weight = (numerator + s) / (s + 1);  // ceil(numerator / (s + 1))
    total += weight;
    if (total >= (static_cast<unsigned __int128>(1) << 62))
      throw std::invalid_argument("hyperband: max_resource / min_resource is too large");
    weights_.push_back(static_cast<int64_t>(weight));
    cumulative_.push_back(static_cast<uint64_t>(total));
  }
}

size_t HyperbandScheduler::BracketOf(int64_t trial_id) const {
  // Fibonacci hashing: frac(id / golden ratio) as a 64-bit fixed-point fraction, scaled to
  // [0, W) and looked up in the cumulative weights.
  uint64_t fraction = static_cast<uint64_t>(trial_id) * 0x9E3779B97F4A7C15ull;
  uint64_t u =
      static_cast<uint64_t>((static_cast<unsigned __int128>(fraction) * cumulative_.back()) >> 64);
  size_t b = 0;
  while (u >= cumulative_[b]) ++b;  // u < W = cumulative_.back()
  return b;
}

Decision HyperbandScheduler::OnReport(int64_t trial_id, int64_t resource, double value) {
  return brackets_[BracketOf(trial_id)]->OnReport(trial_id, resource, value);
}

void HyperbandScheduler::OnFinished(int64_t trial_id, TrialState state) {
  brackets_[BracketOf(trial_id)]->OnFinished(trial_id, state);
}

Job HyperbandScheduler::NextJob() {
  // The candidate at the highest resource across brackets; there, the best score; then the
  // lowest bracket.
  size_t best_bracket = 0;
  std::optional<AshaScheduler::Candidate> best;
  int64_t best_resource = 0;
  for (size_t b = 0; b < brackets_.size(); ++b) {
    std::optional<AshaScheduler::Candidate> c = brackets_[b]->BestCandidate();
    if (!c) continue;
    int64_t resource = brackets_[b]->rung_resources()[c->rung];
    if (best &&
        (resource < best_resource || (resource == best_resource && c->score <= best->score)))
      continue;
    best = c;
    best_bracket = b;
    best_resource = resource;
  }
  Job job;
  if (best) {
    brackets_[best_bracket]->Promote(*best);
    job.resume_trial = best->trial_id;
  }
  return job;
}

void HyperbandScheduler::Restore(const std::vector<FrozenTrial>& trials) {
  for (const FrozenTrial& t : trials) brackets_[BracketOf(t.id)]->RestoreTrial(t);
}

}  // namespace hpo
