#include "sdae/gemm.hpp"

#include <omp.h>

#include <algorithm>

#include "sdae/short_batch.hpp"
#include "sdae/small_batch.hpp"
#include "sdae/threads.hpp"

#ifdef SDAE_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace sdae {
namespace {

#ifdef SDAE_HAVE_OPENBLAS
// Our threads split the work; OpenBLAS's own pool must not start on top of them.
const bool kSingleThreadedBlas = [] {
  scipy_openblas_set_num_threads(1);
  return true;
}();
#endif

void gemm_block(MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb, float alpha,
                float beta) {
  const Index m = C.rows(), n = C.cols();
  const Index k = ta ? A.rows() : A.cols();
  if (m == 0 || n == 0) return;
  // A batch on the left: the register tiles, which read B where it lies (see short_batch.hpp).
  // Against OpenBLAS on one core at (b, 784) x (784, 500): C = A B 179 against 117 GFLOP/s at
  // 32 rows and 173 against 159 at 128 (a dA step at batch 128: 285 -> 307 GFLOP/s); C = A B^T
  // 142 against 97 at 32 rows, and from 33 rows, in the transposed A B form, 182 against 117
  // at 48 and 181 against 150 at 128 (at (b, 512) x (784, 512)^T).
  const bool tiles = kShortTiles && !ta && alpha == 1.0f && beta == 0.0f && n >= 16 && m > kSmallBatch;
  if (tiles && m <= kTimesRows) {
    tb ? short_times_transpose(C, A, B) : short_times(C, A, B);
    return;
  }
  // An SGD update from a short batch, C += alpha A^T B with A and B of k <= 64 rows: one pass
  // over C (a dA step's update, and fine-tuning's to every weight matrix).
  if (kShortTiles && ta && !tb && beta == 1.0f && k <= kUpdateRows && n >= 16) {
    short_rank_update(C, alpha, A, B);
    return;
  }
#ifdef SDAE_HAVE_OPENBLAS
  (void)kSingleThreadedBlas;
  // OpenBLAS wins on products with two long sides; with a short one (a batch of 16) Eigen does.
  if (std::min(m, k) >= 32 && n >= 64) {
    scipy_cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, A.data(),
                    static_cast<blasint>(A.outerStride()), B.data(), static_cast<blasint>(B.outerStride()), beta,
                    C.data(), static_cast<blasint>(C.outerStride()));
    return;
  }
#endif
  if (beta == 0.0f) C.setZero();
  else if (beta != 1.0f) C *= beta;
  if (ta && tb) C.noalias() += alpha * (A.transpose() * B.transpose());
  else if (ta) C.noalias() += alpha * (A.transpose() * B);
  else if (tb) C.noalias() += alpha * (A * B.transpose());
  else C.noalias() += alpha * (A * B);
}

/// Splits an (m, n) output between up to num_threads threads when `work` multiply-adds are worth
/// a team, and calls block(i0, i1, by_rows) for each share: rows [i0, i1) of the output (by_rows)
/// or its columns.
template <class Block>
void split_output(Index m, Index n, long work, int num_threads, Block&& block) {
  // Below ~2M multiply-adds a team costs more than it saves (and waits on a busy machine).
  // A tall C is split by rows (each thread packs its own rows of A), a wide one by columns.
  const bool by_rows = m >= n;
  int T = work >= (1L << 21) ? resolve_threads(num_threads) : 1;
  T = static_cast<int>(std::min<Index>(T, std::max<Index>(1, (by_rows ? m : n) / 64)));
  if (T == 1) {
    block(Index{0}, by_rows ? m : n, by_rows);
    return;
  }
  ParallelErrors errors;
#pragma omp parallel num_threads(T)
  errors.run([&] {
    // Blocks on multiples of 16, so that no two threads share a cache line of C. A smaller team
    // than asked for (OMP_THREAD_LIMIT, OMP_DYNAMIC) takes several blocks a thread.
    const Index size = by_rows ? m : n;
    for (int s = omp_get_thread_num(); s < T; s += omp_get_num_threads()) {
      const Index i0 = std::min(size, (size * s / T + 15) / 16 * 16);
      const Index i1 = s + 1 == T ? size : std::min(size, (size * (s + 1) / T + 15) / 16 * 16);
      if (i1 > i0) block(i0, i1, by_rows);
    }
  });
  errors.rethrow();
}

}  // namespace

void gemm(MatrixRef C, const ConstMatrixRef& A, bool ta, const ConstMatrixRef& B, bool tb, float alpha, float beta,
          int num_threads) {
  const Index m = C.rows(), n = C.cols();
  const long work = static_cast<long>(m) * n * (ta ? A.rows() : A.cols());
  split_output(m, n, work, num_threads, [&](Index i0, Index i1, bool by_rows) {
    if (i0 == 0 && i1 == (by_rows ? m : n)) {
      gemm_block(C, A, ta, B, tb, alpha, beta);
    } else if (by_rows) {
      const ConstMatrixRef Ab = ta ? ConstMatrixRef(A.middleCols(i0, i1 - i0)) : ConstMatrixRef(A.middleRows(i0, i1 - i0));
      gemm_block(C.middleRows(i0, i1 - i0), Ab, ta, B, tb, alpha, beta);
    } else {
      const ConstMatrixRef Bb = tb ? ConstMatrixRef(B.middleRows(i0, i1 - i0)) : ConstMatrixRef(B.middleCols(i0, i1 - i0));
      gemm_block(C.middleCols(i0, i1 - i0), A, ta, Bb, tb, alpha, beta);
    }
  });
}

void momentum_update(MatrixRef T, MatrixRef V, const ConstMatrixRef& A, const ConstMatrixRef& B, float alpha, float mu,
                     int num_threads) {
  const Index m = T.rows(), n = T.cols();
  const long work = static_cast<long>(m) * n * A.rows();
  // One pass over V and T from a short batch; else the product into V, then a pass adding it.
  const bool tiles = kShortTiles && A.rows() <= kUpdateRows && n >= 16;
  split_output(m, n, work, num_threads, [&](Index i0, Index i1, bool by_rows) {
    const Index w = i1 - i0;
    MatrixRef Tb = by_rows ? MatrixRef(T.middleRows(i0, w)) : MatrixRef(T.middleCols(i0, w));
    MatrixRef Vb = by_rows ? MatrixRef(V.middleRows(i0, w)) : MatrixRef(V.middleCols(i0, w));
    const ConstMatrixRef Ab = by_rows ? ConstMatrixRef(A.middleCols(i0, w)) : A;
    const ConstMatrixRef Bb = by_rows ? B : ConstMatrixRef(B.middleCols(i0, w));
    if (tiles) {
      short_momentum_update(Tb, Vb, mu, alpha, Ab, Bb);
    } else {
      gemm_block(Vb, Ab, true, Bb, false, alpha, mu);
      Tb += Vb;
    }
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
