"""Class labels in and out: a 1-D .npy, a text file with one label per row, or a column of the
data's own CSV; predictions written back as the user's own labels."""
from __future__ import annotations

import io
import os
import sys

import numpy as np

from .data import _cell, _decode, _is_number, _parse_text, _pick_delimiter, _read_bytes as read_file_bytes
from .data import _output_format, atomic_output
from .errors import DataError


def _read_bytes(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else read_file_bytes(path)


def as_labels(values: list[str]) -> np.ndarray:
    """Integers when every label is one, else strings."""
    try:
        return np.array([int(v) for v in values], dtype=np.int64)
    except (ValueError, OverflowError):  # names, or integers too long to be class numbers
        return np.array(values, dtype=str)


def read_labels(path: str) -> np.ndarray:
    """One label per row: a 1-D (or one-column) .npy, or text with one label per line."""
    raw = _read_bytes(path)
    name = "<stdin>" if path == "-" else path
    if raw.startswith(b"\x93NUMPY"):
        try:
            labels = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as e:  # any malformed file: say so in one line
            raise DataError(f"{name}: not a valid NPY file of labels ({e})") from None
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1 or labels.dtype.kind not in "biufU":
            raise DataError(f"{name}: expected one label per row (a 1-D array of numbers or strings), "
                            f"got shape {labels.shape} dtype {labels.dtype}")
        return labels
    if os.path.splitext(name)[1].lower() == ".npz":
        raise DataError(f"{name}: give labels as .npy, .csv or .txt")
    lines = [_cell(line.strip()) for line in _decode(name, raw).splitlines() if line.strip()]
    if len(lines) > 1 and not _is_number(lines[0]) and all(_is_number(v) for v in lines[1:]):
        lines = lines[1:]  # a header over numeric labels
    if not lines:
        raise DataError(f"{name}: no labels")
    return as_labels(lines)


def split_label_column(path: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(data, labels) from a CSV whose column `column` (a header name, or a 0-based index)
    holds the labels."""
    raw = _read_bytes(path)
    name = "<stdin>" if path == "-" else path
    lines = [line.rstrip("\r") for line in _decode(name, raw).split("\n")]
    rows = [i for i, line in enumerate(lines) if line.strip()]
    if not rows:
        raise DataError(f"{name}: no data rows (the file is empty)")
    delimiter = _pick_delimiter([lines[i] for i in rows[:5]])
    first = [_cell(c) for c in lines[rows[0]].split(delimiter)]
    if column.lstrip("-").isdigit():
        index = int(column)
        if not 0 <= index < len(first):
            raise DataError(f"{name}: --label-column {index} out of range: the file has columns 0 to {len(first) - 1}")
        others = [c for j, c in enumerate(first) if j != index]
        header = not all(_is_number(c) for c in others)
    elif column in first:
        index, header = first.index(column), True
    else:
        raise DataError(f"{name}: no column named {column!r} (the header has {', '.join(first[:8])})")
    labels = []
    for i in rows[header:]:
        cells = lines[i].split(delimiter)
        if index >= len(cells):
            raise DataError(f"{name}: line {i + 1} has {len(cells)} fields, expected {len(first)}")
        labels.append(_cell(cells[index]))
        cells[index] = "0"  # parsed with the rest, so error messages keep their column numbers
        lines[i] = delimiter.join(cells) if delimiter is not None else " ".join(cells)
    data = _parse_text(name, "\n".join(lines).encode("utf-8"))
    return np.delete(data, index, axis=1), as_labels(labels)


def write_labels(path: str, labels: np.ndarray, fmt: str | None = None) -> None:
    """One label per row: .npy (ints, or strings) or text lines; "-" is stdout (text)."""
    kind = _output_format(path, fmt)[0]
    if kind == "npz":
        raise DataError(f"{path}: labels are written as .npy, .csv, .tsv or .txt")

    def emit(out):
        if kind == "npy":
            np.save(out, np.asarray(labels), allow_pickle=False)
        else:
            out.write("".join(f"{v}\n" for v in labels.tolist()).encode("utf-8"))

    _write(path, emit)


def write_probabilities(path: str, P: np.ndarray, classes: list, fmt: str | None = None) -> None:
    """One column per class; CSV output starts with a header of the class names."""
    kind, delimiter = _output_format(path, fmt)
    if kind == "npz":
        raise DataError(f"{path}: probabilities are written as .npy, .csv, .tsv or .txt")

    def emit(out):
        if kind == "npy":
            np.save(out, P.astype(np.float32), allow_pickle=False)
            return
        out.write((delimiter.join(map(str, classes)) + "\n").encode("utf-8"))
        row = delimiter.join(["%.9g"] * P.shape[1]) + "\n"  # round-trips float32
        out.write("".join(row % tuple(r) for r in P.tolist()).encode("ascii"))

    _write(path, emit)


def write_predictions(path: str, blocks, classes: list, proba: bool, fmt: str | None = None) -> None:
    """Predictions a block of probabilities at a time: labels (or, with proba, the probabilities
    under a header of the class names). Text leaves as each block is done (flushed on stdout);
    an .npy needs every row first."""
    kind, delimiter = _output_format(path, fmt)
    if kind == "npz":
        what = "probabilities" if proba else "labels"
        raise DataError(f"{path}: {what} are written as .npy, .csv, .tsv or .txt")
    names = np.asarray(classes)
    if kind == "npy":
        P = np.concatenate(list(blocks))
        if proba:
            write_probabilities(path, P, classes, fmt)
        else:
            write_labels(path, names[P.argmax(axis=1)], fmt)
        return

    def emit(out):
        from . import _core

        if proba:
            out.write((delimiter.join(map(str, classes)) + "\n").encode("utf-8"))
        for P in blocks:
            if proba:  # the shortest text that reads back to each float32
                out.write(_core.format_text(np.ascontiguousarray(P, dtype=np.float32), delimiter))
            else:
                out.write("".join(f"{v}\n" for v in names[P.argmax(axis=1)].tolist()).encode("utf-8"))
            if path == "-":
                out.flush()

    _write(path, emit)


def _write(path: str, emit) -> None:
    """emit(binary file) to stdout for "-", else atomically to path."""
    if path == "-":
        emit(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    with atomic_output(path) as out:
        emit(out)
