// The torchrun environment contract: where this process sits in a multi-node job.
//
// torchrun (and our launcher, and the Kubernetes Indexed Job through JOB_COMPLETION_INDEX) sets
// RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, NODE_RANK, MASTER_ADDR and MASTER_PORT. A
// process started without them is a single-process world (rank 0 of 1).
//
// Errors: a malformed or inconsistent variable throws std::invalid_argument naming the variable,
// its value and the fix.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace launch {

struct World {
  int64_t rank = 0;        // global rank, 0 .. world_size-1
  int64_t local_rank = 0;  // rank on this node, 0 .. local_world_size-1
  int64_t world_size = 1;
  int64_t local_world_size = 1;
  int64_t node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  bool distributed() const { return world_size > 1; }
};

// Reads the contract through `getenv` (default: the process environment). When RANK is absent,
// NODE_RANK falls back to JOB_COMPLETION_INDEX (Kubernetes Indexed Job).
World ReadWorld(const std::function<std::optional<std::string>(const std::string&)>& getenv = {});

}  // namespace launch
