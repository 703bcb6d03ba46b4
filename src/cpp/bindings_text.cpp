// The text codec's bindings: bytes in and out, the GIL released around the parsing and formatting.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "sdae/text_format.hpp"
#include "sdae/text_parse.hpp"

namespace {

// A text delimiter from Python: one character, or "" for runs of whitespace ('\0' below).
char delimiter_of(const std::string& delimiter) {
  if (delimiter.empty()) return '\0';
  if (delimiter.size() != 1 || delimiter[0] == '\n' || delimiter[0] == '\r' || delimiter[0] == '\0')
    throw std::invalid_argument("delimiter: expected one character other than a line end, or '' for whitespace");
  return delimiter[0];
}

// Rows of a float32 or float64 matrix as text, straight into one bytes object.
template <class T>
py::bytes format_text(py::array_t<T, py::array::c_style> X, const std::string& delimiter, int precision,
                      int num_threads) {
  if (X.ndim() != 2) throw std::invalid_argument("X: expected a 2-D matrix");
  const char d = delimiter_of(delimiter);
  if (d == '\0') throw std::invalid_argument("delimiter: give the character that separates the cells");
  const T* data = X.data();
  const Index rows = X.shape(0), cols = X.shape(1);
  FormattedText text;
  {
    py::gil_scoped_release nogil;
    text = format_rows(data, rows, cols, d, precision, num_threads);
  }
  py::bytes out(nullptr, text.size());
  char* target = PyBytes_AsString(out.ptr());
  {
    py::gil_scoped_release nogil;
    text.copy_to(target);
  }
  return out;
}

}  // namespace

void define_text(py::module_& mod) {
  mod.def("parse_text", [](py::buffer data, const std::string& delimiter, Index n_fields, int num_threads) {
    const char d = delimiter_of(delimiter);
    if (n_fields <= 0) throw std::invalid_argument("n_fields: expected at least 1");
    py::buffer_info info = data.request();
    if (info.itemsize != 1 || info.ndim != 1 || (info.size > 1 && info.strides[0] != 1))
      throw std::invalid_argument("data: expected contiguous bytes");
    const std::string_view text(static_cast<const char*>(info.ptr), static_cast<std::size_t>(info.size));
    std::vector<TextLine> lines;
    Index n_lines = 0;
    {
      py::gil_scoped_release nogil;
      lines = index_lines(text, &n_lines);
    }
    py::array_t<float> X({static_cast<py::ssize_t>(lines.size()), static_cast<py::ssize_t>(n_fields)});
    float* out = X.mutable_data();
    std::vector<Index> refused;
    {
      py::gil_scoped_release nogil;
      refused = parse_lines(text, lines, d, n_fields, out, num_threads);
    }
    py::array_t<std::int64_t> where({static_cast<py::ssize_t>(refused.size()), py::ssize_t{4}});
    auto w = where.mutable_unchecked<2>();
    for (std::size_t i = 0; i < refused.size(); ++i) {
      const TextLine& line = lines[static_cast<std::size_t>(refused[i])];
      const auto k = static_cast<py::ssize_t>(i);
      w(k, 0) = refused[i];
      w(k, 1) = line.number;
      w(k, 2) = static_cast<std::int64_t>(line.begin);
      w(k, 3) = static_cast<std::int64_t>(line.end);
    }
    return py::make_tuple(X, where, n_lines);
  }, py::arg("data"), py::arg("delimiter"), py::arg("n_fields"), py::arg("num_threads") = 0,
     "The non-blank lines of data (bytes) as a (lines, n_fields) float32 matrix, the lines it could not "
     "read as an (k, 4) int64 array of (row, line number from 1, first byte, end byte) (their rows are "
     "left unset), and the number of lines, blank ones included. delimiter '' splits on whitespace.");
  mod.def("cut_columns", [](py::buffer data, const std::string& delimiter, const std::vector<Index>& columns,
                            const std::string& join) {
    const char d = delimiter_of(delimiter), j = delimiter_of(join);
    if (j == '\0') throw std::invalid_argument("join: give the character that separates the kept cells");
    py::buffer_info info = data.request();
    if (info.itemsize != 1 || info.ndim != 1 || (info.size > 1 && info.strides[0] != 1))
      throw std::invalid_argument("data: expected contiguous bytes");
    const std::string_view text(static_cast<const char*>(info.ptr), static_cast<std::size_t>(info.size));
    CutText cut;
    {
      py::gil_scoped_release nogil;
      cut = cut_columns(text, d, columns, j);
    }
    return py::make_tuple(py::bytes(cut.rest), py::bytes(cut.kept));
  }, py::arg("data"), py::arg("delimiter"), py::arg("columns"), py::arg("join"),
     "(rest, kept): data (bytes) with the cells at `columns` (0-based, increasing) of each non-blank line "
     "replaced by 0, and those cells as written, one line per non-blank line, joined by `join`.");
  mod.def("paste_lines", [](py::bytes left, py::bytes right, const std::string& delimiter) {
    const char d = delimiter_of(delimiter);
    if (d == '\0') throw std::invalid_argument("delimiter: give the character that separates the cells");
    const std::string_view l(left), r(right);
    std::string out;
    {
      py::gil_scoped_release nogil;
      out = paste_lines(l, r, d);
    }
    return py::bytes(out);
  }, py::arg("left"), py::arg("right"), py::arg("delimiter"),
     "Each line of left, the delimiter, and the same line of right (bytes, every line ending in a newline).");
  mod.def("format_text", &format_text<float>, py::arg("X").noconvert(), py::arg("delimiter"),
          py::arg("precision") = 0, py::arg("num_threads") = 0);
  mod.def("format_text", &format_text<double>, py::arg("X").noconvert(), py::arg("delimiter"),
          py::arg("precision") = 0, py::arg("num_threads") = 0,
          "Rows of X (float32 or float64, C-contiguous) as text lines, as bytes: the shortest text that reads "
          "back to the same value (precision 0), or that many significant digits (%.<precision>g).");
}
