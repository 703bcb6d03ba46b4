// A 16-float vector for the hand-fused loops. With AVX-512 it is one register, a GCC/Clang
// vector extension, and the compiler keeps a loop's accumulators in registers. Elsewhere it is
// a pair of 8-float (AVX) or four 4-float (SSE, NEON) vectors with the same operations: there a
// 64-byte vector extension has no machine mode, and GCC kept every one of them in memory
// (bench/README.md has what that cost).
#pragma once
#include <cstring>

namespace sdae {

struct L16 {
#ifdef __AVX512F__
  typedef float type __attribute__((vector_size(64)));

  static type load(const float* p) {
    type v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(float* p, type v) { std::memcpy(p, &v, sizeof v); }
  static type broadcast(float x) { return type{} + x; }
#else
#ifdef __AVX__
  static constexpr int kPart = 8;
#else
  static constexpr int kPart = 4;
#endif
  typedef float part __attribute__((vector_size(kPart * sizeof(float))));
  // Loads and stores through this type, never through the address of a type: that address
  // would keep the vectors in memory.
  typedef float unaligned_part __attribute__((vector_size(kPart * sizeof(float)), aligned(4)));
  static constexpr int kParts = 16 / kPart;

  struct type {
    part p[kParts];
    type& operator+=(const type& o) {
      for (int i = 0; i < kParts; ++i) p[i] += o.p[i];
      return *this;
    }
    friend type operator+(type a, const type& b) { return a += b; }
    friend type operator*(type a, const type& b) {
      for (int i = 0; i < kParts; ++i) a.p[i] *= b.p[i];
      return a;
    }
    friend type operator*(float s, type a) {
      for (int i = 0; i < kParts; ++i) a.p[i] *= s;
      return a;
    }
  };

  static type load(const float* p) {
    type v;
    for (int i = 0; i < kParts; ++i) v.p[i] = *reinterpret_cast<const unaligned_part*>(p + i * kPart);
    return v;
  }
  static void store(float* p, type v) {
    for (int i = 0; i < kParts; ++i) *reinterpret_cast<unaligned_part*>(p + i * kPart) = v.p[i];
  }
  static type broadcast(float x) {
    type v;
    for (int i = 0; i < kParts; ++i) v.p[i] = part{} + x;
    return v;
  }
#endif
  static_assert(sizeof(type) == 16 * sizeof(float), "16 floats");

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
