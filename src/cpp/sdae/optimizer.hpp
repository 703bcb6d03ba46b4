// First-order updates over a layer's flat parameter vector.
#pragma once
#include <cstdint>

#include "sdae/types.hpp"

namespace sdae {

struct OptimizerSpec {
  Optimizer kind = Optimizer::sgd;
  float lr = 0.1f;
  float momentum = 0.9f;  ///< momentum's mu
  float beta1 = 0.9f;     ///< adam
  float beta2 = 0.999f;   ///< adam
  float eps = 1e-8f;      ///< adam
};

/// What a step does after its forward pass: a backward pass that leaves the gradient, or one
/// that updates the parameters as it goes (no gradient buffer, no second pass over them).
enum class StepMode {
  loss_only,        ///< forward and loss (validation)
  gradient,         ///< also the gradient, written to grad
  sgd_update,       ///< also theta -= lr * gradient, fused into the backward pass
  momentum_update,  ///< also velocity = mu velocity - lr gradient, theta += velocity, fused (the stack's)
};

/// Throws std::invalid_argument when a hyper-parameter is out of range.
void validate(const OptimizerSpec& opt);

/// One update of theta from its gradient.
/// @param theta (P) parameters  @param grad (P)
/// @param m (P) momentum velocity or adam's first moment; unused (may be empty) for sgd
/// @param v (P) adam's second moment; unused (may be empty) otherwise
/// @param step the number of this update, from 1 (adam's bias correction)
void apply_update(const OptimizerSpec& opt, float* theta, const float* grad, float* m, float* v,
                  Index P, std::int64_t step, int num_threads);

}  // namespace sdae
