// A small box-constrained quasi-Newton minimiser for the GP sampler (kernel hyperparameters and
// the acquisition function's continuous dimensions).
//
// Algorithm: L-BFGS directions on the free variables (those not held at a bound by the gradient),
// a backtracking Armijo search along the projected path P(x + t d), and curvature pairs kept only
// when s'y > 0. It is not a full L-BFGS-B (no Cauchy point), which is enough for the smooth,
// low-dimensional problems here.
//
// Thread safety: stateless; safe to call concurrently with different objectives.
#pragma once

#include <Eigen/Dense>
#include <deque>
#include <functional>

namespace hpo::gp {

// Value of the objective at x, writing its gradient into *grad (already sized like x). A
// non-finite value marks x as unusable: the line search backs off from it.
using Objective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd* grad)>;

struct LbfgsOptions {
  int max_iterations = 100;
  int max_evaluations = 400;
  int memory = 10;
  // Stop when the projected gradient's max-norm falls below this.
  double pgtol = 1e-5;
  // Stop when an iteration lowers f by less than ftol * max(|f|, 1).
  double ftol = 1e-12;
};

struct LbfgsResult {
  Eigen::VectorXd x;  // best point found (inside the box)
  double f = 0;       // its value; +inf when not even the start was finite
  int iterations = 0;
  int evaluations = 0;
};

// Curvature pairs (s, y) of a run. Passing the memory of a previous run on a similar problem
// (the same objective with slightly different data) makes the first steps quasi-Newton ones.
struct LbfgsMemory {
  std::deque<Eigen::VectorXd> s, y;
  std::deque<double> rho;  // 1 / (s'y)
  void clear() {
    s.clear();
    y.clear();
    rho.clear();
  }
};

// Minimises `f` over lower <= x <= upper starting from `x0` (projected into the box). With
// `memory`, starts from its pairs (when their size matches) and leaves the final ones there.
LbfgsResult MinimizeBox(const Objective& f, const Eigen::VectorXd& x0, const Eigen::VectorXd& lower,
                        const Eigen::VectorXd& upper, const LbfgsOptions& options = {},
                        LbfgsMemory* memory = nullptr);

}  // namespace hpo::gp
