#include "hpo/scheduler.h"

#include <functional>
#include <map>
#include <stdexcept>

#include "schedulers/asha.h"
#include "schedulers/hyperband.h"
#include "schedulers/median.h"

namespace hpo {
namespace {
using Factory = std::function<std::unique_ptr<Scheduler>(const SchedulerOptions&)>;
const std::map<std::string, Factory>& Registry() {
  static const std::map<std::string, Factory> registry = {
      {"asha", [](const SchedulerOptions& o) { return std::make_unique<AshaScheduler>(o, true); }},
      {"asha_stopping",
       [](const SchedulerOptions& o) { return std::make_unique<AshaScheduler>(o, false); }},
      {"fifo", [](const SchedulerOptions&) { return std::make_unique<FifoScheduler>(); }},
      {"hyperband",
       [](const SchedulerOptions& o) { return std::make_unique<HyperbandScheduler>(o, true); }},
      {"hyperband_stopping",
       [](const SchedulerOptions& o) { return std::make_unique<HyperbandScheduler>(o, false); }},
      {"median",
       [](const SchedulerOptions& o) { return std::make_unique<PercentileScheduler>(o, true); }},
      {"percentile",
       [](const SchedulerOptions& o) { return std::make_unique<PercentileScheduler>(o, false); }},
  };
  return registry;
}
}  // namespace

std::vector<std::string> KnownSchedulers() {
  std::vector<std::string> names;
  for (const auto& [name, _] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Scheduler> MakeScheduler(const SchedulerOptions& options) {
  auto it = Registry().find(options.name);
  if (it == Registry().end()) {
    std::string known;
    for (const auto& n : KnownSchedulers()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown scheduler '" + options.name + "' (known: " + known + ")");
  }
  return it->second(options);
}

}  // namespace hpo
