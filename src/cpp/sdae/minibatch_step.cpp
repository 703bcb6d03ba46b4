#include "sdae/minibatch_step.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "sdae/activations.hpp"
#include "sdae/gemm.hpp"
#include "sdae/loss.hpp"
#include "sdae/sum_rows.hpp"
#include "sdae/threads.hpp"

namespace sdae {
namespace {

/// target -= lr * value (sgd_update) or grad_target = value (gradient).
template <class T, class G, class V>
void apply(StepMode mode, float lr, T&& target, G&& grad_target, const V& value) {
  if (mode == StepMode::sgd_update)
    target.noalias() -= lr * value;
  else
    grad_target.noalias() = value;
}

/// target -= lr * A^T B (sgd_update) or grad_target = A^T B (gradient), for a step of b rows.
/// @param target, grad_target (n, m)  @param A (k, n)  @param B (k, m)
void apply_product(StepMode mode, float lr, MatrixRef target, MatrixRef grad_target, const ConstMatrixRef& A,
                   const ConstMatrixRef& B, Index b) {
  if (mode == StepMode::sgd_update)
    gemm(target, A, true, B, false, -lr, 1.0f, 1, b);
  else
    gemm(grad_target, A, true, B, false, 1.0f, 0.0f, 1, b);
}

/// out = A M, or A M^T, for a step of A.rows() rows (one thread: we are inside the step's split).
/// @param out (b, n)  @param A (b, m)  @param M (m, n), or (n, m) with transpose
void times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M, bool transpose) {
  gemm(out, A, false, M, transpose, 1.0f, 0.0f, 1, A.rows());
}

}  // namespace

StepWorkspace::StepWorkspace(const LayerSpec& spec, Index max_batch, int num_threads, bool double_buffered)
    : max_batch_(max_batch),
      threads_(step_threads(spec.n_in, spec.n_hidden, max_batch, num_threads)),
      X_{RowMatrixF(max_batch, spec.n_in), RowMatrixF(double_buffered ? max_batch : 0, spec.n_in)},
      XD_{RowMatrixF(2 * max_batch, spec.n_in), RowMatrixF(double_buffered ? 2 * max_batch : 0, spec.n_in)},
      DH_(2 * max_batch, spec.n_hidden),
      Zpart_(threads_, RowMatrixF(max_batch, spec.n_in)),
      out_sum_(spec.n_in),
      hidden_sum_(spec.n_hidden),
      row_loss_(static_cast<size_t>(threads_) * max_batch),
      hidden_begin_(slice_bounds(spec.n_hidden, threads_)),
      feature_begin_(slice_bounds(spec.n_in, threads_)) {}

double minibatch_step(const LayerSpec& spec, Loss loss, float* theta, Index b, StepMode mode, float lr, float* grad,
                      StepWorkspace& ws, NextBatch* next) {
  const Index n_in = spec.n_in, n_h = spec.n_hidden;
  if (mode == StepMode::momentum_update) throw std::invalid_argument("a dA step fuses SGD updates only");
  const bool backward = mode != StepMode::loss_only;
  const float inv_b = 1.0f / static_cast<float>(b);
  MatrixMap W(theta, n_in, n_h);
  VectorMap bias(theta + spec.offset_b(), n_h);
  VectorMap cbias(theta + spec.offset_c(), n_in);
  MatrixMap Wd(theta + spec.offset_Wd(), spec.tied ? 0 : n_h, spec.tied ? 0 : n_in);
  // Gradient blocks, laid out as theta (only touched in gradient mode).
  float* g = grad != nullptr ? grad : theta;
  MatrixMap gW(g, n_in, n_h);
  VectorMap gb(g + spec.offset_b(), n_h);
  VectorMap gc(g + spec.offset_c(), n_in);
  MatrixMap gWd(g + spec.offset_Wd(), spec.tied ? 0 : n_h, spec.tied ? 0 : n_in);

  const int rows = ws.filling_;  // this step's rows; the next batch's go to the other buffer
  if (ws.double_buffered()) ws.filling_ ^= 1;
  else if (next != nullptr) throw std::logic_error("minibatch_step: a next batch needs a double-buffered workspace");
  auto X = ws.X_[rows].topRows(b);
  auto XD = ws.XD_[rows].topRows(2 * b);  // [Xt; D2]: one product updates W from both terms (tied)
  auto Xt = ws.XD_[rows].topRows(b);
  auto D2 = ws.XD_[rows].middleRows(b, b);
  auto DH = ws.DH_.topRows(2 * b);  // [D1; H]
  auto D1 = ws.DH_.topRows(b);
  auto H = ws.DH_.middleRows(b, b);
  const int T = ws.threads_;

  // Slice s: hidden units [hidden_begin_[s], hidden_begin_[s+1]) and input features
  // [feature_begin_[s], feature_begin_[s+1]). Each phase below touches only its slice's blocks.
  auto encode_slice = [&](int s) {  // its hidden units, and its share of the decoder's pre-activation
    const Index j0 = ws.hidden_begin_[s], w = ws.hidden_begin_[s + 1] - j0;
    auto Hs = H.middleCols(j0, w);
    times(Hs, Xt, W.middleCols(j0, w), false);
    for (Index i = 0; i < b; ++i) bias_activate(Hs.row(i).data(), bias.data() + j0, w, spec.encoder);
    auto Zp = ws.Zpart_[s].topRows(b);
    if (spec.tied)
      times(Zp, Hs, W.middleCols(j0, w), true);
    else
      times(Zp, Hs, Wd.middleRows(j0, w), false);
  };
  auto loss_slice = [&](int s) {  // sum the shares in slice order (deterministic), add c, loss, delta
    const Index k0 = ws.feature_begin_[s], kw = ws.feature_begin_[s + 1] - k0;
    auto csum = ws.out_sum_.segment(k0, kw);
    csum.setZero();
    std::vector<const float*> shares(T);
    for (Index i = 0; i < b; ++i) {
      for (int u = 0; u < T; ++u) shares[u] = ws.Zpart_[u].row(i).data() + k0;
      ws.row_loss_[static_cast<size_t>(s) * ws.max_batch_ + i] =
          output_segment(shares.data(), T, cbias.data() + k0, X.row(i).data() + k0, D2.row(i).data() + k0,
                         csum.data(), kw, loss, spec.decoder, backward, inv_b);
    }
    if (backward) apply(mode, lr, cbias.segment(k0, kw), gc.segment(k0, kw), csum);
  };
  auto backward_slice = [&](int s) {  // back through its hidden units, then update its block of W (Wd)
    const Index j0 = ws.hidden_begin_[s], w = ws.hidden_begin_[s + 1] - j0;
    auto Hs = H.middleCols(j0, w);
    auto D1s = D1.middleCols(j0, w);
    if (spec.tied)
      times(D1s, D2, W.middleCols(j0, w), false);
    else
      times(D1s, D2, Wd.middleRows(j0, w), true);
    for (Index i = 0; i < b; ++i) multiply_derivative(D1s.row(i).array(), Hs.row(i).array(), spec.encoder);
    auto hidden_sum = ws.hidden_sum_.segment(j0, w);
    sum_rows(D1s, hidden_sum);
    apply(mode, lr, bias.segment(j0, w), gb.segment(j0, w), hidden_sum);
    // An SGD update goes straight into W, on the kernel gemm chooses for a step of b rows (the
    // step's earlier products left this block of W in cache, which the short kernels exploit).
    if (spec.tied) {
      // dL/dW = Xt^T D1 + D2^T H = [Xt; D2]^T [D1; H]
      apply_product(mode, lr, W.middleCols(j0, w), gW.middleCols(j0, w), XD, DH.middleCols(j0, w), b);
    } else {
      apply_product(mode, lr, W.middleCols(j0, w), gW.middleCols(j0, w), Xt, D1s, b);
      apply_product(mode, lr, Wd.middleRows(j0, w), gWd.middleRows(j0, w), Hs, D2, b);
    }
  };

  ParallelErrors errors;
#pragma omp parallel num_threads(T)
  {
    // The runtime may start fewer threads than asked (OMP_THREAD_LIMIT, OMP_DYNAMIC): each
    // thread then takes several slices, so every slice is done, in the same way, whatever the team.
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    errors.run([&] { for (int s = t; s < T; s += nt) encode_slice(s); });
    // The slices rarely take the same time: whoever is done first fills rows of the next batch
    // (which the epoch loop used to gather between steps, while the team waited: on thread 0
    // alone below 2^15 values). A team of one leaves them to the epoch loop's team.
    if (next != nullptr && nt > 1) errors.run([&] { next->help(); });
#pragma omp barrier
    errors.run([&] { for (int s = t; s < T; s += nt) loss_slice(s); });
#pragma omp barrier
    if (backward) errors.run([&] { for (int s = t; s < T; s += nt) backward_slice(s); });
  }
  errors.rethrow();

  double total = 0.0;
  for (Index i = 0; i < b; ++i)
    for (int u = 0; u < T; ++u) total += ws.row_loss_[static_cast<size_t>(u) * ws.max_batch_ + i];
  return total / static_cast<double>(b);
}

}  // namespace sdae
