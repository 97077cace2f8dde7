// Helpers shared by the trainer tests (trial_trainer_test, study_runner_test, cuda_test): the
// hyperparameters of a small MLP trial, a small study file, and the trials a study stored.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hpo/config.h"
#include "hpo/storage.h"
#include "models/hparams.h"
#include "trainer/schema.h"
#include "trainer/trial_trainer.h"

namespace trainer::testing {

// Every hyperparameter TrialTrainer reads, for an MLP with one hidden layer of 16 units trained
// by Adam at lr 0.01 (constant schedule, fp32, no dropout, decay or clipping), with `overrides`
// replacing or adding keys.
inline models::HParams MlpTrainingParams(const std::map<std::string, models::HValue>& overrides) {
  std::map<std::string, models::HValue> v = {{"name", std::string("mlp")},
                                             {"hidden_units", int64_t{16}},
                                             {"layers", int64_t{1}},
                                             {"activation", std::string("relu")},
                                             {"dropout", 0.0},
                                             {"batch_norm", false},
                                             {"optimizer", std::string("adam")},
                                             {"lr", 0.01},
                                             {"momentum", 0.9},
                                             {"nesterov", false},
                                             {"weight_decay", 0.0},
                                             {"batch_size", int64_t{32}},
                                             {"lr_schedule", std::string("constant")},
                                             {"warmup_epochs", 0.0},
                                             {"lr_step_epochs", int64_t{0}},
                                             {"lr_gamma", 0.1},
                                             {"precision", std::string("fp32")},
                                             {"grad_clip", 0.0},
                                             {"eval_batch_size", int64_t{64}}};
  for (const auto& [key, value] : overrides) v[key] = value;
  return models::HParams(std::move(v));
}

// A small study file: random search over lr and hidden_units of a one-layer MLP on synthetic
// data (3 well-separated classes), maximising val_accuracy, scheduler r = 1 and eta = 2.
struct SmallStudy {
  std::string name = "tiny";
  std::string db;  // the study's storage
  std::string scheduler = "fifo";
  int trials = 2;
  int epochs = 2;
  std::string devices = "cpu";
  int trials_per_device = 2;
  int64_t train = 400, val = 100, features = 8;  // the synthetic data's sizes (3 classes)
  int batch_size = 32;

  // Bytes of the training features (float32), the bulk of one copy of the data.
  int64_t TrainBytes() const { return train * features * 4; }

  std::string Yaml() const {
    return "study: {name: " + name +
           ", direction: maximize, metric: val_accuracy, seed: 1, storage: " + db +
           "}\nbudget: {trials: " + std::to_string(trials) +
           ", max_epochs: " + std::to_string(epochs) +
           "}\nsearch_space:\n"
           "  lr: {type: float, low: 0.001, high: 0.01, log: true}\n"
           "  hidden_units: {type: int, low: 8, high: 32}\n"
           "sampler: random\nscheduler: {name: " +
           scheduler + ", min_resource: 1, reduction_factor: 2}\nresources: {devices: " + devices +
           ", trials_per_device: " + std::to_string(trials_per_device) +
           "}\ndata: {name: synthetic, synthetic_train: " + std::to_string(train) +
           ", synthetic_val: " + std::to_string(val) +
           ", synthetic_features: " + std::to_string(features) +
           ", synthetic_classes: 3}\nmodel: {name: mlp, layers: 1}\ntraining: {batch_size: " +
           std::to_string(batch_size) + ", optimizer: adam}\n";
  }
};

// Raises *peak to `now` if `now` is larger (several threads may call it at once).
inline void RaiseTo(std::atomic<int64_t>* peak, int64_t now) {
  int64_t seen = peak->load();
  while (now > seen && !peak->compare_exchange_weak(seen, now)) {
  }
}

// Equal parameters, tensor by tensor: exactly, or within allclose(rtol, atol) when either is set.
inline void ExpectSameParameters(TrialTrainer& a, TrialTrainer& b, double rtol = 0,
                                 double atol = 0) {
  auto pa = a.model().parameters(), pb = b.model().parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    if (rtol == 0 && atol == 0) {
      EXPECT_TRUE(torch::equal(pa[i], pb[i])) << "parameter " << i;
    } else {
      EXPECT_TRUE(torch::allclose(pa[i], pb[i], rtol, atol)) << "parameter " << i;
    }
  }
}

// A study file's text parsed against the trainer's schema.
inline hpo::StudyConfig ParseStudy(const std::string& text) {
  return hpo::ParseStudyConfig(text, "study.yaml", TrainerSchema());
}

// The trials study `name` stored in `db`, read through a fresh storage object.
inline std::vector<hpo::FrozenTrial> StoredTrials(const std::string& db,
                                                  const std::string& name = "tiny") {
  auto storage = hpo::Storage::Open(db);
  hpo::StudyDefinition def;
  def.name = name;
  return storage->GetAllTrials(storage->OpenStudy(def, /*allow_extend=*/true));
}

}  // namespace trainer::testing
