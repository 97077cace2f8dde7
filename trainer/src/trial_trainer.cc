#include "trainer/trial_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include "fused_adam.h"
#include "hpo/check.h"
#ifdef HPO_HAVE_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif
#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <mutex>
#include <numbers>
#include <sstream>

namespace trainer {
namespace {

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const models::HParams& hp,
                                                       std::vector<torch::Tensor> params) {
  const std::string name = hp.GetString("optimizer");
  const double lr = hp.GetDouble("lr");
  const double wd = hp.GetDouble("weight_decay");
  if (lr <= 0) throw std::invalid_argument("lr must be > 0");
  if (name == "sgd")
    return std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(lr)
                    .momentum(hp.GetDouble("momentum"))
                    .nesterov(hp.GetBool("nesterov") && hp.GetDouble("momentum") > 0)
                    .weight_decay(wd));
  if (name == "adam")
    return std::make_unique<torch::optim::Adam>(params,
                                                torch::optim::AdamOptions(lr).weight_decay(wd));
  if (name == "adamw")
    return std::make_unique<torch::optim::AdamW>(params,
                                                 torch::optim::AdamWOptions(lr).weight_decay(wd));
  if (name == "rmsprop")
    return std::make_unique<torch::optim::RMSprop>(
        params,
        torch::optim::RMSpropOptions(lr).momentum(hp.GetDouble("momentum")).weight_decay(wd));
  throw std::invalid_argument("unknown optimizer '" + name +
                              "' (known: sgd, adam, adamw, rmsprop)");
}

// Shuffling generator on the trial's device, so the permutation is drawn where the data lives.
at::Generator MakeGenerator(torch::Device device, uint64_t seed) {
#ifdef HPO_HAVE_CUDA
  if (device.is_cuda()) {
    at::Generator g = at::cuda::detail::createCUDAGenerator(device.index());
    g.set_current_seed(seed);
    return g;
  }
#endif
  HPO_CHECK(device.is_cpu()) << "no CUDA support compiled in for" << device.str();
  return at::detail::createCPUGenerator(seed);
}

// Weight initialisation draws from the global generator: seed it and build under one lock so
// that concurrent trials get reproducible weights.
// bf16 autocast on CUDA for the scope's forward passes (autocast state is thread-local).
class AutocastScope {
 public:
  explicit AutocastScope(bool on) : on_(on) {
    if (!on_) return;
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
  }
  ~AutocastScope() {
    if (!on_) return;
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

std::mutex& InitMutex() {
  static std::mutex mu;
  return mu;
}

}  // namespace

void TrialTrainer::SetLearningRate(double lr) {
  for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
}

double EpochMetrics::Get(const std::string& metric) const {
  if (metric == "val_accuracy") return val_accuracy;
  if (metric == "val_loss") return val_loss;
  if (metric == "train_loss") return train_loss;
  throw std::invalid_argument("unknown metric '" + metric +
                              "' (known: val_accuracy, val_loss, train_loss)");
}

TrialTrainer::TrialTrainer(const models::HParams& hp, const data::Dataset& dataset,
                           torch::Device device, uint64_t seed, int64_t max_epochs)
    : data_(dataset), device_(device), generator_(MakeGenerator(device, seed)) {
  {
    std::lock_guard<std::mutex> lock(InitMutex());
    torch::manual_seed(seed);
    model_ = models::BuildModel(hp.GetString("name"), hp,
                                {dataset.input_shape, dataset.num_classes, generator_});
  }
  model_->to(device_);
  optimizer_ = MakeOptimizer(hp, model_->parameters());
  schedule_.base_lr = hp.GetDouble("lr");
  schedule_.kind = hp.GetString("lr_schedule");
  schedule_.warmup_epochs = hp.GetDouble("warmup_epochs");
  schedule_.step_epochs = hp.GetInt("lr_step_epochs");
  schedule_.gamma = hp.GetDouble("lr_gamma");
  schedule_.max_epochs = std::max<int64_t>(1, max_epochs);
  schedule_.Validate();
  bf16_ = hp.GetString("precision") == "bf16" && device_.is_cuda();
  batch_size_ = hp.GetInt("batch_size");
  eval_batch_size_ = hp.GetInt("eval_batch_size");
  grad_clip_ = hp.GetDouble("grad_clip");
  if (batch_size_ < 1) throw std::invalid_argument("batch_size must be >= 1");
}

void LrSchedule::Validate() const {
  if (kind == "step" && step_epochs < 1)
    throw std::invalid_argument("lr_schedule step needs lr_step_epochs >= 1");
}

double LrSchedule::At(double t) const {
  if (warmup_epochs > 0 && t < warmup_epochs) return base_lr * (t + 1e-12) / warmup_epochs;
  if (kind == "step")
    return base_lr * std::pow(gamma, std::floor(t / static_cast<double>(step_epochs)));
  if (kind == "cosine") {
    double span = std::max(1e-12, static_cast<double>(max_epochs) - warmup_epochs);
    double progress = std::min(1.0, (t - warmup_epochs) / span);
    return 0.5 * base_lr * (1 + std::cos(std::numbers::pi * progress));
  }
  return base_lr;
}

EpochMetrics TrialTrainer::RunEpoch() {
  auto start = std::chrono::steady_clock::now();
  const int64_t n = data_.train_x.size(0);
  const int64_t batches = (n + batch_size_ - 1) / batch_size_;
  torch::Tensor perm =
      torch::randperm(n, generator_, torch::TensorOptions().dtype(torch::kLong).device(device_));
  model_->train();
  torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device_));
  const bool scheduled = schedule_.varies();
  if (!scheduled) SetLearningRate(schedule_.base_lr);
  for (int64_t b = 0; b < batches; ++b) {
    if (scheduled)
      SetLearningRate(schedule_.At(static_cast<double>(epoch_) +
                                   static_cast<double>(b) / static_cast<double>(batches)));
    torch::Tensor idx = perm.slice(0, b * batch_size_, std::min(n, (b + 1) * batch_size_));
    torch::Tensor x = data_.train_x.index_select(0, idx);
    torch::Tensor y = data_.train_y.index_select(0, idx);
    optimizer_->zero_grad();
    torch::Tensor loss;
    {
      AutocastScope autocast(bf16_);
      loss = torch::nn::functional::cross_entropy(model_->forward(x).to(torch::kFloat), y);
    }
    loss.backward();
    if (grad_clip_ > 0) torch::nn::utils::clip_grad_norm_(model_->parameters(), grad_clip_);
    if (!device_.is_cpu() || !FusedAdamStep(*optimizer_, fused_step_counts_)) optimizer_->step();
    loss_sum += loss.detach() * idx.size(0);  // no host sync inside the loop
  }
  // Free the last step's gradients before evaluating (the next step would only overwrite them):
  // evaluation activations then take their place instead of adding to them.
  optimizer_->zero_grad();
  EpochMetrics m;
  m.train_loss = loss_sum.item<double>() / static_cast<double>(n);
  if (!std::isfinite(m.train_loss))
    throw DivergedError("training loss is " + std::to_string(m.train_loss) + " at epoch " +
                        std::to_string(epoch_ + 1));
  auto trained = std::chrono::steady_clock::now();

  model_->eval();
  {
    torch::NoGradGuard no_grad;
    const int64_t nv = data_.val_x.size(0);
    torch::Tensor correct =
        torch::zeros({}, torch::TensorOptions().dtype(torch::kLong).device(device_));
    torch::Tensor vloss = torch::zeros({}, torch::TensorOptions().device(device_));
    for (int64_t begin = 0; begin < nv; begin += eval_batch_size_) {
      int64_t end = std::min(nv, begin + eval_batch_size_);
      torch::Tensor logits;
      {
        AutocastScope autocast(bf16_);
        logits = model_->forward(data_.val_x.slice(0, begin, end)).to(torch::kFloat);
      }
      torch::Tensor y = data_.val_y.slice(0, begin, end);
      vloss += torch::nn::functional::cross_entropy(
          logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
      correct += logits.argmax(1).eq(y).sum();
    }
    m.val_loss = nv ? vloss.item<double>() / static_cast<double>(nv) : 0.0;
    m.val_accuracy = nv ? correct.item<double>() / static_cast<double>(nv) : 0.0;
  }
  ++epoch_;
  auto end = std::chrono::steady_clock::now();
  m.epoch = epoch_;
  m.seconds = std::chrono::duration<double>(end - start).count();
  double train_seconds = std::chrono::duration<double>(trained - start).count();
  m.samples_per_second = train_seconds > 0 ? static_cast<double>(n) / train_seconds : 0.0;
  return m;
}

std::string TrialTrainer::SaveState() {
  torch::serialize::OutputArchive archive, model, optim;
  model_->save(model);
  optimizer_->save(optim);
  archive.write("model", model);
  archive.write("optimizer", optim);
  archive.write("generator", generator_.get_state());
  archive.write("epoch", torch::tensor(epoch_, torch::kLong));
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void TrialTrainer::LoadState(const std::string& bytes) {
  torch::serialize::InputArchive archive, model, optim;
  archive.load_from(bytes.data(), bytes.size(), device_);
  archive.read("model", model);
  archive.read("optimizer", optim);
  // Module::load replaces tensors without checking shapes: check them, so that a checkpoint of
  // another architecture is an error instead of a silently different model.
  std::vector<std::vector<int64_t>> shapes;
  for (const auto& p : model_->parameters()) shapes.push_back(p.sizes().vec());
  model_->load(model);
  auto loaded = model_->parameters();
  bool same = loaded.size() == shapes.size();
  for (size_t i = 0; same && i < loaded.size(); ++i) same = loaded[i].sizes().vec() == shapes[i];
  if (!same)
    throw std::runtime_error(
        "checkpoint does not match this trial's model (different "
        "architecture hyperparameters)");
  optimizer_->load(optim);
  torch::Tensor gen, epoch;
  archive.read("generator", gen);
  archive.read("epoch", epoch);
  generator_.set_state(gen.cpu());  // generator states are CPU byte tensors
  epoch_ = epoch.item<int64_t>();
}

}  // namespace trainer
