#include "sdae/text_parse.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "sdae/threads.hpp"

namespace sdae {

namespace {

/// The ASCII characters Python's str.strip() and str.split() treat as whitespace.
inline bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

inline std::string_view strip(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool equals_lower(std::string_view s, std::string_view word) {
  if (s.size() != word.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (lower(s[i]) != word[i]) return false;
  return true;
}

/// Below this many bytes a block is parsed on one thread: waking a team costs more.
constexpr std::size_t kParallelMinBytes = 1 << 16;

}  // namespace

std::vector<TextLine> index_lines(std::string_view text, Index* count) {
  std::vector<TextLine> lines;
  const char* data = text.data();
  const std::size_t size = text.size();
  std::size_t start = 0;
  Index number = 0;
  while (start < size) {
    const void* found = std::memchr(data + start, '\n', size - start);
    const std::size_t stop = found ? static_cast<std::size_t>(static_cast<const char*>(found) - data) : size;
    ++number;
    std::size_t end = stop;
    while (end > start && data[end - 1] == '\r') --end;
    std::size_t first = start;
    while (first < end && is_space(data[first])) ++first;
    if (first < end) lines.push_back(TextLine{start, end, number});
    start = stop + 1;
  }
  if (count) *count = number;
  return lines;
}

bool parse_cell(std::string_view cell, float& value) {
  cell = strip(cell);
  if (cell.size() >= 2 && cell.front() == cell.back() && (cell.front() == '"' || cell.front() == '\''))
    cell = strip(cell.substr(1, cell.size() - 2));
  if (cell.empty()) return false;
  bool negative = false;
  std::string_view body = cell;
  if (body.front() == '+' || body.front() == '-') {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (body.empty()) return false;
  const char c = body.front();
  if (!((c >= '0' && c <= '9') || c == '.')) {  // from_chars would also take "nan(...)": say it here
    float special;
    if (equals_lower(body, "inf") || equals_lower(body, "infinity")) {
      special = std::numeric_limits<float>::infinity();
    } else if (equals_lower(body, "nan")) {
      special = std::numeric_limits<float>::quiet_NaN();
    } else {
      return false;
    }
    value = negative ? -special : special;
    return true;
  }
  float parsed = 0.0f;
  const char* first = body.data();
  const char* last = first + body.size();
  const auto result = std::from_chars(first, last, parsed);
  if (result.ptr != last) return false;
  // Out of float32's range (rounds to zero or to infinity): the caller decides, as Python would.
  if (result.ec != std::errc()) return false;
  value = negative ? -parsed : parsed;
  return true;
}

namespace {

inline bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

/// The powers of ten a double holds exactly.
constexpr double kExact10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                               1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/// Most numbers in a CSV, read without std::from_chars: [-]digits[.digits][e[+-]digits] with at
/// most 19 significant digits w (which keeps w from overflowing) and a decimal exponent e within
/// +-22, w below 2^53 (so 15 or 16 digits at most in the end). Then w and
/// 10^|e| are exact doubles, so w * 10^e (or w / 10^-e) is the double nearest the number, and the
/// float32 nearest that double is the float32 nearest the number, unless the double lies exactly
/// halfway between two float32s (Clinger's fast path, taken to float32 through double). Returns
/// where the number ends, or nullptr for anything else, which std::from_chars then reads: longer
/// numbers, that halfway case, and results that overflow or fall below float32's normal range.
inline const char* fast_number(const char* p, const char* end, float& value) {
  const bool negative = *p == '-';
  p += negative;
  std::uint64_t w = 0;
  int digits = 0, scale = 0;
  const char* const start = p;
  for (; p < end && is_digit(*p); ++p) {
    if (w || *p != '0') w = w * 10 + static_cast<std::uint64_t>(*p - '0'), ++digits;
  }
  bool any = p != start;
  if (p < end && *p == '.') {
    const char* const fraction = ++p;
    for (; p < end && is_digit(*p); ++p, --scale) {
      if (w || *p != '0') w = w * 10 + static_cast<std::uint64_t>(*p - '0'), ++digits;
    }
    any |= p != fraction;
  }
  if (!any || digits > 19) return nullptr;
  if (p < end && (*p == 'e' || *p == 'E')) {
    const char* q = p + 1;
    const bool down = q < end && *q == '-';
    q += q < end && (*q == '-' || *q == '+');
    const char* const first = q;
    int e = 0;
    for (; q < end && is_digit(*q) && q - first < 4; ++q) e = e * 10 + (*q - '0');
    if (q == first || (q < end && is_digit(*q))) return nullptr;
    scale += down ? -e : e;
    p = q;
  }
  if (scale < -22 || scale > 22 || w > (std::uint64_t{1} << 53)) return nullptr;
  const double exact = scale < 0 ? static_cast<double>(w) / kExact10[-scale] : static_cast<double>(w) * kExact10[scale];
  std::uint64_t bits;
  std::memcpy(&bits, &exact, sizeof bits);
  if ((bits & 0x1FFFFFFF) == 0x10000000) return nullptr;  // halfway between two float32s
  const float nearest = static_cast<float>(exact);
  if (w != 0 && !(nearest >= std::numeric_limits<float>::min() && nearest <= std::numeric_limits<float>::max()))
    return nullptr;  // from_chars says out of range, or reads a subnormal
  value = negative ? -nearest : nearest;
  return p;
}

/// The common case in one pass: a plain number that starts the cell and ends where the cell does
/// (at the delimiter, or at whitespace between cells), read in place. Returns where the cell ends,
/// or nullptr for anything else (spaces, quotes, '+', words...), which parse_cell then decides.
inline const char* plain_number(const char* p, const char* end, char delimiter, float& value) {
  const char c = *p == '-' && p + 1 < end ? p[1] : *p;
  if (!((c >= '0' && c <= '9') || c == '.')) return nullptr;
  const char* q = fast_number(p, end, value);
  if (!q) {
    const auto result = std::from_chars(p, end, value);
    if (result.ec != std::errc()) return nullptr;
    q = result.ptr;
  }
  if (q == end) return q;
  if (delimiter == '\0' ? is_space(*q) : *q == delimiter) return q;
  return nullptr;
}

/// f(cell, at) for each cell of `line` in order, `at` where it starts: the text between
/// delimiters, or with '\0' the runs of non-whitespace (Python's str.split()). Stops when f
/// returns false; returns whether every cell was visited. The parser and cut_columns split alike.
template <class F>
bool for_each_cell(std::string_view line, char delimiter, F&& f) {
  const std::size_t n = line.size();
  if (delimiter == '\0') {
    for (std::size_t i = 0;;) {
      while (i < n && is_space(line[i])) ++i;
      if (i == n) return true;
      std::size_t j = i;
      while (j < n && !is_space(line[j])) ++j;
      if (!f(line.substr(i, j - i), i)) return false;
      i = j;
    }
  }
  for (std::size_t start = 0;;) {
    const std::size_t stop = line.find(delimiter, start);
    const std::size_t end = stop == std::string_view::npos ? n : stop;
    if (!f(line.substr(start, end - start), start)) return false;
    if (stop == std::string_view::npos) return true;
    start = stop + 1;
  }
}

/// One line into `row`; false if a cell is refused or the number of fields differs.
bool parse_line(std::string_view line, char delimiter, Index n_fields, float* row) {
  if (delimiter != '\0') {  // the fast path: plain numbers between delimiters
    const char* p = line.data();
    const char* const end = p + line.size();
    Index field = 0;
    while (field < n_fields && p < end) {
      const char* q = plain_number(p, end, delimiter, row[field]);
      if (q == nullptr) break;
      ++field;
      if (q == end) {
        if (field == n_fields) return true;
        break;
      }
      p = q + 1;  // past the delimiter
    }
  }
  Index field = 0;
  const bool whole = for_each_cell(line, delimiter, [&](std::string_view cell, std::size_t) {
    if (field == n_fields || !parse_cell(cell, row[field])) return false;
    ++field;
    return true;
  });
  return whole && field == n_fields;
}

}  // namespace

std::vector<Index> parse_lines(std::string_view text, const std::vector<TextLine>& lines, char delimiter,
                               Index n_fields, float* out, int num_threads) {
  const Index n = static_cast<Index>(lines.size());
  const int threads =
      text.size() >= kParallelMinBytes ? static_cast<int>(std::min<Index>(resolve_threads(num_threads), std::max<Index>(n, 1))) : 1;
  std::vector<std::vector<Index>> refused(static_cast<std::size_t>(threads));
  ParallelErrors errors;
#pragma omp parallel num_threads(threads)
  errors.run([&] {
    const int t = omp_get_thread_num();
    const int team = omp_get_num_threads();
    const Index begin = n * t / team, end = n * (t + 1) / team;  // contiguous: refusals stay in order
    auto& mine = refused[static_cast<std::size_t>(t)];
    for (Index r = begin; r < end; ++r) {
      const TextLine& line = lines[static_cast<std::size_t>(r)];
      if (!parse_line(text.substr(line.begin, line.end - line.begin), delimiter, n_fields, out + r * n_fields))
        mine.push_back(r);
    }
  });
  errors.rethrow();
  std::vector<Index> all;
  for (const auto& part : refused) all.insert(all.end(), part.begin(), part.end());
  return all;
}

CutText cut_columns(std::string_view text, char delimiter, const std::vector<Index>& columns, char join) {
  for (std::size_t i = 0; i < columns.size(); ++i)
    if (columns[i] < 0 || (i > 0 && columns[i] <= columns[i - 1]))
      throw std::invalid_argument("columns: expected increasing indices from 0");
  CutText out;
  out.rest.reserve(text.size());
  std::size_t copied = 0;  // text before this is in out.rest
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // a line's kept cells, in text
  for (const TextLine& line : index_lines(text)) {
    std::size_t field = 0, next = 0;
    spans.clear();
    const std::string_view body = text.substr(line.begin, line.end - line.begin);
    if (!columns.empty())
      for_each_cell(body, delimiter, [&](std::string_view cell, std::size_t at) {
        if (field++ == static_cast<std::size_t>(columns[next])) {
          spans.emplace_back(line.begin + at, line.begin + at + cell.size());
          ++next;
        }
        return next < columns.size();
      });
    const bool complete = next == columns.size();
    for (std::size_t k = 0; k < columns.size(); ++k) {
      if (k) out.kept += join;
      if (k < spans.size()) out.kept.append(text.substr(spans[k].first, spans[k].second - spans[k].first));
    }
    out.kept += '\n';
    if (!complete) continue;  // left as it is, for the parser to refuse
    for (const auto& [b, e] : spans) {
      out.rest.append(text.substr(copied, b - copied));
      out.rest += '0';
      copied = e;
    }
  }
  out.rest.append(text.substr(copied));
  return out;
}

}  // namespace sdae
