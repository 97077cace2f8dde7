// A fused CPU step for torch::optim::Adam and AdamW (private to trainer/).
//
// torch::optim::Adam::step() runs about 7 elementwise kernels per parameter tensor; on small
// models the per-kernel overhead and on large ones the repeated passes over memory dominate the
// optimiser's time. FusedAdamStep does the same update with one at::_fused_adam_ (or
// at::_fused_adamw_) call per parameter group, on the optimiser's own state, so that:
//   - checkpoints keep their format (optimizer.save/load see the usual AdamParamState /
//     AdamWParamState: step, exp_avg, exp_avg_sq), and a state saved after fused steps loads
//     into an optimiser stepped either way;
//   - the update equals torch::optim's up to float rounding (the kernel evaluates the same
//     formula in another order); it is deterministic, so a paused and resumed trial continues
//     bit for bit.
//
// Example:
//   std::vector<at::Tensor> step_counts;  // scratch, kept by the caller between steps
//   loss.backward();
//   if (!trainer::FusedAdamStep(*optimizer, step_counts)) optimizer->step();
//
// Thread safety: as optimizer.step(): one thread per optimiser.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <vector>

namespace trainer {

// Steps `optimizer` if it is a torch::optim::Adam or AdamW without amsgrad whose parameters are
// all float32 CPU tensors, and returns true; otherwise does nothing and returns false (call
// optimizer.step() then). Parameters without a gradient are skipped, as torch::optim does.
// `step_counts` is scratch space (one float scalar per parameter) that the caller keeps between
// calls so that no tensor is allocated per step.
bool FusedAdamStep(torch::optim::Optimizer& optimizer, std::vector<at::Tensor>& step_counts);

}  // namespace trainer
