// The reconstruction loss of a dA and its derivative, on Eigen arrays (vectorised by Eigen).
#pragma once
#include <algorithm>
#include <vector>

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

/// A minibatch row's output segment in one pass, 16 outputs at a time: the decoder's
/// pre-activation a = (sum of the threads' shares) + c, the loss summed over the segment
/// (returned) and, with `delta`, dLoss/da scaled by inv_b written to out and added to csum (the
/// output bias's gradient). The tail is padded to a block: every element takes the same
/// vectorised path, at any address.
/// @param shares pointers to n floats each, summed in order  @param c, x, out, csum (n)
inline double output_segment(const std::vector<const float*>& shares, const float* c, const float* x, float* out,
                             float* csum, Index n, Loss loss, Activation decoder, bool delta, float inv_b) {
  using Block = Eigen::Array<float, 16, 1>;
  using Map = Eigen::Map<Block>;
  using ConstMap = Eigen::Map<const Block>;
  Eigen::Array<double, 16, 1> total = Eigen::Array<double, 16, 1>::Zero();
  for (Index j = 0; j < n; j += 16) {
    const int lanes = static_cast<int>(std::min<Index>(16, n - j));
    auto load = [&](const float* p) -> Block {
      if (lanes == 16) return ConstMap(p + j);
      Block v = Block::Zero();
      v.head(lanes) = Eigen::Map<const Eigen::ArrayXf>(p + j, lanes);
      return v;
    };
    Block a = load(shares[0]) + load(c);
    for (size_t u = 1; u < shares.size(); ++u) a += load(shares[u]);
    const Block xv = load(x);
    Block l, d;
    if (decoder == Activation::linear) {  // squared error (cross-entropy needs a sigmoid)
      l = (a - xv).square();
      d = (2.0f * inv_b) * (a - xv);
    } else {
      const Block z = a.logistic();
      if (loss == Loss::cross_entropy) {
        l = a.max(0.0f) + ((-a.abs()).exp() + 1.0f).log() - xv * a;
        d = (z - xv) * inv_b;
      } else {
        l = (z - xv).square();
        d = (2.0f * inv_b) * (z - xv) * z * (1.0f - z);
      }
    }
    if (lanes < 16) l.tail(16 - lanes).setZero();
    total += l.cast<double>();
    if (!delta) continue;
    if (lanes == 16) {
      Map(out + j) = d;
      Map(csum + j) += d;
    } else {
      Eigen::Map<Eigen::ArrayXf>(out + j, lanes) = d.head(lanes);
      Eigen::Map<Eigen::ArrayXf>(csum + j, lanes) += d.head(lanes);
    }
  }
  return total.sum();
}

}  // namespace sdae
