"""CSV/TSV text to float32, a block of lines at a time, through the core's parser.

The dialect (delimiter, header) is read from the first lines with data.py's rules; the core then
parses whole blocks of lines in parallel. A line the core cannot read plainly (a bad cell, a
ragged row, underscores or other forms only Python's float() knows) is handed back by number and
decided here cell by cell, so that messages name the line and column exactly as before.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass

import numpy as np

from . import _core
from .data import cell, is_number, parse_cells, pick_delimiter
from .errors import DataError

FLOAT32_MAX = float(np.finfo(np.float32).max)
SNIFF_LINES = 5  # the delimiter is the one that splits the first lines alike (data.py)
BINARY_PROBE = 4096  # a NUL byte among the first bytes: binary data, not text
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


@dataclass
class Dialect:
    """How a text matrix is laid out: its delimiter (None: runs of whitespace), the number of
    fields of every row, and the header's cell names (None without a header)."""

    delimiter: str | None
    n_fields: int
    header: list[str] | None

    @property
    def core_delimiter(self) -> str:
        return "" if self.delimiter is None else self.delimiter


def decode_line(raw: bytes) -> str:
    """One line as text: UTF-8, else Latin-1 (numbers are ASCII; only names can suffer)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def check_not_binary(name: str, head: bytes) -> None:
    if b"\x00" in head[:BINARY_PROBE]:
        raise DataError(f"{name}: binary data, expected .npy, .npz or CSV/TSV text")


def first_lines(head: bytes, wanted: int = SNIFF_LINES + 1) -> tuple[list[tuple[int, str]], int]:
    """Up to `wanted` non-blank (line number, text) pairs among the complete lines of `head`,
    and the byte just past the last line taken."""
    lines, start, number = [], 0, 0
    while len(lines) < wanted:
        stop = head.find(b"\n", start)
        if stop < 0:
            break
        number += 1
        text = decode_line(head[start:stop]).rstrip("\r")
        if text.strip():
            lines.append((number, text))
        start = stop + 1
    return lines, start


def sniff(name: str, lines: list[tuple[int, str]]) -> tuple[Dialect, int]:
    """The dialect of a text matrix from its first non-blank lines, and the number of the line
    the data rows start after (the header's, or 0)."""
    delimiter = pick_delimiter([line for _, line in lines[:SNIFF_LINES]])
    first = lines[0][1].split(delimiter)
    header, skip = None, 0
    numeric = [is_number(c) for c in first]
    if not all(numeric):
        second_numeric = len(lines) > 1 and all(is_number(c) for c in lines[1][1].split(delimiter))
        if not any(numeric) or second_numeric:
            header, skip = [cell(c) for c in first], lines[0][0]
    return Dialect(delimiter, len(first), header), skip


def parse_block(name: str, block, dialect: Dialect, first_line: int, threads: int = 0) -> np.ndarray:
    """The non-blank lines of `block` (bytes of whole lines; its line 1 is the text's line
    `first_line`) as a (rows, n_fields) float32 matrix."""
    return parse_lines(name, block, dialect, first_line, threads)[0]


def parse_lines(name: str, block, dialect: Dialect, first_line: int, threads: int = 0) -> tuple[np.ndarray, int]:
    """parse_block's matrix, and the number of lines of `block` (blank ones included)."""
    X, n_lines, blank = _parse(name, block, dialect, first_line, threads)
    return (np.delete(X, blank, axis=0) if blank else X), n_lines


def parse_kept(name: str, block, dialect: Dialect, first_line: int, columns: list[int],
               threads: int = 0, join: str = ",") -> tuple[np.ndarray, bytes, int]:
    """parse_lines with `columns` (0-based, increasing) set aside: the matrix of the other columns,
    the set-aside cells as written (a line each, joined by `join`: the output's delimiter), and the
    number of lines. Line and column numbers in errors are the input's own."""
    rest, kept = _core.cut_columns(block, dialect.core_delimiter, columns, join)
    X, n_lines, blank = _parse(name, rest, dialect, first_line, threads)
    if blank:  # lines blank only to Python (whitespace beyond ASCII): not rows after all
        lines, skip = kept.split(b"\n")[:-1], set(blank)
        kept = b"".join(line + b"\n" for i, line in enumerate(lines) if i not in skip)
        X = np.delete(X, blank, axis=0)
    return np.delete(X, columns, axis=1), kept, n_lines


def _parse(name: str, block, dialect: Dialect, first_line: int, threads: int) -> tuple[np.ndarray, int, list[int]]:
    """The core's matrix of the non-blank lines of `block`, with the lines it refused decided
    here; the rows that turned out blank are listed, not yet deleted."""
    X, refused, n_lines = _core.parse_text(block, dialect.core_delimiter, dialect.n_fields, threads)
    if not len(refused):
        return X, n_lines, []
    view = memoryview(block).cast("B")
    blank = []
    for row, number, begin, end in refused.tolist():
        values = decide_line(name, bytes(view[begin:end]), first_line + number - 1, dialect)
        if values is None:
            blank.append(row)
        else:
            X[row] = values
    return X, n_lines, blank


def kept_columns(name: str, dialect: Dialect, wanted: list[str], flag: str = "--keep-columns") -> list[int]:
    """The 0-based indices of the columns `wanted` names (header names, or 0-based indices),
    increasing; a DataError, naming the option `flag`, for one that is not there."""
    indices = set()
    for column in wanted:
        if dialect.header is not None and column in dialect.header:
            indices.add(dialect.header.index(column))
        elif column.isdigit() and int(column) < dialect.n_fields:
            indices.add(int(column))
        elif column.isdigit():
            raise DataError(f"{name}: {flag} {column} out of range: the text has columns 0 to "
                            f"{dialect.n_fields - 1}")
        else:
            has = f"the header has {', '.join(dialect.header[:8])}" if dialect.header else "the text has no header"
            raise DataError(f"{name}: {flag}: no column named {column!r} ({has})")
    if len(indices) == dialect.n_fields:
        raise DataError(f"{name}: {flag} takes every column, leaving none for the model")
    return sorted(indices)


def decide_line(name: str, raw: bytes, line_no: int, dialect: Dialect) -> np.ndarray | None:
    """A line the core refused, read cell by cell with Python's float(): its float32 values,
    None if it is blank after all (whitespace outside ASCII), or the DataError that names it."""
    line = decode_line(raw).rstrip("\r")
    if not line.strip():
        return None
    values = parse_cells(name, [(line_no, line)], dialect.delimiter, dialect.n_fields, dialect.header)[0]
    beyond = np.flatnonzero(np.isfinite(values) & (np.abs(values) > FLOAT32_MAX))
    if len(beyond):
        col = int(beyond[0]) + 1
        where = f"line {line_no}, column {col}"
        if dialect.header is not None and dialect.header[col - 1]:
            where += f' ("{dialect.header[col - 1]}")'
        shown = cell(line.split(dialect.delimiter)[col - 1])
        raise DataError(f"{name}: {where}: {shown[:40]!r} is beyond float32's range (±3.4e38), "
                        "which sdae computes in; rescale the data first")
    return values.astype(np.float32)


def utf16_to_utf8(raw: bytes) -> bytes:
    """Spreadsheet "Unicode text" exports, as the UTF-8 the core reads."""
    return raw.decode("utf-16", errors="replace").encode("utf-8")


class Utf16Decoder:
    """UTF-16 bytes in, UTF-8 bytes out, a piece at a time (for streams)."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")

    def __call__(self, raw: bytes, final: bool = False) -> bytes:
        return self._decoder.decode(raw, final).encode("utf-8")


def parse_text(name: str, raw, threads: int = 0) -> np.ndarray:
    """A whole text matrix (bytes, or a buffer such as a memory-mapped file) as float32."""
    return parse_text_kept(name, raw, [], threads)[0]


def parse_text_kept(name: str, raw, keep: list[str], threads: int = 0,
                    flag: str = "--keep-columns") -> tuple[np.ndarray, list[str]]:
    """parse_text with the columns `keep` names (header names or 0-based indices) set aside:
    the matrix of the others, and the kept cells of each row, unquoted (for a label column)."""
    head = bytes(memoryview(raw)[:BINARY_PROBE])
    if head.startswith(UTF16_BOMS):
        raw = utf16_to_utf8(bytes(raw))
        head = raw[:BINARY_PROBE]
    check_not_binary(name, head)
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    view = memoryview(raw)[start:]
    sniffed = _sniffing_head(view)
    lines, _ = first_lines(sniffed)
    if not lines:
        raise DataError(f"{name}: no data rows (the file is empty)")
    dialect, skip = sniff(name, lines)
    offset = min(offset_after_line(sniffed, skip), len(view))
    if offset >= len(view):
        raise DataError(f"{name}: no data rows (only a header)")
    if keep:
        X, kept, _ = parse_kept(name, view[offset:], dialect, skip + 1, kept_columns(name, dialect, keep, flag),
                              threads)
        cells = [cell(c) for c in decode_line(kept).split("\n")[:-1]]
    else:
        X, cells = parse_block(name, view[offset:], dialect, skip + 1, threads), []
    if not len(X):
        raise DataError(f"{name}: no data rows (only a header)")
    return X, cells


def _sniffing_head(view: memoryview) -> bytes:
    """Enough of the start of the text to hold its first lines, ending with a line end."""
    size = 1 << 16
    while True:
        head = bytes(view[:size])
        if len(head) == len(view):
            return head if head.endswith(b"\n") else head + b"\n"
        lines, _ = first_lines(head)
        if len(lines) > SNIFF_LINES:
            return head
        size *= 4


def offset_after_line(head: bytes, number: int) -> int:
    """The byte offset where line `number` + 1 of `head` starts (0 for number 0)."""
    offset = 0
    for _ in range(number):
        offset = head.index(b"\n", offset) + 1
    return offset
