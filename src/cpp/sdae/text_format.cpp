#include "sdae/text_format.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "sdae/shortest_float.hpp"
#include "sdae/threads.hpp"

namespace sdae {

std::size_t FormattedText::size() const {
  std::size_t total = 0;
  for (std::size_t s : sizes) total += s;
  return total;
}

void FormattedText::copy_to(char* out) const {
  std::vector<std::size_t> offsets(parts.size(), 0);
  for (std::size_t p = 1; p < parts.size(); ++p) offsets[p] = offsets[p - 1] + sizes[p - 1];
  // A part per thread, as they were formatted: a gigabyte of text is copied at every core's speed.
  const auto n = static_cast<std::int64_t>(parts.size());
#pragma omp parallel for num_threads(static_cast<int>(n)) schedule(static, 1) if (n > 1)
  for (std::int64_t p = 0; p < n; ++p) {
    const auto k = static_cast<std::size_t>(p);
    if (sizes[k]) std::memcpy(out + offsets[k], parts[k].data(), sizes[k]);
  }
}

namespace {

/// Room for any one cell: "-2.2250738585072014e-308" (24) for a double in its shortest form, or
/// %.<precision>g's digits plus sign, point and exponent; shortest_float's scratch fits too.
std::size_t cell_room(int precision) { return 32 + static_cast<std::size_t>(std::max(precision, 0)); }
static_assert(kFloatRoom <= 32, "cell_room: a float32 cell's scratch must fit its room");

/// Below this many cells a block is formatted on one thread.
constexpr Index kParallelMinCells = 1 << 14;

template <class T>
void format_part(const T* X, Index begin, Index end, Index cols, char delimiter, int precision,
                 std::vector<char>& buffer, std::size_t& used) {
  const std::size_t row_room = static_cast<std::size_t>(cols) * cell_room(precision) + 1;
  // About 11 bytes a cell in practice, and a worst-case row of room at the end, so that the last
  // rows do not double the buffer (a copy, and twice the memory) for room they never use.
  buffer.resize(static_cast<std::size_t>(end - begin) * cols * 12 + row_room);
  used = 0;
  for (Index r = begin; r < end; ++r) {
    if (buffer.size() - used < row_room) buffer.resize(std::max(buffer.size() * 2, used + row_room));
    char* at = buffer.data() + used;
    char* const stop = buffer.data() + buffer.size();
    const T* row = X + r * cols;
    if constexpr (std::is_same_v<T, float>) {
      if (precision <= 0) {  // the common case, a row at a time, faster than to_chars
        at = shortest_floats(at, row, cols, delimiter);
        *at++ = '\n';
        used = static_cast<std::size_t>(at - buffer.data());
        continue;
      }
    }
    for (Index c = 0; c < cols; ++c) {
      if (c) *at++ = delimiter;
      const auto result = precision > 0 ? std::to_chars(at, stop, row[c], std::chars_format::general, precision)
                                        : std::to_chars(at, stop, row[c]);
      if (result.ec != std::errc()) throw std::logic_error("format_rows: a cell did not fit its room");
      at = result.ptr;
    }
    *at++ = '\n';
    used = static_cast<std::size_t>(at - buffer.data());
  }
}

}  // namespace

template <class T>
FormattedText format_rows(const T* X, Index rows, Index cols, char delimiter, int precision, int num_threads) {
  if (rows < 0 || cols <= 0) throw std::invalid_argument("X: expected (rows, cols) with cols > 0");
  if (precision > 100) throw std::invalid_argument("precision: at most 100 digits");
  const int threads = rows * cols >= kParallelMinCells
                          ? static_cast<int>(std::min<Index>(resolve_threads(num_threads), rows))
                          : 1;
  FormattedText text;
  text.parts.resize(static_cast<std::size_t>(threads));
  text.sizes.assign(static_cast<std::size_t>(threads), 0);
  ParallelErrors errors;
#pragma omp parallel num_threads(threads)
  errors.run([&] {
    const int t = omp_get_thread_num();
    const int team = omp_get_num_threads();
    const Index begin = rows * t / team, end = rows * (t + 1) / team;
    format_part(X, begin, end, cols, delimiter, precision, text.parts[static_cast<std::size_t>(t)],
                text.sizes[static_cast<std::size_t>(t)]);
  });
  errors.rethrow();
  return text;
}

template FormattedText format_rows<float>(const float*, Index, Index, char, int, int);
template FormattedText format_rows<double>(const double*, Index, Index, char, int, int);

std::string paste_lines(std::string_view left, std::string_view right, char delimiter) {
  std::string out;
  out.reserve(left.size() + right.size());
  std::size_t l = 0, r = 0;
  while (l < left.size() && r < right.size()) {
    const std::size_t le = left.find('\n', l), re = right.find('\n', r);
    if (le == std::string_view::npos || re == std::string_view::npos) break;
    out.append(left.substr(l, le - l));
    out += delimiter;
    out.append(right.substr(r, re + 1 - r));
    l = le + 1;
    r = re + 1;
  }
  if (l != left.size() || r != right.size())
    throw std::invalid_argument("paste_lines: the two texts have different numbers of lines");
  return out;
}

}  // namespace sdae
