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

/// Gives Eigen's matrix products the call's thread budget, and restores the old one.
/// Eigen keeps this setting in a process-wide variable; the CLI makes one compute call at a time.
class ThreadScope {
 public:
  explicit ThreadScope(int num_threads) : saved_(Eigen::nbThreads()), n_(resolve_threads(num_threads)) {
    Eigen::setNbThreads(n_);
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
