// Products for dA steps of a few rows (gemm.hpp's kSmallBatch), written to stream the weight
// block once per pass. Eigen's GEMM packs its operands for every call, which at 1-4 rows costs
// more than the arithmetic; these loops walk the weights row by row instead (vectorised along
// the row). gemm.hpp's choose_kernel says which products come here.
#pragma once
#include "sdae/activations.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// out = coef M. @param out (b, m)  @param coef (b, n)  @param M (n, m)
/// Zero coefficients (masked inputs) skip their row of M.
inline void small_times(MatrixRef out, const ConstMatrixRef& coef, const ConstMatrixRef& M) {
  out.setZero();
  for (Index i = 0; i < M.rows(); ++i)
    for (Index r = 0; r < out.rows(); ++r) {
      const float a = coef(r, i);
      if (a != 0.0f) out.row(r) += a * M.row(i);
    }
}

/// out = V M^T. @param out (b, n)  @param V (b, m)  @param M (n, m)
inline void small_times_transpose(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M) {
  for (Index i = 0; i < M.rows(); ++i)
    for (Index r = 0; r < out.rows(); ++r) out(r, i) = blocked_dot(M.row(i).data(), V.row(r).data(), M.cols());
}

/// M += alpha A^T B, one pass over M. @param M (n, m)  @param A (k, n)  @param B (k, m)
inline void small_rank_update(MatrixRef M, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B) {
  for (Index i = 0; i < M.rows(); ++i)
    for (Index r = 0; r < A.rows(); ++r) {
      const float a = alpha * A(r, i);
      if (a != 0.0f) M.row(i) += a * B.row(r);
    }
}

}  // namespace sdae
