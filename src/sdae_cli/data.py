"""Read numeric matrices: NPY, NPZ, CSV/TSV text, stdin; and go through big ones a chunk at a time.

Writing is writing.py's.

Bad input always surfaces as a one-line DataError naming the file (and line and
column for text), never as a numpy traceback.
"""
from __future__ import annotations

import contextlib
import errno
import io
import mmap
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .errors import DataError, ResourceError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # the second one starts an empty zip
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
DELIMITERS = (",", "\t", ";", None)  # None: runs of whitespace


# ---------------------------------------------------------------- reading

def read_matrix(path: str, key: str | None = None, *,
                stdin: BinaryIO | None = None) -> np.ndarray:
    """Read a 2-D numeric matrix as stored (a .npy file comes back memory-mapped)."""
    path = os.fspath(path)
    if path == "-":
        from .row_stream import Source, read_rows

        name = "<stdin>"
        stream = Source(stdin if stdin is not None else sys.stdin.buffer)
        if input_kind(path, stream.head(len(NPY_MAGIC))) == "text":  # parsed as it comes, to float32
            if key is not None:
                raise DataError(f"{name}: a key ({key!r}) was given, but only .npz files have keys")
            return read_rows(name, stream)
        raw = head = stream.read_all()
        source = io.BytesIO(raw)
    else:
        name, raw, source = path, None, path
        head = read_bytes(path, 8)
    kind = input_kind(path, head)
    if key is not None and kind != "npz":
        raise DataError(f"{name}: a key ({key!r}) was given, but only .npz files have keys")

    if kind == "npy":
        if not head.startswith(NPY_MAGIC):
            raise DataError(f"{name}: not a valid NPY file (no NPY magic bytes at the start)")
        try:
            # Memory-map files: huge training sets stay on disk until they are used.
            array = np.load(source, mmap_mode="r" if raw is None else None, allow_pickle=False)
        except OSError as e:
            if e.errno == errno.ENOMEM:  # the mapping itself counts against `ulimit -v`
                raise _cannot_map(name, path) from None
            raise numpy_error(name, "NPY", e) from e
        except Exception as e:
            raise numpy_error(name, "NPY", e) from e
    elif kind == "npz":
        if not head.startswith(ZIP_MAGICS):
            raise DataError(f"{name}: not a valid NPZ file (not a zip archive)")
        # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
        with open(source, "rb") if raw is None else source as f:
            array = _load_npz(name, f, key)
    else:
        array = _read_text(name, path, raw)
    check_matrix(name, array)
    return array


def input_kind(path: str, head: bytes | None) -> str:
    """"npy", "npz" or "text": by the suffix, else by the first bytes (head; None: read them)."""
    suffix = os.path.splitext(path)[1].lower() if path != "-" else ""
    if suffix in (".npy", ".npz"):
        return suffix[1:]
    if suffix in TEXT_SUFFIXES:
        return "text"
    if head is None:
        head = read_bytes(path, 8)
    if not head.startswith((NPY_MAGIC, *ZIP_MAGICS)):
        return "text"
    return "npy" if head.startswith(NPY_MAGIC) else "npz"  # other suffixes and stdin: the magic bytes


def open_input(path: str) -> int:
    """A descriptor to read `path` from, errors turned into one-line messages."""
    read_bytes(path, 0)
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e


def _read_text(name: str, path: str, raw: bytes | None) -> np.ndarray:
    """A whole text matrix as float32: parsed by the core from the bytes, or from the file
    memory-mapped (no copy of the text is made)."""
    import stat

    from .text_reader import parse_text as parse_all

    if raw is not None:
        return parse_all(name, raw)
    fd = open_input(path)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe (`<(zcat x.csv.gz)`): read as it comes
            from .row_stream import Source, read_rows

            return read_rows(name, Source(os.dup(fd)))
        if os.fstat(fd).st_size == 0:
            return parse_all(name, b"")
        # Not closed here: an error's traceback may still hold views of it; it goes with them.
        return parse_all(name, mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
    finally:
        os.close(fd)


def read_bytes(path: str, size: int = -1) -> bytes:
    """Read a file (or its first bytes), turning OS errors into one-line messages."""
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a file")
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except (FileNotFoundError, NotADirectoryError):
        raise DataError(f"{path}: no such file") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e


def _cannot_map(name: str, path: str) -> DataError:
    from .resources import available_memory, describe

    available, limit = available_memory()
    now = f"; {describe(available)} is available ({limit})" if available is not None else ""
    return ResourceError(f"{name}: cannot map its {describe(os.path.getsize(path))} into memory to read it{now}; "
                         "raise the limit, or give fewer rows")


def numpy_error(name: str, kind: str, exc: Exception) -> DataError:
    """NumPy's complaint about an NPY/NPZ file as one line that names the file."""
    lines = str(exc).strip().splitlines()
    reason = lines[0][:100] if lines else type(exc).__name__
    # numpy reports object arrays as "...pickle..." (np.load) or "Python objects" (memmap)
    if "pickle" in reason.lower() or "python objects" in reason.lower():
        return DataError(f"{name}: holds pickled Python objects, which are refused "
                         "(only plain numeric arrays are read)")
    return DataError(f"{name}: not a valid {kind} file ({reason})")


def _load_npz(name: str, source: BinaryIO, key: str | None) -> np.ndarray:
    try:
        with np.load(source, allow_pickle=False) as npz:
            keys = list(npz.files)
            if key is None and len(keys) == 1:
                return npz[keys[0]]
            available = f"(available: {', '.join(keys) or 'none'})"
            if key is None:
                raise DataError(f"{name}: holds {len(keys)} arrays, pick one with --key {available}")
            if key not in keys:
                raise DataError(f"{name}: no array named {key!r} {available}")
            return npz[key]
    except DataError:
        raise
    except Exception as e:
        raise numpy_error(name, "NPZ", e) from e


def check_matrix(name: str, array: np.ndarray) -> None:
    """Refuses anything but a 2-D matrix of real numbers, in one line that names the input."""
    if not isinstance(array, np.ndarray):
        raise DataError(f"{name}: does not hold an array")
    if array.ndim != 2:
        raise DataError(f"{name}: array has shape {array.shape}, expected a 2-D matrix "
                        "with one row per sample and one column per feature")
    if 0 in array.shape:
        missing = "rows" if array.shape[0] == 0 else "columns"
        raise DataError(f"{name}: array has shape {array.shape}: no {missing}")
    if array.dtype.hasobject:
        raise DataError(f"{name}: holds pickled Python objects (dtype {array.dtype}), "
                        "which are refused")
    if array.dtype.names is not None or array.dtype.kind not in "biuf":
        raise DataError(f"{name}: unsupported dtype {array.dtype} "
                        "(expected bool, integer or floating-point numbers)")


# ------------------------------------------------------------ text parsing

def decode_text(name: str, raw: bytes) -> str:
    """Text from a file's bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # spreadsheet "Unicode text" exports
        return raw.decode("utf-16", errors="replace")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{name}: binary data, expected .npy, .npz or CSV/TSV text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Numbers are ASCII; only header names could be mangled by this fallback.
        return raw.decode("latin-1")


def cell(text: str) -> str:
    """A text cell without its padding and quotes."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def is_number(text: str) -> bool:
    """Whether a text cell holds a number."""
    try:
        float(cell(text))
        return True
    except ValueError:
        return False


def pick_delimiter(lines: list[str]) -> str | None:
    """The delimiter of CSV/TSV/whitespace text, from its first lines."""
    # The right delimiter splits the first lines into the same number (>1) of fields.
    for delimiter in DELIMITERS:
        counts = {len(line.split(delimiter)) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return delimiter
    # Inconsistent counts (a ragged row): trust the first line so the error names the row.
    for delimiter in DELIMITERS:
        if len(lines[0].split(delimiter)) > 1:
            return delimiter
    return ","  # a single column: no delimiter occurs at all


def parse_text(name: str, raw: bytes) -> np.ndarray:
    """A matrix from CSV/TSV/whitespace text, with or without a header line, as float32: through
    the core's parser (text_reader.py)."""
    from .text_reader import parse_text as parse_all

    return parse_all(name, raw)


def parse_cells(name, rows, delimiter, n_fields, header) -> np.ndarray:
    """Parse cell by cell so that the first bad cell can be named exactly."""
    values = []
    for line_no, line in rows:
        cells = line.split(delimiter)
        if len(cells) != n_fields:
            raise DataError(f"{name}: line {line_no} has {len(cells)} fields, expected {n_fields}")
        row = []
        for col, raw_cell in enumerate(cells, 1):
            try:
                row.append(float(cell(raw_cell)))
            except ValueError:
                where = f"line {line_no}, column {col}"
                if header is not None and header[col - 1]:
                    where += f' ("{header[col - 1]}")'
                shown = cell(raw_cell)
                shown = "empty cell" if not shown else f"{shown[:40]!r} is not a number"
                raise DataError(f"{name}: {where}: {shown}") from None
        values.append(row)
    return np.array(values, dtype=np.float64).reshape(len(values), n_fields)


# ---------------------------------------------------------------- chunks

def iter_chunks(array: np.ndarray, chunk_rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, block of rows) over a matrix. The pages of a memory-mapped .npy are handed
    back to the OS once a block is used, so resident memory stays at about one block however
    long the file is. Rows that flow (row_stream.py) come a block at a time as they are read."""
    if hasattr(array, "blocks"):
        yield from array.blocks(chunk_rows)
        return
    mapping = getattr(array, "_mmap", None) if isinstance(array, np.memmap) else None
    row_bytes = array.strides[0] if array.ndim == 2 else 0
    # np.memmap maps from the offset rounded down to the allocation granularity.
    lead = array.offset % mmap.ALLOCATIONGRANULARITY if mapping is not None else 0
    for start in range(0, array.shape[0], chunk_rows):
        yield start, array[start:start + chunk_rows]
        if mapping is not None and hasattr(mapping, "madvise") and array.flags.c_contiguous:
            used = lead + min(start + chunk_rows, array.shape[0]) * row_bytes
            with contextlib.suppress(OSError, ValueError):
                mapping.madvise(mmap.MADV_DONTNEED, 0, used - used % mmap.PAGESIZE)
