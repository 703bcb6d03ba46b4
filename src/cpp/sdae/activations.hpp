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

}  // namespace sdae
