// Products for short batches: register tiles that read the weight block where it lies. Eigen's
// GEMM repacks the weights for every call, and with 16 rows the repacking took as long as the
// arithmetic. short_times and short_rank_update hold tiles of rows by blocks of columns in
// registers (8 by 48 with AVX-512, 6 by 16 with AVX2), so that FMAs outnumber loads, and load
// each weight once per tile of rows of the batch (from L2, where a step keeps its block of W);
// short_times_transpose runs up to kShortBatch rows of the batch along its vectors, and longer
// batches as out^T = M V^T through the same tiles as short_times (V transposed first, each tile
// transposed as it is stored). Sums run in a fixed order: the same inputs give the same bits.
//
// AVX-512, or AVX2 with FMA: CMakeLists.txt compiles short_batch.cpp only when the build targets
// one of them, and gemm.cpp calls these only then (SDAE_SHORT_TILES). gemm.hpp's choose_kernel
// says which shapes come here.
#pragma once
#include "sdae/types.hpp"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define SDAE_SHORT_TILES 1
#endif

namespace sdae {

/// Floats in the tiles' vector: 16 with AVX-512, 8 with AVX2.
#ifdef __AVX512F__
constexpr int kTileLanes = 16;
#else
constexpr int kTileLanes = 8;
#endif
/// short_times_transpose runs batches of up to this many rows along its vectors (two of them).
constexpr Index kShortBatch = 2 * kTileLanes;

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
