// The reconstruction loss of a dA and its derivative, on Eigen arrays (vectorised by Eigen).
#pragma once
#include <algorithm>

#include "sdae/types.hpp"

namespace sdae {

/// Overwrites the decoder pre-activation a with dLoss/da, scaled by inv_b (the batch mean).
template <class A, class X>
void output_gradient(A&& a, const X& x, Loss loss, Activation decoder, float inv_b) {
  if (loss == Loss::cross_entropy) {
    a = (a.logistic() - x) * inv_b;
    return;
  }
  if (decoder == Activation::sigmoid) {
    a = a.logistic();
    a = (2.0f * inv_b) * (a - x) * a * (1.0f - a);
  } else {
    a = (2.0f * inv_b) * (a - x);
  }
}

/// The summed loss of one row segment from the decoder pre-activation a; with `delta`, a is
/// then overwritten by its gradient (see output_gradient).
template <class A, class X>
double segment_loss(A&& a, const X& x, Loss loss, Activation decoder, bool delta, float inv_b) {
  double total = 0.0;
  if (loss == Loss::cross_entropy) {
    // -[x log z + (1-x) log(1-z)] with z = sigmoid(a), written stably as softplus(a) - x a.
    // log(1 + e) rather than log1p(e): Eigen vectorises log, and e <= 1 keeps it accurate to 1e-7.
    // Evaluated into floats (through a cast to double Eigen calls scalar exp and log), 16 at a
    // time in a buffer on the stack, then summed in double.
    Eigen::Array<float, Eigen::Dynamic, 1, 0, 16, 1> per_element;
    for (Index j = 0; j < a.size(); j += 16) {
      const Index n = std::min<Index>(16, a.size() - j);
      const auto as = a.segment(j, n);
      per_element = as.max(0.0f) + ((-as.abs()).exp() + 1.0f).log() - x.segment(j, n) * as;
      total += per_element.template cast<double>().sum();
    }
  } else if (decoder == Activation::sigmoid) {
    total = (a.logistic() - x).square().template cast<double>().sum();
  } else {
    total = (a - x).square().template cast<double>().sum();
  }
  if (delta) output_gradient(a, x, loss, decoder, inv_b);
  return total;
}

}  // namespace sdae
