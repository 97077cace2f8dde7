#include "dropout.h"

#include <stdexcept>
#include <string>

namespace models {

DropoutImpl::DropoutImpl(double p, at::Generator generator)
    : p_(p), generator_(std::move(generator)) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(p));
}

torch::Tensor DropoutImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0) return x;
  const double keep = 1 - p_;
  torch::Tensor mask;
  if (generator_.defined() && generator_.device() != x.device()) {
    mask = torch::empty(x.sizes(), x.options().device(generator_.device()))
               .bernoulli_(keep, generator_)
               .to(x.device());
  } else if (generator_.defined()) {
    mask = torch::empty_like(x).bernoulli_(keep, generator_);
  } else {
    mask = torch::empty_like(x).bernoulli_(keep);
  }
  return x * mask.div_(keep);
}

}  // namespace models
