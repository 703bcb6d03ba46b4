#include "sdae/optimizer.hpp"

#include <cmath>
#include <stdexcept>

#include "sdae/threads.hpp"

namespace sdae {

void validate(const OptimizerSpec& opt) {
  if (!(opt.lr > 0.0f) || !std::isfinite(opt.lr)) throw std::invalid_argument("learning rate must be > 0");
  if (!(opt.momentum >= 0.0f && opt.momentum < 1.0f)) throw std::invalid_argument("momentum must be in [0, 1)");
  if (!(opt.beta1 >= 0.0f && opt.beta1 < 1.0f) || !(opt.beta2 >= 0.0f && opt.beta2 < 1.0f))
    throw std::invalid_argument("adam betas must be in [0, 1)");
  if (!(opt.eps > 0.0f)) throw std::invalid_argument("adam eps must be > 0");
}

void apply_update(const OptimizerSpec& opt, float* theta, const float* grad, float* m, float* v,
                  Index P, std::int64_t step, int num_threads) {
  const int nt = ThreadScope(num_threads).for_elements(P);
  const float lr = opt.lr;
  switch (opt.kind) {
    case Optimizer::sgd:
#pragma omp parallel for simd num_threads(nt) schedule(static)
      for (Index i = 0; i < P; ++i) theta[i] -= lr * grad[i];
      return;
    case Optimizer::momentum: {
      const float mu = opt.momentum;
#pragma omp parallel for simd num_threads(nt) schedule(static)
      for (Index i = 0; i < P; ++i) {
        m[i] = mu * m[i] - lr * grad[i];
        theta[i] += m[i];
      }
      return;
    }
    case Optimizer::adam: {
      const float b1 = opt.beta1, b2 = opt.beta2, eps = opt.eps;
      // Bias corrections folded into the step size, computed once in double.
      const double c1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(step));
      const double c2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(step));
      const float step_size = static_cast<float>(lr * std::sqrt(c2) / c1);
      const float eps_hat = static_cast<float>(eps * std::sqrt(c2));
#pragma omp parallel for simd num_threads(nt) schedule(static)
      for (Index i = 0; i < P; ++i) {
        const float g = grad[i];
        m[i] = b1 * m[i] + (1.0f - b1) * g;
        v[i] = b2 * v[i] + (1.0f - b2) * g * g;
        theta[i] -= step_size * m[i] / (std::sqrt(v[i]) + eps_hat);
      }
      return;
    }
  }
}

}  // namespace sdae
