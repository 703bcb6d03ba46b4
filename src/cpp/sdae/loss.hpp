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

/// The loss of each element, from the decoder pre-activation a and the clean x.
template <class A, class X>
auto element_loss(const A& a, const X& x, Loss loss, Activation decoder) {
  using Array = Eigen::Array<float, A::RowsAtCompileTime, 1, 0, A::MaxRowsAtCompileTime, 1>;
  // -[x log z + (1-x) log(1-z)] with z = sigmoid(a), written stably as softplus(a) - x a. log(1 +
  // e) rather than log1p(e): Eigen vectorises log, and e <= 1 keeps it accurate to 1e-7.
  if (loss == Loss::cross_entropy) return Array(a.max(0.0f) + ((-a.abs()).exp() + 1.0f).log() - x * a);
  if (decoder == Activation::sigmoid) return Array((a.logistic() - x).square());
  return Array((a - x).square());
}

/// A row's output segment in one pass, 16 outputs at a time: the decoder's pre-activation a =
/// (the sum of `parts` shares, in order) + c, the loss summed over the segment (returned, in
/// double) and, with `delta`, dLoss/da scaled by inv_b written to out and added to csum (the
/// output bias's gradient). The tail is padded to a block: every element takes the same
/// vectorised path, at any address. @param shares parts pointers to n floats
/// @param c (n), or null for none  @param x, out, csum (n); out and csum only with delta
double output_segment(const float* const* shares, int parts, const float* c, const float* x, float* out, float* csum,
                      Index n, Loss loss, Activation decoder, bool delta, float inv_b);

}  // namespace sdae
