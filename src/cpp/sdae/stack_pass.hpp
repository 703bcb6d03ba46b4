// The stack's passes over one batch, shared by inference (stack.cpp) and training
// (stack_training.cpp): the workspace, a layer's forward product, the forward pass with dropout
// and the output's loss. Internal to the core: not part of its interface.
#pragma once
#include <cstdint>
#include <vector>

#include "sdae/gemm.hpp"
#include "sdae/stack.hpp"
#include "sdae/threads.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// The most outputs of any layer of the chain.
Index widest_output(const StackSpec& spec);

/// Activations of every layer for one batch, reused across batches.
struct StackWorkspace {
  std::vector<RowMatrixF> A;  // A[0] input (corrupted), A[j+1] output of layer j
  RowMatrixF Y;               // targets of the batch
  RowMatrixF Z;               // (B, n_out) the last layer's pre-activation, for a cross-entropy output
  RowMatrixF D, D_next;       // deltas
  VectorF bias_sum;           // (widest layer) a bias's gradient: D summed over the batch
  std::vector<double> row_loss;
  std::vector<std::uint64_t> keys;  // (B) the rows' noise keys, which also key their dropout
  StackWorkspace(const StackSpec& spec, Index B)
      : Y(B, spec.n_out()),
        Z(spec.loss == OutputLoss::cross_entropy ? B : 0, spec.n_out()),
        bias_sum(widest_output(spec)),
        row_loss(B),
        keys(B) {
    A.emplace_back(B, spec.n_in());
    for (const DenseSpec& d : spec.layers) A.emplace_back(B, d.n_out);
  }
};

/// out = s(in W_j + b_j) for layer j of the chain; a softmax_nll output is left as softmax rows.
/// With `pre`, the last layer's in W_j + b_j is kept there too; `rows` as gemm.hpp says
/// (inference: Rows::own_row). @param in (rows, n_in of j)  @param out, *pre (rows, n_out of j)
void layer_forward(const StackSpec& spec, const float* theta, size_t j, const ConstMatrixRef& in, MatrixRef out,
                   const ThreadScope& scope, MatrixRef* pre = nullptr, Rows rows = Rows::batch);

/// Runs the first b rows of ws.A[0] through the chain; with dropout, each hidden layer's dropped
/// units are set to 0 and the kept ones scaled by 1 / (1 - dropout) before the next layer reads them.
void forward(const StackSpec& spec, const float* theta, Index b, StackWorkspace& ws, const ThreadScope& scope,
             float dropout = 0.0f);

/// Per-row losses of the output against ws.Y into ws.row_loss; with `delta`, ws.D = dLoss/dZ
/// of the last layer's pre-activation, scaled for the batch mean.
void output_loss(const StackSpec& spec, Index b, bool delta, StackWorkspace& ws, const ThreadScope& scope);

/// Throw std::invalid_argument unless X (rows > 0, n_in) and Y (rows of X, n_out) fit the stack.
void check_data(const StackSpec& spec, const ConstMatrixRef& X, const ConstMatrixRef& Y);
/// Throws std::invalid_argument unless `size` is the stack's parameter count.
void check_theta(const StackSpec& spec, Index size, const char* name);
/// The first b per-row losses, summed in order.
double sum_losses(const std::vector<double>& row_loss, Index b);

}  // namespace sdae
