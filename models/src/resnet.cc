// ResNet (CIFAR-style, He et al. 2016 §4.2): stem Conv3x3(width) → BN → ReLU, then three
// stages of `resnet_depth` BasicBlocks with width, 2·width and 4·width channels (the first
// block of stages 2 and 3 has stride 2 and a 1x1 projection shortcut), global average pool,
// Linear(num_classes). Batch norm is always on, so convolutions have no bias.
#include <torch/nn/functional/activation.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>

#include "models/model.h"
#include "registry.h"

namespace models {
namespace {

torch::nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut projects (1x1 conv → BN)
// when the stride or the channel count changes, else it is the identity.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride)
      : conv1_(register_module("conv1", Conv(in, out, 3, stride))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(out))),
        conv2_(register_module("conv2", Conv(out, out, 3, 1))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut", torch::nn::Sequential(Conv(in, out, 1, stride), torch::nn::BatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = torch::relu(bn1_(conv1_(x)));
    y = bn2_(conv2_(y));
    return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNetImpl : public Model {
 public:
  ResNetImpl(const HParams& hp, const InputSpec& in) {
    RequireImageInput("resnet", in);
    const int64_t depth = hp.GetInt("resnet_depth");
    const int64_t width = hp.GetInt("width");
    if (depth < 1) throw std::invalid_argument("resnet_depth must be >= 1");
    if (width < 1) throw std::invalid_argument("width must be >= 1");
    if (width > (int64_t{1} << 40)) throw std::invalid_argument("width is too large");

    body_->push_back(Conv(in.input_shape[0], width, 3, 1));
    body_->push_back(torch::nn::BatchNorm2d(width));
    body_->push_back(torch::nn::ReLU());
    int64_t channels = width;
    for (int64_t stage = 0; stage < 3; ++stage) {
      const int64_t out = width << stage;
      for (int64_t b = 0; b < depth; ++b) {
        body_->push_back(BasicBlock(channels, out, stage > 0 && b == 0 ? 2 : 1));
        channels = out;
      }
    }
    body_->push_back(torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions(1)));
    body_->push_back(torch::nn::Flatten());
    body_->push_back(torch::nn::Linear(channels, in.num_classes));
    register_module("body", body_);
  }
  torch::Tensor forward(torch::Tensor x) override { return body_->forward(x); }

 private:
  torch::nn::Sequential body_;
};

}  // namespace

std::shared_ptr<Model> MakeResNet(const HParams& hp, const InputSpec& in) {
  return std::make_shared<ResNetImpl>(hp, in);
}

std::vector<HParamDoc> ResNetHParams() {
  using K = HParamDoc::Kind;
  return {
      {"resnet_depth",
       K::kInt,
       int64_t{1},
       1,
       64,
       {},
       "resnet: BasicBlocks per stage (3 stages; 6·depth + 2 layers in all)"},
      {"width",
       K::kInt,
       int64_t{16},
       1,
       1024,
       {},
       "resnet: channels of the stem and first stage, doubled at each of the two next stages"},
  };
}

}  // namespace models
