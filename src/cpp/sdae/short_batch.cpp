#include "sdae/short_batch.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#ifndef SDAE_SHORT_TILES
#error "short_batch.cpp needs AVX-512, or AVX2 with FMA (CMakeLists.txt compiles it only then)"
#endif
#include <immintrin.h>

namespace sdae {
namespace {

// The machine's vector and the tile that fits its registers: with AVX-512's 32 registers, 8 rows
// by three 16-float vectors (24 accumulators); with AVX2's 16, 6 rows by two 8-float vectors (12
// accumulators, the row of two vectors and a broadcast beside them). AVX2's 4 rows by three
// vectors left no register for the row, whose loads then went with every FMA: on AMD's Zen 3 it
// ran at half of OpenBLAS's speed (bench/README.md). kPanel: the columns of M that short_times
// takes a panel at a time, five blocks of 48 with AVX-512 and six of 16 with AVX2, so that a
// panel of 784 rows fits the L2 of the CPUs measured (Intel's 2 MB, AMD Zen 3's 512 KB).
constexpr int kLanes = kTileLanes;
#ifdef __AVX512F__
constexpr int kTileRows = 8;
constexpr int kBlockVecs = 3;
constexpr Index kPanel = 240;
#else
constexpr int kTileRows = 6;
constexpr int kBlockVecs = 2;
constexpr Index kPanel = 96;
#endif
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
/// Columns in a full block.
constexpr Index kBlock = kBlockVecs * kLanes;

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof v); }

/// acc + x b as one fused multiply-add (x broadcast), written out: GCC's tuning for AMD's Zen
/// splits an accumulator's chain of them into a multiply and an add, which round twice, so that
/// a tile of one row gave other bits than a tile of four (the chains rowwise.hpp promises).
[[gnu::always_inline]] inline Vec fma(float x, Vec b, Vec acc) {
#ifdef __AVX512F__
  return reinterpret_cast<Vec>(_mm512_fmadd_ps(_mm512_set1_ps(x), reinterpret_cast<__m512>(b),
                                               reinterpret_cast<__m512>(acc)));
#else
  return reinterpret_cast<Vec>(_mm256_fmadd_ps(_mm256_set1_ps(x), reinterpret_cast<__m256>(b),
                                               reinterpret_cast<__m256>(acc)));
#endif
}

template <int N>
using Int = std::integral_constant<int, N>;

/// f(R, r0) over [0, n) in tiles of kTileRows rows, then of 4, 2, 1 for what is left.
template <class F>
void for_tiles(Index n, F&& f) {
  Index r = 0;
  for (; r + kTileRows <= n; r += kTileRows) f(Int<kTileRows>{}, r);
  if constexpr (kTileRows > 4) {
    if (r + 4 <= n) f(Int<4>{}, r), r += 4;
  }
  if (r + 2 <= n) f(Int<2>{}, r), r += 2;
  if (r < n) f(Int<1>{}, r);
}

/// n floats of buf (resized to hold them) from a 64-byte boundary: a vector load across two
/// cache lines costs two.
float* aligned_block(std::vector<float>& buf, Index n) {
  buf.resize(static_cast<size_t>(n + 15));
  const std::uintptr_t past_line = reinterpret_cast<std::uintptr_t>(buf.data()) % 64;  // a multiple of 4
  return buf.data() + (past_line == 0 ? 0 : (64 - past_line) / sizeof(float));
}

#ifdef __AVX512F__
/// r[j] <- column j of the 16 x 16 block whose rows are r: four rounds of shuffles (32, 64,
/// 128, 256-bit pieces), 64 in all.
[[gnu::always_inline]] inline void transpose_block(__m512 (&r)[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // pairs of rows interleaved: 32-bit pieces
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4)  // 64-bit pieces
    for (int k = 0; k < 2; ++k) {
      const __m512d a = _mm512_castps_pd(t[i + k]), b = _mm512_castps_pd(t[i + k + 2]);
      r[i + k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
      r[i + k + 2] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    }
  for (int i = 0; i < 16; i += 8)  // 128-bit pieces
    for (int k = 0; k < 4; ++k) {
      t[i + k] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0x88);
      t[i + k + 4] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0xdd);
    }
  for (int k = 0; k < 8; ++k) {  // 256-bit pieces
    r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
  }
  // The rounds leave the columns in this order (the middle two of every four swapped).
  for (int i = 0; i < 16; i += 4) std::swap(r[i + 1], r[i + 2]);
}

#else
/// r[j] <- column j of the 8 x 8 block whose rows are r: pairs of rows interleaved, then 64-bit
/// pieces, then the 128-bit halves.
[[gnu::always_inline]] inline void transpose_block(__m256 (&r)[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int k = 0; k < 4; ++k) {
    r[k] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x20);
    r[k + 4] = _mm256_permute2f128_ps(u[k], u[k + 4], 0x31);
  }
}
#endif

/// dst (cols, rows), row stride ldd = src^T, src (rows, cols), row stride lds: kLanes x kLanes
/// blocks in registers, element by element at the edges.
void transpose_into(const float* src, Index rows, Index cols, Index lds, float* dst, Index ldd) {
  Index i0 = 0, j0 = 0;
  for (; i0 + kLanes <= rows; i0 += kLanes)
    for (j0 = 0; j0 + kLanes <= cols; j0 += kLanes) {
#ifdef __AVX512F__
      __m512 r[16];
      for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + (i0 + i) * lds + j0);
      transpose_block(r);
      for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + (j0 + j) * ldd + i0, r[j]);
#else
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + (i0 + i) * lds + j0);
      transpose_block(r);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(dst + (j0 + j) * ldd + i0, r[j]);
#endif
    }
  for (Index i = 0; i < rows; ++i)
    for (Index j = i < i0 ? j0 : 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

/// V^T into this thread's aligned buffer, `width` >= b floats a row, zero beyond V's rows: the
/// batch along a vector, each vector on a cache line. @param V (b, m)  @return (m, width)
const float* transposed(const ConstMatrixRef& V, Index width) {
  thread_local std::vector<float> buffer;
  const Index b = V.rows(), m = V.cols();
  float* vt = aligned_block(buffer, m * width);
  if (b < width) std::fill_n(vt, m * width, 0.0f);
  transpose_into(V.data(), b, m, V.outerStride(), vt, width);
  return vt;
}

/// How many rows of M ahead the column walks ask for it: they go down a block of columns, and
/// with rows of 1,000 floats or more, every row is on a new page, where the hardware
/// prefetchers do not follow.
constexpr Index kAhead = 16;

/// Asks for the lines of the kLanes V floats at p (one more when p is not on a line), to read
/// or (kWrite = 1) to write.
template <int V, int kWrite>
void prefetch_block(const float* p) {
  for (int f = 0; f < kLanes * V; f += 16) __builtin_prefetch(p + f, kWrite);
  __builtin_prefetch(p + kLanes * V - 1, kWrite);
}

/// Stores an (R, kLanes V) tile at out (row stride ldo): all of it, or with kPart, its columns
/// from keep_from on. (A template flag: with the partial store in the same code, GCC kept the
/// accumulators in memory.)
template <int R, int V, bool kPart>
[[gnu::always_inline]] inline void store_tile(float* out, Index ldo, const Vec (&acc)[R][V], int keep_from) {
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      const int from = kPart ? std::max(keep_from - kLanes * v, 0) : 0;
      if (from == 0) {
        store(out + r * ldo + kLanes * v, acc[r][v]);
      } else if (from < kLanes) {
        alignas(64) float lanes[kLanes];
        store(lanes, acc[r][v]);
        std::copy(lanes + from, lanes + kLanes, out + r * ldo + kLanes * v + from);
      }
    }
}

/// Stores the (R, kLanes V) tile transposed, as (kLanes V, R) at out: row l of out (stride ldo)
/// gets the tile's column l, R floats; with kPart, only the rows from keep_from on.
template <int R, int V, bool kPart>
[[gnu::always_inline]] inline void store_tile_transposed(float* out, Index ldo, const Vec (&acc)[R][V],
                                                         int keep_from) {
#ifdef __AVX512F__
  for (int v = 0; v < V; ++v) {
    __m512 r[16];
    for (int i = 0; i < 16; ++i) r[i] = i < R ? reinterpret_cast<const __m512&>(acc[i][v]) : _mm512_setzero_ps();
    transpose_block(r);
    for (int l = 0; l < 16; ++l)
      if (!kPart || 16 * v + l >= keep_from)
        _mm512_mask_storeu_ps(out + (16 * v + l) * ldo, static_cast<__mmask16>((1u << R) - 1), r[l]);
  }
#else
  // kTileRows rows at most: through memory, once per tile (the tile summed a whole row of M first).
  alignas(64) float tile[R][kLanes * V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) store(&tile[r][kLanes * v], acc[r][v]);
  for (int l = kPart ? keep_from : 0; l < kLanes * V; ++l)
    for (int r = 0; r < R; ++r) out[l * ldo + r] = tile[r][l];
#endif
}

/// f(V, c, keep_from) over the columns [0, m), m >= kLanes, in blocks of kLanes V columns from
/// c: full blocks (kBlock) while they fit, then the rest as one block ending at m, which overlaps
/// the block before and of which only the columns from keep_from on are new (and to be written).
template <class F>
void for_column_blocks(Index m, F&& f) {
  Index c = 0;
  for (; c + kBlock <= m; c += kBlock) f(Int<kBlockVecs>{}, c, 0);
  const int rest = static_cast<int>(m - c);
  if (rest == 0) return;
  if (c > 0) {
    if constexpr (kBlockVecs == 3) {
      if (rest > 2 * kLanes) return f(Int<3>{}, m - 3 * kLanes, 3 * kLanes - rest);
    }
    if (rest > kLanes) f(Int<2>{}, m - 2 * kLanes, 2 * kLanes - rest);
    else f(Int<1>{}, m - kLanes, kLanes - rest);
    return;
  }
  // Less than a full block in all: two vectors and one while they fit, the last one overlapping.
  if (m >= 2 * kLanes) f(Int<2>{}, 0, 0), c = 2 * kLanes;
  if (m - c >= kLanes) f(Int<1>{}, c, 0), c += kLanes;
  if (c < m) f(Int<1>{}, m - kLanes, static_cast<int>(kLanes - (m - c)));
}

/// out (R rows, kLanes V columns) = sum_k A_r[k] M_k over the n rows of M, A_r being the R rows of
/// A: the tile stays in registers all the way down the block, each row of it meeting the R
/// coefficients of its k, broadcast from A's rows. (kBlockVecs vectors wide, the FMAs outnumber the
/// loads, broadcasts included.) Out of line, like update_tile: inlined into the loops over
/// tiles, GCC spilled the accumulators.
/// @param out (R, kLanes V), or (kLanes V, R) with kTransposed, of row stride ldo
/// @param A (R, n) of row stride lda  @param M (n, kLanes V) of row stride ldm
template <int R, int V, bool kPart, bool kTransposed = false>
[[gnu::noinline]] void column_tile(float* out, Index ldo, const float* A, Index lda, const float* M, Index ldm,
                                   Index n, int keep_from) {
  Vec acc[R][V] = {};
  for (Index k = 0; k < n; ++k) {
    const float* row = M + k * ldm;
    if (k + kAhead < n) prefetch_block<V, 0>(row + kAhead * ldm);  // (never past M's end)
    Vec mv[V];
    for (int v = 0; v < V; ++v) mv[v] = load(row + kLanes * v);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] = fma(A[r * lda + k], mv[v], acc[r][v]);
  }
  if constexpr (kTransposed) {
    store_tile_transposed<R, V, kPart>(out, ldo, acc, keep_from);
    return;
  }
  store_tile<R, V, kPart>(out, ldo, acc, keep_from);
}

/// acc (R rows of M, kLanes NV batch rows) = sum_j M(r, j) vt[j]: the batch runs along the vector,
/// the weights are broadcast, so no horizontal sums. @param vt (m, kLanes NV)
/// @param M (R, m) of row stride ldm  @param acc_out (R, kLanes NV)
template <int R, int NV>
void transpose_tile(const float* vt, const float* M, Index ldm, Index m, float* acc_out) {
  Vec acc[R][NV] = {};
  for (Index j = 0; j < m; ++j) {
    Vec v[NV];
    for (int k = 0; k < NV; ++k) v[k] = load(vt + j * kLanes * NV + kLanes * k);
    for (int r = 0; r < R; ++r) {
      const float w = M[r * ldm + j];
      for (int k = 0; k < NV; ++k) acc[r][k] = fma(w, v[k], acc[r][k]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < NV; ++k) store(acc_out + r * kLanes * NV + kLanes * k, acc[r][k]);
}

/// out = V M^T with the batch along the vectors, for b <= kLanes NV.
/// @param out (b, n)  @param V (b, m)  @param M (n, m)
template <int NV>
void times_transpose_rows(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M) {
  constexpr Index width = kLanes * NV;
  const Index b = V.rows();
  const float* vt = transposed(V, width);
  alignas(64) float acc[kTileRows * width];
  for_tiles(M.rows(), [&](auto R, Index i0) {
    constexpr int kR = decltype(R)::value;
    transpose_tile<kR, NV>(vt, M.data() + i0 * M.outerStride(), M.outerStride(), M.cols(), acc);
    for (int r = 0; r < kR; ++r)
      for (Index s = 0; s < b; ++s) out(s, i0 + r) = acc[r * width + s];
  });
}

/// M (R rows, kLanes V columns) += sum_s at[s R + r] B_s: the rows' coefficients for step s side by
/// side; only the columns from keep_from on are written back. M is loaded first (faster than
/// summing from zero and adding M at the end). kMomentum: M is a velocity, M = mu M + sum_s ...,
/// then T (row stride ldt) += M, in the same pass over both.
/// @param M, T (R, kLanes V) of row strides ldm, ldt  @param at (k R)  @param B (k, kLanes V) of row stride ldb
/// @param rows_left rows of M from this tile's first to M's end
template <int R, int V, bool kPart, bool kMomentum = false>
[[gnu::noinline]] void update_tile(float* M, Index ldm, Index rows_left, const float* at, Index k, const float* B,
                                   Index ldb, int keep_from, float* T = nullptr, Index ldt = 0, float mu = 0.0f) {
  // At least one step, and no branches between the loads: with a path that skips the loop, or
  // prefetches between the loads, GCC kept a copy of acc on the stack and stored the tile
  // through it, and the update ran slower.
  if (k <= 0) return;
  for (Index r = 0; r < R && r + kAhead < rows_left; ++r) {
    prefetch_block<V, 1>(M + (r + kAhead) * ldm);
    if constexpr (kMomentum) prefetch_block<V, 1>(T + (r + kAhead) * ldt);
  }
  Vec acc[R][V];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v)
      acc[r][v] = kMomentum ? mu * load(M + r * ldm + kLanes * v) : load(M + r * ldm + kLanes * v);
  Index s = 0;
  do {
    Vec bv[V];
    for (int v = 0; v < V; ++v) bv[v] = load(B + s * ldb + kLanes * v);
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] = fma(at[s * R + r], bv[v], acc[r][v]);
  } while (++s < k);
  store_tile<R, V, kPart>(M, ldm, acc, keep_from);
  if constexpr (kMomentum) {
    for (int r = 0; r < R; ++r)
      for (int v = 0; v < V; ++v) acc[r][v] += load(T + r * ldt + kLanes * v);
    store_tile<R, V, kPart>(T, ldt, acc, keep_from);
  }
}

/// out = A M (kTransposed: out^T = A M, out's row j getting column j of A M) for m >= 16.
/// Panels of columns outside, then tiles of rows, then blocks of the panel: a panel of M (n x
/// kPanel floats: 750 KB at n = 784 with AVX-512, 300 KB with AVX2) stays in L2 for every tile of
/// rows, which matters when M is not in L2 already (fine-tuning's layers). The last panel takes
/// the rest (kPanel to 2 kPanel - 1 columns; all m when m < 2 kPanel).
/// @param out (b, m), or (m, b) with kTransposed, of row stride ldo
/// @param A (b, n)  @param M (n, m)
template <bool kTransposed>
void times_tiles(float* out, Index ldo, const ConstMatrixRef& A, const ConstMatrixRef& M) {
  const Index b = A.rows(), n = M.rows(), m = M.cols();
  const Index lda = A.outerStride(), ldm = M.outerStride();
  for (Index p0 = 0; p0 < m;) {
    const Index p1 = m - p0 < 2 * kPanel ? m : p0 + kPanel;
    for_tiles(b, [&](auto R, Index r0) {
      constexpr int kR = decltype(R)::value;
      for_column_blocks(p1 - p0, [&](auto V, Index c, int keep_from) {
        constexpr int kV = decltype(V)::value;
        float* o = kTransposed ? out + (p0 + c) * ldo + r0 : out + r0 * ldo + p0 + c;
        const float* Ar = A.data() + r0 * lda;
        const float* Mc = M.data() + p0 + c;
        if (keep_from == 0) column_tile<kR, kV, false, kTransposed>(o, ldo, Ar, lda, Mc, ldm, n, 0);
        else column_tile<kR, kV, true, kTransposed>(o, ldo, Ar, lda, Mc, ldm, n, keep_from);
      });
    });
    p0 = p1;
  }
}

}  // namespace

void short_times(MatrixRef out, const ConstMatrixRef& A, const ConstMatrixRef& M) {
  if (M.cols() < 16) {
    out.noalias() = A * M;
    return;
  }
  times_tiles<false>(out.data(), out.outerStride(), A, M);
}

void short_times_transpose(MatrixRef out, const ConstMatrixRef& V, const ConstMatrixRef& M) {
  const Index b = V.rows();
  if (b > kShortBatch) {
    // A longer batch along the vectors would not fit the registers: out^T = M V^T instead, the
    // tiles' A B form with M's rows broadcast, each tile stored transposed.
    const Index ld = (b + 15) / 16 * 16;
    times_tiles<true>(out.data(), out.outerStride(), M,
                      Eigen::Map<const RowMatrixF, 0, Eigen::OuterStride<>>(transposed(V, ld), V.cols(), b,
                                                                            Eigen::OuterStride<>(ld)));
    return;
  }
  if (b <= kLanes)
    times_transpose_rows<1>(out, V, M);
  else
    times_transpose_rows<2>(out, V, M);
}

namespace {

/// The shared loop of short_rank_update and short_momentum_update: tile(R, W, kPart, i, c, ai,
/// bp, keep_from) for every tile of rows i and block of columns c of the (n, m) target, with
/// alpha A^T's coefficients for the tile at ai and the block of B's k rows packed at bp.
template <class Tile>
void for_update_tiles(Index n, Index m, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B, Tile&& tile) {
  const Index k = A.rows(), ldb = B.outerStride();
  // alpha A^T in tiles of rows of M: the tile of R rows from i0 has its coefficients for step s
  // at at[i0 k + R s + r].
  thread_local std::vector<float> at;
  at.resize(static_cast<size_t>(n * k));
  const float* a = A.data();
  const Index lda = A.outerStride();
  for_tiles(n, [&](auto R, Index i0) {
    constexpr int kR = decltype(R)::value;
    for (Index s = 0; s < k; ++s)
      for (Index r = 0; r < kR; ++r) at[i0 * k + kR * s + r] = alpha * a[s * lda + i0 + r];
  });
  // Column blocks outside, rows inside: the block's k rows of B (6 KB at k = 32 with AVX-512) stay in L1
  // while M streams by. They are copied to an aligned block first: B's rows (a dA step's [D1; H], 1,000 floats a row)
  // start mid-line every other row, and M's stores no longer share address bits with B's loads.
  thread_local std::vector<float> packed;
  float* bp = aligned_block(packed, k * kBlock);
  for_column_blocks(m, [&](auto V, Index c, int keep_from) {
    constexpr int kV = decltype(V)::value;
    for (Index s = 0; s < k; ++s) std::copy_n(B.data() + s * ldb + c, kLanes * kV, bp + s * kLanes * kV);
    for_tiles(n, [&](auto R, Index i) { tile(R, V, i, c, at.data() + i * k, bp, keep_from); });
  });
}

}  // namespace

void short_rank_update(MatrixRef M, float alpha, const ConstMatrixRef& A, const ConstMatrixRef& B) {
  const Index k = A.rows(), n = M.rows(), m = M.cols();
  if (m < 16) {
    M.noalias() += alpha * A.transpose() * B;
    return;
  }
  for_update_tiles(n, m, alpha, A, B, [&](auto R, auto V, Index i, Index c, const float* ai, const float* bp,
                                          int keep_from) {
    constexpr int kR = decltype(R)::value, kV = decltype(V)::value;
    float* Mi = &M(i, c);
    if (keep_from == 0) update_tile<kR, kV, false>(Mi, M.outerStride(), n - i, ai, k, bp, kLanes * kV, 0);
    else update_tile<kR, kV, true>(Mi, M.outerStride(), n - i, ai, k, bp, kLanes * kV, keep_from);
  });
}

void short_momentum_update(MatrixRef T, MatrixRef V, float mu, float alpha, const ConstMatrixRef& A,
                           const ConstMatrixRef& B) {
  const Index k = A.rows(), n = T.rows(), m = T.cols();
  if (m < 16) {
    V = mu * V;
    V.noalias() += alpha * A.transpose() * B;
    T += V;
    return;
  }
  for_update_tiles(n, m, alpha, A, B, [&](auto R, auto W, Index i, Index c, const float* ai, const float* bp,
                                          int keep_from) {
    constexpr int kR = decltype(R)::value, kW = decltype(W)::value;
    float* Vi = &V(i, c);
    float* Ti = &T(i, c);
    if (keep_from == 0)
      update_tile<kR, kW, false, true>(Vi, V.outerStride(), n - i, ai, k, bp, kLanes * kW, 0, Ti, T.outerStride(), mu);
    else
      update_tile<kR, kW, true, true>(Vi, V.outerStride(), n - i, ai, k, bp, kLanes * kW, keep_from, Ti,
                                      T.outerStride(), mu);
  });
}

}  // namespace sdae
