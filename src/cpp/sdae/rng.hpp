// Counter-based random numbers: every draw is a pure function of (key, counter), so results
// do not depend on how rows are split between threads, and any draw can be recomputed.
#pragma once
#include <cstdint>

namespace sdae {

/// splitmix64's finaliser: a bijective 64-bit mix with full avalanche.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// A stream key from a seed and two coordinates (e.g. epoch and row).
inline std::uint64_t stream_key(std::uint64_t seed, std::uint64_t a, std::uint64_t b) {
  return mix64(mix64(mix64(seed) ^ (a + 0x9e3779b97f4a7c15ULL)) ^ (b + 0x632be59bd9b4e019ULL));
}

/// The counter-th 64-bit draw of a stream.
inline std::uint64_t draw64(std::uint64_t key, std::uint64_t counter) {
  return mix64(key + (counter + 1) * 0x9e3779b97f4a7c15ULL);
}

/// Uniform in [0, 1) with 24 random bits: exactly representable as float.
inline float uniform01(std::uint64_t key, std::uint64_t counter) {
  return static_cast<float>(draw64(key, counter) >> 40) * 0x1.0p-24f;
}

// Stream purposes, so that weight init, shuffling and noise never share draws.
enum Stream : std::uint64_t { kInit = 1, kShuffle = 2, kNoise = 3, kValidNoise = 4, kDropout = 5 };

}  // namespace sdae
