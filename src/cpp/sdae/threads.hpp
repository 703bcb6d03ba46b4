// The one place that decides how many threads a call uses.
#pragma once
#include <Eigen/Core>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <vector>

#include "sdae/types.hpp"

namespace sdae {

/// num_threads <= 0 means: all the cores OpenMP sees.
inline int resolve_threads(int num_threads) {
  return num_threads > 0 ? num_threads : omp_get_num_procs();
}

/// Elementwise loops below this many elements run on one thread: waking a team costs more.
constexpr long kParallelMinElements = 1 << 15;

/// The thread budget of one compute call. Eigen is built with EIGEN_DONT_PARALLELIZE: every
/// parallel split is ours (minibatch_step, gemm, the elementwise loops), never a global setting.
class ThreadScope {
 public:
  explicit ThreadScope(int num_threads) : n_(resolve_threads(num_threads)) {}
  int threads() const { return n_; }
  /// Threads for an elementwise loop over `elements` values.
  int for_elements(long elements) const { return elements >= kParallelMinElements ? n_ : 1; }

 private:
  int n_;
};

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
