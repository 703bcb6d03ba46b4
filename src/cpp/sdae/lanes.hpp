// A 16-float vector for the hand-fused loops, as a GCC/Clang vector extension: the compiler maps
// it onto one AVX-512 register (two AVX or four SSE ones, by the build's target) and keeps a
// loop's accumulators in registers.
#pragma once
#include <cstring>

namespace sdae {

struct L16 {
  typedef float type __attribute__((vector_size(64)));
  static type load(const float* p) {
    type v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static type broadcast(float x) { return type{} + x; }
  static void store(float* p, type v) { std::memcpy(p, &v, sizeof v); }
  /// The lanes' sum, in a fixed order.
  static float sum(type v) {
    float total = 0.0f;
    for (int i = 0; i < 16; ++i) total += v[i];
    return total;
  }
};

}  // namespace sdae
