// Every float32 bit pattern through the core's formatter, against std::to_chars: the check behind
// "the same bytes as to_chars for all 2^32 bit patterns" (bench/README.md). About 6 minutes a
// build on 2 cores; not part of the test suite, which compares a sample with NumPy's digits.
//
//   g++ -O3 -march=native -fopenmp -std=c++17 -Isrc/cpp bench/check_shortest_float.cpp \
//       src/cpp/sdae/shortest_float.cpp -o /tmp/check && /tmp/check        # the AVX-512 batch path
//   (-march=x86-64-v3 instead: the scalar path, as AVX2 builds run it)
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "sdae/shortest_float.hpp"

int main() {
  unsigned long long differ = 0;
  // Runs of 64 consecutive bit patterns: shortest_floats takes eight at a time, then one by one.
#pragma omp parallel for reduction(+ : differ) schedule(dynamic, 64)
  for (std::int64_t run = 0; run < (std::int64_t{1} << 32) / 64; ++run) {
    float values[64];
    char expected[64 * 40], got[64 * sdae::kFloatRoom];
    char* e = expected;
    for (int j = 0; j < 64; ++j) {
      const auto bits = static_cast<std::uint32_t>(run * 64 + j);
      std::memcpy(&values[j], &bits, 4);
      if (j) *e++ = ';';
      e = std::to_chars(e, expected + sizeof expected, values[j]).ptr;
    }
    char* g = sdae::shortest_floats(got, values, 64, ';');
    char one[sdae::kFloatRoom];  // and the single-value call, on the first of the run
    char* o = sdae::shortest_float(one, values[0]);
    const char* first_end = static_cast<const char*>(std::memchr(expected, ';', e - expected));
    if (g - got != e - expected || std::memcmp(got, expected, e - expected) != 0 ||
        o - one != first_end - expected || std::memcmp(one, expected, o - one) != 0) {
      if (++differ <= 5) {
#pragma omp critical
        std::printf("run %lld differs:\n  to_chars %.*s\n  ours     %.*s\n", static_cast<long long>(run),
                    static_cast<int>(e - expected), expected, static_cast<int>(g - got), got);
      }
    }
  }
  std::printf("%llu of %llu runs of 64 differ\n", differ, (1ULL << 32) / 64);
  return differ != 0;
}
