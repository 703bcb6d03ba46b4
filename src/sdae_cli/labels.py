"""Class labels in: a 1-D .npy, a text file with one label per row, or a column of the data's own
CSV. (Predictions go out through writing.py's write_labels and write_probabilities.)"""
from __future__ import annotations

import io
import os
import sys

import numpy as np

from .data import cell, decode_text, is_number, read_bytes
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
    holds the labels: set aside and the rest parsed by the core, with the input's own line and
    column numbers in any error."""
    from .text_reader import parse_text_kept

    name = "<stdin>" if path == "-" else path
    if os.path.splitext(name)[1].lower() in (".npy", ".npz"):
        raise DataError(f"{name}: --label-column takes a column of CSV/TSV text; give .npy labels with --labels")
    X, labels = parse_text_kept(name, _read_bytes(path), [column], flag="--label-column")
    return X, as_labels(labels)
