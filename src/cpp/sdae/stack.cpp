#include "sdae/stack.hpp"

#include <omp.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "sdae/activations.hpp"
#include "sdae/gemm.hpp"
#include "sdae/loss.hpp"
#include "sdae/minibatches.hpp"
#include "sdae/dae_layer.hpp"
#include "sdae/sum_rows.hpp"
#include "sdae/threads.hpp"

namespace sdae {
namespace {

struct Offsets {
  std::vector<Index> weight, bias;
};

Offsets offsets_of(const StackSpec& spec) {
  Offsets o;
  Index at = 0;
  for (const DenseSpec& d : spec.layers) {
    o.weight.push_back(at);
    at += d.n_in * d.n_out;
    o.bias.push_back(at);
    at += d.n_out;
  }
  return o;
}

/// The most outputs of any layer of the chain.
Index widest_output(const StackSpec& spec) {
  Index widest = 0;
  for (const DenseSpec& d : spec.layers) widest = std::max(widest, d.n_out);
  return widest;
}

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
      : Y(B, spec.n_out()), Z(spec.loss == OutputLoss::cross_entropy ? B : 0, spec.n_out()), bias_sum(widest_output(spec)), row_loss(B), keys(B) {
    A.emplace_back(B, spec.n_in());
    for (const DenseSpec& d : spec.layers) A.emplace_back(B, d.n_out);
  }
};

void softmax_rows(MatrixRef Z, const ThreadScope& scope) {
#pragma omp parallel for num_threads(scope.for_elements(Z.size())) schedule(static)
  for (Index i = 0; i < Z.rows(); ++i) {
    auto z = Z.row(i).array();
    z = (z - z.maxCoeff()).exp();
    z /= z.sum();
  }
}

/// out = s(in W_j + b_j) for layer j of the chain; a softmax_nll output is left as softmax rows.
/// With `pre`, the last layer's in W_j + b_j is kept there too (rows of in, n_out).
void layer_forward(const StackSpec& spec, const Offsets& o, const float* theta, size_t j, const ConstMatrixRef& in,
                   MatrixRef out, const ThreadScope& scope, MatrixRef* pre = nullptr) {
  const DenseSpec& d = spec.layers[j];
  gemm(out, in, false, ConstMatrixMap(theta + o.weight[j], d.n_in, d.n_out), false, 1.0f, 0.0f, scope.threads());
  const bool softmax = j + 1 == spec.layers.size() && spec.loss == OutputLoss::softmax_nll;
#pragma omp parallel for num_threads(scope.for_elements(out.size())) schedule(static)
  for (Index i = 0; i < out.rows(); ++i) {
    if (pre == nullptr) {
      bias_activate(out.row(i).data(), theta + o.bias[j], d.n_out, softmax ? Activation::linear : d.activation);
      continue;
    }
    // The same two steps as above, the sum kept between them: the same bits.
    bias_activate(out.row(i).data(), theta + o.bias[j], d.n_out, Activation::linear);
    pre->row(i) = out.row(i);
    bias_activate(out.row(i).data(), nullptr, d.n_out, d.activation);
  }
  if (softmax) softmax_rows(out, scope);
}

/// Runs the first b rows of ws.A[0] through the chain; with dropout, each hidden layer's dropped
/// units are set to 0 and the kept ones scaled by 1 / (1 - dropout) before the next layer reads them.
void forward(const StackSpec& spec, const Offsets& o, const float* theta, Index b, StackWorkspace& ws,
             const ThreadScope& scope, float dropout = 0.0f) {
  const float scale = 1.0f / (1.0f - dropout);
  MatrixRef pre = ws.Z.topRows(ws.Z.rows() > 0 ? b : 0);
  for (size_t j = 0; j < spec.layers.size(); ++j) {
    const bool last = j + 1 == spec.layers.size();
    layer_forward(spec, o, theta, j, ws.A[j].topRows(b), ws.A[j + 1].topRows(b), scope,
                  last && ws.Z.rows() > 0 ? &pre : nullptr);
    if (dropout == 0.0f || j + 1 == spec.layers.size()) continue;
    auto A = ws.A[j + 1].topRows(b);
    const Index n = A.cols();
#pragma omp parallel for num_threads(scope.for_elements(A.size())) schedule(static)
    for (Index i = 0; i < b; ++i) {
      const std::uint64_t key = dropout_key(ws.keys[i], static_cast<Index>(j));
      float* a = A.row(i).data();
#pragma omp simd
      for (Index u = 0; u < n; ++u) a[u] = dropout_keeps(key, u, dropout) ? a[u] * scale : 0.0f;
    }
  }
}

/// Per-row losses of the output against ws.Y into ws.row_loss; with `delta`, ws.D = dLoss/dZ
/// of the last layer's pre-activation, scaled for the batch mean.
void output_loss(const StackSpec& spec, Index b, bool delta, StackWorkspace& ws, const ThreadScope& scope) {
  auto P = ws.A.back().topRows(b);
  auto Y = ws.Y.topRows(b);
  const Activation out_act = spec.layers.back().activation;
  const float inv_b = 1.0f / static_cast<float>(b);
  if (delta) ws.D.resize(b, spec.n_out());
#pragma omp parallel for num_threads(scope.for_elements(P.size())) schedule(static)
  for (Index i = 0; i < b; ++i) {
    const auto p = P.row(i).array();
    const auto y = Y.row(i).array();
    switch (spec.loss) {
      case OutputLoss::softmax_nll:
        ws.row_loss[i] = -(y * p.max(1e-30f).log()).cast<double>().sum();
        if (delta) ws.D.row(i).array() = (p - y) * inv_b;
        break;
      case OutputLoss::cross_entropy: {
        // From the pre-activation, as a dA layer's loss (loss.hpp): finite at saturation.
        const Eigen::Map<const Eigen::ArrayXf> z(ws.Z.row(i).data(), P.cols()), t(Y.row(i).data(), P.cols());
        ws.row_loss[i] = element_loss(z, t, Loss::cross_entropy, Activation::sigmoid).cast<double>().sum();
        if (delta) ws.D.row(i).array() = (p - y) * inv_b;
        break;
      }
      case OutputLoss::squared_error:
        ws.row_loss[i] = (p - y).square().cast<double>().sum();
        if (delta) {
          auto dr = ws.D.row(i).array();
          dr = (2.0f * inv_b) * (p - y);
          multiply_derivative(dr, p, out_act);
        }
        break;
    }
  }
}

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
  float mu = 0.0f;            ///< momentum_update: velocity = mu velocity - lr gradient; theta += velocity
  float* velocity = nullptr;  ///< momentum_update (theta's layout)
};

/// Backprop from ws.D through every layer. The gradient goes into update.grad, or the update is
/// fused into the pass, which spares a gradient buffer and a pass over it: each layer's delta for
/// the layer below is taken before its weights move.
void backward(const StackSpec& spec, const Offsets& o, float* theta, Index b, const Update& update,
              StackWorkspace& ws, const ThreadScope& scope, float dropout = 0.0f) {
  for (size_t j = spec.layers.size(); j-- > 0;) {
    const DenseSpec& d = spec.layers[j];
    MatrixMap M(theta + o.weight[j], d.n_in, d.n_out);
    const auto A = ws.A[j].topRows(b);
    if (j > 0) {
      ws.D_next.resize(b, d.n_in);
      gemm(ws.D_next, ws.D, false, M, true, 1.0f, 0.0f, scope.threads());
    }
    auto bias_sum = ws.bias_sum.head(d.n_out);
    sum_rows(ws.D, bias_sum);
    VectorMap bias(theta + o.bias[j], d.n_out);
    switch (update.mode) {
      case StepMode::gradient:
        gemm(MatrixMap(update.grad + o.weight[j], d.n_in, d.n_out), A, true, ws.D, false, 1.0f, 0.0f,
             scope.threads());
        VectorMap(update.grad + o.bias[j], d.n_out) = bias_sum;
        break;
      case StepMode::sgd_update:
        gemm(M, A, true, ws.D, false, -update.lr, 1.0f, scope.threads());
        bias -= update.lr * bias_sum;
        break;
      case StepMode::momentum_update: {
        momentum_update(M, MatrixMap(update.velocity + o.weight[j], d.n_in, d.n_out), A, ws.D, -update.lr,
                        update.mu, scope.threads());
        VectorMap v(update.velocity + o.bias[j], d.n_out);
        v = update.mu * v - update.lr * bias_sum;
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

void check_data(const StackSpec& spec, const ConstMatrixRef& X, const ConstMatrixRef& Y) {
  if (X.cols() != spec.n_in())
    throw std::invalid_argument("X: expected " + std::to_string(spec.n_in()) + " columns, got " +
                                std::to_string(X.cols()));
  if (Y.rows() != X.rows() || Y.cols() != spec.n_out())
    throw std::invalid_argument("Y: expected (rows of X, " + std::to_string(spec.n_out()) + ")");
  if (X.rows() == 0) throw std::invalid_argument("X: no rows");
}

void check_theta(const StackSpec& spec, Index size, const char* name) {
  if (size != spec.size())
    throw std::invalid_argument(std::string(name) + ": expected " + std::to_string(spec.size()) + " parameters");
}

double sum_losses(const std::vector<double>& row_loss, Index b) {
  return std::accumulate(row_loss.begin(), row_loss.begin() + b, 0.0);
}

}  // namespace

std::uint64_t dropout_key(std::uint64_t row_key, Index layer) {
  return stream_key(row_key ^ (std::uint64_t{kDropout} << 56), static_cast<std::uint64_t>(layer), 0);
}

Index StackSpec::size() const {
  Index total = 0;
  for (const DenseSpec& d : layers) total += d.n_in * d.n_out + d.n_out;
  return total;
}

void validate(const StackSpec& spec) {
  if (spec.layers.empty()) throw std::invalid_argument("the stack has no layers");
  for (size_t j = 0; j < spec.layers.size(); ++j) {
    if (spec.layers[j].n_in <= 0 || spec.layers[j].n_out <= 0) throw std::invalid_argument("layer sizes must be > 0");
    if (j > 0 && spec.layers[j].n_in != spec.layers[j - 1].n_out)
      throw std::invalid_argument("layer " + std::to_string(j) + " takes " + std::to_string(spec.layers[j].n_in) +
                                  " inputs but the layer below gives " + std::to_string(spec.layers[j - 1].n_out));
  }
  if (spec.loss == OutputLoss::softmax_nll && spec.n_out() < 2)
    throw std::invalid_argument("softmax needs at least 2 outputs");
  if (spec.loss == OutputLoss::cross_entropy && spec.layers.back().activation != Activation::sigmoid)
    throw std::invalid_argument("cross-entropy needs a sigmoid output");
}

void stack_forward(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X, MatrixRef out,
                   int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  if (X.cols() != spec.n_in()) throw std::invalid_argument("X: expected " + std::to_string(spec.n_in()) + " columns");
  if (out.rows() != X.rows() || out.cols() != spec.n_out()) throw std::invalid_argument("out: expected (rows of X, n_out)");
  const Offsets o = offsets_of(spec);
  const size_t L = spec.layers.size();
  // Each thread takes panels of rows through every layer on its own: a panel's activations
  // (512 x 1000 floats, 2 MB) are still in the core's cache when its bias and activation are
  // applied and when the next layer reads them, where whole-batch layers sent them out to
  // memory and back twice (83% of the plain GEMMs' rate at 784-1000-1000-1000, now 92-98%;
  // 256- and 1024-row panels measured a little slower). Panels are fixed, so results do not
  // depend on the thread count.
  const Index panel = 512;
  const Index panels = (X.rows() + panel - 1) / panel;
  // Panels hold the layers between input and output only: a one-layer chain needs none (at
  // 1,000,000 units they took 4 GB a thread for nothing).
  Index widest = 0;
  for (size_t j = 0; j + 1 < L; ++j) widest = std::max(widest, spec.layers[j].n_out);
  if (panels == 0) return;
  ThreadScope scope(num_threads);
  const ThreadScope one(1);
  ParallelErrors errors;
#pragma omp parallel num_threads(static_cast<int>(std::min<Index>(scope.threads(), panels)))
  {
    // Panel k goes to thread k mod team size: a smaller team than asked takes more each.
    RowMatrixF buffers[2];
    for (Index k = omp_get_thread_num(); k < panels && !errors.failed(); k += omp_get_num_threads())
      errors.run([&] {
        if (buffers[0].size() == 0 && widest > 0) buffers[0].resize(panel, widest), buffers[1].resize(panel, widest);
        const Index start = k * panel, b = std::min(panel, X.rows() - start);
        for (size_t j = 0; j < L; ++j) {
          const DenseSpec& d = spec.layers[j];
          const ConstMatrixRef in = j == 0 ? ConstMatrixRef(X.middleRows(start, b))
                                           : ConstMatrixRef(buffers[(j - 1) % 2].topLeftCorner(b, d.n_in));
          layer_forward(spec, o, theta.data(), j, in,
                        j + 1 == L ? MatrixRef(out.middleRows(start, b))
                                   : MatrixRef(buffers[j % 2].topLeftCorner(b, d.n_out)),
                        one);
        }
      });
  }
  errors.rethrow();
}

double stack_loss_and_gradient(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                               const ConstMatrixRef& Y, VectorRef grad, int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_theta(spec, grad.size(), "grad");
  check_data(spec, X, Y);
  ThreadScope scope(num_threads);
  const Offsets o = offsets_of(spec);
  const Index b = X.rows();
  StackWorkspace ws(spec, b);
  ws.A[0] = X;
  ws.Y = Y;
  forward(spec, o, theta.data(), b, ws, scope);
  output_loss(spec, b, true, ws, scope);
  Update update;
  update.grad = grad.data();
  backward(spec, o, const_cast<float*>(theta.data()), b, update, ws, scope);
  return sum_losses(ws.row_loss, b) / static_cast<double>(b);
}

void stack_row_loss(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                    const ConstMatrixRef& Y, VectorRef row_loss, int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_data(spec, X, Y);
  if (row_loss.size() != X.rows()) throw std::invalid_argument("row_loss: expected one value per row of X");
  ThreadScope scope(num_threads);
  const Offsets o = offsets_of(spec);
  const Index chunk = std::min<Index>(X.rows(), 4096);
  StackWorkspace ws(spec, chunk);
  for (Index start = 0; start < X.rows(); start += chunk) {
    const Index b = std::min(chunk, X.rows() - start);
    ws.A[0].topRows(b) = X.middleRows(start, b);
    ws.Y.topRows(b) = Y.middleRows(start, b);
    forward(spec, o, theta.data(), b, ws, scope);
    output_loss(spec, b, false, ws, scope);
    for (Index i = 0; i < b; ++i) row_loss[start + i] = static_cast<float>(ws.row_loss[i]);
  }
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
  const Index N = X.rows();
  const Index B = std::min(train.batch_size, N);
  ThreadScope scope(train.num_threads);
  const Offsets o = offsets_of(spec);
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
        forward(spec, o, theta.data(), b, ws, scope, train.dropout);
        output_loss(spec, b, true, ws, scope);
        backward(spec, o, theta.data(), b, update, ws, scope, train.dropout);
        total += sum_losses(ws.row_loss, b);
        ++step;
        if (update.mode == StepMode::gradient)
          apply_update(train.optimizer, theta.data(), grad.data(), m.data(), v.data(), spec.size(), step,
                       scope.threads());
      });
  return {total / static_cast<double>(N), step};
}

}  // namespace sdae
