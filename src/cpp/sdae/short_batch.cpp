#include "sdae/short_batch.hpp"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "sdae/lanes.hpp"

namespace sdae {
namespace {

template <int N>
using Int = std::integral_constant<int, N>;

/// f(R, r0) over [0, n) in tiles of `Most` rows, then 8, 4, 2, 1 for what is left.
template <int Most, class F>
void for_tiles(Index n, F&& f) {
  Index r = 0;
  for (; r + Most <= n; r += Most) f(Int<Most>{}, r);
  if (Most > 8 && r + 8 <= n) f(Int<8>{}, r), r += 8;
  if (r + 4 <= n) f(Int<4>{}, r), r += 4;
  if (r + 2 <= n) f(Int<2>{}, r), r += 2;
  if (r < n) f(Int<1>{}, r);
}

/// V^T into this thread's buffer, `width` floats a row, zero beyond V's rows: the batch along a
/// vector. @param V (b, m)
const float* transposed(const ConstMatrixRef& V, Index width) {
  thread_local std::vector<float> buffer;
  const Index b = V.rows(), m = V.cols(), ldv = V.outerStride();
  buffer.assign(static_cast<size_t>(m * width), 0.0f);
  for (Index s = 0; s < b; ++s) {
    const float* v = V.data() + s * ldv;
    for (Index j = 0; j < m; ++j) buffer[j * width + s] = v[j];
  }
  return buffer.data();
}

/// How far ahead (in rows of M) update_tile asks for M: it walks down a column block, a page
/// further at each tile, where the hardware prefetchers do not follow.
constexpr Index kAhead = 8;

/// out (R rows of 16 floats) += sum_k at[k R + r] M_k[c:c+16] over K rows of M.
template <int R, int K>
void stream_chunk(float* out, Index ldo, const float* at, const float* M, Index ldm, Index c) {
  L16::type acc[R];
  for (int r = 0; r < R; ++r) acc[r] = L16::load(out + r * ldo);
  for (int k = 0; k < K; ++k) {
    const L16::type mv = L16::load(M + k * ldm + c);
    for (int r = 0; r < R; ++r) acc[r] += at[k * R + r] * mv;
  }
  for (int r = 0; r < R; ++r) L16::store(out + r * ldo, acc[r]);
}

/// out[:, c0:c1] (R rows) += sum_k at[k R + r] M_k[c0:c1] over K rows of M: each 16-column
/// tile of out stays in registers while K rows of M go by, each piece of a row meeting R
/// coefficients. Walking M along its rows keeps the hardware prefetchers (and the TLB) with
/// us; walking down a column of M visited a new page at every row and stalled. With `tail`,
/// also the 16 columns of M from c1 - 16 + t (ending t < 16 columns past c1) into tail.
template <int R, int K>
void stream_tile(float* out, Index ldo, const float* at, const float* M, Index ldm, Index c0, Index c1, float* tail,
                 Index t) {
  for (Index c = c0; c < c1; c += 16) stream_chunk<R, K>(out + c, ldo, at, M, ldm, c);
  if (tail != nullptr) stream_chunk<R, K>(tail, ldo, at, M, ldm, c1 - 16 + t);
}

/// acc (R rows of M, 16 NV batch rows) = sum_j M(r, j) vt[j]: the batch runs along the vector,
/// the weights are broadcast, so no horizontal sums. @param vt (m, 16 NV)  @param acc (R, 16 NV)
template <int R, int NV>
void transpose_tile(const float* vt, const float* M, Index ldm, Index m, float* acc_out) {
  L16::type acc[R][NV] = {};
  for (Index j = 0; j < m; ++j) {
    L16::type v[NV];
    for (int k = 0; k < NV; ++k) v[k] = L16::load(vt + j * 16 * NV + 16 * k);
    for (int r = 0; r < R; ++r) {
      const float w = M[r * ldm + j];
      for (int k = 0; k < NV; ++k) acc[r][k] += w * v[k];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NV; ++k) L16::store(acc_out + r * 16 * NV + 16 * k, acc[r][k]);
}

template <int NV>
void times_transpose_rows(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M) {
  constexpr Index width = 16 * NV;
  const Index b = V.rows();
  const float* vt = transposed(V, width);
  alignas(64) float acc[8 * width];
  for_tiles<8>(M.rows(), [&](auto R, Index i0) {
    constexpr int kR = decltype(R)::value;
    transpose_tile<kR, NV>(vt, M.data() + i0 * M.outerStride(), M.outerStride(), M.cols(), acc);
    for (int r = 0; r < kR; ++r)
      for (Index s = 0; s < b; ++s) out(s, i0 + r) = acc[r * width + s];
  });
}

/// M (R rows, 16 V columns) += sum_s at[s R + r] B_s: the rows' coefficients for step s side by
/// side. With keep_from > 0 (and V == 1), only lanes keep_from to 15 are written back.
/// @param B rows of stride ldb
template <int R, int V>
void update_tile(float* M, Index ldm, const float* at, Index k, const float* B, Index ldb, int keep_from) {
  L16::type acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      __builtin_prefetch(M + (r + kAhead) * ldm + 16 * v, 1);
      acc[r][v] = L16::load(M + r * ldm + 16 * v);
    }
  for (Index s = 0; s < k; ++s) {
    L16::type bv[V];
    for (int v = 0; v < V; ++v) bv[v] = L16::load(B + s * ldb + 16 * v);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] += at[s * R + r] * bv[v];
  }
  if (keep_from == 0) {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) L16::store(M + r * ldm + 16 * v, acc[r][v]);
    return;
  }
  for (int r = 0; r < R; ++r) {  // the lanes from keep_from on only (V == 1)
    alignas(64) float lanes[16];
    L16::store(lanes, acc[r][0]);
    std::copy(lanes + keep_from, lanes + 16, M + r * ldm + keep_from);
  }
}

}  // namespace

void short_times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M) {
  const Index n = M.rows(), m = M.cols(), m16 = m / 16 * 16, t = m - m16;
  if (m < 16) {
    out.noalias() = A * M;
    return;
  }
  // Column panels small enough that sixteen rows of out (16 KB) stay in L1 across all of M.
  constexpr Index kPanel = 256;
  const Index ldm = M.outerStride();
  for_tiles<16>(A.rows(), [&](auto R, Index r0) {
    constexpr int kR = decltype(R)::value;
    // The tile's rows of A transposed, kR wide: the coefficients of a step at fixed offsets.
    const float* at = transposed(A.middleRows(r0, kR), kR);
    // The sums go to an aligned buffer, copied to out at the end: out's rows need not start
    // on a cache line, and the sums are read and written once for every 8 rows of M. The last
    // t columns go with the last panel, as the last 16 columns into a tile of their own.
    thread_local std::vector<L16::type> sums;
    sums.assign(static_cast<size_t>(kR * (m16 / 16 + 1)), L16::type{});
    float* o = reinterpret_cast<float*>(sums.data());
    const Index ldo = m16 + 16;
    float* tail = t > 0 ? o + m16 : nullptr;
    for (Index p0 = 0; p0 < m16; p0 += kPanel) {
      const Index p1 = std::min(p0 + kPanel, m16);
      float* tl = p1 == m16 ? tail : nullptr;
      Index i = 0;
      for (; i + 8 <= n; i += 8) stream_tile<kR, 8>(o, ldo, at + i * kR, M.data() + i * ldm, ldm, p0, p1, tl, t);
      for (; i < n; ++i) stream_tile<kR, 1>(o, ldo, at + i * kR, M.data() + i * ldm, ldm, p0, p1, tl, t);
    }
    for (int r = 0; r < kR; ++r) {
      std::copy_n(o + r * ldo, m16, &out(r0 + r, 0));
      std::copy_n(o + r * ldo + m16 + 16 - t, t, &out(r0 + r, m16));
    }
  });
}

void short_times_transpose(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M) {
  if (V.rows() <= 16)
    times_transpose_rows<1>(out, V, M);
  else
    times_transpose_rows<2>(out, V, M);
}

void short_rank_update(MatrixRef M, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B) {
  const Index k = A.rows(), n = M.rows(), m = M.cols(), m16 = m / 16 * 16;
  if (m < 16) {
    M.noalias() += alpha * A.transpose() * B;
    return;
  }
  const Index ldm = M.outerStride(), ldb = B.outerStride();
  // alpha A^T in tiles of four rows of M: tile i0's coefficients for step s at
  // at[i0 k + 4 s + r]; the last n % 4 rows one by one, at[i k + s].
  thread_local std::vector<float> at;
  at.resize(static_cast<size_t>(n * k));
  const Index n4 = n / 4 * 4;
  const float* a = A.data();
  const Index lda = A.outerStride();
  for (Index i0 = 0; i0 < n4; i0 += 4)
    for (Index s = 0; s < k; ++s)
      for (Index r = 0; r < 4; ++r) at[i0 * k + 4 * s + r] = alpha * a[s * lda + i0 + r];
  for (Index i = n4; i < n; ++i)
    for (Index s = 0; s < k; ++s) at[i * k + s] = alpha * a[s * lda + i];
  auto all_rows = [&](auto V, Index c, int keep_from = 0) {
    constexpr int kV = decltype(V)::value;
    const float* Bc = B.data() + c;
    Index i = 0;
    for (; i < n4; i += 4) update_tile<4, kV>(&M(i, c), ldm, at.data() + i * k, k, Bc, ldb, keep_from);
    for (; i < n; ++i) update_tile<1, kV>(&M(i, c), ldm, at.data() + i * k, k, Bc, ldb, keep_from);
  };
  // Column blocks outside, rows inside: the block's k rows of B (8 KB at k = 32) stay in L1
  // while M streams by. (Wider blocks, fewer page changes down M, measured slower.)
  Index c = 0;
  for (; c + 64 <= m16; c += 64) all_rows(Int<4>{}, c);
  for (; c < m16; c += 16) all_rows(Int<1>{}, c);
  // The last columns as the last 16, overlapping the previous piece, of which only the new
  // lanes are written back.
  if (m16 < m) all_rows(Int<1>{}, m - 16, static_cast<int>(16 - (m - m16)));
}

}  // namespace sdae
