#include "launch/world.h"

#include <cstdlib>
#include <stdexcept>

namespace launch {
namespace {

int64_t ParseCount(const std::string& name, const std::string& value, int64_t min, int64_t max) {
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || v < min || v > max)
    throw std::invalid_argument("environment variable " + name + "='" + value +
                                "' is not an integer in [" + std::to_string(min) + ", " +
                                std::to_string(max) + "]; fix the launcher's settings");
  return v;
}

}  // namespace

World ReadWorld(const std::function<std::optional<std::string>(const std::string&)>& getenv_fn) {
  auto get = [&](const std::string& name) -> std::optional<std::string> {
    if (getenv_fn) return getenv_fn(name);
    const char* v = std::getenv(name.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  World w;
  const int64_t kMax = 1 << 20;
  if (auto v = get("WORLD_SIZE")) w.world_size = ParseCount("WORLD_SIZE", *v, 1, kMax);
  if (auto v = get("RANK")) w.rank = ParseCount("RANK", *v, 0, kMax);
  if (auto v = get("LOCAL_WORLD_SIZE"))
    w.local_world_size = ParseCount("LOCAL_WORLD_SIZE", *v, 1, kMax);
  if (auto v = get("LOCAL_RANK")) w.local_rank = ParseCount("LOCAL_RANK", *v, 0, kMax);
  if (auto v = get("NODE_RANK")) {
    w.node_rank = ParseCount("NODE_RANK", *v, 0, kMax);
  } else if (auto idx = get("JOB_COMPLETION_INDEX")) {
    w.node_rank = ParseCount("JOB_COMPLETION_INDEX", *idx, 0, kMax);
  }
  if (auto v = get("MASTER_ADDR")) {
    if (v->empty())
      throw std::invalid_argument(
          "environment variable MASTER_ADDR is empty; set it to the "
          "host of rank 0");
    w.master_addr = *v;
  }
  if (auto v = get("MASTER_PORT")) w.master_port = ParseCount("MASTER_PORT", *v, 1, 65535);
  if (w.rank >= w.world_size)
    throw std::invalid_argument("RANK=" + std::to_string(w.rank) + " is not below WORLD_SIZE=" +
                                std::to_string(w.world_size) + "; fix the launcher's settings");
  if (w.local_rank >= w.local_world_size)
    throw std::invalid_argument(
        "LOCAL_RANK=" + std::to_string(w.local_rank) + " is not below LOCAL_WORLD_SIZE=" +
        std::to_string(w.local_world_size) + "; fix the launcher's settings");
  if (w.local_world_size > w.world_size)
    throw std::invalid_argument("LOCAL_WORLD_SIZE=" + std::to_string(w.local_world_size) +
                                " exceeds WORLD_SIZE=" + std::to_string(w.world_size) +
                                "; fix the launcher's settings");
  return w;
}

}  // namespace launch
