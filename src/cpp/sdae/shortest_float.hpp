// The shortest decimal text of a float32 that reads back to the same bits, as std::to_chars(float)
// writes it, in less time than libstdc++'s Ryu (bench/README.md): the Schubfach algorithm
// (R. Giulietti, "The Schubfach way to render doubles", 2020) for the digits, then the shorter
// of fixed and scientific notation, fixed on a tie.
#pragma once

namespace sdae {

/// Room for any float32's text: at most 15 characters ("-1.17549435e-38"; fixed notation is
/// taken only when it is no longer than scientific).
constexpr int kFloatChars = 16;

/// Writes the shortest text of a finite `value` at `out` (kFloatChars bytes of room); returns
/// the end. The same bytes as std::to_chars(out, end, value), checked for every float32.
char* shortest_float(char* out, float value);

}  // namespace sdae
