// The reconstruction loss of a dA and its derivative, on Eigen arrays (vectorised by Eigen).
#pragma once
#include <type_traits>

#include "sdae/types.hpp"

namespace sdae {

/// The summed loss of one row segment from the decoder pre-activation a; with `delta`, a is
/// overwritten by dLoss/da scaled by inv_b (the batch mean).
template <class A, class X>
double segment_loss(A&& a, const X& x, Loss loss, Activation decoder, bool delta, float inv_b) {
  double total;
  if (loss == Loss::cross_entropy) {
    // -[x log z + (1-x) log(1-z)] with z = sigmoid(a), written stably as softplus(a) - x a.
    // log(1 + e) rather than log1p(e): Eigen vectorises log, and e <= 1 keeps it accurate to 1e-7.
    // Evaluated into floats first: through a cast to double Eigen calls scalar exp and log.
    const typename std::decay_t<A>::PlainObject per_element = a.max(0.0f) + ((-a.abs()).exp() + 1.0f).log() - x * a;
    total = per_element.template cast<double>().sum();
    if (delta) a = (a.logistic() - x) * inv_b;
    return total;
  }
  if (decoder == Activation::sigmoid) a = a.logistic();
  total = (a - x).square().template cast<double>().sum();
  if (delta) {
    if (decoder == Activation::sigmoid)
      a = (2.0f * inv_b) * (a - x) * a * (1.0f - a);
    else
      a = (2.0f * inv_b) * (a - x);
  }
  return total;
}

}  // namespace sdae
