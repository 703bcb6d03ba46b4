// Input corruption for denoising: masking, additive Gaussian, salt-and-pepper.
#pragma once
#include <cstdint>

#include "sdae/types.hpp"

namespace sdae {

struct NoiseSpec {
  NoiseType type = NoiseType::masking;
  float level = 0.0f;  ///< masking / salt-pepper: fraction of inputs hit; gaussian: sigma
  float low = 0.0f;    ///< salt-pepper: the "pepper" value (the data's minimum)
  float high = 1.0f;   ///< salt-pepper: the "salt" value (the data's maximum)
};

/// Throws std::invalid_argument when the spec is out of range.
void validate(const NoiseSpec& noise);

/// The noise stream of sample `row` in `epoch`: the same sample always gets the same noise
/// for the same seed and epoch, whichever batch or thread it lands in.
std::uint64_t row_noise_key(std::uint64_t seed, std::uint64_t epoch, std::uint64_t row);

/// Corrupts one row. @param x (n) clean  @param out (n) corrupted; may alias x.
void corrupt_row(const float* x, float* out, Index n, const NoiseSpec& noise, std::uint64_t key);

/// Corrupts elements [begin, end) of one row exactly as corrupt_row does (element j draws
/// from counter j), so that threads can each corrupt their own columns.
/// @param x the row, clean  @param out the row, corrupted (only [begin, end) written)
void corrupt_segment(const float* x, float* out, Index begin, Index end, const NoiseSpec& noise,
                     std::uint64_t key);

/// Corrupts every row of X into out; row i is keyed as sample `first_row + i`.
/// @param X (rows, n)  @param out (rows, n)
void corrupt(const ConstMatrixRef& X, MatrixRef out, const NoiseSpec& noise, std::uint64_t seed,
             std::uint64_t epoch, std::uint64_t first_row, int num_threads);

}  // namespace sdae
