// Dropout whose masks come from a generator chosen by the caller (private to models/).
//
// torch::nn::Dropout draws from the process-wide default generator, which every trial thread
// shares, so a trial's masks depend on what the other trials drew. This module draws from the
// generator it was given (models::InputSpec::generator), so a trial that seeds its own
// generator gets the same masks whatever runs beside it.
//
// Example:
//   auto gen = at::detail::createCPUGenerator(/*seed_in=*/7);
//   models::Dropout drop(/*p=*/0.5, gen);
//   torch::Tensor y = drop(x);  // train mode: x * mask / (1 - p); eval mode: x
//
// Thread safety: drawing locks the generator, so sharing one between threads is safe but makes
// the masks depend on the threads' interleaving again: give each trial its own.
// Devices: an undefined generator means the default generator of x's device. A generator on
// another device than x (the usual case: a CPU generator, a CUDA model) draws the mask there
// and copies it to x's device, so results do not depend on the model's device type.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

namespace models {

class DropoutImpl : public torch::nn::Cloneable<DropoutImpl> {
 public:
  // Throws std::invalid_argument unless 0 <= p < 1.
  explicit DropoutImpl(double p, at::Generator generator = {});

  // Training and p > 0: zeroes each element with probability p and scales the rest by
  // 1 / (1 - p). Otherwise returns x unchanged.
  torch::Tensor forward(const torch::Tensor& x);

  void reset() override {}
  double p() const { return p_; }

 private:
  double p_;
  at::Generator generator_;  // undefined: the default generator
};
TORCH_MODULE(Dropout);

}  // namespace models
