#include "hpo/study.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

#include "hpo/check.h"
#include "trial_id_array.h"

namespace hpo {
namespace {

bool SameValue(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

}  // namespace

const char* const kSuspendedAttr = "hpo.suspended";

// ---- Trial ----------------------------------------------------------------------------------

std::optional<Value> Trial::Get(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) return std::nullopt;
  const ParamSpec* spec = study_->space().Find(name);
  if (spec != nullptr) return spec->distribution.ToExternal(it->second);
  return study_->DefineByRunDistribution(name).ToExternal(it->second);
}

std::map<std::string, Value> Trial::ExternalParams() const {
  std::map<std::string, Value> out;
  for (const auto& [name, _] : params_) out[name] = *Get(name);
  return out;
}

double Trial::SuggestFloat(const std::string& name, double low, double high, bool log,
                           double step) {
  return study_->Suggest(*this, name, Distribution::Float(low, high, log, step));
}

int64_t Trial::SuggestInt(const std::string& name, int64_t low, int64_t high, bool log,
                          int64_t step) {
  return static_cast<int64_t>(
      std::llround(study_->Suggest(*this, name, Distribution::Int(low, high, log, step))));
}

Value Trial::SuggestCategorical(const std::string& name, const std::vector<Value>& choices) {
  Distribution d = Distribution::Categorical(choices);
  return d.ToExternal(study_->Suggest(*this, name, d));
}

// ---- Study ----------------------------------------------------------------------------------

Study::Study(StudyDefinition def, SearchSpace space, std::unique_ptr<Storage> storage,
             std::unique_ptr<Sampler> sampler, std::unique_ptr<Scheduler> scheduler,
             StudyOptions options)
    : def_(std::move(def)),
      space_(std::move(space)),
      storage_(std::move(storage)),
      sampler_(std::move(sampler)),
      scheduler_(std::move(scheduler)),
      options_(options),
      index_by_id_(std::make_unique<internal::TrialIdArray<size_t>>()) {
  HPO_CHECK(storage_ && sampler_ && scheduler_);
  def_.space_json = space_.ToJson();
  def_.sampler = sampler_->name();
  def_.scheduler = scheduler_->name();
  study_id_ = storage_->OpenStudy(def_, options_.allow_extend);
  interrupted_ = storage_->FailStaleRunningTrials(study_id_);
  for (const auto& [name, json] : storage_->GetParamDistributions(study_id_))
    dbr_distributions_.emplace(name, Distribution::FromJson(json));
  seq_ = storage_->LastChange(study_id_);  // before reading: later changes are read again
  trials_ = storage_->GetAllTrials(study_id_);
  std::unordered_set<int64_t> interrupted_ids;
  for (const FrozenTrial& t : interrupted_) interrupted_ids.insert(t.id);
  for (size_t i = 0; i < trials_.size(); ++i) {
    (*index_by_id_)[trials_[i].id] = i + 1;
    auto attr = trials_[i].user_attrs.find(kSuspendedAttr);
    if (trials_[i].state == TrialState::kPaused && attr != trials_[i].user_attrs.end() &&
        attr->second == "1")
      suspended_.push_back(trials_[i].id);
    // Queued trials count toward the budget once handed out.
    if (trials_[i].state == TrialState::kQueued) {
      queued_.push_back(trials_[i].id);
      continue;
    }
    // Trials a dead process left running are retried: they do not use up the budget.
    if (!interrupted_ids.count(trials_[i].id)) ++new_trials_;
    // Running although FailStaleRunningTrials just ran: another live writer started it.
    if (trials_[i].state == TrialState::kRunning) foreign_.insert(trials_[i].id);
  }
  scheduler_->Restore(trials_);
  if (options_.requeue_interrupted) {
    for (const FrozenTrial& t : interrupted_) {
      FrozenTrial rec = storage_->CreateTrial(study_id_, t.params, TrialState::kQueued);
      queued_.push_back(rec.id);
      Append(std::move(rec));
    }
  }
}

Study::~Study() = default;

FrozenTrial& Study::Record(int64_t trial_id) {
  FrozenTrial* rec = Find(trial_id);
  HPO_CHECK(rec != nullptr) << "unknown trial id" << trial_id;
  return *rec;
}

const FrozenTrial* Study::Find(int64_t trial_id) const {
  if (trial_id < 0) return nullptr;
  const size_t position = index_by_id_->Get(trial_id);  // 0: not here
  return position == 0 ? nullptr : &trials_[position - 1];
}

FrozenTrial* Study::Find(int64_t trial_id) {
  return const_cast<FrozenTrial*>(static_cast<const Study&>(*this).Find(trial_id));
}

void Study::Append(FrozenTrial rec) {
  (*index_by_id_)[rec.id] = trials_.size() + 1;
  trials_.push_back(std::move(rec));
}

void Study::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
}

// Lock held. Grows trials_: references into it taken before are invalid after.
void Study::RefreshLocked() {
  TrialChanges changes = storage_->ChangedTrials(study_id_, seq_);
  seq_ = std::max(seq_, changes.seq);
  for (FrozenTrial& t : changes.trials) {
    FrozenTrial* known = Find(t.id);
    if (known == nullptr) {  // created by another writer
      for (const auto& [step, value] : t.intermediate) scheduler_->OnReport(t.id, step, value);
      if (IsFinished(t.state)) scheduler_->OnFinished(t.id, t.state);
      if (t.state != TrialState::kQueued) ++new_trials_;
      foreign_.insert(t.id);
      Append(std::move(t));
      continue;
    }
    FrozenTrial& rec = *known;
    // A trial this object is running: its copy is the truth (another process opening the study
    // fails running trials as stale; the next write here stores the state again).
    if (rec.state == TrialState::kRunning && !foreign_.count(rec.id)) continue;
    // What the scheduler has not seen: another writer's reports and finish (this object's own
    // changes read back are already in `rec`).
    for (const auto& [step, value] : t.intermediate) {
      auto seen = rec.intermediate.find(step);
      if (seen == rec.intermediate.end() || !SameValue(seen->second, value))
        scheduler_->OnReport(t.id, step, value);
    }
    if (IsFinished(t.state) && !IsFinished(rec.state)) scheduler_->OnFinished(t.id, t.state);
    if (rec.state == TrialState::kQueued && t.state != TrialState::kQueued) {
      // Handed out by another writer: it counts toward the budget, and is no longer ours to hand.
      auto q = std::find(queued_.begin(), queued_.end(), t.id);
      if (q != queued_.end()) queued_.erase(q);
      ++new_trials_;
    }
    // Running now, and not by this object (its own running trials were skipped above): the
    // other writer resumed or started it, so it is that writer's, as if it had created it.
    if (t.state == TrialState::kRunning) foreign_.insert(t.id);
    rec = std::move(t);
  }
}

void Study::SetState(FrozenTrial& rec, TrialState state, std::optional<double> value,
                     const std::string& reason) {
  Mirror(rec, state, value, reason, storage_->SetTrialState(rec.id, state, value, reason));
}

void Study::Mirror(FrozenTrial& rec, TrialState state, std::optional<double> value,
                   const std::string& reason, const TrialTimes& times) {
  if (!foreign_.count(rec.id))
    running_ += (state == TrialState::kRunning) - (rec.state == TrialState::kRunning);
  rec.state = state;
  rec.value = value;
  rec.fail_reason = reason;
  rec.start_time = times.start_time;
  rec.complete_time = times.complete_time;
}

std::optional<TrialTimes> Study::Claim(int64_t trial_id, TrialState from) {
  std::optional<TrialTimes> times = storage_->ClaimTrial(trial_id, from);
  if (!times) RefreshLocked();
  return times;
}

void Study::MarkClaimed(FrozenTrial& rec, const TrialTimes& times) {
  Mirror(rec, TrialState::kRunning, std::nullopt, "", times);
}

std::optional<Trial> Study::Ask() {
  std::lock_guard<std::mutex> lock(mu_);
  RefreshLocked();
  Trial trial;
  trial.study_ = this;
  // A paused trial this object has claimed, handed out again.
  auto resumed = [&](int64_t id) {
    const FrozenTrial& rec = Record(id);
    trial.id_ = rec.id;
    trial.number_ = rec.number;
    trial.params_ = rec.params;
    trial.resumed_ = true;
    return trial;
  };
  // Trials suspended by a stopping process resume first, then the scheduler's promotions.
  while (!suspended_.empty()) {
    const int64_t id = suspended_.front();
    suspended_.pop_front();
    // Another writer may have resumed it since: then it is theirs, and not ours to mark.
    if (Record(id).state != TrialState::kPaused || foreign_.count(id)) continue;
    std::optional<TrialTimes> times = Claim(id, TrialState::kPaused);
    if (!times) continue;  // resumed by another writer just now
    MarkClaimed(Record(id), *times);
    storage_->SetUserAttr(id, kSuspendedAttr, "0");
    Record(id).user_attrs[kSuspendedAttr] = "0";
    return resumed(id);
  }
  std::optional<int64_t> resume = scheduler_->NextJob().resume_trial;
  // Another writer's paused trial is its own to resume (its state lives in that process).
  while (resume && foreign_.count(*resume)) resume = scheduler_->NextJob().resume_trial;
  // A promotion may name a trial that already left kPaused (a suspended trial resumed above,
  // in an earlier Ask, is still in its rung): then a new trial goes instead.
  if (resume && Record(*resume).state == TrialState::kPaused) {
    if (std::optional<TrialTimes> times = Claim(*resume, TrialState::kPaused)) {
      MarkClaimed(Record(*resume), *times);
      return resumed(*resume);
    }
  }
  auto budget_spent = [&] { return options_.n_trials > 0 && new_trials_ >= options_.n_trials; };
  if (budget_spent()) return std::nullopt;
  while (!queued_.empty()) {
    const int64_t id = queued_.front();
    HPO_CHECK(Record(id).state == TrialState::kQueued)
        << "queued trial" << Record(id).number << "in state" << ToString(Record(id).state);
    // Claimed in the storage first: of several writers handing out this trial, one gets it. The
    // others read the change (it leaves their queue and counts toward the budget) and go on.
    std::optional<TrialTimes> times = Claim(id, TrialState::kQueued);
    if (!times) {
      // Claim's catch-up took it out of queued_ and counted it toward the budget.
      HPO_CHECK(queued_.empty() || queued_.front() != id) << "lost claim of trial" << id;
      if (budget_spent()) return std::nullopt;
      continue;
    }
    FrozenTrial& rec = Record(id);
    ParamMap params = rec.params;  // plus the active declared parameters left out
    for (const ParamSpec& spec : space_.params()) {
      if (params.count(spec.name) || !space_.IsActive(spec, params)) continue;
      params[spec.name] = sampler_->SampleOne(spec.name, spec.distribution, params,
                                              History{def_.direction, &trials_});
    }
    MarkClaimed(rec, *times);  // after sampling: the sampler saw it queued, as before the claim
    queued_.pop_front();
    for (const auto& [name, x] : params) {
      if (rec.params.count(name)) continue;
      storage_->SetTrialParam(rec.id, name, x);
      rec.params[name] = x;
    }
    ++new_trials_;
    trial.id_ = rec.id;
    trial.number_ = rec.number;
    trial.params_ = rec.params;
    return trial;
  }
  ParamMap params;
  try {
    params = sampler_->Sample(space_, History{def_.direction, &trials_});
  } catch (const GridExhausted&) {
    return std::nullopt;
  }
  FrozenTrial rec = storage_->CreateTrial(study_id_, params, TrialState::kRunning);
  ++new_trials_;
  ++running_;
  trial.id_ = rec.id;
  trial.number_ = rec.number;
  trial.params_ = std::move(params);
  Append(std::move(rec));
  return trial;
}

int64_t Study::Enqueue(const std::map<std::string, Value>& params) {
  std::lock_guard<std::mutex> lock(mu_);
  ParamMap internal;
  for (const auto& [name, value] : params) {
    const Distribution* dist = nullptr;
    if (const ParamSpec* spec = space_.Find(name)) {
      dist = &spec->distribution;
    } else if (auto it = dbr_distributions_.find(name); it != dbr_distributions_.end()) {
      dist = &it->second;
    } else {
      std::string declared;
      for (const ParamSpec& spec : space_.params())
        declared += (declared.empty() ? "" : ", ") + spec.name;
      throw std::invalid_argument("cannot enqueue unknown parameter '" + name + "' (" +
                                  (declared.empty()
                                       ? std::string("the study declares no parameters")
                                       : "the study declares " + declared) +
                                  ")");
    }
    try {
      internal[name] = dist->ToInternal(value);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("cannot enqueue " + name + " = " + ValueToString(value) + ": " +
                                  e.what());
    }
  }
  for (const ParamSpec& spec : space_.params()) {
    if (!spec.condition || !internal.count(spec.name) || space_.IsActive(spec, internal)) continue;
    std::string values;
    for (const Value& v : spec.condition->values)
      values += (values.empty() ? "" : ", ") + ValueToString(v);
    throw std::invalid_argument("cannot enqueue '" + spec.name + "': it is active only when '" +
                                spec.condition->parent + "' is one of {" + values +
                                "}; set the parent accordingly or leave '" + spec.name + "' out");
  }
  FrozenTrial rec = storage_->CreateTrial(study_id_, internal, TrialState::kQueued);
  queued_.push_back(rec.id);
  const int64_t number = rec.number;
  Append(std::move(rec));
  return number;
}

bool Study::HasPendingWork() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ > 0;
}

Decision Study::Report(const Trial& trial, int64_t step, double value) {
  std::lock_guard<std::mutex> lock(mu_);
  // Other writers' reports rank against this one. First: it may grow trials_ (and move `rec`).
  RefreshLocked();
  FrozenTrial& rec = Record(trial.id());
  HPO_CHECK(rec.state == TrialState::kRunning)
      << "report on a trial in state" << ToString(rec.state);
  storage_->SetIntermediate(rec.id, step, value);
  rec.intermediate[step] = value;
  Decision decision = scheduler_->OnReport(rec.id, step, value);
  if (decision == Decision::kPause) {
    // Paused before the lock is released, so no other worker can promote it half-paused.
    SetState(rec, TrialState::kPaused, std::nullopt, "");
  }
  return decision;
}

void Study::Finish(const Trial& trial, TrialState state, std::optional<double> value,
                   const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  FrozenTrial& rec = Record(trial.id());
  HPO_CHECK(!IsFinished(rec.state)) << "trial" << rec.number << "already finished";
  SetState(rec, state, value, reason);
  scheduler_->OnFinished(rec.id, state);
}

void Study::Tell(const Trial& trial, double value) {
  Finish(trial, TrialState::kComplete, value, "");
}
void Study::TellPruned(const Trial& trial) { Finish(trial, TrialState::kPruned, std::nullopt, ""); }
void Study::TellFailed(const Trial& trial, const std::string& reason) {
  Finish(trial, TrialState::kFailed, std::nullopt, reason);
}

void Study::MarkPaused(const Trial& trial) {
  std::lock_guard<std::mutex> lock(mu_);
  FrozenTrial& rec = Record(trial.id());
  if (rec.state == TrialState::kPaused) return;  // Report() paused it already
  // A late call must not revive a trial another worker has resumed and finished since.
  HPO_CHECK(rec.state == TrialState::kRunning)
      << "pausing trial" << rec.number << "in state" << ToString(rec.state);
  SetState(rec, TrialState::kPaused, std::nullopt, "");
}

int Study::PruneUnpromoted() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (FrozenTrial& rec : trials_) {
    if (rec.state != TrialState::kPaused || foreign_.count(rec.id)) continue;
    SetState(rec, TrialState::kPruned, std::nullopt, "");
    scheduler_->OnFinished(rec.id, TrialState::kPruned);
    ++n;
  }
  return n;
}

void Study::Suspend(const Trial& trial) {
  std::lock_guard<std::mutex> lock(mu_);
  FrozenTrial& rec = Record(trial.id());
  HPO_CHECK(rec.state == TrialState::kRunning)
      << "suspending a trial in state" << ToString(rec.state);
  storage_->SetUserAttr(rec.id, kSuspendedAttr, "1");
  rec.user_attrs[kSuspendedAttr] = "1";
  SetState(rec, TrialState::kPaused, std::nullopt, "");
}

void Study::SetUserAttr(const Trial& trial, const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  storage_->SetUserAttr(trial.id(), key, value);
  Record(trial.id()).user_attrs[key] = value;
}

std::optional<FrozenTrial> Study::BestTrial() const {
  std::lock_guard<std::mutex> lock(mu_);
  const FrozenTrial* best = nullptr;
  for (const auto& t : trials_) {
    if (t.state != TrialState::kComplete || !t.value || std::isnan(*t.value)) continue;
    if (best == nullptr || (def_.direction == Direction::kMaximize ? *t.value > *best->value
                                                                   : *t.value < *best->value))
      best = &t;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::vector<FrozenTrial> Study::Trials() const {
  std::vector<FrozenTrial> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = trials_;
  }
  // Another writer's trial created while this object sampled one lands after it in trials_.
  auto by_number = [](const FrozenTrial& a, const FrozenTrial& b) { return a.number < b.number; };
  if (!std::is_sorted(out.begin(), out.end(), by_number))
    std::sort(out.begin(), out.end(), by_number);
  return out;
}

std::optional<FrozenTrial> Study::GetTrial(int64_t trial_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  const FrozenTrial* rec = Find(trial_id);
  if (rec == nullptr) return std::nullopt;
  return *rec;
}

Distribution Study::DefineByRunDistribution(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = dbr_distributions_.find(name);
  if (it == dbr_distributions_.end()) {
    // A parameter another writer suggested first: its distribution is in the storage.
    for (const auto& [stored_name, json] : storage_->GetParamDistributions(study_id_))
      dbr_distributions_.emplace(stored_name, Distribution::FromJson(json));
    it = dbr_distributions_.find(name);
  }
  HPO_CHECK(it != dbr_distributions_.end()) << "no distribution for" << name;
  return it->second;
}

double Study::Suggest(Trial& trial, const std::string& name, const Distribution& dist) {
  std::lock_guard<std::mutex> lock(mu_);
  const ParamSpec* declared = space_.Find(name);
  if (declared != nullptr && !(declared->distribution == dist))
    throw std::invalid_argument("parameter '" + name + "' is declared as " +
                                declared->distribution.Describe() + " but suggested as " +
                                dist.Describe());
  auto it = dbr_distributions_.find(name);
  if (it == dbr_distributions_.end()) {
    // First use here: the distribution stored for the study (by another writer, or before the
    // study was reopened) wins; else `dist` becomes it.
    std::string stored = declared != nullptr
                             ? dist.ToJson()
                             : storage_->RegisterParamDistribution(study_id_, name, dist.ToJson());
    it = dbr_distributions_.emplace(name, Distribution::FromJson(stored)).first;
  }
  if (!(it->second == dist))
    throw std::invalid_argument("parameter '" + name + "' was suggested as " +
                                it->second.Describe() + " and now as " + dist.Describe() +
                                "; one name must keep one distribution in a study");
  auto existing = trial.params_.find(name);
  if (existing != trial.params_.end()) return existing->second;
  double x = sampler_->SampleOne(name, dist, trial.params_, History{def_.direction, &trials_});
  storage_->SetTrialParam(trial.id(), name, x);
  trial.params_[name] = x;
  Record(trial.id()).params[name] = x;
  return x;
}

}  // namespace hpo
