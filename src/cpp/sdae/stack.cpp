// The stack's spec, its inference and its per-row loss; training is in stack_training.cpp, the
// passes both share in stack_pass.cpp.
#include "sdae/stack.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "sdae/rng.hpp"
#include "sdae/stack_pass.hpp"
#include "sdae/threads.hpp"

namespace sdae {

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
  const size_t L = spec.layers.size();
  // Each thread takes panels of rows through every layer on its own: a panel's activations
  // (512 x 1000 floats, 2 MB) are still in the core's cache when its bias and activation are
  // applied and when the next layer reads them, where whole-batch layers sent them out to memory
  // and back twice (bench/README.md, kernel measurements). Every product asks for rows computed
  // on their own (gemm.hpp's Rows::own_row), so a row's result depends neither on its panel nor
  // on the thread count: the same bits in any batch.
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
          layer_forward(spec, theta.data(), j, in,
                        j + 1 == L ? MatrixRef(out.middleRows(start, b))
                                   : MatrixRef(buffers[j % 2].topLeftCorner(b, d.n_out)),
                        one, nullptr, Rows::own_row);
        }
      });
  }
  errors.rethrow();
}

void stack_row_loss(const StackSpec& spec, const ConstVectorRef& theta, const ConstMatrixRef& X,
                    const ConstMatrixRef& Y, VectorRef row_loss, int num_threads) {
  validate(spec);
  check_theta(spec, theta.size(), "theta");
  check_data(spec, X, Y);
  if (row_loss.size() != X.rows()) throw std::invalid_argument("row_loss: expected one value per row of X");
  ThreadScope scope(num_threads);
  const Index chunk = std::min<Index>(X.rows(), 4096);
  StackWorkspace ws(spec, chunk);
  for (Index start = 0; start < X.rows(); start += chunk) {
    const Index b = std::min(chunk, X.rows() - start);
    ws.A[0].topRows(b) = X.middleRows(start, b);
    ws.Y.topRows(b) = Y.middleRows(start, b);
    forward(spec, theta.data(), b, ws, scope);
    output_loss(spec, b, false, ws, scope);
    for (Index i = 0; i < b; ++i) row_loss[start + i] = static_cast<float>(ws.row_loss[i]);
  }
}

}  // namespace sdae
