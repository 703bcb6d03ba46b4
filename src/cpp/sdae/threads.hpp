// The one place that decides how many threads a call uses. Every split is ours: Eigen is built
// with EIGEN_DONT_PARALLELIZE, and the BLAS runs single-threaded inside each product (gemm.cpp
// sets that at the call, whatever other libraries set for the process).
#pragma once
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <vector>

#include "sdae/gemm.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// num_threads <= 0 means: all the cores OpenMP sees.
inline int resolve_threads(int num_threads) {
  return num_threads > 0 ? num_threads : omp_get_num_procs();
}

/// Elementwise loops below this many elements run on one thread: waking a team costs more.
constexpr long kParallelMinElements = 1 << 15;

/// The thread budget of one compute call: its elementwise loops, and what it passes to gemm.
class ThreadScope {
 public:
  explicit ThreadScope(int num_threads) : n_(resolve_threads(num_threads)) {}
  int threads() const { return n_; }
  /// Threads for an elementwise loop over `elements` values.
  int for_elements(long elements) const { return elements >= kParallelMinElements ? n_ : 1; }

 private:
  int n_;
};

/// Threads for a product C (m, n) = op(A) op(B) with inner size k, split by rows of C when
/// by_rows, else by columns. Below ~2M multiply-adds a team costs more than it saves (and waits
/// on a busy machine); each thread gets at least 64 rows (columns).
inline int product_threads(Index m, Index n, Index k, bool by_rows, int num_threads) {
  const long work = static_cast<long>(m) * n * k;
  const int T = work >= (1L << 21) ? resolve_threads(num_threads) : 1;
  return static_cast<int>(std::min<Index>(T, std::max<Index>(1, (by_rows ? m : n) / 64)));
}

/// Threads for a dA layer's minibatch step of up to max_batch rows, split over hidden units.
/// Each step costs two barriers; a team only pays when each thread gets a good ~100 us of work,
/// or on a busy machine every barrier waits on the scheduler. Small batches stream the weights
/// from memory (slow per multiply-add), so they split sooner. Each thread gets >= 32 units.
inline int step_threads(Index n_in, Index n_hidden, Index max_batch, int num_threads) {
  const int n = resolve_threads(num_threads);
  const long work = static_cast<long>(max_batch) * n_in * n_hidden;
  const long enough = max_batch <= kSmallBatch ? (1L << 19) : (1L << 21);
  if (work < enough) return 1;
  return static_cast<int>(std::max<Index>(1, std::min<Index>(n, n_hidden / 32)));
}

/// Layers with fewer weights than this train one sample at a time (online_sgd.cpp) on one
/// thread: a step then takes a few microseconds, and the barrier a team pays per step eats most
/// of the gain (bench/README.md has the figures).
constexpr long kOnlineSplitWeights = 1L << 17;

/// Threads for online_sgd's one-sample epoch of a (n_in, n_hidden) layer, split over rows of
/// W: each thread gets at least kOnlineSplitWeights / 2 weights and 64 rows.
inline int online_threads(Index n_in, Index n_hidden, int num_threads) {
  const Index weights = n_in * n_hidden;
  if (weights < kOnlineSplitWeights) return 1;
  const Index most = std::min<Index>(n_in / 64, weights / (kOnlineSplitWeights / 2));
  return static_cast<int>(std::max<Index>(1, std::min<Index>(resolve_threads(num_threads), most)));
}

/// Bounds of `parts` near-equal slices of [0, n), inner bounds rounded up to multiples of
/// `step` (by default 16 floats, a cache line, so that threads never share one).
inline std::vector<Index> slice_bounds(Index n, int parts, Index step = 16) {
  std::vector<Index> bounds(parts + 1);
  for (int t = 0; t <= parts; ++t) bounds[t] = std::min(n, (n * t / parts + step - 1) / step * step);
  bounds[parts] = n;
  return bounds;
}

/// Keeps the first exception thrown inside a parallel region, to rethrow once the region is
/// over: an exception must not leave a region (std::terminate), and the other threads must still
/// reach its barriers.
class ParallelErrors {
 public:
  template <class F>
  void run(F&& work) noexcept {
    try {
      work();
    } catch (...) {
#pragma omp critical(sdae_parallel_errors)
      if (!first_) first_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  /// Whether some thread has failed so far; safe to ask while others run.
  bool failed() const { return failed_.load(std::memory_order_relaxed); }
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::exception_ptr first_;
  std::atomic<bool> failed_{false};
};

}  // namespace sdae
