// The whole stack as a chain of dense layers, for fine-tuning end to end: the encoders with a
// softmax on top (supervised), or the encoders followed by the decoders (the unrolled deep
// autoencoder). Each dense layer j computes A_{j+1} = act_j(A_j M_j + bias_j).
#pragma once
#include <cstdint>
#include <vector>

#include "sdae/noise.hpp"
#include "sdae/optimizer.hpp"
#include "sdae/rng.hpp"
#include "sdae/train_spec.hpp"
#include "sdae/types.hpp"

namespace sdae {

enum class OutputLoss {
  softmax_nll,    ///< softmax output, negative log-likelihood of one-hot (or soft) targets
  cross_entropy,  ///< sigmoid output, cross-entropy summed over outputs
  squared_error,  ///< any output, squared error summed over outputs
};

struct DenseSpec {
  Index n_in = 0;
  Index n_out = 0;
  Activation activation = Activation::sigmoid;  ///< ignored for the last layer under softmax_nll
};

/// The chain; parameters sit in one flat vector: M_0 (n_in, n_out) | bias_0 (n_out) | M_1 | ...
struct StackSpec {
  std::vector<DenseSpec> layers;
  OutputLoss loss = OutputLoss::softmax_nll;

  Index size() const;
  Index n_in() const { return layers.front().n_in; }
  /// Where layer j's weights M_j (n_in, n_out) start in theta; its bias (n_out) follows them.
  Index weight_offset(size_t j) const {
    Index at = 0;
    for (size_t i = 0; i < j; ++i) at += layers[i].n_in * layers[i].n_out + layers[i].n_out;
    return at;
  }
  /// Where layer j's bias starts in theta.
  Index bias_offset(size_t j) const { return weight_offset(j) + layers[j].n_in * layers[j].n_out; }
  Index n_out() const { return layers.back().n_out; }
};

/// Throws std::invalid_argument unless the layers chain and the loss fits the output.
void validate(const StackSpec& spec);


/// The output of the chain (softmax probabilities under softmax_nll). @param X (rows, n_in)
/// @param out (rows, n_out)
void stack_forward(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X, MatrixRef out,
                   int num_threads);

/// Mean over rows of the per-row loss of out(X) against Y (no corruption), and its gradient.
/// @param X (B, n_in)  @param Y (B, n_out)  @param grad (spec.size())
double stack_loss_and_gradient(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                               const ConstMatrixRef& Y, VectorRef grad, int num_threads);

/// Per-row loss of out(X) against Y (no corruption). @param row_loss (rows)
void stack_row_loss(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                    const ConstMatrixRef& Y, VectorRef row_loss, int num_threads);

/// The dropout stream of hidden layer `layer` for the row whose noise key is `row_key`.
std::uint64_t dropout_key(std::uint64_t row_key, Index layer);

/// Whether a unit is kept: its uniform draw from the layer's stream is at least `dropout`.
inline bool dropout_keeps(std::uint64_t layer_key, Index unit, float dropout) {
  return uniform01(layer_key, static_cast<std::uint64_t>(unit)) >= dropout;
}

/// One epoch of minibatch fine-tuning of X -> Y: seeded shuffle, input corruption keyed by
/// (seed, epoch, row), dropout of hidden units, backprop through every layer, update. Returns (mean loss, updates so far).
/// @param m, v (spec.size()) optimizer state as for a dA layer
std::pair<double, std::int64_t> stack_train_epoch(const StackSpec& spec, const TrainSpec& train, VectorRef theta,
                                                  VectorRef m, VectorRef v, std::int64_t step,
                                                  const ConstMatrixRef& X, const ConstMatrixRef& Y,
                                                  std::uint64_t epoch);

}  // namespace sdae
