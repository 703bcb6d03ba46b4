// Text matrices out: float32 (or float64) rows as delimited text with std::to_chars, rows in
// parallel. The shortest form reads back to the same bits; a precision gives printf's %.Ng.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sdae/types.hpp"

namespace sdae {

/// Formatted rows, in parts (one per thread) to be joined in order.
struct FormattedText {
  std::vector<std::vector<char>> parts;
  std::vector<std::size_t> sizes;  // the bytes used of each part
  std::size_t size() const;
  /// Writes all the parts, in order, to `out` (size() bytes).
  void copy_to(char* out) const;
};

/// Rows of X as lines of text: cells joined by `delimiter`, each line ended by '\n'.
/// @param X (rows, cols), row-major
/// @param precision <= 0: the shortest text that reads back to the same value (std::to_chars);
///        else that many significant digits, as printf's "%.<precision>g"
template <class T>
FormattedText format_rows(const T* X, Index rows, Index cols, char delimiter, int precision, int num_threads);

extern template FormattedText format_rows<float>(const float*, Index, Index, char, int, int);
extern template FormattedText format_rows<double>(const double*, Index, Index, char, int, int);

/// Line i of `left`, `delimiter`, line i of `right`, for every line: columns set aside from the
/// input (text_parse.hpp's cut_columns) put back before the outputs. Both end every line with
/// '\n'; a std::invalid_argument if their line counts differ.
std::string paste_lines(std::string_view left, std::string_view right, char delimiter);

}  // namespace sdae
