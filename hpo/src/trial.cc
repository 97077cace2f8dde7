#include "hpo/trial.h"

#include <stdexcept>

#include "hpo/scheduler.h"

namespace hpo {

const char* ToString(TrialState s) {
  switch (s) {
    case TrialState::kQueued:
      return "queued";
    case TrialState::kRunning:
      return "running";
    case TrialState::kPaused:
      return "paused";
    case TrialState::kComplete:
      return "complete";
    case TrialState::kPruned:
      return "pruned";
    case TrialState::kFailed:
      return "failed";
  }
  return "?";
}

const char* ToString(Direction d) { return d == Direction::kMinimize ? "minimize" : "maximize"; }

const char* ToString(Decision d) {
  switch (d) {
    case Decision::kContinue:
      return "continue";
    case Decision::kPause:
      return "pause";
    case Decision::kStop:
      return "stop";
  }
  return "?";
}

TrialState ParseTrialState(const std::string& s) {
  for (auto st : {TrialState::kQueued, TrialState::kRunning, TrialState::kPaused,
                  TrialState::kComplete, TrialState::kPruned, TrialState::kFailed}) {
    if (s == ToString(st)) return st;
  }
  throw std::invalid_argument("unknown trial state '" + s +
                              "' (known: queued, running, paused, complete, pruned, failed)");
}

Direction ParseDirection(const std::string& s) {
  if (s == "minimize") return Direction::kMinimize;
  if (s == "maximize") return Direction::kMaximize;
  throw std::invalid_argument("unknown direction '" + s + "' (known: minimize, maximize)");
}

}  // namespace hpo
