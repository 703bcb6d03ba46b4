// The settings of a training call, one struct for a dA layer's pretraining and for fine-tuning
// the whole stack: everything besides the data, the parameters and the optimizer's state.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sdae/noise.hpp"
#include "sdae/optimizer.hpp"
#include "sdae/types.hpp"

namespace sdae {

struct TrainSpec {
  Loss loss = Loss::cross_entropy;  ///< a dA layer's reconstruction loss (a stack's is in its StackSpec)
  NoiseSpec noise;                  ///< corruption of each training row, keyed by (seed, epoch, row)
  /// Fine-tuning only: the fraction of every hidden layer's units dropped for each training row
  /// (inverted dropout: the kept ones scaled by 1 / (1 - dropout), so inference needs no
  /// change); keyed by (seed, epoch, row, layer, unit) like the noise.
  float dropout = 0.0f;
  /// Fine-tuning only: each layer's learning rate as a factor of optimizer.lr, bottom layer
  /// first (empty: 1 for every layer). Lower layers moving slower keep more of what
  /// pretraining learnt (discriminative fine-tuning).
  std::vector<float> lr_factors;
  OptimizerSpec optimizer;
  Index batch_size = 32;
  std::uint64_t seed = 0;
  int num_threads = 0;
  std::function<bool()> should_stop;  ///< polled between minibatches; true throws Interrupted
};

/// Throws std::invalid_argument when a setting is out of range.
inline void validate(const TrainSpec& train) {
  validate(train.noise);
  validate(train.optimizer);
  if (train.batch_size <= 0) throw std::invalid_argument("batch size must be > 0");
  if (!(train.dropout >= 0.0f && train.dropout < 1.0f))
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(train.dropout));
  for (float f : train.lr_factors)
    if (!(f > 0.0f) || !std::isfinite(f * train.optimizer.lr))
      throw std::invalid_argument("learning-rate factors must be > 0, and each times the rate finite");
}

}  // namespace sdae
