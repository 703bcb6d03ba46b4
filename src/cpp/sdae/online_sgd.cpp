#include "sdae/online_sgd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "sdae/activations.hpp"
#include "sdae/interrupt.hpp"
#include "sdae/lanes.hpp"
#include "sdae/loss.hpp"
#include "sdae/noise.hpp"
#include "sdae/threads.hpp"

namespace sdae {
namespace {

/// Rows of W handled together: they share each load of the hidden-sized vectors, and eight rows
/// of a 1000-unit layer (32 KB) stay in L1 from the decode sums to the backprop that reuses them.
constexpr int kRows = 8;

/// Layers with fewer weights than this train on one thread: a step then takes a few
/// microseconds, and the two barriers a team pays per step eat most of the gain (measured on
/// 2 cores: 256x256 runs 1.38x faster on two threads, 256x512 1.46x, 784x500 1.95x).
constexpr long kSplitWeights = 1L << 17;

/// N floats as an Eigen array (used through Maps), for the loss: Eigen vectorises its exp and log.
template <int N>
using Lane = Eigen::Array<float, N, 1>;

/// Float rows of a length padded to a whole number of cache lines, 64-byte aligned, zeroed.
/// The loops below then take whole, aligned 16-float chunks: a load that straddles two cache
/// lines costs two, and a row of 1000 floats would straddle on every other row.
class PaddedRows {
 public:
  PaddedRows(Index rows, Index cols) : ld_((cols + 15) / 16 * 16), data_(rows * ld_ + 16, 0.0f) {
    offset_ = (64 - reinterpret_cast<std::uintptr_t>(data_.data()) % 64) % 64 / sizeof(float);
  }
  Index ld() const { return ld_; }
  float* row(Index i) { return data_.data() + offset_ + i * ld_; }

 private:
  Index ld_;
  std::vector<float> data_;
  std::size_t offset_;
};

/// f(rows, j) over the rows [j0, j1) in blocks of kRows, then one by one.
template <class F>
void for_row_blocks(Index j0, Index j1, F&& f) {
  Index j = j0;
  for (; j + kRows <= j1; j += kRows) f(std::integral_constant<int, kRows>{}, j);
  for (; j < j1; ++j) f(std::integral_constant<int, 1>{}, j);
}

// The kernels: R rows of W from Wr, row length (and stride) n, a multiple of 16; every vector
// is padded with zeros to n.

/// a[r] = W_r . h. @param h (n)  @param a (R)
template <int R>
void dot_rows(const float* Wr, Index n, const float* h, float* a) {
  L16::type acc[R] = {};
  for (Index c = 0; c < n; c += 16) {
    const L16::type hv = L16::load(h + c);
    for (int r = 0; r < R; ++r) acc[r] += L16::load(Wr + r * n + c) * hv;
  }
  for (int r = 0; r < R; ++r) a[r] = L16::sum(acc[r]);
}

/// q += sum_r coef[r] W_r. @param coef (R)  @param q (n)
template <int R>
void accumulate_rows(const float* Wr, Index n, const float* coef, float* q) {
  for (Index c = 0; c < n; c += 16) {
    // Two chains of multiply-adds, not one of R: the chain's latency would bound the loop.
    L16::type even = L16::load(q + c), odd = {};
    for (int r = 0; r < R; ++r) {
      if (r % 2 == 0)
        even += coef[r] * L16::load(Wr + r * n + c);
      else
        odd += coef[r] * L16::load(Wr + r * n + c);
    }
    L16::store(q + c, even + odd);
  }
}

/// W_r += alpha[r] dh + beta[r] h, then p += next[r] W_r with the updated row: the SGD update of
/// this sample fused with the encoding of the next.
/// @param alpha, beta, next (R)  @param dh, h, p (n)
template <int R>
void update_rows(float* Wr, Index n, const float* alpha, const float* beta, const float* dh, const float* h,
                 const float* next, float* p) {
  for (Index c = 0; c < n; c += 16) {
    const L16::type dv = L16::load(dh + c), hv = L16::load(h + c);
    L16::type even = L16::load(p + c), odd = {};
    for (int r = 0; r < R; ++r) {
      const L16::type w = L16::load(Wr + r * n + c) + alpha[r] * dv + beta[r] * hv;
      L16::store(Wr + r * n + c, w);
      if (r % 2 == 0)
        even += next[r] * w;
      else
        odd += next[r] * w;
    }
    L16::store(p + c, even + odd);
  }
}

/// Threads for a layer: each gets at least kSplitWeights / 2 weights and 64 rows of W.
int online_threads(const LayerSpec& spec, int num_threads) {
  const Index weights = spec.n_in * spec.n_hidden;
  if (weights < kSplitWeights) return 1;
  const Index most = std::min<Index>(spec.n_in / 64, weights / (kSplitWeights / 2));
  return static_cast<int>(std::max<Index>(1, std::min<Index>(resolve_threads(num_threads), most)));
}

}  // namespace

bool online_sgd_applies(const LayerSpec& spec, const TrainSpec& train) {
  return train.batch_size == 1 && spec.tied && train.optimizer.kind == Optimizer::sgd;
}

double online_sgd_epoch(const LayerSpec& spec, const TrainSpec& train, float* theta, const ConstMatrixRef& X,
                        std::uint64_t epoch) {
  const Index N = X.rows(), n_in = spec.n_in, n_h = spec.n_hidden;
  if (N == 0) throw std::invalid_argument("X: no rows");
  const float lr = train.optimizer.lr;
  float* bias = theta + spec.offset_b();
  float* cbias = theta + spec.offset_c();
  const std::vector<Index> perm = shuffled_rows(N, train.seed, epoch);
  auto sample = [&](Index k) { return X.row(perm[k]).data(); };
  auto key = [&](Index k) { return row_noise_key(train.seed, epoch, static_cast<std::uint64_t>(perm[k])); };

  // W trains in a padded copy (see PaddedRows), written back at the end.
  PaddedRows W(n_in, n_h);
  const Index ld = W.ld();
  for (Index j = 0; j < n_in; ++j) std::copy_n(theta + j * n_h, n_h, W.row(j));

  // Slice s owns the input features (rows of W) [rows[s], rows[s+1]) and writes its partial
  // encoder sums P.row(s) and backprop sums Q.row(s); every thread adds up all slices itself, in
  // slice order, into its own H.row(t) and DH.row(t), so results do not depend on the team size.
  const int T = online_threads(spec, train.num_threads);
  const std::vector<Index> rows = slice_bounds(n_in, T, kRows);  // on whole blocks of rows
  PaddedRows P(T, n_h), Q(T, n_h), H(T, n_h), DH(T, n_h);
  VectorF xt_a(n_in), xt_b(n_in), delta(n_in);
  std::vector<double> loss(T * 16, 0.0);  // slice s at loss[16 s]: never on one cache line with another

  StopPoller poller(train.should_stop);
  poller.check();
  ParallelErrors errors;
  bool stop = false;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    auto each_slice = [&](auto&& work) {
      errors.run([&] { for (int s = t; s < T; s += nt) work(s, rows[s], rows[s + 1]); });
    };
    // Sums over slices, in slice order: out = sum_s M.row(s). (ld)
    auto sum_slices = [&](PaddedRows& M, float* out) {
      Eigen::Map<VectorF> v(out, ld);
      v = Eigen::Map<const VectorF>(M.row(0), ld);
      for (int s = 1; s < T; ++s) v += Eigen::Map<const VectorF>(M.row(s), ld);
    };
    float* xt = xt_a.data();  // this sample, corrupted
    float* xt_next = xt_b.data();
    float* h = H.row(t);  // zero beyond n_h, as every padded vector
    float* dh = DH.row(t);

    each_slice([&](int s, Index j0, Index j1) {
      corrupt_segment(sample(0), xt, j0, j1, train.noise, key(0));
      std::fill_n(P.row(s), ld, 0.0f);
      for_row_blocks(j0, j1, [&](auto R, Index j) {
        accumulate_rows<decltype(R)::value>(W.row(j), ld, xt + j, P.row(s));
      });
    });
#pragma omp barrier
    for (Index k = 0; k < N; ++k) {
      // h = s(x~ W + b), from every slice's share.
      sum_slices(P, h);
      bias_activate(h, bias, n_h, spec.encoder);

      // Decode this slice's features, their loss and dLoss/dz, the update of c, and their share
      // of the backprop to the hidden units; eight rows of W at a time, read once for both.
      const float* x = sample(k);
      each_slice([&](int s, Index j0, Index j1) {
        // The next sample's row is somewhere in X, likely not in cache: ask for it now, so that
        // corrupting it in the next pass does not wait on memory.
        if (k + 1 < N)
          for (Index j = j0; j < j1; j += 16) __builtin_prefetch(sample(k + 1) + j);
        float* q = Q.row(s);
        std::fill_n(q, ld, 0.0f);
        double slice_loss = 0.0;
        for_row_blocks(j0, j1, [&](auto R, Index j) {
          constexpr int kR = decltype(R)::value;
          dot_rows<kR>(W.row(j), ld, h, delta.data() + j);
          Eigen::Map<Lane<kR>> a(delta.data() + j);
          Eigen::Map<Lane<kR>> c(cbias + j);
          a += c;
          slice_loss += segment_loss(a, Eigen::Map<const Lane<kR>>(x + j), train.loss, spec.decoder, true, 1.0f);
          c -= lr * a;
          accumulate_rows<kR>(W.row(j), ld, delta.data() + j, q);
        });
        loss[16 * s] += slice_loss;
      });
#pragma omp barrier
      // dLoss/d(encoder pre-activation); one thread updates b, which nobody reads until the
      // next barrier.
      sum_slices(Q, dh);
      Eigen::Map<VectorF> dhv(dh, n_h);
      multiply_derivative(dhv.array(), Eigen::Map<const VectorF>(h, n_h).array(), spec.encoder);
      if (t == 0) Eigen::Map<VectorF>(bias, n_h) -= lr * dhv;

      // Update this slice's rows of W and, with each updated row, encode the next sample.
      const bool last = k + 1 == N;
      each_slice([&](int s, Index j0, Index j1) {
        if (last)
          std::fill(xt_next + j0, xt_next + j1, 0.0f);
        else
          corrupt_segment(sample(k + 1), xt_next, j0, j1, train.noise, key(k + 1));
        float* p = P.row(s);
        std::fill_n(p, ld, 0.0f);
        for_row_blocks(j0, j1, [&](auto R, Index j) {
          constexpr int kR = decltype(R)::value;
          float alpha[kR], beta[kR];
          for (int r = 0; r < kR; ++r) {
            alpha[r] = -lr * xt[j + r];
            beta[r] = -lr * delta[j + r];
          }
          update_rows<kR>(W.row(j), ld, alpha, beta, dh, h, xt_next + j, p);
        });
      });
      std::swap(xt, xt_next);
      // Thread 0 alone writes `stop`, between the barriers, so every thread reads the same.
      // A failure elsewhere in this pass shows at the next step's check (or after the loop).
      if (t == 0) {
        if (!last) errors.run([&] { poller.check(); });
        stop = errors.failed();
      }
#pragma omp barrier
      if (stop) break;
    }
  }
  for (Index j = 0; j < n_in; ++j) std::copy_n(W.row(j), n_h, theta + j * n_h);
  errors.rethrow();

  double total = 0.0;
  for (double l : loss) total += l;
  return total / static_cast<double>(N);
}

}  // namespace sdae
