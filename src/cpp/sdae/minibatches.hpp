// The epoch loop both trainers share: a seeded shuffle, minibatches gathered and corrupted row
// by row (noise keyed by the row, not its batch), and a stop check between minibatches.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sdae/dae_layer.hpp"
#include "sdae/interrupt.hpp"
#include "sdae/next_batch.hpp"
#include "sdae/noise.hpp"
#include "sdae/threads.hpp"

namespace sdae {

/// For each minibatch of the epoch: gather(i, row, key) fills slot i of the batch from sample
/// `row` (key is the row's noise stream), then step(b, next) trains on the b rows. Batch k + 1
/// is gathered while batch k trains: `next` (null for the last batch) is its gathering, which
/// step may share out to threads with time to spare, if gather writes where step does not read;
/// the rows step leaves are filled, in parallel, before the next step.
/// @param n_in columns per row, to decide whether gathering is worth a team
template <class Gather, class Step>
void for_each_minibatch(Index N, Index batch_size, Index n_in, std::uint64_t seed, std::uint64_t epoch,
                        const std::function<bool()>& should_stop, const ThreadScope& scope, Gather&& gather,
                        Step&& step) {
  const Index B = std::min(batch_size, N);
  const std::vector<Index> perm = shuffled_rows(N, seed, epoch);
  auto batch_from = [&](Index start) {
    return std::make_unique<NextBatch>(std::min(B, N - start), [&, start](Index i) {
      const Index row = perm[start + i];
      gather(i, row, row_noise_key(seed, epoch, static_cast<std::uint64_t>(row)));
    });
  };
  auto finish = [&](NextBatch& batch, Index rows) {
    if (!batch.pending()) return;
    ParallelErrors errors;
#pragma omp parallel num_threads(scope.for_elements(rows * n_in))
    errors.run([&] { batch.help(); });
    errors.rethrow();
  };
  StopPoller poller(should_stop);
  finish(*batch_from(0), B);
  for (Index start = 0; start < N; start += B) {
    poller.check();
    const Index b = std::min(B, N - start);
    const std::unique_ptr<NextBatch> next = start + B < N ? batch_from(start + B) : nullptr;
    step(b, next.get());
    if (next) finish(*next, std::min(B, N - start - B));
  }
}

}  // namespace sdae
