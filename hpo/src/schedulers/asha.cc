#include "schedulers/asha.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "hpo/check.h"
#include "hpo/trial.h"  // kSuspendedAttr

namespace hpo {

AshaScheduler::AshaScheduler(const SchedulerOptions& o, bool promote)
    : options_(o), promote_(promote) {
  if (o.min_resource < 1)
    throw std::invalid_argument("min_resource must be >= 1 (got " + std::to_string(o.min_resource) +
                                ")");
  if (o.max_resource < o.min_resource)
    throw std::invalid_argument("max_resource " + std::to_string(o.max_resource) +
                                " is below min_resource " + std::to_string(o.min_resource));
  if (o.reduction_factor < 2)
    throw std::invalid_argument("reduction_factor must be >= 2 (got " +
                                std::to_string(o.reduction_factor) + ")");
  if (o.min_early_stopping_rate < 0)
    throw std::invalid_argument("min_early_stopping_rate must be >= 0");
  // Rung k at r * eta^(s + k) for k < K = floor(log_eta(R / r)) - s, i.e. while the next rung
  // r * eta^(s + k + 1) still fits in R (R = 10, eta = 3: rungs 1, 3; not 9).
  int64_t resource = o.min_resource;
  for (int64_t i = 0; i < o.min_early_stopping_rate && resource < o.max_resource; ++i)
    resource *= o.reduction_factor;
  while (resource <= o.max_resource / o.reduction_factor) {
    rungs_.push_back(resource);
    resource *= o.reduction_factor;
  }
  rung_.resize(rungs_.size());
}

int AshaScheduler::RungIndex(int64_t resource) const {
  auto it = std::lower_bound(rungs_.begin(), rungs_.end(), resource);
  if (it == rungs_.end() || *it != resource) return -1;
  return static_cast<int>(it - rungs_.begin());
}

double AshaScheduler::Score(double value) const {
  if (std::isnan(value)) return -std::numeric_limits<double>::infinity();
  return options_.direction == Direction::kMaximize ? value : -value;
}

AshaScheduler::Entry AshaScheduler::Record(size_t k, int64_t trial_id, double value) {
  Rung& rung = rung_[k];
  const Entry e{{Score(value), order_++}, trial_id};
  // Before: top = the best floor((n - 1) / eta), every one of them before every value of rest.
  // e joins the side it ranks on, then at most one value crosses to restore the top's size.
  const size_t n = ++rung.n;
  const size_t top_size = n / static_cast<size_t>(options_.reduction_factor);
  if (!rung.rest.empty() && Better{}(e.rank, rung.rest.top()))
    rung.top.Push(e.rank);
  else
    rung.rest.Push(e.rank);
  if (rung.top.size() > top_size) rung.rest.Push(rung.top.Pop());
  if (rung.top.size() < top_size) rung.top.Push(rung.rest.Pop());
  return e;
}

bool AshaScheduler::InTop(size_t k, const Rank& rank) const {
  // rest holds n - floor(n / eta) >= 1 values once anything is recorded.
  return Better{}(rank, rung_[k].rest.top());
}

void AshaScheduler::Wait(size_t k, const Entry& entry) {
  StopWaiting(entry.trial_id);
  // -inf: NaN (or an infinitely bad value), never promoted.
  if (entry.rank.score == -std::numeric_limits<double>::infinity()) return;
  rung_[k].waiting.Push(entry);
  ticket_[entry.trial_id] = entry.rank.order + 1;
}

void AshaScheduler::StopWaiting(int64_t trial_id) {
  int64_t* ticket = ticket_.Find(trial_id);
  if (ticket == nullptr || *ticket == 0) return;
  *ticket = 0;
  // Its entry stays in the heap until it reaches the root; if it is the root now, drop it.
  for (size_t k = 0; k < rung_.size(); ++k)
    if (!rung_[k].waiting.empty() && rung_[k].waiting.top().trial_id == trial_id)
      DropStaleWaiting(k);
}

void AshaScheduler::DropStaleWaiting(size_t k) {
  auto& waiting = rung_[k].waiting;
  while (!waiting.empty() && ticket_.Get(waiting.top().trial_id) != waiting.top().rank.order + 1)
    waiting.Pop();
}

Decision AshaScheduler::OnReport(int64_t trial_id, int64_t resource, double value) {
  // A reporting trial is running: if it was waiting (resumed without NextJob, as the study does
  // with suspended trials), it waits no longer.
  if (promote_) StopWaiting(trial_id);
  int k = RungIndex(resource);
  if (k < 0) return Decision::kContinue;
  Entry e = Record(static_cast<size_t>(k), trial_id, value);
  if (promote_) {
    Wait(static_cast<size_t>(k), e);
    return Decision::kPause;
  }
  // Continue while within the top floor(n / eta), or while the best when that top is empty.
  // With an empty top every value is in rest, and the best of them is its root.
  const Rung& rung = rung_[static_cast<size_t>(k)];
  const bool kept =
      rung.top.empty() ? !Better{}(rung.rest.top(), e.rank) : InTop(static_cast<size_t>(k), e.rank);
  return kept && !std::isnan(value) ? Decision::kContinue : Decision::kStop;
}

std::optional<AshaScheduler::Candidate> AshaScheduler::BestCandidate() const {
  for (size_t k = rungs_.size(); k-- > 0;) {
    if (rung_[k].waiting.empty()) continue;
    const Entry& best = rung_[k].waiting.top();  // waits (stale roots are dropped eagerly)
    if (InTop(k, best.rank)) return Candidate{k, best.rank.score, best.trial_id};
  }
  return std::nullopt;
}

void AshaScheduler::Promote(const Candidate& c) {
  HPO_CHECK(c.rung < rung_.size() && !rung_[c.rung].waiting.empty() &&
            rung_[c.rung].waiting.top().trial_id == c.trial_id)
      << "promoting trial id" << c.trial_id << "that is not the best waiting at rung" << c.rung;
  StopWaiting(c.trial_id);
}

Job AshaScheduler::NextJob() {
  Job job;
  if (std::optional<Candidate> c = BestCandidate()) {
    Promote(*c);
    job.resume_trial = c->trial_id;
  }
  return job;
}

void AshaScheduler::OnFinished(int64_t trial_id, TrialState) { StopWaiting(trial_id); }

void AshaScheduler::Restore(const std::vector<FrozenTrial>& trials) {
  for (const FrozenTrial& t : trials) RestoreTrial(t);
}

void AshaScheduler::RestoreTrial(const FrozenTrial& t) {
  // A trial that went past a rung was promoted from it; a paused trial whose last report is at a
  // rung waits there, unless a stopping process suspended it (Study::Suspend): then it was
  // running, already promoted from that rung, and the study resumes it by itself.
  std::optional<std::pair<size_t, Entry>> last;
  for (size_t k = 0; k < rungs_.size(); ++k) {
    auto it = t.intermediate.find(rungs_[k]);
    if (it == t.intermediate.end()) continue;
    last.emplace(k, Record(k, t.id, it->second));
  }
  auto suspended = t.user_attrs.find(kSuspendedAttr);
  if (promote_ && last && t.state == TrialState::kPaused &&
      (suspended == t.user_attrs.end() || suspended->second != "1") &&
      t.intermediate.upper_bound(rungs_[last->first]) == t.intermediate.end())
    Wait(last->first, last->second);
}

}  // namespace hpo
