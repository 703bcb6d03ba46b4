"""Small real datasets shipped with sdae, for the demo and the tests."""
from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 8x8 handwritten digits of UCI optdigits (1,797 rows, 64 pixels valued 0..16),
    as distributed with scikit-learn. Returns (X float32 (1797, 64), y int64 (1797,))."""
    with resources.files(__name__).joinpath("digits.csv.gz").open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float32)
    return table[:, :-1], table[:, -1].astype(np.int64)
