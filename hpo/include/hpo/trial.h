// Trial records: the state of one evaluated configuration, as stored and as samplers see it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hpo/space.h"

namespace hpo {

enum class Direction { kMinimize, kMaximize };

// kRunning: being trained now. kPaused: stopped at a rung by a promoting scheduler, may resume.
// kComplete / kPruned / kFailed are final.
enum class TrialState { kQueued, kRunning, kPaused, kComplete, kPruned, kFailed };

const char* ToString(TrialState s);
const char* ToString(Direction d);
// Throws std::invalid_argument naming the valid spellings.
TrialState ParseTrialState(const std::string& s);
Direction ParseDirection(const std::string& s);
inline bool IsFinished(TrialState s) {
  return s == TrialState::kComplete || s == TrialState::kPruned || s == TrialState::kFailed;
}

// User attribute marking a trial suspended by a stopping process ("1"); see Study::Suspend.
// Schedulers read it when they rebuild their state from stored trials.
extern const char* const kSuspendedAttr;

// A snapshot of one trial. `params` holds internal values (see space.h) of active parameters.
// `intermediate` maps a step (resource: epochs unless the study says steps) to the reported value.
struct FrozenTrial {
  int64_t id = -1;      // storage-wide id
  int64_t number = -1;  // 0-based, per study, in creation order
  TrialState state = TrialState::kQueued;
  ParamMap params;
  std::optional<double> value;  // final objective (complete trials)
  std::map<int64_t, double> intermediate;
  std::string fail_reason;
  std::map<std::string, std::string> user_attrs;
  double start_time = 0;     // seconds since the epoch
  double complete_time = 0;  // 0 while not finished

  std::optional<double> last_intermediate() const {
    if (intermediate.empty()) return std::nullopt;
    return intermediate.rbegin()->second;
  }
};

}  // namespace hpo
