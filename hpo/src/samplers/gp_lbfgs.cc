#include "samplers/gp_lbfgs.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace hpo::gp {

LbfgsResult MinimizeBox(const Objective& f, const Eigen::VectorXd& x0, const Eigen::VectorXd& lower,
                        const Eigen::VectorXd& upper, const LbfgsOptions& options,
                        LbfgsMemory* memory) {
  const Eigen::Index n = x0.size();
  auto project = [&](Eigen::VectorXd& v) { v = v.cwiseMax(lower).cwiseMin(upper); };

  LbfgsResult result;
  Eigen::VectorXd x = x0;
  project(x);
  Eigen::VectorXd g(n);
  double fx = f(x, &g);
  result.evaluations = 1;
  result.x = x;
  result.f = fx;
  if (!std::isfinite(fx) || !g.allFinite()) {
    result.f = std::numeric_limits<double>::infinity();
    return result;
  }

  LbfgsMemory local;
  LbfgsMemory& mem = memory != nullptr ? *memory : local;
  if (!mem.s.empty() && mem.s.front().size() != n) mem.clear();
  while (static_cast<int>(mem.s.size()) > options.memory) {
    mem.s.pop_front();
    mem.y.pop_front();
    mem.rho.pop_front();
  }
  std::deque<Eigen::VectorXd>& s_hist = mem.s;
  std::deque<Eigen::VectorXd>& y_hist = mem.y;
  std::deque<double>& rho_hist = mem.rho;
  std::vector<double> alpha(std::max(options.memory, 1));
  Eigen::VectorXd pg(n), d(n), xn(n), gn(n);
  std::vector<char> free_var(n);

  for (int it = 0; it < options.max_iterations; ++it) {
    // Projected gradient: variables pushed against a bound by the gradient are held there.
    for (Eigen::Index i = 0; i < n; ++i) {
      bool held = (x[i] <= lower[i] && g[i] > 0) || (x[i] >= upper[i] && g[i] < 0);
      free_var[i] = !held;
      pg[i] = held ? 0.0 : g[i];
    }
    if (pg.lpNorm<Eigen::Infinity>() <= options.pgtol) break;

    // Two-loop recursion on the free variables.
    d = pg;
    const int m = static_cast<int>(s_hist.size());
    for (int k = m - 1; k >= 0; --k) {
      alpha[k] = rho_hist[k] * s_hist[k].dot(d);
      d -= alpha[k] * y_hist[k];
    }
    if (m > 0) {
      d *= s_hist.back().dot(y_hist.back()) / y_hist.back().squaredNorm();
    } else {
      d /= std::max(1.0, pg.lpNorm<Eigen::Infinity>());  // first step: at most 1 per coordinate
    }
    for (int k = 0; k < m; ++k) {
      double beta = rho_hist[k] * y_hist[k].dot(d);
      d += (alpha[k] - beta) * s_hist[k];
    }
    d = -d;
    for (Eigen::Index i = 0; i < n; ++i)
      if (!free_var[i]) d[i] = 0.0;
    if (!d.allFinite() || d.dot(pg) >= 0) {  // not a descent direction: restart from steepest
      s_hist.clear();
      y_hist.clear();
      rho_hist.clear();
      d = -pg / std::max(1.0, pg.lpNorm<Eigen::Infinity>());
    }

    // Backtracking Armijo search along the projected path.
    bool accepted = false;
    double fn = 0, t = 1.0;
    for (int ls = 0; ls < 40 && result.evaluations < options.max_evaluations; ++ls, t *= 0.5) {
      xn = x + t * d;
      project(xn);
      Eigen::VectorXd step = xn - x;
      if (step.lpNorm<Eigen::Infinity>() == 0.0) break;
      fn = f(xn, &gn);
      ++result.evaluations;
      if (std::isfinite(fn) && gn.allFinite() && fn <= fx + 1e-4 * g.dot(step)) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;
    ++result.iterations;

    Eigen::VectorXd s = xn - x, y = gn - g;
    double sy = s.dot(y);
    if (sy > 1e-12 * y.squaredNorm() && sy > 0) {
      if (static_cast<int>(s_hist.size()) == options.memory) {
        s_hist.pop_front();
        y_hist.pop_front();
        rho_hist.pop_front();
      }
      s_hist.push_back(s);
      y_hist.push_back(y);
      rho_hist.push_back(1.0 / sy);
    }
    double decrease = fx - fn;
    x = xn;
    g = gn;
    fx = fn;
    if (decrease <= options.ftol * std::max(std::abs(fx), 1.0)) break;
    if (result.evaluations >= options.max_evaluations) break;
  }
  result.x = x;
  result.f = fx;
  return result;
}

}  // namespace hpo::gp
