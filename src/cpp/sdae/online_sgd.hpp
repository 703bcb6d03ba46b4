// Plain SGD on one sample at a time (batch 1, the SdA tutorial's setting) for a tied layer.
//
// At batch 1 every multiply-add reads a weight, so a step costs what moving W through the
// cache costs, and the general step moves it four times (encode, decode, backprop, update).
// Here each thread owns a block of rows of W (input features) for the whole epoch, small enough
// to stay in its own L2, and a step is one pass over that block: decode, backprop to the hidden
// layer, update and the next sample's encoding, with the part of the update that needs the
// whole backprop applied in the next pass. The threads exchange two hidden-sized vectors and
// meet at one barrier per step.
#pragma once
#include <cstdint>

#include "sdae/dae_layer.hpp"
#include "sdae/layer_spec.hpp"
#include "sdae/types.hpp"

namespace sdae {

/// Whether train_epoch takes this path: batch 1, tied weights, plain SGD.
bool online_sgd_applies(const LayerSpec& spec, const TrainSpec& train);

/// One epoch as train_epoch defines it (same shuffle, same per-row noise), one sample per step.
/// Returns the mean loss per row. The same seed and thread count give bit-identical parameters.
/// @param theta (spec.size()), updated in place  @param X (N, n_in)
double online_sgd_epoch(const LayerSpec& spec, const TrainSpec& train, float* theta, const ConstMatrixRef& X,
                        std::uint64_t epoch);

}  // namespace sdae
