"""Every output sdae writes goes through here: matrices, labels and class probabilities, as .npy,
.npz or CSV/TSV text, to stdout ("-") or atomically to a file.

One writer does it all, a block of rows at a time: `MatrixWriter(path, rows, cols)` opens the
output, `write(block)` formats and writes a block (stdout is flushed after each), `close()`
commits it (a file is renamed into place only when every announced row was written; a file's
bytes go to the disk from a thread, around the page cache: direct_file.py). Text is
formatted in one function, `format_rows`; model files and checkpoints use `atomic_output` and
`write_npz` directly.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from .errors import DataError

WRITE_SUFFIXES = {".npy": ("npy", None), ".npz": ("npz", None), ".csv": ("text", ","),
                  ".txt": ("text", ","), ".tsv": ("text", "\t")}
VALUES_PER_BLOCK = 1_000_000  # text is formatted in blocks of rows to bound memory (~50 MB a block)


def output_format(path: str, fmt: str | None) -> tuple[str, str | None]:
    """(kind, delimiter) of an output, kind being "npy", "npz" or "text": from `fmt` if given,
    else from the path's suffix; stdout ("-") defaults to CSV."""
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


# ------------------------------------------------------------ atomic files

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


# ------------------------------------------------------------------ text

def format_rows(block: np.ndarray, delimiter: str, precision: int = 0) -> bytes:
    """A block of rows (rows, cols), or of single values (rows,), as lines of text: floats by the
    core, in the shortest text that reads back to the same float32 (or float64) bits (or with
    `precision` significant digits, as printf's %g), integers and booleans (as 0/1) as whole
    numbers, strings as they are. The one text formatter: every text output goes through it."""
    if block.dtype.kind == "f":
        from . import _core

        wide = np.float64 if block.dtype.itemsize > 4 else np.float32
        rows = block.reshape(len(block), -1) if block.ndim == 1 else block
        return _core.format_text(np.ascontiguousarray(rows, dtype=wide), delimiter or ",", precision)
    if block.dtype.kind in "biu":
        spec = "%d"
    else:
        spec = "%s"
    if block.ndim == 1:
        return "".join(spec % value + "\n" for value in block.tolist()).encode("utf-8")
    row_format = delimiter.join([spec] * block.shape[1]) + "\n"
    return "".join(row_format % tuple(row) for row in block.tolist()).encode("utf-8")


@dataclass(frozen=True)
class TextOutput:
    """How the inference commands' text looks: a header line, significant digits (0: the
    shortest text that reads back to the same float32), and columns of the input passed through
    before the outputs (their names, or 0-based indices)."""

    header: bool = False
    precision: int = 0
    keep: tuple[str, ...] = ()
    delimiter: str = ","  # the output's: the kept cells are joined by it too

    def check(self, path: str, fmt: str | None) -> None:
        """Refuses the text-only options for an NPY or NPZ output, in one line."""
        kind = output_format(path, fmt)[0]
        given = [flag for flag, on in (("--keep-columns", self.keep), ("--header", self.header),
                                       ("--precision", self.precision)) if on]
        if kind != "text" and given:
            raise DataError(f"{path}: {given[0]} shapes text output (.csv, .tsv, .txt or stdout); "
                            f"this is {kind.upper()}")


# ---------------------------------------------------------------- the writer

class MatrixWriter:
    """Writes an (n_rows, n_cols) matrix, or with n_cols None an (n_rows,) vector, block by block
    with bounded memory, in the format `output_format` picks. Use as a context manager: a file
    appears (atomically) only after a clean exit with exactly n_rows rows written; stdout ("-")
    is streamed, flushed after every block. Text output can start with a `header` line.
    n_rows None: as many rows as come (input that flows); NPY and NPZ, whose header gives the
    count, then hold the rows in a temporary file until close()."""

    def __init__(self, path: str, n_rows: int, n_cols: int | None, fmt: str | None = None, *,
                 dtype=np.float32, header: list | None = None, precision: int = 0,
                 stdout: BinaryIO | None = None):
        path = os.fspath(path)
        self.path, self.n_cols, self.precision = path, None if n_cols is None else int(n_cols), precision
        self.n_rows = None if n_rows is None else int(n_rows)
        self.kind, self.delimiter = output_format(path, fmt)
        self.dtype = np.dtype(dtype)
        self.rows_written = 0
        self._stdout = self._file = None
        # Closing the stack in order finishes the zip member, the zip, then the temp file.
        self._stack = contextlib.ExitStack()
        try:
            if path == "-":
                out = self._stdout = stdout if stdout is not None else sys.stdout.buffer
            else:
                out = self._file = self._stack.enter_context(atomic_output(path, "wb"))
                # Around the page cache (direct_file.py); not NPZ, which zipfile seeks in, nor NPY
                # of unknown length, whose rows wait in a temporary file for the header's count.
                if self.kind == "text" or (self.kind == "npy" and self.n_rows is not None):
                    out = self._stack.enter_context(_direct(out))
            if self.kind == "npz":  # stream into a zip member; zip64 as it may exceed 2 GiB
                with interrupts_deferred():  # until the stack holds both to close them
                    archive = self._stack.enter_context(zipfile.ZipFile(out, "w", allowZip64=True))
                    out = self._stack.enter_context(archive.open("data.npy", "w", force_zip64=True))
            self._final = None
            if self.kind == "text" and header is not None:
                out.write((self.delimiter.join(map(str, header)) + "\n").encode("utf-8"))
            elif self.kind != "text" and self.n_rows is None:  # the header waits for the count
                import tempfile

                self._final, out = out, self._stack.enter_context(tempfile.TemporaryFile())
            elif self.kind != "text":
                self._header(out, self.n_rows)
        except BaseException as e:
            self._abort(e)
            raise
        self._out = out

    def _header(self, out, rows: int) -> None:
        shape = (rows,) if self.n_cols is None else (rows, self.n_cols)
        np.lib.format.write_array_header_1_0(out, {
            "descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": shape})

    def __enter__(self) -> MatrixWriter:
        return self

    def write(self, block: np.ndarray, prefix: bytes | None = None) -> None:
        """The next rows: (rows, n_cols), or (rows,) for a vector; text output can have `prefix`,
        a line of text for each row, put before it (the input's kept columns)."""
        block = np.asarray(block)
        expected = 1 if self.n_cols is None else 2
        if block.ndim != expected or (self.n_cols is not None and block.shape[1] != self.n_cols):
            raise DataError(f"{self.path}: chunk has shape {block.shape}, expected "
                            f"{'(rows,)' if self.n_cols is None else f'(rows, {self.n_cols})'}")
        if self.n_rows is not None and self.rows_written + block.shape[0] > self.n_rows:
            raise DataError(f"{self.path}: more than the announced {self.n_rows} rows written")
        rows = max(1, VALUES_PER_BLOCK // max(1, self.n_cols or 1))  # as Python floats, 8,192 x 10,000 took 2.5 GB
        if prefix is not None:  # the lines to put before each row's come whole: the block's text at once
            rows = max(1, block.shape[0])
        for start in range(0, block.shape[0], rows):
            part = np.ascontiguousarray(block[start:start + rows], dtype=self.dtype)
            if self.kind != "text":
                self._out.write(part.tobytes())
                continue
            text = format_rows(part, self.delimiter, self.precision)
            if prefix is not None:
                from . import _core

                text = _core.paste_lines(prefix, text, self.delimiter)
            self._out.write(text)
        self.rows_written += block.shape[0]
        if self._stdout is not None and self._final is None:
            self._stdout.flush()

    def close(self) -> None:
        """Commits the output: renames the file into place, or flushes stdout."""
        if self._final is not None:  # the rows were held back: now the header, then them
            import shutil

            self._out.seek(0)
            self._header(self._final, self.rows_written)
            shutil.copyfileobj(self._out, self._final, 1 << 20)
        if self.n_rows is not None and self.rows_written != self.n_rows:
            error = DataError(f"{self.path}: {self.rows_written} rows written, expected {self.n_rows}")
            self._abort(error)
            raise error
        self._stack.close()  # renames the temp file into place
        if self._stdout is not None:
            self._stdout.flush()

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.close()
        else:
            self._abort(exc)
        return False

    def _abort(self, exc: BaseException) -> None:
        # atomic_output sees the exception and deletes its temp file.
        self._stack.__exit__(type(exc), exc, exc.__traceback__)


@contextlib.contextmanager
def _direct(f: BinaryIO) -> Iterator[BinaryIO]:
    """`f` as a DirectFile: its bytes written whole at a clean exit, dropped otherwise."""
    from .direct_file import DirectFile

    direct = DirectFile(f)
    try:
        yield direct
    except BaseException:
        direct.abort()
        raise
    direct.finish()


def write_blocks(path: str, n_rows: int, n_cols: int, blocks, fmt: str | None = None, *,
                 text: TextOutput = TextOutput(), names: list[str] | None = None, rows=None) -> None:
    """Blocks of float32 rows, as they come (from the model's iter_* passes over `rows`), to
    `path`; `names` head the columns when text.header asks for a header."""
    text.check(path, fmt)
    with _text_writer(path, n_rows, n_cols, fmt, text, names if text.header else None, rows) as (writer, kept):
        for block in blocks:
            writer.write(block, kept())


@contextlib.contextmanager
def _text_writer(path: str, n_rows, n_cols, fmt, text: TextOutput, names, rows, dtype=np.float32):
    """(writer, kept): a MatrixWriter for `text`'s options, with the kept columns' names before
    `names` in its header, and kept() the next block's kept text from `rows` (None without)."""
    header = None if names is None else [*(rows.kept_names if text.keep else []), *names]
    kept = (lambda: rows.kept.popleft()) if text.keep else (lambda: None)
    with MatrixWriter(path, n_rows, n_cols, fmt, dtype=dtype, header=header, precision=text.precision) as writer:
        yield writer, kept


def write_matrix(path: str, array: np.ndarray, fmt: str | None = None, *,
                 stdout: BinaryIO | None = None) -> None:
    """Write a 2-D matrix to a file (atomically) or to stdout when path is "-"."""
    path = os.fspath(path)
    array = np.asarray(array)
    output_format(path, fmt)  # an unknown format is named before the array is looked at
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DataError(f"{path}: can only write 2-D numeric matrices, "
                        f"got shape {array.shape} of {array.dtype}")
    with MatrixWriter(path, array.shape[0], array.shape[1], fmt, dtype=array.dtype, stdout=stdout) as writer:
        writer.write(array)


def write_labels(path: str, labels: np.ndarray, fmt: str | None = None, *,
                 stdout: BinaryIO | None = None) -> None:
    """One label per row: .npy (ints, or strings) or text lines; "-" is stdout (text)."""
    if output_format(path, fmt)[0] == "npz":
        raise DataError(f"{path}: labels are written as .npy, .csv, .tsv or .txt")
    labels = np.asarray(labels)
    with MatrixWriter(path, len(labels), None, fmt, dtype=labels.dtype, stdout=stdout) as writer:
        writer.write(labels)


def write_probabilities(path: str, P: np.ndarray, classes: list, fmt: str | None = None, *,
                        stdout: BinaryIO | None = None) -> None:
    """One float32 column per class; text output starts with a header of the class names."""
    if output_format(path, fmt)[0] == "npz":
        raise DataError(f"{path}: probabilities are written as .npy, .csv, .tsv or .txt")
    with MatrixWriter(path, P.shape[0], P.shape[1], fmt, header=classes, stdout=stdout) as writer:
        writer.write(P)


def write_predictions(path: str, blocks, classes: list, proba: bool, fmt: str | None = None, *,
                      text: TextOutput = TextOutput(), rows=None) -> None:
    """Predicted labels, or with `proba` the class probabilities (under a header of the class
    names in text), a block of probabilities at a time as they come: text leaves block by block."""
    if output_format(path, fmt)[0] == "npz":
        what = "probabilities" if proba else "labels"
        raise DataError(f"{path}: {what} are written as .npy, .csv, .tsv or .txt")
    text.check(path, fmt)
    names = np.asarray(classes)
    if proba:
        with _text_writer(path, None, len(names), fmt, text, list(classes), rows) as (writer, kept):
            for P in blocks:
                writer.write(P, kept())
        return
    header = ["label"] if text.header else None
    with _text_writer(path, None, None, fmt, text, header, rows, dtype=names.dtype) as (writer, kept):
        for P in blocks:
            writer.write(names[P.argmax(axis=1)], kept())
