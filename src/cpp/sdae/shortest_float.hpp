// The shortest decimal text of a float32 that reads back to the same bits, as std::to_chars(float)
// writes it, in a third of the time of libstdc++'s Ryu with AVX-512 (bench/README.md): the
// Schubfach algorithm (R. Giulietti, "The Schubfach way to render doubles", 2020) for the digits,
// then the shorter of fixed and scientific notation, fixed on a tie. Every case is laid out in
// one shape, so the digits of eight floats are found in vector lanes and each is written with a
// few overlapping stores, no branches.
#pragma once
#include <cstddef>

namespace sdae {

/// Room to give each float32: its text is at most 15 characters ("-1.17549435e-38"; fixed
/// notation is taken only when it is no longer than scientific), but the digits are copied 16
/// bytes at a time, so up to 32 bytes past `out` may be written (and then written over).
constexpr int kFloatRoom = 32;

/// Writes the shortest text of a finite `value` at `out` (kFloatRoom bytes of room); returns
/// the end. The same bytes as std::to_chars(out, end, value), checked for every float32.
char* shortest_float(char* out, float value);

/// The values' shortest texts joined by `delimiter`, as shortest_float writes each (inf and nan
/// as std::to_chars does); with AVX-512, eight at a time. Needs count * kFloatRoom bytes of room.
char* shortest_floats(char* out, const float* values, std::ptrdiff_t count, char delimiter);

}  // namespace sdae
