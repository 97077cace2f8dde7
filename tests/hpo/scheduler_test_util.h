// Helpers shared by the scheduler tests (asha_test, hyperband_test, median_stopping_test):
// readable decisions in failure messages, short names for the decisions, and the options of a
// rung-based scheduler.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>

#include "hpo/scheduler.h"

namespace hpo {

// GoogleTest prints a Decision by name (found by argument-dependent lookup).
inline void PrintTo(Decision d, std::ostream* os) { *os << ToString(d); }

namespace testing {

inline constexpr Decision kContinue = Decision::kContinue;
inline constexpr Decision kPause = Decision::kPause;
inline constexpr Decision kStop = Decision::kStop;
inline const double kNaN = std::numeric_limits<double>::quiet_NaN();
// What Next() returns when the scheduler wants a new trial rather than a paused one.
inline const std::optional<int64_t> kNewTrial = std::nullopt;

// Options of a rung-based scheduler (asha, asha_stopping, hyperband, hyperband_stopping):
// minimum resource r, maximum R, reduction factor eta, minimum early-stopping rate s.
inline SchedulerOptions RungOptions(const std::string& name, Direction direction, int64_t r,
                                    int64_t R, int64_t eta = 3, int64_t s = 0) {
  SchedulerOptions o;
  o.name = name;
  o.direction = direction;
  o.min_resource = r;
  o.max_resource = R;
  o.reduction_factor = eta;
  o.min_early_stopping_rate = s;
  return o;
}

// The paused trial the scheduler wants resumed next, or kNewTrial.
inline std::optional<int64_t> Next(Scheduler& s) { return s.NextJob().resume_trial; }

}  // namespace testing
}  // namespace hpo
