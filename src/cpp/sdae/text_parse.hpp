// Text matrices in: lines of numbers, split on one delimiter or on runs of whitespace, parsed
// straight to float32 with std::from_chars (exact, locale-independent), rows in parallel.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sdae/types.hpp"

namespace sdae {

/// One non-blank line of a text block: its bytes [begin, end) without the '\n' and without
/// trailing '\r's, and its 1-based number among all the block's lines (blank ones counted).
struct TextLine {
  std::size_t begin;
  std::size_t end;
  Index number;
};

/// The non-blank lines of `text`, in order. Lines end at '\n' only (so numbers match what an
/// editor shows); a line of whitespace alone (what Python's str.strip() removes among ASCII
/// characters) is blank.
/// `count`, if given, receives the number of lines, blank ones included.
std::vector<TextLine> index_lines(std::string_view text, Index* count = nullptr);

/// Reads one cell as Python's float() followed by a cast to float32 would, for the forms it
/// knows: surrounding whitespace, one pair of matching quotes ("…" or '…'), a sign, decimal
/// digits with an optional point and exponent, inf, infinity and nan in any case. Returns false
/// for anything else (an empty cell, underscores, non-ASCII digits...) and for values that round
/// to zero or to infinity in float32, leaving the verdict to the caller (Python's float()).
bool parse_cell(std::string_view cell, float& value);

/// Parses each of `lines` of `text` into one row of `out`.
/// @param delimiter the cell separator; '\0' splits on runs of whitespace (Python's str.split())
/// @param out (lines.size(), n_fields), row-major
/// @return the indices (into `lines`, increasing) of the lines it could not read: another number
///         of fields, or a cell parse_cell refused. Their rows of `out` are left as they were.
std::vector<Index> parse_lines(std::string_view text, const std::vector<TextLine>& lines, char delimiter,
                               Index n_fields, float* out, int num_threads);

/// A text block with some of its columns set aside (passed through to the output, or labels).
struct CutText {
  std::string rest;  ///< the text with each set-aside cell replaced by "0": line and column numbers stay
  std::string kept;  ///< one line per non-blank line of the text: its set-aside cells, joined
};

/// Sets aside the cells at `columns` (0-based, increasing, distinct) of every non-blank line, as
/// they are written (quotes and all), joined by `join` in `kept`. A line with fewer cells keeps
/// them in `rest` unchanged, and empty cells in `kept` (the parser then names its field count).
/// @param delimiter as for parse_lines ('\0': runs of whitespace)
CutText cut_columns(std::string_view text, char delimiter, const std::vector<Index>& columns, char join);

}  // namespace sdae
