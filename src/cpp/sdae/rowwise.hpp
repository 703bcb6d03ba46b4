// A product whose rows do not depend on each other, for inference: each element of out = A M is
// one chain of multiply-adds down k, from zero, in order, and which code computes an element
// depends on its column and on M's width only. A row's result is then the same bits whatever
// rows share its call, wherever it sits among them and however threads split the work, which a
// BLAS does not promise (its blocking and kernels change with the row count). gemm.hpp's
// choose_kernel sends row-independent products here when the register tiles (short_batch.hpp,
// the same chains at the BLAS's speed) are not built, or the output is narrower than a tile.
#pragma once
#include <algorithm>
#include <cmath>

#include "sdae/lanes.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// Whether the chains' multiply-adds are fused (one rounding each): when the build's target has
/// an FMA instruction (x86-64-v3 and later, ARMv8). Without one (x86-64-v2) each rounds twice,
/// the same way for every element, so a row's bits still do not depend on the rows beside it.
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
constexpr bool kFusedChains = true;
#else
constexpr bool kFusedChains = false;
#endif

namespace rowwise_detail {

/// out (R rows, 16 columns from c) = A_r M: R x 16 sums in registers (12 AVX registers at R = 6,
/// the most that leaves room for M's row), written from column keep_from of the block on.
template <int R>
[[gnu::noinline]] inline void tile(MatrixRef out, Index r0, Index c, const ConstMatrixRef& A, const ConstMatrixRef& M,
                                   int keep_from) {
  L16::type acc[R] = {};
  const float* a = A.data() + r0 * A.outerStride();
  const Index lda = A.outerStride(), ldm = M.outerStride(), n = M.rows();
  for (Index k = 0; k < n; ++k) {
    const L16::type mv = L16::load(M.data() + k * ldm + c);
    for (int r = 0; r < R; ++r) acc[r] += a[r * lda + k] * mv;
  }
  for (int r = 0; r < R; ++r) {
    alignas(64) float lanes[16];
    L16::store(lanes, acc[r]);
    std::copy(lanes + keep_from, lanes + 16, &out(r0 + r, c + keep_from));
  }
}

/// The row tile from r0 across columns [p0, p1) of out, p1 - p0 >= 16.
template <int R>
void tiles_of(MatrixRef out, Index r0, Index p0, Index p1, const ConstMatrixRef& A, const ConstMatrixRef& M) {
  Index c = p0;
  for (; c + 16 <= p1; c += 16) tile<R>(out, r0, c, A, M, 0);
  // The last columns: the block ending at p1, of which only the new ones are written.
  if (c < p1) tile<R>(out, r0, p1 - 16, A, M, static_cast<int>(16 - (p1 - c)));
}

}  // namespace rowwise_detail

/// out = A M, each element a chain of multiply-adds down k. @param out (b, m)  @param A (b, n)
/// @param M (n, m)
inline void rowwise_times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M) {
  const Index b = A.rows(), n = M.rows(), m = M.cols();
  if (m < 16) {  // narrower than one vector: the same multiply-adds one by one
    for (Index i = 0; i < b; ++i)
      for (Index j = 0; j < m; ++j) {
        float s = 0.0f;
        for (Index k = 0; k < n; ++k) s = kFusedChains ? std::fma(A(i, k), M(k, j), s) : A(i, k) * M(k, j) + s;
        out(i, j) = s;
      }
    return;
  }
  using namespace rowwise_detail;
  // Panels of 256 columns outside, row tiles inside: a panel of M (800 KB at n = 784) stays in
  // L2 for every tile (the last panel takes the rest, 256 to 511 columns).
  for (Index p0 = 0; p0 < m;) {
    const Index p1 = m - p0 < 512 ? m : p0 + 256;
    Index r = 0;
    for (; r + 6 <= b; r += 6) tiles_of<6>(out, r, p0, p1, A, M);
    switch (b - r) {
      case 5: tiles_of<5>(out, r, p0, p1, A, M); break;
      case 4: tiles_of<4>(out, r, p0, p1, A, M); break;
      case 3: tiles_of<3>(out, r, p0, p1, A, M); break;
      case 2: tiles_of<2>(out, r, p0, p1, A, M); break;
      case 1: tiles_of<1>(out, r, p0, p1, A, M); break;
      default: break;
    }
    p0 = p1;
  }
}

}  // namespace sdae
