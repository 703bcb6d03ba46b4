#include "sdae/noise.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "sdae/rng.hpp"
#include "sdae/threads.hpp"

namespace sdae {

void validate(const NoiseSpec& noise) {
  const bool fraction = noise.type == NoiseType::masking || noise.type == NoiseType::salt_pepper;
  if (fraction && !(noise.level >= 0.0f && noise.level < 1.0f))
    throw std::invalid_argument("noise level must be in [0, 1), got " + std::to_string(noise.level));
  if (noise.type == NoiseType::gaussian && !(noise.level >= 0.0f && std::isfinite(noise.level)))
    throw std::invalid_argument("gaussian noise sigma must be >= 0, got " + std::to_string(noise.level));
}

std::uint64_t row_noise_key(std::uint64_t seed, std::uint64_t epoch, std::uint64_t row) {
  return stream_key(seed ^ (std::uint64_t{kNoise} << 56), epoch, row);
}

void corrupt_row(const float* x, float* out, Index n, const NoiseSpec& noise, std::uint64_t key) {
  corrupt_segment(x, out, 0, n, noise, key);
}

void corrupt_segment(const float* x, float* out, Index begin, Index end, const NoiseSpec& noise,
                     std::uint64_t key) {
  const float level = noise.level;
  switch (noise.type) {
    case NoiseType::none:
      if (out != x) std::copy(x + begin, x + end, out + begin);
      return;
    case NoiseType::masking:
      for (Index j = begin; j < end; ++j) out[j] = uniform01(key, j) < level ? 0.0f : x[j];
      return;
    case NoiseType::salt_pepper:
      for (Index j = begin; j < end; ++j) {
        const std::uint64_t r = draw64(key, j);
        const float u = static_cast<float>(r >> 40) * 0x1.0p-24f;
        out[j] = u < level ? ((r & 1u) ? noise.high : noise.low) : x[j];
      }
      return;
    case NoiseType::gaussian:
      for (Index j = begin; j < end; ++j) {
        // Box-Muller from the two halves of one draw; u1 in (0, 1] keeps the log finite.
        const std::uint64_t r = draw64(key, j);
        const float u1 = static_cast<float>((r >> 40) + 1) * 0x1.0p-24f;
        const float u2 = static_cast<float>((r >> 8) & 0xffffffu) * 0x1.0p-24f;
        const float g = std::sqrt(-2.0f * std::log(u1)) * std::cos(6.2831853f * u2);
        out[j] = x[j] + level * g;
      }
      return;
  }
}

void corrupt(const ConstMatrixRef& X, MatrixRef out, const NoiseSpec& noise, std::uint64_t seed,
             std::uint64_t epoch, std::uint64_t first_row, int num_threads) {
  validate(noise);
  if (out.rows() != X.rows() || out.cols() != X.cols())
    throw std::invalid_argument("out: expected the shape of X");
  ThreadScope scope(num_threads);
  const Index n = X.cols();
#pragma omp parallel for num_threads(scope.for_elements(X.size())) schedule(static)
  for (Index i = 0; i < X.rows(); ++i)
    corrupt_row(X.row(i).data(), out.row(i).data(), n, noise, row_noise_key(seed, epoch, first_row + i));
}

}  // namespace sdae
