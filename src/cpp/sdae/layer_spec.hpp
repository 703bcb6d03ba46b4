// The shape of one dA layer and where its parameters sit in its flat parameter vector.
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// The architecture of one layer. Its parameters live in one flat float vector theta:
/// W (n_in, n_hidden) | b (n_hidden) | c (n_in) | Wd (n_hidden, n_in), the last only if untied.
struct LayerSpec {
  Index n_in = 0;
  Index n_hidden = 0;
  bool tied = true;
  Activation encoder = Activation::sigmoid;
  Activation decoder = Activation::sigmoid;

  Index size() const { return n_in * n_hidden * (tied ? 1 : 2) + n_hidden + n_in; }
  Index offset_b() const { return n_in * n_hidden; }
  Index offset_c() const { return offset_b() + n_hidden; }
  Index offset_Wd() const { return offset_c() + n_in; }
};

/// Throws std::invalid_argument for impossible sizes or activations.
void validate(const LayerSpec& spec);

}  // namespace sdae
