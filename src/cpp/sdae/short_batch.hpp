// Products for short batches (see the limits below): register tiles that read the weight block
// where it lies. Eigen's GEMM repacks the weights for every call, and with 16 rows the repacking
// took as long as the arithmetic (half of a batch-16 step). Here short_times and
// short_rank_update hold tiles of 8 rows by 48 columns in registers (with AVX-512), so that
// FMAs outnumber loads, and load each weight once per 8 rows of the batch (from L2, where a
// step keeps its block of W); short_times_transpose runs up to 32 rows of the batch along its
// vectors, and longer batches as out^T = M V^T through the same tiles as short_times (V
// transposed first, each tile transposed as it is stored). Sums run in a fixed order: the same
// inputs give the same bits.
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// Whether gemm takes the products below: with AVX-512 only. A tile holds 24
/// 16-float accumulators; with 16 AVX registers they spill, and an AVX2 build fine-tuned at 135
/// GFLOP/s through the tiles against 202 through OpenBLAS and Eigen (batch 128: 191 against 250).
#ifdef __AVX512F__
constexpr bool kShortTiles = true;
#else
constexpr bool kShortTiles = false;
#endif

/// short_times_transpose runs batches of up to this many rows along its vectors...
constexpr Index kShortBatch = 32;
/// ... gemm sends batches of kSmallBatch + 1 to this many rows to short_times and
/// short_times_transpose (they read M once per tile of rows, from L2) ...
constexpr Index kTimesRows = 128;
/// ... and SGD updates from up to this many rows to short_rank_update: a tied dA step stacks
/// its update's two terms, 2b rows (at 64 the update measured 174 GFLOP/s, OpenBLAS 176).
constexpr Index kUpdateRows = 2 * kShortBatch;

// None of these may write where it reads: out (or M, for the update) must not alias the other
// arguments. (short_times reads A's rows again for every block of columns.)

/// out = A M. @param out (b, m)  @param A (b, n)  @param M (n, m), any row stride
void short_times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M);

/// out = V M^T. @param out (b, n)  @param V (b, m)  @param M (n, m), any row stride
void short_times_transpose(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M);

/// M += alpha A^T B, one pass over M. @param M (n, m)  @param A (k, n)  @param B (k, m)
void short_rank_update(MatrixRef M, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B);

/// V = mu V + alpha A^T B, then T += V: a momentum step fused into the product, one pass over V
/// and T. @param T, V (n, m)  @param A (k, n)  @param B (k, m)
void short_momentum_update(MatrixRef T, MatrixRef V, float mu, float alpha, const ConstMatrixRef& A,
                           const ConstMatrixRef& B);

}  // namespace sdae
