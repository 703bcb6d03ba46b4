"""Input that flows: text files and stdin (CSV/TSV text or NPY) read a block of rows at a time,
so that a pass through a model holds one block however long the input, and its first rows come
out before the input ends."""
from __future__ import annotations

import collections
import io
import os
import select
import sys
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from . import data as data_io
from . import text_reader
from .data import NPY_MAGIC, check_matrix, input_kind, numpy_error, open_input
from .errors import DataError

READ_BYTES = 1 << 20  # one read from the source
# A block of text ends at this size even if it holds fewer rows than asked. At 64 MB, wide rows'
# blocks (8 KB lines) made buffers of 25-65 MB whose heap fragments differently from run to
# run: a stream's peak memory moved by up to 16% between runs; at 32 MB it is 65 MB lower and
# steady, for 2-4% more time on such rows (blocks of 4,000 rows instead of 8,000).
BLOCK_BYTES = 32 << 20
STALL_SECONDS = 0.05  # a source silent this long has its complete lines passed on at once


class Source:
    """Bytes from a binary stream as they come: read1() returns what one read gives, and ready()
    tells whether more can be read at once (a pipe whose writer pauses cannot)."""

    def __init__(self, stream: BinaryIO | int) -> None:
        if isinstance(stream, int):  # a descriptor of our own, closed with this object
            self._fd, self._owned = stream, stream
            self._read = lambda size: os.read(stream, size)
            self._readinto = None
        else:
            self._owned = None
            self._read = getattr(stream, "read1", stream.read)
            self._readinto = getattr(stream, "readinto1", None)
            try:
                self._fd = stream.fileno()
            except (AttributeError, OSError, ValueError):  # BytesIO, test harnesses
                self._fd = None
        self.pending = b""  # bytes looked at (the head) but not yet consumed

    def close(self) -> None:
        if self._owned is not None:
            fd, self._owned = self._owned, None
            os.close(fd)

    __del__ = close

    def read(self, size: int = READ_BYTES) -> bytes:
        if self.pending:
            data, self.pending = self.pending[:size], self.pending[size:]
            return data
        return self._read(size)

    def readinto(self, view: memoryview) -> int:
        """Reads into `view` what one read gives; 0 at the end."""
        if self.pending:
            take = min(len(self.pending), len(view))
            view[:take] = self.pending[:take]
            self.pending = self.pending[take:]
            return take
        if self._owned is not None:
            return os.readv(self._owned, [view])
        if self._readinto is not None:
            return self._readinto(view) or 0
        data = self._read(len(view))
        view[:len(data)] = data
        return len(data)

    def read_exactly(self, size: int) -> bytes:
        """`size` bytes, or fewer at the end of the input."""
        parts, got = [], 0
        while got < size:
            data = self.read(min(size - got, 16 * READ_BYTES))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def read_all(self) -> bytes:
        parts = []
        while data := self.read(16 * READ_BYTES):
            parts.append(data)
        return b"".join(parts)

    def head(self, size: int, until_pause: bool = False) -> bytes:
        """At least `size` bytes from the start (fewer only at the end, or with until_pause when the
        writer pauses after some came), left to be read again."""
        while len(self.pending) < size:
            if until_pause and self.pending and not self._more_ready(STALL_SECONDS):
                break
            data = self._read(READ_BYTES)
            if not data:
                break
            self.pending += data
        return self.pending

    def ready(self, timeout: float) -> bool:
        return bool(self.pending) or self._more_ready(timeout)

    def _more_ready(self, timeout: float) -> bool:
        """Whether the stream itself has bytes to read within `timeout`."""
        if self._fd is None:
            return True
        try:
            return bool(select.select([self._fd], [], [], timeout)[0])
        except (OSError, ValueError):
            return True


class TextRows:
    """The rows of a text matrix from a Source, parsed by the core a block at a time.
    shape is (None, n_fields): the number of rows is known only at the end."""

    ndim = 2

    def __init__(self, name: str, source: Source, threads: int = 0, keep: list[str] | None = None,
                 join: str = ",") -> None:
        self.name, self.threads, self._join = name, threads, join
        head = source.head(text_reader.BINARY_PROBE, until_pause=True)
        self._decode = None
        if head.startswith(text_reader.UTF16_BOMS):
            self._decode = text_reader.Utf16Decoder()
            source.pending = self._decode(source.pending)
            head = source.pending
        text_reader.check_not_binary(name, head)
        if head.startswith(text_reader.UTF8_BOM):
            source.pending = source.pending[len(text_reader.UTF8_BOM):]
        self._source = source
        # The first lines give the dialect; the header (if any) is dropped from what follows.
        buffer = self._read_lines(text_reader.SNIFF_LINES + 1)
        lines, _ = text_reader.first_lines(buffer if buffer.endswith(b"\n") else buffer + b"\n")
        if not lines:
            raise DataError(f"{name}: no data rows (the file is empty)")
        self.dialect, skip = text_reader.sniff(name, lines)
        # Columns passed through (--keep-columns): set aside from every block, their text queued
        # in `kept`, a block's worth for each block of rows yielded, in order.
        self.columns = text_reader.kept_columns(name, self.dialect, keep) if keep else []
        self.kept: collections.deque[bytes] = collections.deque()
        header = self.dialect.header
        self.kept_names = [header[i] if header else str(i) for i in self.columns]
        self.names = None if header is None else [c for i, c in enumerate(header) if i not in self.columns]
        cut = min(text_reader.offset_after_line(buffer + b"\n", skip), len(buffer))
        # The lines read so far are parsed at once: a bad cell among the first rows is named
        # before anything else (such as a column count the model does not take) is checked.
        text = buffer[cut:]
        whole = len(text) if getattr(self, "_ended", False) else text.rfind(b"\n") + 1
        self._first, _, self._first_kept = self._parse(memoryview(text)[:whole], skip + 1)
        self._first_bytes, self._spill = whole, b""
        if getattr(self, "_ended", False) and not len(self._first):
            raise DataError(f"{name}: no data rows (only a header)")
        self._rest, self._line = text[whole:], skip + 1 + text.count(b"\n", 0, whole)
        self.shape = (None, self.dialect.n_fields - len(self.columns))
        self.dtype = np.dtype(np.float32)

    def _parse(self, view, first_line: int) -> tuple[np.ndarray, int, bytes | None]:
        """(rows, lines read, the kept columns' text or None) of a block of whole lines."""
        if not self.columns:
            X, lines = text_reader.parse_lines(self.name, view, self.dialect, first_line, self.threads)
            return X, lines, None
        X, kept, lines = text_reader.parse_kept(self.name, view, self.dialect, first_line, self.columns,
                                                self.threads, self._join)
        return X, lines, kept

    def _more(self) -> bytes:
        """The next bytes of text, b"" at the end."""
        while True:
            data = self._source.read()
            if self._decode is None:
                return data
            text = self._decode(data, final=not data)
            if text or not data:  # an odd byte alone decodes to nothing yet: read on
                return text

    def _read_lines(self, count: int) -> bytes:
        """What the source gives until it holds `count` non-blank lines, or ends."""
        parts = [self._source.pending]
        self._source.pending = b""
        while True:
            text = b"".join(parts)
            lines, _ = text_reader.first_lines(text, count)
            if len(lines) >= count or (lines and not self._source.ready(STALL_SECONDS)):
                return text  # (a pipe whose writer pauses: its first lines are all there is yet)
            data = self._more()
            if not data:
                self._ended = True
                return text
            parts = [text, data]

    def blocks(self, max_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, float32 block of about max_rows rows), in order. The text is read into one
        buffer, reused from block to block, that holds about max_rows lines (judged by the length
        of the lines so far), and the core parses it in place."""
        line, row = self._line, 0
        ended = getattr(self, "_ended", False)
        first, self._first = self._first, None
        if first is not None and len(first):
            self._queue(self._first_kept)
            yield 0, first
            row = len(first)
        line_bytes = self._first_bytes / max(1, row)
        buffer, filled = bytearray(self._rest), len(self._rest)
        self._rest = b""
        longer = False  # the buffer held no whole line: a line longer than it, read on
        while not (ended and not filled):
            target = int(min(BLOCK_BYTES, max(READ_BYTES, line_bytes * max_rows)))
            target = max(target, filled + READ_BYTES) if longer else target
            if len(buffer) < target + READ_BYTES:
                buffer.extend(bytes(target + READ_BYTES - len(buffer)))
            view = memoryview(buffer)
            try:
                while not ended and filled < target:
                    if filled and not self._source.ready(STALL_SECONDS) and buffer.find(b"\n", 0, filled) >= 0:
                        break  # the writer pauses: what came in full lines goes on now
                    got = self._fill(view[filled:filled + READ_BYTES])
                    ended = got == 0
                    filled += got
                cut = filled if ended else buffer.rfind(b"\n", 0, filled) + 1
                X = None
                if cut:
                    X, lines, kept = self._parse(view[:cut], line)
                    line += lines
                    line_bytes = cut / max(1, len(X))
                longer = not cut
                tail = bytes(view[cut:filled])
            finally:
                view.release()
            buffer[:len(tail)] = tail
            filled = len(tail)
            if X is not None and len(X):
                self._queue(kept)
                yield row, X
                row += len(X)
        if row == 0:
            raise DataError(f"{self.name}: no data rows (only a header)")

    def _queue(self, kept: bytes | None) -> None:
        if kept is not None:
            self.kept.append(kept)

    def _fill(self, view: memoryview) -> int:
        """Reads text into `view`; the number of bytes, 0 at the end."""
        if self._decode is None and not self._spill:
            return self._source.readinto(view)
        data = self._spill or self._more()
        take = min(len(data), len(view))
        view[:take] = data[:take]
        self._spill = data[take:]
        return take


class NpyRows:
    """The rows of an NPY stream (stdin): its header gives the shape, then blocks of rows follow."""

    ndim = 2

    def __init__(self, name: str, source: Source) -> None:
        self.name, self._source = name, source
        head = source.head(12)
        try:
            probe = io.BytesIO(head)
            version = np.lib.format.read_magic(probe)
            size = int.from_bytes(head[8:10] if version == (1, 0) else head[8:12], "little")
            header_end = (10 if version == (1, 0) else 12) + size
            head = source.head(header_end)
            probe = io.BytesIO(head)
            np.lib.format.read_magic(probe)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"NPY format version {version[0]}.{version[1]} is not read from a stream")
            shape, fortran, dtype = read_header(probe)
        except DataError:
            raise
        except Exception as e:
            raise numpy_error(name, "NPY", e) from e
        source.pending = source.pending[header_end:]
        check_matrix(name, np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, (0,) * len(shape)))
        self.shape, self.dtype, self._fortran = shape, dtype, fortran

    def blocks(self, max_rows: int) -> Iterator[tuple[int, np.ndarray]]:
        rows, cols = self.shape
        if self._fortran:  # columns first: only the whole array gives a row
            X = self._rows(0, rows * cols, rows).reshape((rows, cols), order="F")
            for start in range(0, rows, max_rows):
                yield start, X[start:start + max_rows]
            return
        row_bytes = cols * self.dtype.itemsize
        start, carry = 0, b""
        while start < rows:
            want = min(max_rows, rows - start) * row_bytes
            parts, got, ended = [carry], len(carry), False
            while got < want:
                if got >= row_bytes and not self._source.ready(STALL_SECONDS):
                    break  # the writer pauses: the whole rows that came go on now
                data = self._source.read(min(want - got, 16 * READ_BYTES))
                if not data:
                    ended = True
                    break
                parts.append(data)
                got += len(data)
            buffer = b"".join(parts)
            count = len(buffer) // row_bytes
            if ended and start + count < rows:
                raise self._cut_short(start + count)
            carry = buffer[count * row_bytes:]
            yield start, np.frombuffer(buffer, self.dtype, count * cols).reshape(count, cols)
            start += count

    def _rows(self, start: int, values: int, count: int) -> np.ndarray:
        wanted = values * self.dtype.itemsize
        data = self._source.read_exactly(wanted)
        if len(data) < wanted:
            raise self._cut_short(start + len(data) // max(1, self.shape[1] * self.dtype.itemsize))
        return np.frombuffer(data, self.dtype, values)

    def _cut_short(self, got: int) -> DataError:
        return DataError(f"{self.name}: the NPY stream ended after {got:,} of its {self.shape[0]:,} rows "
                         "(cut short?)")


def read_rows(name: str, source: Source, threads: int = 0, block_rows: int = 65536) -> np.ndarray:
    """All the rows of a text stream as one float32 matrix (for training)."""
    blocks = [X for _, X in TextRows(name, source, threads).blocks(block_rows)]
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def open_rows(path: str, key: str | None = None, *, stdin: BinaryIO | None = None, threads: int = 0,
              keep: list[str] | None = None, join: str = ","):
    """DATA for a pass through a model: a matrix for .npy/.npz files (memory-mapped .npy), rows
    that flow (TextRows, NpyRows) for text files and for stdin. `keep`: columns of text to pass
    through (TextRows.kept, joined by `join`), refused for NPY and NPZ, which have no such columns."""
    path = os.fspath(path)
    if path == "-":
        name = "<stdin>"
        source = Source(stdin if stdin is not None else sys.stdin.buffer)
        head = source.head(len(NPY_MAGIC))
        kind = input_kind(path, head)
    else:
        name = path
        kind = input_kind(path, None)
        source = None
    if kind != "text" and keep:
        raise DataError(f"{name}: --keep-columns takes columns of CSV/TSV text; this is {kind.upper()}")
    if source is None and kind != "text":
        return data_io.read_matrix(path, key)  # (by its module: tests replace it there)
    if key is not None and kind != "npz":
        raise DataError(f"{name}: a key ({key!r}) was given, but only .npz files have keys")
    if kind == "npz":  # zip wants to seek: stdin is read whole
        return data_io.read_matrix("-", key, stdin=io.BytesIO(source.read_all()))
    if kind == "npy":
        return NpyRows(name, source)
    if source is None:
        source = Source(open_input(path))
    return TextRows(name, source, threads, keep, join)
