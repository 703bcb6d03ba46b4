// The epoch loop both trainers share: a seeded shuffle, minibatches gathered and corrupted row
// by row (noise keyed by the row, not its batch), and a stop check between minibatches.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "sdae/dae_layer.hpp"
#include "sdae/interrupt.hpp"
#include "sdae/noise.hpp"
#include "sdae/threads.hpp"

namespace sdae {

/// For each minibatch of the epoch: gather(i, row, key) fills slot i of the batch from sample
/// `row` (run in parallel over i; key is the row's noise stream), then step(b) trains on the b
/// rows. @param n_in columns per row, to decide whether gathering is worth a team
template <class Gather, class Step>
void for_each_minibatch(Index N, Index batch_size, Index n_in, std::uint64_t seed, std::uint64_t epoch,
                        const std::function<bool()>& should_stop, const ThreadScope& scope, Gather&& gather,
                        Step&& step) {
  const Index B = std::min(batch_size, N);
  const std::vector<Index> perm = shuffled_rows(N, seed, epoch);
  StopPoller poller(should_stop);
  for (Index start = 0; start < N; start += B) {
    poller.check();
    const Index b = std::min(B, N - start);
#pragma omp parallel for num_threads(scope.for_elements(b * n_in)) schedule(static)
    for (Index i = 0; i < b; ++i) {
      const Index row = perm[start + i];
      gather(i, row, row_noise_key(seed, epoch, static_cast<std::uint64_t>(row)));
    }
    step(b);
  }
}

}  // namespace sdae
