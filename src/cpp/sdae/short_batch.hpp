// Products for minibatches of 5 to 32 rows (short_times: to 128): register tiles that read the
// weight block where it lies. Eigen's GEMM repacks the weights for every call, and with 16 rows the repacking took as
// long as the arithmetic (half of a batch-16 step). Here short_times and short_rank_update hold
// tiles of 8 rows by 48 columns in registers, so that FMAs outnumber loads, and load each weight
// once per 8 rows of the batch (from L2, where a step keeps its block of W); short_times_transpose
// runs up to 32 rows of the batch along its vectors. Sums run in a fixed order: the same inputs
// give the same bits.
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// Batches up to this many rows take the products below (from kSmallBatch + 1 rows)...
constexpr Index kShortBatch = 32;
/// ... and short_times up to this many (it reads M once per 8 rows, from L2).
constexpr Index kTimesRows = 128;

/// out = A M. @param out (b, m)  @param A (b, n)  @param M (n, m), any row stride
void short_times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M);

/// out = V M^T. @param out (b, n)  @param V (b, m)  @param M (n, m), any row stride
void short_times_transpose(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M);

/// M += alpha A^T B, one pass over M. @param M (n, m)  @param A (k, n)  @param B (k, m)
void short_rank_update(MatrixRef M, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B);

}  // namespace sdae
