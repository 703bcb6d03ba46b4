// The gathering of the next minibatch as a job that threads share row by row: a dA step has the
// threads that reach its first barrier early fill the next batch while they would otherwise
// wait (minibatch_step), and the epoch loop does what is left (minibatches.hpp).
#pragma once
#include <atomic>
#include <functional>
#include <utility>

#include "sdae/types.hpp"

namespace sdae {

class NextBatch {
 public:
  /// @param fill fills slot i of the batch; any thread, any order: a row's content may depend
  /// only on i, never on who fills it or when
  NextBatch(Index rows, std::function<void(Index)> fill) : rows_(rows), fill_(std::move(fill)) {}

  /// Fills rows until none is left unclaimed. Safe from several threads at once; the rows are
  /// written when the last caller returns (the caller's barrier makes them visible).
  void help() {
    for (Index i = next_.fetch_add(1, std::memory_order_relaxed); i < rows_;
         i = next_.fetch_add(1, std::memory_order_relaxed))
      fill_(i);
  }

  /// Whether some rows are still unclaimed.
  bool pending() const { return next_.load(std::memory_order_relaxed) < rows_; }

 private:
  Index rows_;
  std::function<void(Index)> fill_;
  std::atomic<Index> next_{0};
};

}  // namespace sdae
