#include "sdae/dae_layer.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "sdae/activations.hpp"
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
  for (Index i = 0; i < out.rows(); ++i) {
    auto row = out.row(i).array();
    row += bias.transpose().array();
    activate(row, act);
  }
}

/// H = enc(Xt W + b); Zpre = H W' + c, the decoder's pre-activation.
/// @param Xt (B, n_in)  @param H (B, n_hidden)  @param Zpre (B, n_in)
void forward(const LayerSpec& spec, const float* theta, const ConstMatrixRef& Xt, MatrixRef H, MatrixRef Zpre,
             const ThreadScope& scope) {
  H.noalias() = Xt * W_of(spec, theta);
  add_bias_activate(H, b_of(spec, theta), spec.encoder, scope);
  if (spec.tied)
    Zpre.noalias() = H * W_of(spec, theta).transpose();
  else
    Zpre.noalias() = H * Wd_of(spec, theta);
  add_bias_activate(Zpre, c_of(spec, theta), Activation::linear, scope);
}

/// Sum over the batch of each row's loss; with `delta`, also overwrites Zpre by dLoss/dZpre
/// of the batch mean. Per-row sums are added in row order, so the total does not depend on
/// the thread count. @param Zpre (B, n_in)  @param X (B, n_in)
double loss_rows(Loss loss, Activation decoder, MatrixRef Zpre, const ConstMatrixRef& X, bool delta,
                 const ThreadScope& scope, std::vector<double>& row_loss) {
  const Index B = X.rows();
  const float inv_b = 1.0f / static_cast<float>(B);
  row_loss.assign(B, 0.0);
#pragma omp parallel for num_threads(scope.for_elements(X.size())) schedule(static)
  for (Index i = 0; i < B; ++i) {
    auto a = Zpre.row(i).array();
    const auto x = X.row(i).array();
    if (loss == Loss::cross_entropy) {
      // -[x log z + (1-x) log(1-z)] with z = sigmoid(a), written stably as softplus(a) - x a.
      row_loss[i] = (a.max(0.0f) + (-a.abs()).exp().log1p() - x * a).cast<double>().sum();
      if (delta) a = (a.logistic() - x) * inv_b;
    } else {
      if (decoder == Activation::sigmoid) a = a.logistic();
      row_loss[i] = (a - x).square().cast<double>().sum();
      if (delta) {
        if (decoder == Activation::sigmoid)
          a = 2.0f * inv_b * (a - x) * a * (1.0f - a);
        else
          a = 2.0f * inv_b * (a - x);
      }
    }
  }
  return std::accumulate(row_loss.begin(), row_loss.end(), 0.0);
}

/// Buffers of one batch, reused across the batches of a call.
struct Workspace {
  RowMatrixF X, Xt, H, D2, dH;
  std::vector<double> row_loss;
  Workspace(Index B, const LayerSpec& s) : X(B, s.n_in), Xt(B, s.n_in), H(B, s.n_hidden), D2(B, s.n_in), dH(B, s.n_hidden) {}
};

/// Mean batch loss and its gradient into grad (size P). Uses the first X.rows() rows of ws.
double forward_backward(const LayerSpec& spec, Loss loss, const float* theta, const ConstMatrixRef& X,
                        const ConstMatrixRef& Xt, float* grad, Workspace& ws, const ThreadScope& scope) {
  const Index B = X.rows();
  auto H = ws.H.topRows(B);
  auto D2 = ws.D2.topRows(B);
  auto dH = ws.dH.topRows(B);
  forward(spec, theta, Xt, H, D2, scope);
  const double total = loss_rows(loss, spec.decoder, D2, X, true, scope, ws.row_loss);

  MatrixMap gW{grad, spec.n_in, spec.n_hidden};
  VectorMap gb{grad + spec.offset_b(), spec.n_hidden};
  VectorMap gc{grad + spec.offset_c(), spec.n_in};
  gc.noalias() = D2.colwise().sum().transpose();
  if (spec.tied)
    dH.noalias() = D2 * W_of(spec, theta);
  else
    dH.noalias() = D2 * Wd_of(spec, theta).transpose();
#pragma omp parallel for num_threads(scope.for_elements(dH.size())) schedule(static)
  for (Index i = 0; i < B; ++i) multiply_derivative(dH.row(i).array(), H.row(i).array(), spec.encoder);
  gb.noalias() = dH.colwise().sum().transpose();
  gW.noalias() = Xt.transpose() * dH;
  if (spec.tied) {
    gW.noalias() += D2.transpose() * H;
  } else {
    MatrixMap gWd{grad + spec.offset_Wd(), spec.n_hidden, spec.n_in};
    gWd.noalias() = H.transpose() * D2;
  }
  return total / static_cast<double>(B);
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
  validate(train.noise);
  validate(train.optimizer);
  check_loss(spec, train.loss);
  check_theta(spec, theta_size, "theta");
  check_state(spec, train, state);
  if (train.batch_size <= 0) throw std::invalid_argument("batch size must be > 0");
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
  H.noalias() = X * W_of(spec, theta.data());
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
    Z.noalias() = H * W_of(spec, theta.data()).transpose();
  else
    Z.noalias() = H * Wd_of(spec, theta.data());
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
  ThreadScope scope(num_threads);
  Workspace ws(X.rows(), spec);
  return forward_backward(spec, loss, theta.data(), X, Xt, grad.data(), ws, scope);
}

double train_step(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                  const ConstMatrixRef& X, const ConstMatrixRef& Xt) {
  check_train(spec, train, state, theta.size());
  VectorF grad(spec.size());
  const double loss = loss_and_gradient(spec, train.loss, theta, X, Xt, grad, train.num_threads);
  ++state.step;
  apply_update(train.optimizer, theta.data(), grad.data(), state.m.data(), state.v.data(), spec.size(), state.step,
               train.num_threads);
  return loss;
}

double train_epoch(const LayerSpec& spec, const TrainSpec& train, VectorRef theta, OptimizerState& state,
                   const ConstMatrixRef& X, std::uint64_t epoch) {
  check_train(spec, train, state, theta.size());
  check_cols(X.cols(), spec.n_in, "X");
  const Index N = X.rows();
  if (N == 0) throw std::invalid_argument("X: no rows");
  ThreadScope scope(train.num_threads);
  const Index B = std::min(train.batch_size, N);
  const std::vector<Index> perm = shuffled_rows(N, train.seed, epoch);
  Workspace ws(B, spec);
  VectorF grad(spec.size());
  double total = 0.0;
  for (Index start = 0; start < N; start += B) {
    const Index b = std::min(B, N - start);
#pragma omp parallel for num_threads(scope.for_elements(b * spec.n_in)) schedule(static)
    for (Index i = 0; i < b; ++i) {
      const Index row = perm[start + i];
      ws.X.row(i) = X.row(row);
      corrupt_row(X.row(row).data(), ws.Xt.row(i).data(), spec.n_in, train.noise,
                  row_noise_key(train.seed, epoch, static_cast<std::uint64_t>(row)));
    }
    total += forward_backward(spec, train.loss, theta.data(), ws.X.topRows(b), ws.Xt.topRows(b), grad.data(), ws,
                              scope) * static_cast<double>(b);
    ++state.step;
    apply_update(train.optimizer, theta.data(), grad.data(), state.m.data(), state.v.data(), spec.size(), state.step,
                 scope.threads());
  }
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
  Workspace ws(chunk, spec);
  constexpr std::uint64_t kValidEpoch = ~std::uint64_t{0};
  const std::uint64_t seed = train.seed ^ (std::uint64_t{kValidNoise} << 56);
  double total = 0.0;
  for (Index start = 0; start < N; start += chunk) {
    const Index b = std::min(chunk, N - start);
    auto Xt = ws.Xt.topRows(b);
    corrupt(X.middleRows(start, b), Xt, train.noise, seed, kValidEpoch, static_cast<std::uint64_t>(start),
            scope.threads());
    auto D2 = ws.D2.topRows(b);
    forward(spec, theta.data(), Xt, ws.H.topRows(b), D2, scope);
    total += loss_rows(train.loss, spec.decoder, D2, X.middleRows(start, b), false, scope, ws.row_loss);
  }
  return total / static_cast<double>(N);
}

}  // namespace sdae
