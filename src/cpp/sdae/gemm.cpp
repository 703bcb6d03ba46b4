#include "sdae/gemm.hpp"

#include <omp.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "sdae/rowwise.hpp"
#include "sdae/short_batch.hpp"
#include "sdae/small_batch.hpp"
#include "sdae/threads.hpp"

#ifdef SDAE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace sdae {
namespace {

#ifdef SDAE_HAVE_OPENBLAS
/// OpenBLAS's thread count is one number for the whole process, which threadpoolctl, torch,
/// OPENBLAS_NUM_THREADS or a notebook may raise at any time. Our threads split every product
/// themselves, and a multithreaded OpenBLAS called from them stalls and warns on stderr
/// ("Detect OpenMP Loop"), so each call sets it back to one just before it needs it. This
/// OpenBLAS (pthreads, NO_AFFINITY) has no thread-local setting; lowering the count is one store,
/// safe from any thread. The library is sdae's own copy (scipy-openblas32): NumPy and SciPy
/// carry theirs, whose settings this does not touch.
void single_threaded_blas() {
  if (scipy_openblas_get_num_threads() != 1) scipy_openblas_set_num_threads(1);
}

void blas_gemm(MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb, float alpha,
               float beta) {
  const Index m = C.rows(), n = C.cols(), k = ta ? A.rows() : A.cols();
  single_threaded_blas();
  scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, A.data(),
                    static_cast<blasint>(A.outerStride()), B.data(), static_cast<blasint>(B.outerStride()), beta,
                    C.data(), static_cast<blasint>(C.outerStride()));
}
#endif

void eigen_gemm(MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb, float alpha,
                float beta) {
  if (beta == 0.0f) C.setZero();
  else if (beta != 1.0f) C *= beta;
  if (ta && tb) C.noalias() += alpha * (A.transpose() * B.transpose());
  else if (ta) C.noalias() += alpha * (A.transpose() * B);
  else if (tb) C.noalias() += alpha * (A * B.transpose());
  else C.noalias() += alpha * (A * B);
}

/// Whether `kernel` computes C = alpha op(A) op(B) + beta C in this form.
bool computes(Kernel kernel, bool ta, bool tb, float alpha, float beta) {
  const bool times = !ta && alpha == 1.0f && beta == 0.0f;  // C = A op(B)
  const bool update = ta && !tb && beta == 1.0f;            // C += alpha A^T B
  switch (kernel) {
    case Kernel::eigen:
    case Kernel::blas: return true;
    case Kernel::small_times:
    case Kernel::short_times:
    case Kernel::rowwise_times: return times && !tb;
    case Kernel::small_times_transpose:
    case Kernel::short_times_transpose: return times && tb;
    case Kernel::small_rank_update:
    case Kernel::short_rank_update: return update;
    case Kernel::short_momentum_update: return false;  // two outputs: momentum_update only
  }
  return false;
}

/// Splits an (m, n) output between the threads product_threads gives a product of inner size k,
/// and calls block(i0, w, by_rows) for each share: w rows of the output from i0 (by_rows), or w
/// columns. Shares start on multiples of 16, so that no two threads share a cache line of it; a
/// smaller team than asked for (OMP_THREAD_LIMIT, OMP_DYNAMIC) takes several shares a thread.
template <class Block>
void split_output(Index m, Index n, Index k, int num_threads, Block&& block) {
  // A tall output is split by rows (each thread packs its own rows of A), a wide one by columns.
  const bool by_rows = m >= n;
  const int T = product_threads(m, n, k, by_rows, num_threads);
  if (T == 1) {
    block(Index{0}, by_rows ? m : n, by_rows);
    return;
  }
  const std::vector<Index> bounds = slice_bounds(by_rows ? m : n, T);
  ParallelErrors errors;
#pragma omp parallel num_threads(T)
  errors.run([&] {
    for (int s = omp_get_thread_num(); s < T; s += omp_get_num_threads())
      if (bounds[s + 1] > bounds[s]) block(bounds[s], bounds[s + 1] - bounds[s], by_rows);
  });
  errors.rethrow();
}

}  // namespace

bool have_short_tiles() {
#ifdef SDAE_SHORT_TILES
  return true;
#else
  return false;
#endif
}

Kernel choose_kernel(Index m, Index n, Index k, bool ta, bool tb, float alpha, float beta, Index step_batch,
                     Rows rows) {
  const bool times = !ta && alpha == 1.0f && beta == 0.0f;  // C (m, n) = A (m, k) op(B)
  const bool update = ta && !tb && beta == 1.0f;            // C += alpha A^T B, A (k, m), B (k, n)
  if (rows == Rows::own_row) {
    if (!times || tb) throw std::logic_error("a product of rows computed on their own must be C = A B");
    // The tiles' sums are the same chains as rowwise_times's, at the BLAS's speed (bench/README.md).
#ifdef SDAE_SHORT_TILES
    if (n >= 16) return Kernel::short_times;
#endif
    return Kernel::rowwise_times;
  }
  // A dA step of a few rows: the streaming loops (small_batch.hpp) for its products and its SGD
  // update; its gradient (beta 0) goes on below.
  if (step_batch > 0 && step_batch <= kSmallBatch) {
    if (times) return tb ? Kernel::small_times_transpose : Kernel::small_times;
    if (update) return Kernel::small_rank_update;
  }
#ifdef SDAE_SHORT_TILES
  // A short batch on the left: the register tiles, which read B where it lies. An SGD update
  // from a short batch: one pass over C (a dA step's update, fine-tuning's to every weight).
  if (times && n >= 16 && m > kSmallBatch && m <= kTimesRows)
    return tb ? Kernel::short_times_transpose : Kernel::short_times;
  if (update && k <= kUpdateRows && n >= 16) return Kernel::short_rank_update;
#endif
#ifdef SDAE_HAVE_OPENBLAS
  // OpenBLAS wins on products with two long sides; with a short one (a batch of 16) Eigen does.
  if (std::min(m, k) >= 32 && n >= 64) return Kernel::blas;
#endif
  (void)k;
  return Kernel::eigen;
}

const char* kernel_name(Kernel kernel) {
  switch (kernel) {
    case Kernel::eigen: return "eigen";
    case Kernel::blas: return "blas";
    case Kernel::small_times: return "small_times";
    case Kernel::small_times_transpose: return "small_times_transpose";
    case Kernel::small_rank_update: return "small_rank_update";
    case Kernel::short_times: return "short_times";
    case Kernel::short_times_transpose: return "short_times_transpose";
    case Kernel::short_rank_update: return "short_rank_update";
    case Kernel::short_momentum_update: return "short_momentum_update";
    case Kernel::rowwise_times: return "rowwise_times";
  }
  return "?";
}

void run_kernel(Kernel kernel, MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb,
                float alpha, float beta) {
  if (!computes(kernel, ta, tb, alpha, beta))
    throw std::invalid_argument(std::string(kernel_name(kernel)) + " does not compute this form of product");
  switch (kernel) {
    case Kernel::eigen: eigen_gemm(C, A, ta, B, tb, alpha, beta); return;
    case Kernel::small_times: small_times(C, A, B); return;
    case Kernel::small_times_transpose: small_times_transpose(C, A, B); return;
    case Kernel::small_rank_update: small_rank_update(C, alpha, A, B); return;
    case Kernel::rowwise_times: rowwise_times(C, A, B); return;
#ifdef SDAE_HAVE_OPENBLAS
    case Kernel::blas: blas_gemm(C, A, ta, B, tb, alpha, beta); return;
#endif
#ifdef SDAE_SHORT_TILES
    case Kernel::short_times: short_times(C, A, B); return;
    case Kernel::short_times_transpose: short_times_transpose(C, A, B); return;
    case Kernel::short_rank_update: short_rank_update(C, alpha, A, B); return;
#endif
    default: break;
  }
  throw std::invalid_argument(std::string(kernel_name(kernel)) + " is not in this build");
}

void gemm(MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb, float alpha, float beta,
          int num_threads, Index step_batch, Rows rows) {
  const Index m = C.rows(), n = C.cols(), k = ta ? A.rows() : A.cols();
  if (m == 0 || n == 0) return;
  split_output(m, n, k, num_threads, [&](Index i0, Index w, bool by_rows) {
    MatrixRef Cb = by_rows ? MatrixRef(C.middleRows(i0, w)) : MatrixRef(C.middleCols(i0, w));
    const ConstMatrixRef Ab = !by_rows ? A : ta ? ConstMatrixRef(A.middleCols(i0, w)) : ConstMatrixRef(A.middleRows(i0, w));
    const ConstMatrixRef Bb = by_rows ? B : tb ? ConstMatrixRef(B.middleRows(i0, w)) : ConstMatrixRef(B.middleCols(i0, w));
    run_kernel(choose_kernel(Cb.rows(), Cb.cols(), k, ta, tb, alpha, beta, step_batch, rows), Cb, Ab, ta, Bb, tb,
               alpha, beta);
  });
}

Kernel momentum_kernel(Index m, Index n, Index k, float alpha, float mu) {
#ifdef SDAE_SHORT_TILES
  if (k <= kUpdateRows && n >= 16) return Kernel::short_momentum_update;
#endif
  return choose_kernel(m, n, k, true, false, alpha, mu);
}

void momentum_update(MatrixRef T, MatrixRef V, const ConstMatrixRef& A, const ConstMatrixRef& B, float alpha, float mu,
                     int num_threads) {
  const Index m = T.rows(), n = T.cols(), k = A.rows();
  if (m == 0 || n == 0) return;
  const bool fused = momentum_kernel(m, n, k, alpha, mu) == Kernel::short_momentum_update;
  split_output(m, n, k, num_threads, [&](Index i0, Index w, bool by_rows) {
    MatrixRef Tb = by_rows ? MatrixRef(T.middleRows(i0, w)) : MatrixRef(T.middleCols(i0, w));
    MatrixRef Vb = by_rows ? MatrixRef(V.middleRows(i0, w)) : MatrixRef(V.middleCols(i0, w));
    const ConstMatrixRef Ab = by_rows ? ConstMatrixRef(A.middleCols(i0, w)) : A;
    const ConstMatrixRef Bb = by_rows ? B : ConstMatrixRef(B.middleCols(i0, w));
#ifdef SDAE_SHORT_TILES
    if (fused) {
      short_momentum_update(Tb, Vb, mu, alpha, Ab, Bb);
      return;
    }
#endif
    (void)fused;
    run_kernel(choose_kernel(Vb.rows(), Vb.cols(), k, true, false, alpha, mu), Vb, Ab, true, Bb, false, alpha, mu);
    Tb += Vb;
  });
}

const char* gemm_backend() {
#ifdef SDAE_HAVE_OPENBLAS
  return "openblas";
#else
  return "eigen";
#endif
}

}  // namespace sdae
