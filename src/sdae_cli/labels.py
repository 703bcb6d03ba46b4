"""Class labels in: a 1-D .npy, a text file with one label per row, or a column of the data's own
CSV. (Predictions go out through writing.py's write_labels and write_probabilities.)"""
from __future__ import annotations

import io
import os
import sys

import numpy as np

from .data import cell, decode_text, is_number, parse_text, pick_delimiter, read_bytes
from .errors import DataError


def _read_bytes(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else read_bytes(path)


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
    lines = [cell(line.strip()) for line in decode_text(name, raw).splitlines() if line.strip()]
    if len(lines) > 1 and not is_number(lines[0]) and all(is_number(v) for v in lines[1:]):
        lines = lines[1:]  # a header over numeric labels
    if not lines:
        raise DataError(f"{name}: no labels")
    return as_labels(lines)


def split_label_column(path: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(data, labels) from a CSV whose column `column` (a header name, or a 0-based index)
    holds the labels."""
    raw = _read_bytes(path)
    name = "<stdin>" if path == "-" else path
    lines = [line.rstrip("\r") for line in decode_text(name, raw).split("\n")]
    rows = [i for i, line in enumerate(lines) if line.strip()]
    if not rows:
        raise DataError(f"{name}: no data rows (the file is empty)")
    delimiter = pick_delimiter([lines[i] for i in rows[:5]])
    first = [cell(c) for c in lines[rows[0]].split(delimiter)]
    if column.lstrip("-").isdigit():
        index = int(column)
        if not 0 <= index < len(first):
            raise DataError(f"{name}: --label-column {index} out of range: the file has columns 0 to {len(first) - 1}")
        others = [c for j, c in enumerate(first) if j != index]
        header = not all(is_number(c) for c in others)
    elif column in first:
        index, header = first.index(column), True
    else:
        raise DataError(f"{name}: no column named {column!r} (the header has {', '.join(first[:8])})")
    labels = []
    for i in rows[header:]:
        cells = lines[i].split(delimiter)
        if index >= len(cells):
            raise DataError(f"{name}: line {i + 1} has {len(cells)} fields, expected {len(first)}")
        labels.append(cell(cells[index]))
        cells[index] = "0"  # parsed with the rest, so error messages keep their column numbers
        lines[i] = delimiter.join(cells) if delimiter is not None else " ".join(cells)
    data = parse_text(name, "\n".join(lines).encode("utf-8"))
    return np.delete(data, index, axis=1), as_labels(labels)
