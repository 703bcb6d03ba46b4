// The one place that decides how many threads a call uses.
#pragma once
#include <Eigen/Core>
#include <omp.h>

namespace sdae {

/// num_threads <= 0 means: all the cores OpenMP sees.
inline int resolve_threads(int num_threads) {
  return num_threads > 0 ? num_threads : omp_get_num_procs();
}

/// Elementwise loops below this many elements run on one thread: waking a team costs more.
constexpr long kParallelMinElements = 1 << 15;

/// Gives Eigen's matrix products the call's thread budget (or one thread, where the caller
/// splits the work itself or the products are too small to share), and restores the old one.
/// Eigen keeps this setting in a process-wide variable; the CLI makes one compute call at a time.
class ThreadScope {
 public:
  explicit ThreadScope(int num_threads, bool eigen_parallel = true)
      : saved_(Eigen::nbThreads()), n_(resolve_threads(num_threads)) {
    // Without this, a product inside a one-thread OpenMP team would start a team of its own.
    Eigen::setNbThreads(eigen_parallel ? n_ : 1);
  }
  ~ThreadScope() { Eigen::setNbThreads(saved_); }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;
  int threads() const { return n_; }
  /// Threads for an elementwise loop over `elements` values.
  int for_elements(long elements) const { return elements >= kParallelMinElements ? n_ : 1; }

 private:
  int saved_;
  int n_;
};

}  // namespace sdae
