#include "sdae/stack_pass.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "sdae/activations.hpp"
#include "sdae/gemm.hpp"
#include "sdae/loss.hpp"

namespace sdae {
namespace {

/// Each row of Z <- its softmax, through blocked() and sums in 16 lanes from the row's start:
/// Eigen's row reductions and exp peel to an aligned address, and a row's address in a batch
/// changes with its place there (10 classes: every row starts 40 bytes after the last).
void softmax_rows(MatrixRef Z, const ThreadScope& scope) {
  using Block = Eigen::Array<float, 16, 1>;
#pragma omp parallel for num_threads(scope.for_elements(Z.size())) schedule(static)
  for (Index i = 0; i < Z.rows(); ++i) {
    float* z = Z.row(i).data();
    const Index n = Z.cols();
    const float top = Z.row(i).maxCoeff();  // (a maximum is exact in any order)
    Block lanes = Block::Zero();
    blocked(z, n, [&](Block& b) { b = (b - top).exp(); });
    Index j = 0;
    for (; j + 16 <= n; j += 16) lanes += Eigen::Map<const Block>(z + j);
    float total = lanes.sum();
    for (; j < n; ++j) total += z[j];
    Eigen::Map<Eigen::ArrayXf>(z, n) /= total;  // (a division is exact to the element)
  }
}

}  // namespace

Index widest_output(const StackSpec& spec) {
  Index widest = 0;
  for (const DenseSpec& d : spec.layers) widest = std::max(widest, d.n_out);
  return widest;
}

void layer_forward(const StackSpec& spec, const float* theta, size_t j, const ConstMatrixRef& in, MatrixRef out,
                   const ThreadScope& scope, MatrixRef* pre, Rows rows) {
  const DenseSpec& d = spec.layers[j];
  const float* bias = theta + spec.bias_offset(j);
  gemm(out, in, false, ConstMatrixMap(theta + spec.weight_offset(j), d.n_in, d.n_out), false, 1.0f, 0.0f,
       scope.threads(), 0, rows);
  const bool softmax = j + 1 == spec.layers.size() && spec.loss == OutputLoss::softmax_nll;
#pragma omp parallel for num_threads(scope.for_elements(out.size())) schedule(static)
  for (Index i = 0; i < out.rows(); ++i) {
    if (pre == nullptr) {
      bias_activate(out.row(i).data(), bias, d.n_out, softmax ? Activation::linear : d.activation);
      continue;
    }
    // The same two steps as above, the sum kept between them: the same bits.
    bias_activate(out.row(i).data(), bias, d.n_out, Activation::linear);
    pre->row(i) = out.row(i);
    bias_activate(out.row(i).data(), nullptr, d.n_out, d.activation);
  }
  if (softmax) softmax_rows(out, scope);
}

void forward(const StackSpec& spec, const float* theta, Index b, StackWorkspace& ws,
             const ThreadScope& scope, float dropout) {
  const float scale = 1.0f / (1.0f - dropout);
  MatrixRef pre = ws.Z.topRows(ws.Z.rows() > 0 ? b : 0);
  for (size_t j = 0; j < spec.layers.size(); ++j) {
    const bool last = j + 1 == spec.layers.size();
    layer_forward(spec, theta, j, ws.A[j].topRows(b), ws.A[j + 1].topRows(b), scope,
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

}  // namespace sdae
