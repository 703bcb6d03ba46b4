"""Read and write numeric matrices: NPY, NPZ, CSV/TSV text, stdin and stdout.

Bad input always surfaces as a one-line DataError naming the file (and line and
column for text), never as a numpy traceback.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import sys
from typing import BinaryIO, Iterator

import numpy as np

from .errors import DataError, ResourceError

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # the second one starts an empty zip
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
WRITE_SUFFIXES = {".npy": ("npy", None), ".npz": ("npz", None), ".csv": ("text", ","),
                  ".txt": ("text", ","), ".tsv": ("text", "\t")}
DELIMITERS = (",", "\t", ";", None)  # None: runs of whitespace
VALUES_PER_BLOCK = 1_000_000  # text is formatted in blocks of rows to bound memory (~50 MB a block)


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
        head = _read_bytes(path, 8)
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
            raise _numpy_error(name, "NPY", e) from e
        except Exception as e:
            raise _numpy_error(name, "NPY", e) from e
    elif kind == "npz":
        if not head.startswith(ZIP_MAGICS):
            raise DataError(f"{name}: not a valid NPZ file (not a zip archive)")
        # Open the file ourselves: np.load leaks its handle when the zip is corrupt.
        with open(source, "rb") if raw is None else source as f:
            array = _load_npz(name, f, key)
    else:
        array = _read_text(name, path, raw)
    _validate(name, array)
    return array


def input_kind(path: str, head: bytes | None) -> str:
    """"npy", "npz" or "text": by the suffix, else by the first bytes (head; None: read them)."""
    suffix = os.path.splitext(path)[1].lower() if path != "-" else ""
    if suffix in (".npy", ".npz"):
        return suffix[1:]
    if suffix in TEXT_SUFFIXES:
        return "text"
    if head is None:
        head = _read_bytes(path, 8)
    if not head.startswith((NPY_MAGIC, *ZIP_MAGICS)):
        return "text"
    return "npy" if head.startswith(NPY_MAGIC) else "npz"  # other suffixes and stdin: the magic bytes


def open_input(path: str) -> int:
    """A descriptor to read `path` from, errors turned into one-line messages."""
    _read_bytes(path, 0)
    try:
        return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from e


def _read_text(name: str, path: str, raw: bytes | None) -> np.ndarray:
    """A whole text matrix as float32: parsed by the core from the bytes, or from the file
    memory-mapped (no copy of the text is made)."""
    import mmap

    from .text_reader import parse_text

    if raw is not None:
        return parse_text(name, raw)
    fd = open_input(path)
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a pipe (`<(zcat x.csv.gz)`): read as it comes
            from .row_stream import Source, read_rows

            return read_rows(name, Source(os.dup(fd)))
        if os.fstat(fd).st_size == 0:
            return parse_text(name, b"")
        # Not closed here: an error's traceback may still hold views of it; it goes with them.
        return parse_text(name, mmap.mmap(fd, 0, access=mmap.ACCESS_READ))
    finally:
        os.close(fd)


def _read_bytes(path: str, size: int = -1) -> bytes:
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


def _numpy_error(name: str, kind: str, exc: Exception) -> DataError:
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
        raise _numpy_error(name, "NPZ", e) from e


def _validate(name: str, array: np.ndarray) -> None:
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

def _decode(name: str, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # spreadsheet "Unicode text" exports
        return raw.decode("utf-16", errors="replace")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{name}: binary data, expected .npy, .npz or CSV/TSV text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Numbers are ASCII; only header names could be mangled by this fallback.
        return raw.decode("latin-1")


def _cell(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


def _is_number(text: str) -> bool:
    try:
        float(_cell(text))
        return True
    except ValueError:
        return False


def _pick_delimiter(lines: list[str]) -> str | None:
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


def _parse_text(name: str, raw: bytes) -> np.ndarray:
    """A whole text matrix (bytes) as float32, through the core's parser (text_reader.py)."""
    from .text_reader import parse_text

    return parse_text(name, raw)


def _parse_slowly(name, rows, delimiter, n_fields, header) -> np.ndarray:
    """Parse cell by cell so that the first bad cell can be named exactly."""
    values = []
    for line_no, line in rows:
        cells = line.split(delimiter)
        if len(cells) != n_fields:
            raise DataError(f"{name}: line {line_no} has {len(cells)} fields, expected {n_fields}")
        row = []
        for col, cell in enumerate(cells, 1):
            try:
                row.append(float(_cell(cell)))
            except ValueError:
                where = f"line {line_no}, column {col}"
                if header is not None and header[col - 1]:
                    where += f' ("{header[col - 1]}")'
                shown = _cell(cell)
                shown = "empty cell" if not shown else f"{shown[:40]!r} is not a number"
                raise DataError(f"{name}: {where}: {shown}") from None
        values.append(row)
    return np.array(values, dtype=np.float64).reshape(len(values), n_fields)


# ---------------------------------------------------------------- writing

def _output_format(path: str, fmt: str | None) -> tuple[str, str | None]:
    """Return (kind, delimiter), kind being "npy", "npz" or "text"."""
    suffix = "" if path == "-" else os.path.splitext(path)[1].lower()
    if fmt is None:
        if path == "-":
            return "text", ","
        if suffix not in WRITE_SUFFIXES:
            raise DataError(f"{path}: unknown output format {suffix or '(no suffix)'!r}; "
                            f"supported: {', '.join(WRITE_SUFFIXES)}")
        fmt = suffix[1:]
    if "." + fmt.lower() not in WRITE_SUFFIXES:
        raise DataError(f"unknown output format {fmt!r}; supported: npy, npz, csv, tsv, txt")
    kind, delimiter = WRITE_SUFFIXES["." + fmt.lower()]
    # "csv" written to a .tsv file still gets tabs, as the name promises.
    return kind, "\t" if kind == "text" and suffix == ".tsv" else delimiter


def _folder_of(path: str, target: str) -> str:
    """The folder the output goes in, refused in one line if it cannot take it."""
    directory = os.path.dirname(target) or "."
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise DataError(f"{path}: '{directory}' is not a directory")
        raise DataError(f"{path}: directory '{directory}' does not exist")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a file")
    return directory


def _open_new(temp: str) -> int:
    """Creates `temp`, which must not exist yet, for writing, with the permissions open() gives."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    return os.open(temp, flags, 0o666)


@contextlib.contextmanager
def atomic_output(path: str, mode: str = "wb", durable: bool = True) -> Iterator:
    """Yield a temp file next to `path`; rename it into place only on success.

    Readers never see a half-written file, and a failure leaves the old file intact.
    durable=False skips the fsync: the file survives the process being killed, not the
    machine crashing (enough for per-epoch checkpoints, which it keeps cheap).
    """
    path = os.fspath(path)
    # Replace what a symlink points to, not the link itself.
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = _folder_of(path, target)
    temp = f = None
    try:
        # The name is known before the file exists: a Ctrl-C landing anywhere after it is
        # created (even inside the call that creates it) still finds it to delete. Creating the
        # descriptor and wrapping it happen with Ctrl-C held, so the file object always reaches
        # `f` to be closed below, never a destructor that warns about it later.
        with interrupts_deferred():
            for _ in range(100):
                temp = os.path.join(directory, f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
                try:
                    fd = _open_new(temp)
                    break
                except FileExistsError:
                    continue
                except PermissionError:
                    raise DataError(f"{path}: permission denied (cannot write in '{directory}')") from None
                except OSError as e:
                    raise DataError(f"{path}: cannot write ({e.strerror or e})") from e
            else:
                raise DataError(f"{path}: cannot write (no free temporary name in '{directory}')")
            f = os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
        with f:
            with contextlib.suppress(OSError):  # a file replaced keeps its permissions
                os.fchmod(f.fileno(), os.stat(target).st_mode & 0o7777)
            yield f
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(temp, target)
    except BaseException as e:
        if f is not None:
            with contextlib.suppress(OSError):
                f.close()
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        if isinstance(e, OSError):  # disk full, quota, I/O error...
            raise DataError(f"{path}: cannot write ({e.strerror or e})") from e
        raise


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait for the block to end, then act as usual. For the short stretches
    a Ctrl-C must not cut in two: zipfile (under np.savez) opens an archive member and only then
    enters the 'with' that closes it, and a KeyboardInterrupt in between leaves an archive that
    cannot be closed, whose destructor later prints a traceback. Off the main thread, where
    handlers cannot be set, the block runs as it is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = {signum: signal.signal(signum, lambda signum, frame: caught.append(signum))
            for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        if caught:
            handler = held[caught[0]]
            if callable(handler):
                handler(caught[0], None)  # Python's Ctrl-C handler: KeyboardInterrupt
            elif handler == signal.SIG_DFL:
                signal.raise_signal(caught[0])


def write_npz(f: BinaryIO, arrays: dict[str, np.ndarray]) -> None:
    """np.savez into an open file, out of Ctrl-C's reach (see interrupts_deferred)."""
    with interrupts_deferred():
        np.savez(f, **arrays)


def _write_text(out, array: np.ndarray, delimiter: str, precision: int = 0, threads: int = 0) -> None:
    """Rows as text, a block at a time. Floats by the core: the shortest text that reads back to
    the same float32 (or float64), or `precision` significant digits."""
    rows = max(1, VALUES_PER_BLOCK // max(1, array.shape[1]))
    if array.dtype.kind == "f":
        from . import _core

        wide = np.float64 if array.dtype.itemsize > 4 else np.float32
        for start in range(0, array.shape[0], rows):
            block = np.ascontiguousarray(array[start:start + rows], dtype=wide)
            out.write(_core.format_text(block, delimiter, precision, threads))
        return
    row_format = delimiter.join(["%d"] * array.shape[1]) + "\n"  # ints and bools (as 0/1)
    for start in range(0, array.shape[0], rows):
        block = array[start:start + rows].tolist()
        out.write("".join(row_format % tuple(row) for row in block).encode("ascii"))


def write_matrix(path: str, array: np.ndarray, fmt: str | None = None, *,
                 stdout: BinaryIO | None = None) -> None:
    """Write a 2-D matrix to a file (atomically) or to stdout when path is "-"."""
    path = os.fspath(path)
    kind, delimiter = _output_format(path, fmt)
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DataError(f"{path}: can only write 2-D numeric matrices, "
                        f"got shape {array.shape} of {array.dtype}")

    def emit(out):
        if kind == "npy":
            np.save(out, array, allow_pickle=False)
        elif kind == "npz":
            write_npz(out, {"data": array})
        else:
            _write_text(out, array, delimiter)

    if path == "-":
        out = stdout if stdout is not None else sys.stdout.buffer
        if kind == "npz":  # zip wants to seek; build it in memory first
            buffer = io.BytesIO()
            emit(buffer)
            out.write(buffer.getvalue())
        else:
            emit(out)
        out.flush()
        return
    with atomic_output(path, "wb") as out:
        emit(out)
