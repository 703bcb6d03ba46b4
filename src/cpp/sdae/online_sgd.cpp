#include "sdae/online_sgd.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
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

/// Rows of W handled together: they share each load of the hidden-sized vectors, and four rows
/// of a 1000-unit layer (16 KB), with the next four fetched meanwhile, stay in L1 from the
/// decode sums to the update that reuses them.
constexpr int kRows = 4;

/// N floats as an Eigen array (used through Maps), for the loss: Eigen vectorises its exp and log.
template <int N>
using Lane = Eigen::Array<float, N, 1>;

/// Float rows padded to whole cache lines, page aligned, zeroed: the loops below then take
/// whole, aligned 16-float chunks (a load that straddles two cache lines costs two).
class PaddedRows {
 public:
  PaddedRows(Index rows, Index cols) : PaddedRows(rows, cols, (cols + 15) / 16 * 16) {}

  /// Rows for the hidden-sized vectors of a step, each written by one thread and read by all,
  /// 16 KB apart: a core writing to the end of its row runs on, prefetching the next
  /// lines and pages, and takes the other thread's row from under it while that is being
  /// written. With rows back to back, the thread that wrote the second row ran slower and the
  /// other waited for it at every barrier.
  static PaddedRows paged(Index rows, Index cols) {
    const Index page = 4096 / sizeof(float), guard = 4 * page;
    return PaddedRows(rows, cols, (cols + page - 1) / page * page + guard);
  }

  Index ld() const { return ld_; }
  float* row(Index i) { return data_.get() + i * stride_; }

 private:
  PaddedRows(Index rows, Index cols, Index stride) : ld_((cols + 15) / 16 * 16), stride_(stride) {
    const std::size_t bytes = static_cast<std::size_t>(rows * stride) * sizeof(float);
    data_.reset(static_cast<float*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096)));
    if (!data_) throw std::bad_alloc();
    std::memset(data_.get(), 0, bytes);
  }

  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  Index ld_, stride_;
  std::unique_ptr<float[], Free> data_;
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

/// With w_r = W_r + alpha[r] dh (the previous step's pending update applied): q += sum_r
/// delta[r] w_r (the backprop), then W_r = w_r + beta[r] h (this step's decoder update), then
/// p += sum_r next[r] W_r (the next sample's encoding, without this step's encoder update).
/// Meanwhile the RN rows the caller takes next, from `ahead`, are read for their decode:
/// ahead_dot[r] = W_ahead_r . h (they would be read into L1 now anyway).
/// @param alpha, delta, beta, next (R)  @param dh, h, q, p (n)  @param ahead_dot (RN)
template <int R, int RN>
void backprop_update_rows(float* Wr, Index n, const float* alpha, const float* dh, const float* delta,
                          const float* beta, const float* h, const float* next, float* q, float* p,
                          const float* ahead, float* ahead_dot) {
  // The coefficients in registers: as memory operands they would compete with W for the loads.
  L16::type al[R], de[R], be[R], ne[R], acc[RN > 0 ? RN : 1] = {};
  for (int r = 0; r < R; ++r) {
    al[r] = L16::broadcast(alpha[r]);
    de[r] = L16::broadcast(delta[r]);
    be[r] = L16::broadcast(beta[r]);
    ne[r] = L16::broadcast(next[r]);
  }
  for (Index c = 0; c < n; c += 16) {
    const L16::type dv = L16::load(dh + c), hv = L16::load(h + c);
    for (int r = 0; r < RN; ++r) acc[r] += L16::load(ahead + r * n + c) * hv;
    // Two chains per sum, not one of R: a chain's latency would bound the loop.
    L16::type q_even = L16::load(q + c), q_odd = {}, p_even = L16::load(p + c), p_odd = {};
    for (int r = 0; r < R; ++r) {
      L16::type w = L16::load(Wr + r * n + c) + al[r] * dv;
      (r % 2 == 0 ? q_even : q_odd) += de[r] * w;
      w += be[r] * hv;
      L16::store(Wr + r * n + c, w);
      (r % 2 == 0 ? p_even : p_odd) += ne[r] * w;
    }
    L16::store(q + c, q_even + q_odd);
    L16::store(p + c, p_even + p_odd);
  }
  for (int r = 0; r < RN; ++r) ahead_dot[r] = L16::sum(acc[r]);
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
  float* cbias = theta + spec.offset_c();
  const std::vector<Index> perm = shuffled_rows(N, train.seed, epoch);
  auto sample = [&](Index k) { return X.row(perm[k]).data(); };
  auto key = [&](Index k) { return row_noise_key(train.seed, epoch, static_cast<std::uint64_t>(perm[k])); };

  // W trains in a padded copy (see PaddedRows), written back at the end.
  PaddedRows W(n_in, n_h);
  const Index ld = W.ld();
  for (Index j = 0; j < n_in; ++j) std::copy_n(theta + j * n_h, n_h, W.row(j));

  // Slice s owns the input features (rows of W) [rows[s], rows[s+1]). Step k writes the slice's
  // partial sums into buffer k % 2 of each kind: the backprop sums Q, the next sample's encoder
  // sums P and the overlap x~_(k+1) . x~_k (in D); after the step's barrier every thread adds up
  // all slices itself, in slice order, into its own copies of h, dh and b, so results do not
  // depend on the team size. Two buffers, because a thread may start writing step k+1's sums
  // while another still reads step k's.
  const int T = online_threads(n_in, n_h, train.num_threads);
  const std::vector<Index> rows = slice_bounds(n_in, T, kRows);  // on whole blocks of rows
  PaddedRows P = PaddedRows::paged(2 * T, n_h), Q = PaddedRows::paged(2 * T, n_h), H = PaddedRows::paged(T, n_h),
             DH = PaddedRows::paged(T, n_h), B = PaddedRows::paged(T, n_h);
  std::vector<float> D(2 * T * 16, 0.0f);  // slice s of buffer i at D[16 (i T + s)]: a cache line each
  // Corrupted samples k-1, k and k+1; "previous" starts at zero: step 0 has no pending update.
  VectorF xt_a = VectorF::Zero(n_in), xt_b(n_in), xt_c(n_in), delta(n_in), pre(n_in);
  std::vector<double> loss(T * 16, 0.0);  // slice s at loss[16 s]
  bool stop[2] = {false, false};

  StopPoller poller(train.should_stop);
  poller.check();
  ParallelErrors errors;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    auto each_slice = [&](auto&& work) {
      errors.run([&] { for (int s = t; s < T; s += nt) work(s, rows[s], rows[s + 1]); });
    };
    // out = sum_s M.row(first + s), in slice order. (ld)
    auto sum_slices = [&](PaddedRows& M, int first, float* out) {
      Eigen::Map<VectorF> v(out, ld);
      v = Eigen::Map<const VectorF>(M.row(first), ld);
      for (int s = 1; s < T; ++s) v += Eigen::Map<const VectorF>(M.row(first + s), ld);
    };
    float* xt_prev = xt_a.data();
    float* xt = xt_b.data();
    float* xt_next = xt_c.data();
    float* h = H.row(t);  // zero beyond n_h, as every padded vector
    float* dh = DH.row(t);
    float* b = B.row(t);
    std::copy_n(theta + spec.offset_b(), n_h, b);
    float dh_dot_h = 0.0f;  // dh . h, of the pending dh and this step's h

    each_slice([&](int s, Index j0, Index j1) {
      corrupt_segment(sample(0), xt, j0, j1, train.noise, key(0));
      std::fill_n(P.row(T + s), ld, 0.0f);
      for_row_blocks(j0, j1, [&](auto R, Index j) {
        accumulate_rows<decltype(R)::value>(W.row(j), ld, xt + j, P.row(T + s));
      });
    });
#pragma omp barrier
    sum_slices(P, T, h);
    bias_activate(h, b, n_h, spec.encoder);

    // Step k, as plain SGD: h = s(x~ W + b), then W -= lr (x~' dh + delta' h), with dh the
    // gradient at the encoder's pre-activation and delta at the decoder's. The second term
    // needs only this row's delta, known within the pass; the first needs the whole dh, known
    // only after the barrier, so it stays pending and is applied as the next pass reads each
    // row. The next sample's encoding, summed in this pass before that term is in W, gets it
    // in closed form afterwards: x~_(k+1) (x~_k' dh) = (x~_(k+1) . x~_k) dh. One pass over W
    // per step, not two.
    Index k = 0;
    for (; k < N; ++k) {
      const int buf = k % 2;
      const bool last = k + 1 == N;
      const float* x = sample(k);
      each_slice([&](int s, Index j0, Index j1) {
        float* q = Q.row(buf * T + s);
        float* p = P.row(buf * T + s);
        std::fill_n(q, ld, 0.0f);
        std::fill_n(p, ld, 0.0f);
        if (last) {
          std::fill(xt_next + j0, xt_next + j1, 0.0f);
        } else {
          corrupt_segment(sample(k + 1), xt_next, j0, j1, train.noise, key(k + 1));
          // The row after next is somewhere in X, likely not in cache: ask for it now, so
          // that corrupting it in the next pass does not wait on memory.
          if (k + 2 < N)
            for (Index j = j0; j < j1; j += 16) __builtin_prefetch(sample(k + 2) + j);
        }
        float overlap = 0.0f;
        for (Index j = j0; j < j1; ++j) overlap += xt_next[j] * xt[j];
        D[16 * (buf * T + s)] = overlap;

        Index decoded = -1;  // the block whose decode sums the last sweep took
        for_row_blocks(j0, j1, [&](auto R, Index j) {
          constexpr int kR = decltype(R)::value;
          float alpha[kR], beta[kR];
          for (int r = 0; r < kR; ++r) alpha[r] = -lr * xt_prev[j + r];
          // The decode, W_r . h, unless the previous block's sweep took it; the pending
          // update's part of it in closed form: (W_r + alpha_r dh) . h.
          if (j != decoded) dot_rows<kR>(W.row(j), ld, h, delta.data() + j);
          Eigen::Map<Lane<kR>> a(delta.data() + j);
          Eigen::Map<Lane<kR>> c(cbias + j);
          a += c + dh_dot_h * Eigen::Map<const Lane<kR>>(alpha);
          Eigen::Map<Lane<kR>>(pre.data() + j) = a;  // for the loss, summed after the pass
          output_gradient(a, Eigen::Map<const Lane<kR>>(x + j), train.loss, spec.decoder, 1.0f);
          c -= lr * a;
          for (int r = 0; r < kR; ++r) beta[r] = -lr * a[r];
          const Index ahead = j + kR;
          if (kR == kRows && ahead + kRows <= j1) {
            backprop_update_rows<kR, kRows>(W.row(j), ld, alpha, dh, delta.data() + j, beta, h, xt_next + j, q, p,
                                            W.row(ahead), delta.data() + ahead);
            decoded = ahead;
          } else {
            backprop_update_rows<kR, 0>(W.row(j), ld, alpha, dh, delta.data() + j, beta, h, xt_next + j, q, p,
                                        nullptr, nullptr);
          }
        });
        const Index n = j1 - j0;
        const float* slice_pre = pre.data() + j0;
        loss[16 * s] += output_segment(&slice_pre, 1, nullptr, x + j0, nullptr, nullptr, n, train.loss, spec.decoder,
                                       false, 1.0f);
      });
      // Thread 0 alone writes stop[buf] before the barrier; every thread reads it after. A
      // failure elsewhere in this pass shows at the next step (or after the loop).
      if (t == 0) {
        if (!last) errors.run([&] { poller.check(); });
        stop[buf] = errors.failed();
      }
#pragma omp barrier
      // dh: dLoss/d(encoder pre-activation), from every slice's share; then b, then the next
      // sample's h, with the closed-form part of the pending update.
      sum_slices(Q, buf * T, dh);
      Eigen::Map<VectorF> dhv(dh, n_h);
      multiply_derivative(dhv.array(), Eigen::Map<const VectorF>(h, n_h).array(), spec.encoder);
      Eigen::Map<VectorF>(b, n_h) -= lr * dhv;
      float overlap = 0.0f;
      for (int s = 0; s < T; ++s) overlap += D[16 * (buf * T + s)];
      sum_slices(P, buf * T, h);
      Eigen::Map<VectorF>(h, n_h) -= (lr * overlap) * dhv;
      bias_activate(h, b, n_h, spec.encoder);
      dh_dot_h = dhv.dot(Eigen::Map<const VectorF>(h, n_h));
      std::swap(xt_prev, xt);
      std::swap(xt, xt_next);
      if (stop[buf]) break;
    }
    // The last step's pending update.
    each_slice([&](int, Index j0, Index j1) {
      for (Index j = j0; j < j1; ++j)
        Eigen::Map<VectorF>(W.row(j), n_h) -= (lr * xt_prev[j]) * Eigen::Map<const VectorF>(dh, n_h);
    });
    if (t == 0) std::copy_n(b, n_h, theta + spec.offset_b());
  }
  for (Index j = 0; j < n_in; ++j) std::copy_n(W.row(j), n_h, theta + j * n_h);
  errors.rethrow();

  double total = 0.0;
  for (double l : loss) total += l;
  return total / static_cast<double>(N);
}

}  // namespace sdae
