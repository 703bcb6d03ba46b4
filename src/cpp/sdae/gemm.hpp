// Matrix products on row-major views: sdae's register tiles when the left side is a short
// batch (short_batch.hpp), a tuned BLAS (scipy-openblas32's sgemm) for products with two long
// sides when the build found one, Eigen's GEMM otherwise. Eigen reaches ~135 GFLOP/s a core
// here, OpenBLAS ~175.
#pragma once
#include "sdae/types.hpp"

namespace sdae {

/// C = alpha op(A) op(B) + beta C. All row-major views (inner stride 1, any row stride); C
/// must not alias A or B.
/// @param C (m, n)  @param A op(A) is (m, k)  @param B op(B) is (k, n)
/// Splits C by rows (tall) or by columns (wide) between up to num_threads threads when the
/// product is large; call it with 1 from inside a parallel region.
void gemm(MatrixRef C, const ConstMatrixRef& A, bool transpose_a, const ConstMatrixRef& B, bool transpose_b,
          float alpha, float beta, int num_threads);

/// A momentum step fused into the gradient's product: V = mu V + alpha A^T B, then T += V.
/// Threads split T as gemm splits C. @param T, V (n, m)  @param A (k, n)  @param B (k, m)
void momentum_update(MatrixRef T, MatrixRef V, const ConstMatrixRef& A, const ConstMatrixRef& B, float alpha, float mu,
                     int num_threads);

/// Which library gemm() uses: "openblas" or "eigen".
const char* gemm_backend();

}  // namespace sdae
