// MLP: flatten → [Linear → (BatchNorm) → activation → (Dropout)] × layers → Linear.
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <stdexcept>

#include "activation.h"
#include "dropout.h"
#include "models/model.h"
#include "registry.h"

namespace models {
namespace {

class MlpImpl : public Model {
 public:
  MlpImpl(const HParams& hp, const InputSpec& in) {
    int64_t features = 1;
    for (int64_t d : in.input_shape) features *= d;
    const int64_t width = hp.GetInt("hidden_units");
    const int64_t layers = hp.GetInt("layers");
    const double dropout = hp.GetDouble("dropout");
    if (width < 1) throw std::invalid_argument("hidden_units must be >= 1");
    if (layers < 0) throw std::invalid_argument("layers must be >= 0");
    if (dropout < 0 || dropout >= 1) throw std::invalid_argument("dropout must be in [0, 1)");
    for (int64_t i = 0; i < layers; ++i) {
      body_->push_back(torch::nn::Linear(i == 0 ? features : width, width));
      if (hp.GetBool("batch_norm")) body_->push_back(torch::nn::BatchNorm1d(width));
      body_->push_back(MakeActivation(hp.GetString("activation")));
      if (dropout > 0) body_->push_back(Dropout(dropout, in.generator));
    }
    body_->push_back(torch::nn::Linear(layers > 0 ? width : features, in.num_classes));
    register_module("body", body_);
  }
  torch::Tensor forward(torch::Tensor x) override { return body_->forward(x.flatten(1)); }

 private:
  torch::nn::Sequential body_;
};

}  // namespace

std::shared_ptr<Model> MakeMlp(const HParams& hp, const InputSpec& in) {
  return std::make_shared<MlpImpl>(hp, in);
}

std::vector<HParamDoc> MlpHParams() {
  return {
      SharedHParam("hidden_units"),
      {"layers", HParamDoc::Kind::kInt, int64_t{2}, 0, 64, {}, "mlp: number of hidden layers"},
      SharedHParam("activation"),
      SharedHParam("dropout"),
      SharedHParam("batch_norm"),
  };
}

}  // namespace models
