#include "fused_adam.h"

#include <ATen/ops/_fused_adam.h>
#include <ATen/ops/_fused_adamw.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <memory>

namespace trainer {
namespace {

template <typename Optim, typename Options, typename State>
bool FusedAdamStepOf(Optim& adam, bool decoupled_weight_decay, std::vector<at::Tensor>& steps) {
  for (auto& group : adam.param_groups()) {
    if (static_cast<Options&>(group.options()).amsgrad()) return false;
    for (const auto& p : group.params())
      if (!p.is_cpu() || p.scalar_type() != at::kFloat) return false;
  }
  torch::NoGradGuard no_grad;
  for (auto& group : adam.param_groups()) {
    const auto& o = static_cast<Options&>(group.options());
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
    size_t used = 0;
    for (const auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& states = adam.state();
      auto it = states.find(p.unsafeGetTensorImpl());
      if (it == states.end()) {
        auto st = std::make_unique<State>();
        st->step(0);
        st->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
        st->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
        it = states.emplace(p.unsafeGetTensorImpl(), std::move(st)).first;
      }
      auto& st = static_cast<State&>(*it->second);
      st.step(st.step() + 1);
      // The kernel reads each step count from a float scalar tensor (it does not increment
      // it): reuse one per parameter and write the count in place, no kernel launch.
      if (used == steps.size()) steps.push_back(torch::zeros({}, at::kFloat));
      *steps[used++].data_ptr<float>() = static_cast<float>(st.step());
      params.push_back(p);
      grads.push_back(p.grad());
      exp_avgs.push_back(st.exp_avg());
      exp_avg_sqs.push_back(st.exp_avg_sq());
    }
    if (params.empty()) continue;
    const at::TensorList step_list(steps.data(), used);
    const auto [beta1, beta2] = o.betas();
    if (decoupled_weight_decay)
      at::_fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, step_list,
                        o.lr(), beta1, beta2, o.weight_decay(), o.eps(), /*amsgrad=*/false,
                        /*maximize=*/false);
    else
      at::_fused_adam_(params, grads, exp_avgs, exp_avg_sqs, /*max_exp_avg_sqs=*/{}, step_list,
                       o.lr(), beta1, beta2, o.weight_decay(), o.eps(), /*amsgrad=*/false,
                       /*maximize=*/false);
  }
  return true;
}

}  // namespace

bool FusedAdamStep(torch::optim::Optimizer& optimizer, std::vector<at::Tensor>& step_counts) {
  if (auto* adam = dynamic_cast<torch::optim::Adam*>(&optimizer))
    return FusedAdamStepOf<torch::optim::Adam, torch::optim::AdamOptions,
                           torch::optim::AdamParamState>(*adam, /*decoupled_weight_decay=*/false,
                                                         step_counts);
  if (auto* adamw = dynamic_cast<torch::optim::AdamW*>(&optimizer))
    return FusedAdamStepOf<torch::optim::AdamW, torch::optim::AdamWOptions,
                           torch::optim::AdamWParamState>(*adamw, /*decoupled_weight_decay=*/true,
                                                          step_counts);
  return false;
}

}  // namespace trainer
