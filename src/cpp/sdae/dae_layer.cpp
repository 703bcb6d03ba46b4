#include "sdae/dae_layer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "sdae/activations.hpp"
#include "sdae/gemm.hpp"
#include "sdae/minibatch_step.hpp"
#include "sdae/minibatches.hpp"
#include "sdae/online_sgd.hpp"
#include "sdae/rng.hpp"
#include "sdae/threads.hpp"

namespace sdae {
namespace {

// Views of the parameter blocks inside theta.
ConstMatrixMap W_of(const LayerSpec& s, const float* t) { return {t, s.n_in, s.n_hidden}; }
ConstVectorMap b_of(const LayerSpec& s, const float* t) { return {t + s.offset_b(), s.n_hidden}; }
ConstVectorMap c_of(const LayerSpec& s, const float* t) { return {t + s.offset_c(), s.n_in}; }
ConstMatrixMap Wd_of(const LayerSpec& s, const float* t) { return {t + s.offset_Wd(), s.n_hidden, s.n_in}; }
MatrixMap W_of(const LayerSpec& s, float* t) { return {t, s.n_in, s.n_hidden}; }
MatrixMap Wd_of(const LayerSpec& s, float* t) { return {t + s.offset_Wd(), s.n_hidden, s.n_in}; }

void check_theta(const LayerSpec& spec, Index size, const char* name) {
  if (size != spec.size())
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(spec.size()) +
                                " parameters for this layer, got " + std::to_string(size));
}

void check_cols(Index cols, Index expected, const char* name) {
  if (cols != expected)
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(expected) +
                                " columns, got " + std::to_string(cols));
}

void check_loss(const LayerSpec& spec, Loss loss) {
  if (loss == Loss::cross_entropy && spec.decoder != Activation::sigmoid)
    throw std::invalid_argument("cross-entropy needs a sigmoid decoder");
}

/// out <- act(out + bias) row by row. @param out (rows, n)  @param bias (n)
void add_bias_activate(MatrixRef out, const ConstVectorMap& bias, Activation act, const ThreadScope& scope) {
#pragma omp parallel for num_threads(scope.for_elements(out.size())) schedule(static)
  for (Index i = 0; i < out.rows(); ++i) bias_activate(out.row(i).data(), bias.data(), out.cols(), act);
}

/// One step on the b rows held by ws: sgd fuses the update, other optimizers go through grad.
double step_and_update(const LayerSpec& spec, const TrainSpec& train, float* theta, OptimizerState& state, Index b,
                       StepWorkspace& ws, VectorF& grad, int num_threads, NextBatch* next = nullptr) {
  const bool fused = train.optimizer.kind == Optimizer::sgd;
  const double loss = minibatch_step(spec, train.loss, theta, b, fused ? StepMode::sgd_update : StepMode::gradient,
                                     train.optimizer.lr, grad.data(), ws, next);
  ++state.step;
  if (!fused)
    apply_update(train.optimizer, theta, grad.data(), state.m.data(), state.v.data(), spec.size(), state.step,
                 num_threads);
  return loss;
}

void check_state(const LayerSpec& spec, const TrainSpec& train, const OptimizerState& state) {
  const Optimizer kind = train.optimizer.kind;
  if (kind != Optimizer::sgd && state.m.size() != spec.size())
    throw std::invalid_argument("m: expected the size of theta for this optimizer");
  if (kind == Optimizer::adam && state.v.size() != spec.size())
    throw std::invalid_argument("v: expected the size of theta for adam");
}

void check_train(const LayerSpec& spec, const TrainSpec& train, const OptimizerState& state, Index theta_size) {
  validate(spec);
  validate(train);
  if (train.dropout != 0.0f) throw std::invalid_argument("dropout applies to fine-tuning the stack, not to a dA layer");
  if (!train.lr_factors.empty())
    throw std::invalid_argument("learning-rate factors apply to fine-tuning the stack, not to a dA layer");
  check_loss(spec, train.loss);
  check_theta(spec, theta_size, "theta");
  check_state(spec, train, state);
}

}  // namespace

void validate(const LayerSpec& spec) {
  if (spec.n_in <= 0 || spec.n_hidden <= 0) throw std::invalid_argument("layer sizes must be > 0");
  if (spec.decoder != Activation::sigmoid && spec.decoder != Activation::linear)
    throw std::invalid_argument("decoder must be sigmoid or linear");
}

void init_params(const LayerSpec& spec, VectorRef theta, std::uint64_t seed) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  double r = std::sqrt(6.0 / static_cast<double>(spec.n_in + spec.n_hidden));
  if (spec.encoder == Activation::sigmoid) r *= 4.0;
  const std::uint64_t key = stream_key(seed ^ (std::uint64_t{kInit} << 56), 0, 0);
  const Index nw = spec.n_in * spec.n_hidden;
  for (Index k = 0; k < nw; ++k)
    theta[k] = static_cast<float>((2.0 * uniform01(key, static_cast<std::uint64_t>(k)) - 1.0) * r);
  theta.segment(spec.offset_b(), spec.n_hidden + spec.n_in).setZero();
  if (!spec.tied) Wd_of(spec, theta.data()) = W_of(spec, theta.data()).transpose();
}

void encode(const LayerSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X, MatrixRef H,
            int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_cols(X.cols(), spec.n_in, "X");
  if (H.rows() != X.rows() || H.cols() != spec.n_hidden) throw std::invalid_argument("H: expected (rows of X, n_hidden)");
  ThreadScope scope(num_threads);
  // Rows on their own, as the stack's inference: a layer's codes are the model's, bit for bit.
  gemm(H, X, false, W_of(spec, theta.data()), false, 1.0f, 0.0f, scope.threads(), 0, Rows::own_row);
  add_bias_activate(H, b_of(spec, theta.data()), spec.encoder, scope);
}

void decode(const LayerSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& H, MatrixRef Z,
            int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_cols(H.cols(), spec.n_hidden, "H");
  if (Z.rows() != H.rows() || Z.cols() != spec.n_in) throw std::invalid_argument("Z: expected (rows of H, n_in)");
  ThreadScope scope(num_threads);
  if (spec.tied)
    gemm(Z, H, false, W_of(spec, theta.data()), true, 1.0f, 0.0f, scope.threads());
  else
    gemm(Z, H, false, Wd_of(spec, theta.data()), false, 1.0f, 0.0f, scope.threads());
  add_bias_activate(Z, c_of(spec, theta.data()), spec.decoder, scope);
}

double loss_and_gradient(const LayerSpec& spec, Loss loss, const ConstVectorRef& theta, const ConstMatrixRef& X,
                         const ConstMatrixRef& Xt, VectorRef grad, int num_threads) {
  validate(spec);
  check_loss(spec, loss);
  check_theta(spec, theta.size(), "theta");
  check_theta(spec, grad.size(), "grad");
  check_cols(X.cols(), spec.n_in, "X");
  if (Xt.rows() != X.rows() || Xt.cols() != X.cols()) throw std::invalid_argument("Xt: expected the shape of X");
  if (X.rows() == 0) throw std::invalid_argument("X: no rows");
  StepWorkspace ws(spec, X.rows(), num_threads);
  ws.clean(X.rows()) = X;
  ws.corrupted(X.rows()) = Xt;
  return minibatch_step(spec, loss, const_cast<float*>(theta.data()), X.rows(), StepMode::gradient, 0.0f,
                        grad.data(), ws);
}

double train_step(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                  const ConstMatrixRef& X, const ConstMatrixRef& Xt) {
  check_train(spec, train, state, theta.size());
  if (Xt.rows() != X.rows() || Xt.cols() != X.cols() || X.cols() != spec.n_in || X.rows() == 0)
    throw std::invalid_argument("X, Xt: expected the same (rows > 0, n_in) shape");
  StepWorkspace ws(spec, X.rows(), train.num_threads);
  ws.clean(X.rows()) = X;
  ws.corrupted(X.rows()) = Xt;
  VectorF grad(train.optimizer.kind == Optimizer::sgd ? 0 : spec.size());
  return step_and_update(spec, train, theta.data(), state, X.rows(), ws, grad, train.num_threads);
}

double train_epoch(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                   const ConstMatrixRef& X, std::uint64_t epoch) {
  check_train(spec, train, state, theta.size());
  check_cols(X.cols(), spec.n_in, "X");
  const Index N = X.rows();
  if (N == 0) throw std::invalid_argument("X: no rows");
  if (online_sgd_applies(spec, train)) {
    const double loss = online_sgd_epoch(spec, train, theta.data(), X, epoch);
    state.step += N;
    return loss;
  }
  ThreadScope scope(train.num_threads);
  StepWorkspace ws(spec, std::min(train.batch_size, N), train.num_threads, /*double_buffered=*/true);
  VectorF grad(train.optimizer.kind == Optimizer::sgd ? 0 : spec.size());
  double total = 0.0;
  for_each_minibatch(
      N, train.batch_size, spec.n_in, train.seed, epoch, train.should_stop, scope,
      [&](Index i, Index row, std::uint64_t key) {
        std::copy_n(X.row(row).data(), spec.n_in, ws.clean_row(i));
        corrupt_row(X.row(row).data(), ws.corrupted_row(i), spec.n_in, train.noise, key);
      },
      [&](Index b, NextBatch* next) {
        total += step_and_update(spec, train, theta.data(), state, b, ws, grad, scope.threads(), next) *
                 static_cast<double>(b);
      });
  return total / static_cast<double>(N);
}

std::vector<Index> shuffled_rows(Index n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<Index> perm(n);
  std::iota(perm.begin(), perm.end(), Index{0});
  const std::uint64_t key = stream_key(seed ^ (std::uint64_t{kShuffle} << 56), epoch, 0);
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(draw64(key, static_cast<std::uint64_t>(i)) % static_cast<std::uint64_t>(i + 1));
    std::swap(perm[i], perm[j]);
  }
  return perm;
}

double reconstruction_loss(const LayerSpec& spec, const TrainSpec& train, const ConstVectorRef& theta,
                           const ConstMatrixRef& X) {
  validate(spec);
  validate(train.noise);
  check_loss(spec, train.loss);
  check_theta(spec, theta.size(), "theta");
  check_cols(X.cols(), spec.n_in, "X");
  const Index N = X.rows();
  if (N == 0) throw std::invalid_argument("X: no rows");
  ThreadScope scope(train.num_threads);
  const Index chunk = std::min<Index>(N, 1024);
  StepWorkspace ws(spec, chunk, train.num_threads);
  constexpr std::uint64_t kValidEpoch = ~std::uint64_t{0};
  const std::uint64_t seed = train.seed ^ (std::uint64_t{kValidNoise} << 56);
  double total = 0.0;
  for (Index start = 0; start < N; start += chunk) {
    const Index b = std::min(chunk, N - start);
    ws.clean(b) = X.middleRows(start, b);
    corrupt(X.middleRows(start, b), ws.corrupted(b), train.noise, seed, kValidEpoch, static_cast<std::uint64_t>(start),
            scope.threads());
    total += minibatch_step(spec, train.loss, const_cast<float*>(theta.data()), b, StepMode::loss_only, 0.0f,
                            nullptr, ws) * static_cast<double>(b);
  }
  return total / static_cast<double>(N);
}

}  // namespace sdae
