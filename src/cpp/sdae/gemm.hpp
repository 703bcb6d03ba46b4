// Matrix products on row-major views, and the one decision of which kernel computes each:
// sdae's streaming loops for dA steps of a few rows (small_batch.hpp), its register tiles for
// short batches (short_batch.hpp: AVX-512 or AVX2 builds), a tuned BLAS (scipy-openblas32's sgemm)
// for products with two long sides when the build found one, Eigen's GEMM otherwise; and for
// inference, products whose rows do not depend on each other (rowwise.hpp).
// bench/README.md has the measurements behind the limits below. (A tied layer's batch-1 SGD epoch
// runs no products: online_sgd.cpp fuses them into one pass, when online_sgd_applies says so.)
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// dA steps of up to this many rows take the streaming loops (inside a step only: their block of
/// W is warm in the thread's cache; elsewhere such products go to Eigen's GEMM).
constexpr Index kSmallBatch = 4;
/// Products C = A op(B) with kSmallBatch + 1 to this many rows take the register tiles ...
constexpr Index kTimesRows = 128;
/// ... and updates C += alpha A^T B with A and B of up to this many rows (a tied dA step stacks
/// its update's two terms, 2b rows).
constexpr Index kUpdateRows = 64;

/// The kernels a product can run on. The small_ and short_ ones compute one form each:
/// *_times C = A B, *_times_transpose C = A B^T, *_rank_update C += alpha A^T B.
enum class Kernel {
  eigen,
  blas,
  small_times,
  small_times_transpose,
  small_rank_update,
  short_times,
  short_times_transpose,
  short_rank_update,
  short_momentum_update,  ///< V = mu V + alpha A^T B, then T += V (momentum_update only)
  rowwise_times,          ///< C = A B, a fused multiply-add chain an element (rowwise.hpp)
};

/// Which rows a product's result may depend on. `batch`: any kernel, the fastest for the shape
/// (a BLAS's sums change with the rows computed together). `own_row`: each row of C from its row
/// of A alone, always in the same order, so that inference gives a row the same bits whether it
/// is computed alone, in a file or in whatever blocks a pipe delivers, on any number of threads.
/// Only C = A B (alpha 1, beta 0) has this form.
enum class Rows { batch, own_row };

/// Whether this build has the register tiles (short_*): with AVX-512, or AVX2 and FMA.
bool have_short_tiles();

/// The kernel gemm runs for one thread's block C (m, n) = alpha op(A) op(B) + beta C, with k
/// the inner size. step_batch: the batch size when called from inside a dA step (the step's
/// products, one thread's slice of the hidden units), 0 anywhere else. With Rows::own_row: the
/// register tiles for outputs of 16 columns or more when built, else rowwise_times (a
/// std::logic_error for any other form than C = A B).
Kernel choose_kernel(Index m, Index n, Index k, bool transpose_a, bool transpose_b, float alpha, float beta,
                     Index step_batch = 0, Rows rows = Rows::batch);

/// The kernel momentum_update runs for a target T (m, n) of k rows of A and B:
/// short_momentum_update (one pass over V and T), or else the kernel choose_kernel picks for
/// V = alpha A^T B + mu V, followed by T += V.
Kernel momentum_kernel(Index m, Index n, Index k, float alpha, float mu);

/// The kernel's name, as the tests and the bindings spell it ("short_times", ...).
const char* kernel_name(Kernel kernel);

/// C = alpha op(A) op(B) + beta C on the kernel given, on the calling thread: for the tests,
/// which run each kernel at shapes the dispatcher would not give it. Throws
/// std::invalid_argument when the kernel does not compute this form or is not in this build.
/// @param C (m, n)  @param A op(A) is (m, k)  @param B op(B) is (k, n)
void run_kernel(Kernel kernel, MatrixRef C, const ConstMatrixRef& A, bool transpose_a, const ConstMatrixRef& B,
                bool transpose_b, float alpha, float beta);

/// C = alpha op(A) op(B) + beta C, the one entry for products. All row-major views (inner
/// stride 1, any row stride); C must not alias A or B. Splits C by rows (tall) or by columns
/// (wide) between the threads threads.hpp gives the product, then runs each block on the kernel
/// choose_kernel picks; call it with 1 thread from inside a parallel region.
/// @param C (m, n)  @param A op(A) is (m, k)  @param B op(B) is (k, n)
void gemm(MatrixRef C, const ConstMatrixRef& A, bool transpose_a, const ConstMatrixRef& B, bool transpose_b,
          float alpha, float beta, int num_threads, Index step_batch = 0, Rows rows = Rows::batch);

/// A momentum step fused into the gradient's product: V = mu V + alpha A^T B, then T += V.
/// Threads split T as gemm splits C; each block runs momentum_kernel's choice.
/// @param T, V (n, m)  @param A (k, n)  @param B (k, m)
void momentum_update(MatrixRef T, MatrixRef V, const ConstMatrixRef& A, const ConstMatrixRef& B, float alpha, float mu,
                     int num_threads);

/// Which library gemm() uses for the long products: "openblas" or "eigen".
const char* gemm_backend();

}  // namespace sdae
