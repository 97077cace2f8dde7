// In-process storage: the same semantics as the SQLite storage, kept under one mutex. Trials sit
// in a paged array by id, so finding an old trial costs what finding a recent one does.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "hpo/storage.h"
#include "storage/storage_common.h"
#include "trial_id_array.h"

namespace hpo {
namespace {

using storage_internal::NowSeconds;

class InMemoryStorage final : public Storage {
 public:
  std::string url() const override { return "memory"; }

  int64_t OpenStudy(const StudyDefinition& def, bool allow_extend) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, study] : studies_) {
      if (study.def.name != def.name) continue;
      bool changed =
          storage_internal::CheckStudyIdentity("memory storage", study.def, def, allow_extend);
      if (changed || storage_internal::StudyRecordDiffers(study.def, def)) study.def = def;
      return id;
    }
    int64_t id = next_study_id_++;
    studies_[id].def = def;
    return id;
  }

  StudyDefinition GetStudy(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindStudy(study_id).def;
  }

  FrozenTrial CreateTrial(int64_t study_id, const ParamMap& params, TrialState state) override {
    storage_internal::CheckInitialState(state);
    std::lock_guard<std::mutex> lock(mu_);
    Study& study = FindStudy(study_id);
    FrozenTrial& t = trials_[next_trial_id_];
    t.id = next_trial_id_;
    t.number = static_cast<int64_t>(study.trial_ids.size());
    t.state = state;
    t.params = params;
    if (state == TrialState::kRunning) t.start_time = NowSeconds();
    study.trial_ids.push_back(t.id);
    ++next_trial_id_;
    return t;
  }

  TrialTimes SetTrialState(int64_t trial_id, TrialState state, std::optional<double> value,
                           const std::string& fail_reason) override {
    std::lock_guard<std::mutex> lock(mu_);
    FrozenTrial& t = FindTrial(trial_id);
    double now = NowSeconds();
    t.state = state;
    t.value = value;
    t.fail_reason = fail_reason;
    if (state != TrialState::kQueued && t.start_time == 0) t.start_time = now;
    t.complete_time = IsFinished(state) ? now : 0;
    return {t.start_time, t.complete_time};
  }

  std::optional<TrialTimes> ClaimTrial(int64_t trial_id, TrialState from) override {
    std::lock_guard<std::mutex> lock(mu_);
    FrozenTrial& t = FindTrial(trial_id);
    if (t.state != from) return std::nullopt;
    t.state = TrialState::kRunning;
    if (t.start_time == 0) t.start_time = NowSeconds();
    return TrialTimes{t.start_time, t.complete_time};
  }

  std::string RegisterParamDistribution(int64_t study_id, const std::string& name,
                                        const std::string& distribution) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindStudy(study_id).distributions.emplace(name, distribution).first->second;
  }

  std::map<std::string, std::string> GetParamDistributions(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindStudy(study_id).distributions;
  }

  void SetTrialParam(int64_t trial_id, const std::string& name, double internal) override {
    std::lock_guard<std::mutex> lock(mu_);
    FindTrial(trial_id).params[name] = internal;
  }

  void SetIntermediate(int64_t trial_id, int64_t step, double value) override {
    std::lock_guard<std::mutex> lock(mu_);
    FindTrial(trial_id).intermediate[step] = value;
  }

  void SetUserAttr(int64_t trial_id, const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(mu_);
    FindTrial(trial_id).user_attrs[key] = value;
  }

  FrozenTrial GetTrial(int64_t trial_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    return FindTrial(trial_id);
  }

  std::vector<FrozenTrial> GetAllTrials(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    const Study& study = FindStudy(study_id);
    std::vector<FrozenTrial> out;
    out.reserve(study.trial_ids.size());
    for (int64_t id : study.trial_ids) out.push_back(trials_[id]);
    return out;
  }

  std::vector<FrozenTrial> FailStaleRunningTrials(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    const Study& study = FindStudy(study_id);
    double now = NowSeconds();
    std::vector<FrozenTrial> failed;
    for (int64_t id : study.trial_ids) {
      FrozenTrial& t = trials_[id];
      if (t.state != TrialState::kRunning) continue;
      t.state = TrialState::kFailed;
      t.fail_reason = storage_internal::kInterruptedReason;
      t.complete_time = now;
      failed.push_back(t);
    }
    return failed;
  }

  // Nothing else can write to this storage: there are never other writers' changes.
  int64_t LastChange(int64_t study_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    FindStudy(study_id);
    return 0;
  }
  TrialChanges ChangedTrials(int64_t study_id, int64_t since) override {
    std::lock_guard<std::mutex> lock(mu_);
    FindStudy(study_id);
    return {{}, since};
  }

 private:
  struct Study {
    StudyDefinition def;
    std::vector<int64_t> trial_ids;                    // by number
    std::map<std::string, std::string> distributions;  // define-by-run, by name
  };

  Study& FindStudy(int64_t study_id) {
    auto it = studies_.find(study_id);
    if (it == studies_.end()) {
      throw StorageError("memory storage: no study with id " + std::to_string(study_id));
    }
    return it->second;
  }
  FrozenTrial& FindTrial(int64_t trial_id) {
    // Ids are handed out in order from 1.
    if (trial_id < 1 || trial_id >= next_trial_id_) {
      throw StorageError("memory storage: no trial with id " + std::to_string(trial_id));
    }
    return trials_[trial_id];
  }

  std::mutex mu_;
  std::map<int64_t, Study> studies_;
  internal::TrialIdArray<FrozenTrial> trials_;  // by trial id, 1 .. next_trial_id_ - 1
  int64_t next_study_id_ = 1;
  int64_t next_trial_id_ = 1;
};

}  // namespace

std::unique_ptr<Storage> MakeInMemoryStorage() { return std::make_unique<InMemoryStorage>(); }

}  // namespace hpo
