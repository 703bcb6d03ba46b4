// Fine-tuning the stack: backpropagation through every layer with the update fused into it,
// and the epoch loop.
#include <algorithm>
#include <stdexcept>

#include "sdae/activations.hpp"
#include "sdae/gemm.hpp"
#include "sdae/minibatches.hpp"
#include "sdae/stack.hpp"
#include "sdae/stack_pass.hpp"
#include "sdae/sum_rows.hpp"
#include "sdae/threads.hpp"

namespace sdae {
namespace {

/// d <- d * s'(.) for a hidden layer's units given its outputs h after dropout: a dropped unit
/// passes no gradient, a kept one the derivative at its own output h * (1 - dropout), times the
/// scale it was given. The activation is a template argument so that the loop vectorises.
/// @param d, h (n)
template <Activation act>
void multiply_dropped_derivative(float* d, const float* h, Index n, float dropout, std::uint64_t key) {
  const float keep = 1.0f - dropout, scale = 1.0f / keep;
#pragma omp simd
  for (Index u = 0; u < n; ++u)
    d[u] = dropout_keeps(key, u, dropout) ? d[u] * scale * derivative_at(h[u] * keep, act) : 0.0f;
}

void multiply_dropped_derivative(float* d, const float* h, Index n, Activation act, float dropout,
                                 std::uint64_t key) {
  switch (act) {
    case Activation::sigmoid: return multiply_dropped_derivative<Activation::sigmoid>(d, h, n, dropout, key);
    case Activation::tanh: return multiply_dropped_derivative<Activation::tanh>(d, h, n, dropout, key);
    case Activation::relu: return multiply_dropped_derivative<Activation::relu>(d, h, n, dropout, key);
    case Activation::linear: return multiply_dropped_derivative<Activation::linear>(d, h, n, dropout, key);
  }
}

/// What backward does with each layer's gradient as it reaches it.
struct Update {
  StepMode mode = StepMode::gradient;
  float* grad = nullptr;      ///< gradient: written here (theta's layout)
  float lr = 0.0f;            ///< sgd_update, momentum_update
  const float* lr_factors = nullptr;  ///< sgd_update, momentum_update: layer j's rate is lr * lr_factors[j]
  float mu = 0.0f;            ///< momentum_update: velocity = mu velocity - lr gradient; theta += velocity
  float* velocity = nullptr;  ///< momentum_update (theta's layout)
};

/// Backprop from ws.D through every layer. The gradient goes into update.grad, or the update is
/// fused into the pass, which spares a gradient buffer and a pass over it: each layer's delta for
/// the layer below is taken before its weights move.
void backward(const StackSpec& spec, float* theta, Index b, const Update& update,
              StackWorkspace& ws, const ThreadScope& scope, float dropout = 0.0f) {
  for (size_t j = spec.layers.size(); j-- > 0;) {
    const DenseSpec& d = spec.layers[j];
    MatrixMap M(theta + spec.weight_offset(j), d.n_in, d.n_out);
    const auto A = ws.A[j].topRows(b);
    if (j > 0) {
      ws.D_next.resize(b, d.n_in);
      gemm(ws.D_next, ws.D, false, M, true, 1.0f, 0.0f, scope.threads());
    }
    auto bias_sum = ws.bias_sum.head(d.n_out);
    sum_rows(ws.D, bias_sum);
    VectorMap bias(theta + spec.bias_offset(j), d.n_out);
    const float lr = update.lr_factors ? update.lr * update.lr_factors[j] : update.lr;
    switch (update.mode) {
      case StepMode::gradient:
        gemm(MatrixMap(update.grad + spec.weight_offset(j), d.n_in, d.n_out), A, true, ws.D, false, 1.0f, 0.0f,
             scope.threads());
        VectorMap(update.grad + spec.bias_offset(j), d.n_out) = bias_sum;
        break;
      case StepMode::sgd_update:
        gemm(M, A, true, ws.D, false, -lr, 1.0f, scope.threads());
        bias -= lr * bias_sum;
        break;
      case StepMode::momentum_update: {
        momentum_update(M, MatrixMap(update.velocity + spec.weight_offset(j), d.n_in, d.n_out), A, ws.D, -lr,
                        update.mu, scope.threads());
        VectorMap v(update.velocity + spec.bias_offset(j), d.n_out);
        v = update.mu * v - lr * bias_sum;
        bias += v;
        break;
      }
      case StepMode::loss_only:
        throw std::logic_error("backward: loss_only has no backward pass");
    }
    if (j == 0) break;
    const Activation below = spec.layers[j - 1].activation;
#pragma omp parallel for num_threads(scope.for_elements(ws.D_next.size())) schedule(static)
    for (Index i = 0; i < b; ++i) {
      if (dropout == 0.0f)
        multiply_derivative(ws.D_next.row(i).array(), A.row(i).array(), below);
      else
        multiply_dropped_derivative(ws.D_next.row(i).data(), A.row(i).data(), d.n_in, below, dropout,
                                    dropout_key(ws.keys[i], static_cast<Index>(j - 1)));
    }
    std::swap(ws.D, ws.D_next);
  }
}

/// Adam's step after the backward pass: over all of theta at once, or layer by layer at its own
/// rate. Each element's update is its own, so both give the same bits at factors of 1.
void adam_update(const StackSpec& spec, const TrainSpec& train, VectorRef theta, const VectorF& grad, VectorRef m,
                 VectorRef v, std::int64_t step, const ThreadScope& scope) {
  if (train.lr_factors.empty()) {
    apply_update(train.optimizer, theta.data(), grad.data(), m.data(), v.data(), spec.size(), step, scope.threads());
    return;
  }
  OptimizerSpec layer = train.optimizer;
  for (size_t j = 0; j < spec.layers.size(); ++j) {
    const Index at = spec.weight_offset(j), size = spec.layers[j].n_in * spec.layers[j].n_out + spec.layers[j].n_out;
    layer.lr = train.optimizer.lr * train.lr_factors[j];
    apply_update(layer, theta.data() + at, grad.data() + at, m.data() + at, v.data() + at, size, step,
                 scope.threads());
  }
}

}  // namespace

double stack_loss_and_gradient(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                               const ConstMatrixRef& Y, VectorRef grad, int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_theta(spec, grad.size(), "grad");
  check_data(spec, X, Y);
  ThreadScope scope(num_threads);
  const Index b = X.rows();
  StackWorkspace ws(spec, b);
  ws.A[0] = X;
  ws.Y = Y;
  forward(spec, theta.data(), b, ws, scope);
  output_loss(spec, b, true, ws, scope);
  Update update;
  update.grad = grad.data();
  backward(spec, const_cast<float*>(theta.data()), b, update, ws, scope);
  return sum_losses(ws.row_loss, b) / static_cast<double>(b);
}

std::pair<double, std::int64_t> stack_train_epoch(const StackSpec& spec, const TrainSpec& train, VectorRef theta,
                                                  VectorRef m, VectorRef v, std::int64_t step,
                                                  const ConstMatrixRef& X, const ConstMatrixRef& Y,
                                                  std::uint64_t epoch) {
  validate(spec);
  validate(train);
  check_theta(spec, theta.size(), "theta");
  check_data(spec, X, Y);
  if (train.optimizer.kind != Optimizer::sgd) check_theta(spec, m.size(), "m");
  if (train.optimizer.kind == Optimizer::adam) check_theta(spec, v.size(), "v");
  if (!train.lr_factors.empty() && train.lr_factors.size() != spec.layers.size())
    throw std::invalid_argument(std::to_string(train.lr_factors.size()) + " learning-rate factors for " +
                                std::to_string(spec.layers.size()) + " layers");
  const Index N = X.rows();
  const Index B = std::min(train.batch_size, N);
  ThreadScope scope(train.num_threads);
  StackWorkspace ws(spec, B);
  // SGD and momentum update each layer inside the backward pass; Adam takes the whole gradient.
  Update update;
  switch (train.optimizer.kind) {
    case Optimizer::sgd: update.mode = StepMode::sgd_update; break;
    case Optimizer::momentum: update.mode = StepMode::momentum_update; break;
    case Optimizer::adam: update.mode = StepMode::gradient; break;
  }
  VectorF grad(update.mode == StepMode::gradient ? spec.size() : 0);
  update.grad = grad.data();
  update.lr = train.optimizer.lr;
  update.lr_factors = train.lr_factors.empty() ? nullptr : train.lr_factors.data();
  update.mu = train.optimizer.momentum;
  update.velocity = m.data();
  double total = 0.0;
  for_each_minibatch(
      N, train.batch_size, spec.n_in(), train.seed, epoch, train.should_stop, scope,
      [&](Index i, Index row, std::uint64_t key) {
        corrupt_row(X.row(row).data(), ws.A[0].row(i).data(), spec.n_in(), train.noise, key);
        ws.Y.row(i) = Y.row(row);
        ws.keys[i] = key;
      },
      [&](Index b, NextBatch*) {  // (the gather writes the rows this step reads: it waits)
        forward(spec, theta.data(), b, ws, scope, train.dropout);
        output_loss(spec, b, true, ws, scope);
        backward(spec, theta.data(), b, update, ws, scope, train.dropout);
        total += sum_losses(ws.row_loss, b);
        ++step;
        if (update.mode == StepMode::gradient) adam_update(spec, train, theta, grad, m, v, step, scope);
      });
  return {total / static_cast<double>(N), step};
}

}  // namespace sdae
