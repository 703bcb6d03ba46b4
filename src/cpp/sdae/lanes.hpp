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
  /// The lanes' sum, in a fixed order: halves added pairwise, four levels deep rather than a
  /// chain of fifteen additions (the chain's latency showed in the batch-1 step).
  static float sum(type v) {
    typedef float half8 __attribute__((vector_size(32)));
    typedef float half4 __attribute__((vector_size(16)));
    half8 lo8, hi8;
    std::memcpy(&lo8, &v, 32);
    std::memcpy(&hi8, reinterpret_cast<const char*>(&v) + 32, 32);
    const half8 s8 = lo8 + hi8;
    half4 lo4, hi4;
    std::memcpy(&lo4, &s8, 16);
    std::memcpy(&hi4, reinterpret_cast<const char*>(&s8) + 16, 16);
    const half4 s4 = lo4 + hi4;
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
  }
};

}  // namespace sdae
