// One denoising autoencoder layer: encode h = s(x~ W + b), decode z = s'(h W' + c),
// with W' = W^T (tied) or its own matrix Wd (untied), trained to reconstruct the clean x.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "sdae/layer_spec.hpp"
#include "sdae/noise.hpp"
#include "sdae/optimizer.hpp"
#include "sdae/train_spec.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// Initial parameters as in the SdA tutorial: W ~ U(+-r), r = sqrt(6 / (n_in + n_hidden)),
/// times 4 for a sigmoid encoder; biases 0; an untied decoder starts as W^T.
/// @param theta (spec.size())
void init_params(const LayerSpec& spec, VectorRef theta, std::uint64_t seed);

/// h = s(X W + b). @param X (rows, n_in)  @param H (rows, n_hidden)
void encode(const LayerSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X, MatrixRef H,
            int num_threads);

/// z = s'(H W' + c). @param H (rows, n_hidden)  @param Z (rows, n_in)
void decode(const LayerSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& H, MatrixRef Z,
            int num_threads);

/// Loss of reconstructing X from Xt (mean over rows of the per-row sum) and its gradient.
/// @param X (B, n_in) clean  @param Xt (B, n_in) corrupted  @param grad (spec.size())
double loss_and_gradient(const LayerSpec& spec, Loss loss, const ConstVectorRef& theta,
                         const ConstMatrixRef& X, const ConstMatrixRef& Xt, VectorRef grad,
                         int num_threads);

/// Optimizer state of one layer: m, v of size P (empty where the optimizer needs none).
struct OptimizerState {
  VectorRef m;
  VectorRef v;
  std::int64_t step;  ///< updates made so far
};

/// One minibatch step on a given corruption: gradient, then update. Returns the batch loss.
double train_step(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                  const ConstMatrixRef& X, const ConstMatrixRef& Xt);

/// One epoch over X: seeded shuffle, corruption keyed by (seed, epoch, row), minibatch steps.
/// Returns the mean loss per row over the epoch; the same seed, epoch and thread count give
/// bit-identical parameters.
double train_epoch(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                   const ConstMatrixRef& X, std::uint64_t epoch);

/// The order train_epoch visits the N rows in `epoch`: a seeded Fisher-Yates shuffle.
std::vector<Index> shuffled_rows(Index N, std::uint64_t seed, std::uint64_t epoch);

/// Mean per-row loss of reconstructing X from its corruption (a fixed, epoch-independent
/// noise stream, so validation figures are comparable between epochs). @param X (rows, n_in)
double reconstruction_loss(const LayerSpec& spec, const TrainSpec& train, const ConstVectorRef& theta,
                           const ConstMatrixRef& X);

}  // namespace sdae
