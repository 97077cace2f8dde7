// The `train` command on bad input: one line on stderr naming the place and the fix, exit code
// 2, and no study database written.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "test_util.h"

namespace {

struct Outcome {
  int exit_code = -1;
  std::string err;
};

Outcome RunTrain(const std::string& args, const hpo::testing::TempDir& dir) {
  const std::string err_file = dir.File("stderr.txt");
  const std::string cmd = "cd " + dir.path().string() + " && " + HPO_BINARY_DIR "/train " + args +
                          " >/dev/null 2>" + err_file;
  int status = std::system(cmd.c_str());
  Outcome o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.err = hpo::testing::ReadFile(err_file);
  return o;
}

const char* kGood = R"(study:
  name: cli
  storage: cli.db
budget:
  trials: 1
  max_epochs: 1
search_space:
  lr: {type: float, low: 0.001, high: 0.1, log: true}
resources: {devices: cpu}
data: {name: synthetic, synthetic_train: 64, synthetic_val: 16}
)";

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(HPO_BINARY_DIR "/train")) GTEST_SKIP() << "train not built";
  }
  // Writes `text` as study.yaml, runs train, and checks the common bad-input contract.
  Outcome ExpectBadInput(const std::string& text, const std::string& where,
                         const std::string& fix) {
    hpo::testing::WriteFile(dir_.File("study.yaml"), text);
    Outcome o = RunTrain("--study study.yaml", dir_);
    EXPECT_EQ(o.exit_code, 2) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;  // one line
    EXPECT_NE(o.err.find(where), std::string::npos) << o.err;
    EXPECT_NE(o.err.find(fix), std::string::npos) << o.err;
    EXPECT_FALSE(std::filesystem::exists(dir_.File("cli.db"))) << "study database was written";
    EXPECT_FALSE(std::filesystem::exists(dir_.File("runs"))) << "runs/ was written";
    return o;
  }
  std::string Replace(std::string text, const std::string& from, const std::string& to) {
    auto pos = text.find(from);
    EXPECT_NE(pos, std::string::npos);
    return text.replace(pos, from.size(), to);
  }
  hpo::testing::TempDir dir_;
};

TEST_F(TrainCli, GoodStudyRunsAndWritesItsDatabase) {
  hpo::testing::WriteFile(dir_.File("study.yaml"), kGood);
  Outcome o = RunTrain("--study study.yaml --quiet", dir_);
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(std::filesystem::exists(dir_.File("cli.db")));
  EXPECT_TRUE(std::filesystem::exists(dir_.File("runs/cli/best.yaml")));
}

TEST_F(TrainCli, MissingStudyFile) {
  Outcome o = RunTrain("--study nowhere.yaml", dir_);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("nowhere.yaml"), std::string::npos) << o.err;
}

TEST_F(TrainCli, YamlSyntaxError) {
  ExpectBadInput(Replace(kGood, "  trials: 1\n", "  trials: [1\n"), "study.yaml:", "");
}

TEST_F(TrainCli, UnknownKeySuggestsTheNearest) {
  ExpectBadInput(Replace(kGood, "  max_epochs: 1", "  max_epoch: 1"),
                 "study.yaml:6:", "max_epochs");
}

TEST_F(TrainCli, InvertedRange) {
  ExpectBadInput(Replace(kGood, "low: 0.001, high: 0.1", "low: 0.1, high: 0.001"),
                 "study.yaml:8:", "swap");
}

TEST_F(TrainCli, LogScaleWithNonPositiveLow) {
  ExpectBadInput(Replace(kGood, "low: 0.001", "low: 0.0"), "study.yaml:8:", "low > 0");
}

TEST_F(TrainCli, UnknownSamplerListsKnownOnes) {
  ExpectBadInput(std::string(kGood) + "sampler: {name: bayes}\n", "study.yaml:11:", "random");
}

TEST_F(TrainCli, UnknownModelListsKnownOnes) {
  ExpectBadInput(std::string(kGood) + "model: {name: transformer}\n", "study.yaml:11:", "mlp");
}

TEST_F(TrainCli, MissingDatasetFilesNameThePath) {
  ExpectBadInput(Replace(kGood, "data: {name: synthetic, synthetic_train: 64, synthetic_val: 16}",
                         "data: {name: fashion_mnist, path: " + dir_.File("empty") + "}"),
                 dir_.File("empty"), "data.path");
}

TEST_F(TrainCli, CorruptDatasetFileNamesTheFile) {
  hpo::testing::WriteFile(dir_.File("fm/train-images-idx3-ubyte.gz"), "\x1f\x8b garbage");
  hpo::testing::WriteFile(dir_.File("fm/train-labels-idx1-ubyte.gz"), "\x1f\x8b garbage");
  ExpectBadInput(Replace(kGood, "data: {name: synthetic, synthetic_train: 64, synthetic_val: 16}",
                         "data: {name: fashion_mnist, path: " + dir_.File("fm") + "}"),
                 "train-", "");
}

TEST_F(TrainCli, BadFlag) {
  hpo::testing::WriteFile(dir_.File("study.yaml"), kGood);
  Outcome o = RunTrain("--study study.yaml --trials-per-device 0", dir_);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_FALSE(std::filesystem::exists(dir_.File("cli.db")));
}

}  // namespace
