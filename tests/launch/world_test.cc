#include "launch/world.h"

#include <gtest/gtest.h>

#include <map>

namespace {

std::function<std::optional<std::string>(const std::string&)> Env(
    std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(World, NoVariablesIsASingleProcessWorld) {
  launch::World w = launch::ReadWorld(Env({}));
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.world_size, 1);
  EXPECT_FALSE(w.distributed());
}

TEST(World, ReadsTheTorchrunVariables) {
  launch::World w = launch::ReadWorld(Env({{"RANK", "5"},
                                           {"LOCAL_RANK", "1"},
                                           {"WORLD_SIZE", "8"},
                                           {"LOCAL_WORLD_SIZE", "2"},
                                           {"NODE_RANK", "2"},
                                           {"MASTER_ADDR", "job-0.svc"},
                                           {"MASTER_PORT", "29400"}}));
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.world_size, 8);
  EXPECT_EQ(w.local_world_size, 2);
  EXPECT_EQ(w.node_rank, 2);
  EXPECT_EQ(w.master_addr, "job-0.svc");
  EXPECT_EQ(w.master_port, 29400);
  EXPECT_TRUE(w.distributed());
}

TEST(World, NodeRankFallsBackToTheIndexedJobCompletionIndex) {
  EXPECT_EQ(launch::ReadWorld(Env({{"JOB_COMPLETION_INDEX", "3"}})).node_rank, 3);
  EXPECT_EQ(launch::ReadWorld(Env({{"JOB_COMPLETION_INDEX", "3"}, {"NODE_RANK", "1"}})).node_rank,
            1);
}

TEST(World, BadValuesNameTheVariable) {
  auto expect_error = [](std::map<std::string, std::string> vars, const std::string& needle) {
    try {
      launch::ReadWorld(Env(vars));
      ADD_FAILURE() << "no error for " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({{"WORLD_SIZE", "two"}}, "WORLD_SIZE='two'");
  expect_error({{"WORLD_SIZE", "0"}}, "WORLD_SIZE='0'");
  expect_error({{"RANK", "4"}, {"WORLD_SIZE", "4"}}, "RANK=4 is not below WORLD_SIZE=4");
  expect_error({{"LOCAL_RANK", "2"}, {"LOCAL_WORLD_SIZE", "2"}, {"WORLD_SIZE", "4"}},
               "LOCAL_RANK=2");
  expect_error({{"MASTER_PORT", "70000"}}, "MASTER_PORT='70000'");
  expect_error({{"MASTER_ADDR", ""}}, "MASTER_ADDR is empty");
  expect_error({{"LOCAL_WORLD_SIZE", "4"}, {"WORLD_SIZE", "2"}}, "exceeds WORLD_SIZE");
}

}  // namespace
