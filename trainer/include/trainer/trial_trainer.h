// TrialTrainer: the training state of one trial (model, optimiser, shuffling generator, epoch
// counter) and its epoch loop. Pausing a trial is keeping this object; resuming is calling
// RunEpoch() again, so a promoted trial continues exactly where it stopped.
//
// The dataset is shared: the trainer holds a reference to tensors that every trial on the
// device reads; it never copies them. Not thread-safe: one thread drives one trainer at a time.
#pragma once

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "models/hparams.h"
#include "models/model.h"

namespace trainer {

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based number of the epoch just finished
  double train_loss = 0;
  double val_loss = 0;
  double val_accuracy = 0;
  double seconds = 0;
  double samples_per_second = 0;  // training samples per second of wall time
  // The value of the named metric ("val_accuracy", "val_loss", "train_loss").
  double Get(const std::string& metric) const;
};

// Thrown when the loss becomes NaN or infinite: the trial fails, the worker goes on.
class DivergedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The learning rate as a function of training progress, set once per batch. `progress` is in
// epochs and fractional within one (epoch e, batch b of n: e + b/n). With warm-up W > 0 the rate
// rises linearly from ~0 to `base_lr` over [0, W); after it:
//   constant: base_lr;
//   step:     base_lr * gamma^floor(progress / step_epochs)   (step_epochs >= 1; counted from 0,
//             warm-up included);
//   cosine:   base_lr * (1 + cos(pi * min(1, (progress - W) / (max_epochs - W)))) / 2, reaching 0
//             at max_epochs, the horizon of the trial (the scheduler's max resource).
struct LrSchedule {
  std::string kind = "constant";  // constant | step | cosine
  double base_lr = 0;
  double warmup_epochs = 0;
  int64_t step_epochs = 0;
  double gamma = 0.1;
  int64_t max_epochs = 1;
  // Throws std::invalid_argument where At() would be undefined (step with step_epochs < 1).
  void Validate() const;
  // The rate at `progress_epochs`; Validate() first.
  double At(double progress_epochs) const;
  bool varies() const { return kind != "constant" || warmup_epochs > 0; }
};

class TrialTrainer {
 public:
  // Builds the model and optimiser from `hp` (model.* and training.* hyperparameters) on
  // `device`; `seed` fixes the initial weights and the shuffling order. `max_epochs` is the
  // horizon of the learning-rate schedule. Throws std::invalid_argument on bad hyperparameters.
  TrialTrainer(const models::HParams& hp, const data::Dataset& dataset, torch::Device device,
               uint64_t seed, int64_t max_epochs);

  // Trains one epoch and evaluates on the validation split. Throws DivergedError on a
  // non-finite training loss.
  EpochMetrics RunEpoch();
  int64_t epochs_done() const { return epoch_; }

  // The whole training state (model parameters and buffers, optimiser state, shuffling
  // generator, epoch count) as bytes. A trainer built with the same hyperparameters, dataset and
  // seed that loads these bytes continues bit-for-bit as this one would (on the CPU).
  std::string SaveState();
  // Throws std::runtime_error when the bytes are not a checkpoint of this model/optimiser.
  void LoadState(const std::string& bytes);
  models::Model& model() { return *model_; }

 private:
  const data::Dataset& data_;
  torch::Device device_;
  std::shared_ptr<models::Model> model_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  at::Generator generator_;
  // Scratch of FusedAdamStep (trainer/src/fused_adam.h), the fused CPU step of Adam and AdamW.
  std::vector<at::Tensor> fused_step_counts_;
  void SetLearningRate(double lr);

  LrSchedule schedule_;
  bool bf16_ = false;
  int64_t batch_size_ = 0;
  int64_t eval_batch_size_ = 0;
  double grad_clip_ = 0;
  int64_t epoch_ = 0;
};

}  // namespace trainer
