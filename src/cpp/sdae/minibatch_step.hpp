// The fused minibatch step of a dA layer, partitioned over hidden units: each thread owns a
// slice of the hidden units and so a block of columns of W (and rows of Wd), and streams only
// that block through encode, decode, backprop and update. The block stays in the thread's own
// cache between the passes, and no gradient buffer is needed for plain SGD.
#pragma once
#include <array>
#include <vector>

#include "sdae/layer_spec.hpp"
#include "sdae/next_batch.hpp"
#include "sdae/optimizer.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// Buffers of a minibatch step, sized once per call and reused across batches. The caller fills
/// clean(b) and corrupted(b) before each step. Double-buffered (for an epoch), a step trains on
/// the rows filled before it while the next batch's are filled, through the same accessors,
/// into the other buffer.
class StepWorkspace {
 public:
  StepWorkspace(const LayerSpec& spec, Index max_batch, int num_threads, bool double_buffered = false);

  /// The clean rows of the batch being filled, of b rows. (b, n_in)
  MatrixRef clean(Index b) { return X_[filling_].topRows(b); }
  /// The corrupted rows of the batch being filled. (b, n_in)
  MatrixRef corrupted(Index b) { return XD_[filling_].topRows(b); }
  /// Row i of the clean and of the corrupted batch being filled. (n_in)
  float* clean_row(Index i) { return X_[filling_].row(i).data(); }
  float* corrupted_row(Index i) { return XD_[filling_].row(i).data(); }
  bool double_buffered() const { return X_[1].rows() > 0; }

 private:
  friend double minibatch_step(const LayerSpec&, Loss, float*, Index, StepMode, float, float*, StepWorkspace&,
                               NextBatch*);
  Index max_batch_;
  int threads_;
  int filling_ = 0;                // which of the two buffers the caller fills
  std::array<RowMatrixF, 2> X_;    // (B, n_in) clean rows
  std::array<RowMatrixF, 2> XD_;   // (2B, n_in): corrupted rows of the batch, then dLoss/dZpre
  RowMatrixF DH_;                  // (2B, n_hidden): dLoss/d(encoder pre-activation), then H
  std::vector<RowMatrixF> Zpart_;  // per thread (B, n_in): its slice's share of H W'
  VectorF out_sum_;                // (n_in) dLoss/dZpre summed over the batch: c's gradient
  VectorF hidden_sum_;             // (n_hidden) D1 summed over the batch: b's gradient
  std::vector<double> row_loss_;   // (threads * B)
  std::vector<Index> hidden_begin_;   // (threads + 1) slice bounds over hidden units
  std::vector<Index> feature_begin_;  // (threads + 1) slice bounds over input features
};

/// One step on the b rows last filled into the workspace. Returns the batch's mean per-row loss.
/// @param theta (spec.size()), updated in place for sgd_update
/// @param grad (spec.size()), written for gradient; unused otherwise (may be null)
/// @param next the next batch's gathering, into the workspace's other buffer (may be null): the
///   threads that finish encoding first fill its rows while they wait for the others
double minibatch_step(const LayerSpec& spec, Loss loss, float* theta, Index b, StepMode mode, float lr, float* grad,
                      StepWorkspace& ws, NextBatch* next = nullptr);

}  // namespace sdae
