"""Big matrices a chunk at a time: reading a memory-mapped .npy with bounded resident memory,
and writing an output chunk by chunk (atomically for files, streamed for stdout)."""
from __future__ import annotations

import contextlib
import os
import mmap
import sys
import zipfile
from typing import BinaryIO, Iterator

import numpy as np

from .data import _output_format, _write_text, atomic_output, interrupts_deferred
from .errors import DataError


class MatrixWriter:
    """Write an (n_rows, n_cols) float32 matrix chunk by chunk with bounded memory.

    Use as a context manager. A file appears (atomically) only after a clean exit
    with exactly n_rows rows written; stdout ("-") is streamed directly, flushed at every chunk.
    n_rows None: as many as come (rows that flow in); NPY and NPZ, whose header gives the
    count, then hold the rows in a temporary file until the end.
    """

    def __init__(self, path: str, n_rows: int, n_cols: int, fmt: str | None = None,
                 stdout: BinaryIO | None = None):
        path = os.fspath(path)
        self.path, self.n_cols = path, int(n_cols)
        self.n_rows = None if n_rows is None else int(n_rows)
        self.kind, self.delimiter = _output_format(path, fmt)
        self.rows_written = 0
        # Closing the stack in order finishes the zip member, the zip, then the temp file.
        self._stack = contextlib.ExitStack()
        try:
            if path == "-":
                out = self._stdout = stdout if stdout is not None else sys.stdout.buffer
            else:
                out = self._stack.enter_context(atomic_output(path, "wb"))
            if self.kind == "npz":  # stream into a zip member; zip64 as it may exceed 2 GiB
                with interrupts_deferred():  # until the stack holds both to close them
                    archive = self._stack.enter_context(zipfile.ZipFile(out, "w", allowZip64=True))
                    out = self._stack.enter_context(archive.open("data.npy", "w", force_zip64=True))
            self._final = None
            if self.kind != "text" and self.n_rows is None:  # the header waits for the count
                import tempfile

                self._final, out = out, self._stack.enter_context(tempfile.TemporaryFile())
            elif self.kind != "text":
                self._header(out, self.n_rows)
        except BaseException as e:
            self._abort(e)
            raise
        self._out = out

    def _header(self, out, rows: int) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                  "fortran_order": False, "shape": (rows, self.n_cols)}
        np.lib.format.write_array_header_1_0(out, header)

    def __enter__(self) -> "MatrixWriter":
        return self

    def write(self, chunk: np.ndarray) -> None:
        chunk = np.asarray(chunk)
        if chunk.ndim != 2 or chunk.shape[1] != self.n_cols:
            raise DataError(f"{self.path}: chunk has shape {chunk.shape}, "
                            f"expected (rows, {self.n_cols})")
        if self.n_rows is not None and self.rows_written + chunk.shape[0] > self.n_rows:
            raise DataError(f"{self.path}: more than the announced {self.n_rows} rows written")
        chunk = np.ascontiguousarray(chunk, dtype="<f4")
        if self.kind == "text":
            _write_text(self._out, chunk, self.delimiter)
        else:
            self._out.write(chunk.tobytes())
        self.rows_written += chunk.shape[0]
        if self.path == "-" and self._final is None:
            self._out.flush()  # what is computed leaves at once: pipelines see rows as they come

    def close(self) -> None:
        if self._final is not None:  # the rows were held back: now the header, then them
            import shutil

            self._out.seek(0)
            self._header(self._final, self.rows_written)
            shutil.copyfileobj(self._out, self._final, 1 << 20)
        if self.n_rows is not None and self.rows_written != self.n_rows:
            error = DataError(f"{self.path}: {self.rows_written} rows written, "
                              f"expected {self.n_rows}")
            self._abort(error)
            raise error
        self._stack.close()  # renames the temp file into place
        if self.path == "-":
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
