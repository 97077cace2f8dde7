// CNN: [Conv2d (same padding) → (BatchNorm2d) → activation → pool 2x2] × conv_blocks, channels
// doubling from `channels` → global average pool or flatten → (Dropout) → Linear(hidden_units)
// → activation → Linear(num_classes).
//
// Pooling halves each spatial dimension that is at least 2 and leaves a dimension of 1 alone,
// so deep stacks on small images keep a spatial size of at least 1x1. Convolutions followed by
// batch norm have no bias (batch norm's shift replaces it).
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>
#include <string>

#include "activation.h"
#include "dropout.h"
#include "models/model.h"
#include "registry.h"

namespace models {
namespace {

class CnnImpl : public Model {
 public:
  CnnImpl(const HParams& hp, const InputSpec& in) {
    RequireImageInput("cnn", in);
    const int64_t blocks = hp.GetInt("conv_blocks");
    const int64_t channels = hp.GetInt("channels");
    const int64_t kernel = hp.GetInt("kernel_size");
    const std::string pooling = hp.GetString("pooling");
    const bool global_pool = hp.GetBool("global_pool");
    const int64_t hidden = hp.GetInt("hidden_units");
    const double dropout = hp.GetDouble("dropout");
    const bool batch_norm = hp.GetBool("batch_norm");
    const std::string activation = hp.GetString("activation");
    if (blocks < 1) throw std::invalid_argument("conv_blocks must be >= 1");
    if (channels < 1) throw std::invalid_argument("channels must be >= 1");
    if (kernel < 1 || kernel % 2 == 0)
      throw std::invalid_argument("kernel_size must be odd and >= 1 (same padding)");
    if (pooling != "max" && pooling != "avg")
      throw std::invalid_argument("pooling must be max or avg, got '" + pooling + "'");
    if (hidden < 1) throw std::invalid_argument("hidden_units must be >= 1");
    if (dropout < 0 || dropout >= 1) throw std::invalid_argument("dropout must be in [0, 1)");
    if (blocks > 62 || channels > (int64_t{1} << (62 - blocks)))
      throw std::invalid_argument("channels * 2^(conv_blocks - 1) is too large");

    int64_t in_channels = in.input_shape[0], height = in.input_shape[1], width = in.input_shape[2];
    int64_t out_channels = channels;
    for (int64_t b = 0; b < blocks; ++b, out_channels *= 2) {
      body_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, kernel)
                                             .padding(kernel / 2)
                                             .bias(!batch_norm)));
      if (batch_norm) body_->push_back(torch::nn::BatchNorm2d(out_channels));
      body_->push_back(MakeActivation(activation));
      const int64_t pool_h = height >= 2 ? 2 : 1, pool_w = width >= 2 ? 2 : 1;
      if (pool_h > 1 || pool_w > 1) {
        if (pooling == "max")
          body_->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions({pool_h, pool_w})));
        else
          body_->push_back(torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions({pool_h, pool_w})));
        height /= pool_h;
        width /= pool_w;
      }
      in_channels = out_channels;
    }
    if (global_pool) {
      body_->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    }
    body_->push_back(torch::nn::Flatten());
    const int64_t features = global_pool ? in_channels : in_channels * height * width;
    if (dropout > 0) body_->push_back(Dropout(dropout, in.generator));
    body_->push_back(torch::nn::Linear(features, hidden));
    body_->push_back(MakeActivation(activation));
    body_->push_back(torch::nn::Linear(hidden, in.num_classes));
    register_module("body", body_);
  }
  torch::Tensor forward(torch::Tensor x) override { return body_->forward(x); }

 private:
  torch::nn::Sequential body_;
};

}  // namespace

std::shared_ptr<Model> MakeCnn(const HParams& hp, const InputSpec& in) {
  return std::make_shared<CnnImpl>(hp, in);
}

std::vector<HParamDoc> CnnHParams() {
  using K = HParamDoc::Kind;
  return {
      {"conv_blocks",
       K::kInt,
       int64_t{2},
       1,
       8,
       {},
       "cnn: convolution blocks (conv → batch norm → activation → 2x2 pool)"},
      {"channels",
       K::kInt,
       int64_t{32},
       1,
       1024,
       {},
       "cnn: output channels of the first block, doubled at each further block"},
      {"kernel_size", K::kInt, int64_t{3}, 1, 15, {}, "cnn: convolution kernel size (odd)"},
      {"pooling",
       K::kString,
       std::string("max"),
       0,
       0,
       {"max", "avg"},
       "cnn: pooling at the end of each block"},
      {"global_pool",
       K::kBool,
       false,
       0,
       0,
       {},
       "cnn: average the last block's output over space before the head (false: flatten it)"},
      SharedHParam("hidden_units"),
      SharedHParam("activation"),
      SharedHParam("dropout"),
      SharedHParam("batch_norm"),
  };
}

}  // namespace models
