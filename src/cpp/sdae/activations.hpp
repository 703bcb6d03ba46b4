// Elementwise activations and their derivatives, on Eigen arrays (vectorised by Eigen).
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// a <- s(a), in place.
template <class ArrayT>
inline void activate(ArrayT&& a, Activation act) {
  switch (act) {
    case Activation::sigmoid: a = a.logistic(); return;
    case Activation::tanh: a = a.tanh(); return;
    case Activation::relu: a = a.max(0.0f); return;
    case Activation::linear: return;
  }
}

/// d <- d * s'(.), written from the activation's output h (all four derivatives need only h).
template <class ArrayD, class ArrayH>
inline void multiply_derivative(ArrayD&& d, const ArrayH& h, Activation act) {
  switch (act) {
    case Activation::sigmoid: d *= h * (1.0f - h); return;
    case Activation::tanh: d *= 1.0f - h.square(); return;
    case Activation::relu: d = (h > 0.0f).select(d, 0.0f); return;
    case Activation::linear: return;
  }
}

/// s'(.) at one output a, the scalar twin of multiply_derivative (for loops that mix it with
/// other per-element work, such as dropout's mask).
inline float derivative_at(float a, Activation act) {
  switch (act) {
    case Activation::sigmoid: return a * (1.0f - a);
    case Activation::tanh: return 1.0f - a * a;
    case Activation::relu: return a > 0.0f ? 1.0f : 0.0f;
    case Activation::linear: return 1.0f;
  }
  return 1.0f;
}

/// f applied to x[0..n) in blocks of 16 floats from x itself, the tail padded to a full block.
/// Every element takes the same vectorised path whatever the address of x: Eigen's own loops
/// peel scalars up to an aligned address, and the scalar and vector forms of exp round apart,
/// so results would otherwise depend on where NumPy happened to allocate an array.
template <class F>
inline void blocked(float* x, Index n, F&& f) {
  using Block = Eigen::Array<float, 16, 1>;
  Index j = 0;
  for (; j + 16 <= n; j += 16) {
    Block b = Eigen::Map<const Block>(x + j);
    f(b);
    Eigen::Map<Block>(x + j) = b;
  }
  if (j < n) {
    Block b = Block::Zero();
    b.head(n - j) = Eigen::Map<const Eigen::ArrayXf>(x + j, n - j);
    f(b);
    Eigen::Map<Eigen::ArrayXf>(x + j, n - j) = b.head(n - j);
  }
}

/// x <- s(x + bias). @param x (n)  @param bias (n), may be null for no bias
inline void bias_activate(float* x, const float* bias, Index n, Activation act) {
  if (bias != nullptr) Eigen::Map<Eigen::ArrayXf>(x, n) += Eigen::Map<const Eigen::ArrayXf>(bias, n);
  if (act != Activation::linear) blocked(x, n, [act](auto& b) { activate(b, act); });
}

/// sum_i x[i] y[i], accumulated in 16 lanes from the start of x: the same rounding at any address.
inline float blocked_dot(const float* x, const float* y, Index n) {
  using Block = Eigen::Array<float, 16, 1>;
  Block acc = Block::Zero();
  Index j = 0;
  for (; j + 16 <= n; j += 16) acc += Eigen::Map<const Block>(x + j) * Eigen::Map<const Block>(y + j);
  float total = acc.sum();
  for (; j < n; ++j) total += x[j] * y[j];
  return total;
}

}  // namespace sdae
