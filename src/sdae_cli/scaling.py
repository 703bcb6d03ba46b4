"""Input scaling fitted at pretraining, stored in the model, applied by encode and denoise."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .options import SCALINGS

FLOAT32_MAX = float(np.finfo(np.float32).max)  # the core computes in float32: beyond this is infinity


@dataclass
class Scaler:
    """x_scaled = (x - shift) / scale, per column. kind is "none", "minmax" or "standard"."""

    kind: str = "none"
    shift: np.ndarray | None = None  # (n_features,) float64
    scale: np.ndarray | None = None  # (n_features,) float64
    constant_columns: int = 0  # columns that did not vary when fitted (they scale to 0)

    @classmethod
    def fit(cls, X: np.ndarray, kind: str) -> Scaler:
        """Fits on X (rows, n_features). "auto": min-max when X leaves [0, 1], else none."""
        if kind not in SCALINGS:
            raise ValueError(f"unknown scaling {kind!r}; choose one of {', '.join(SCALINGS)}")
        if kind == "none":
            return cls("none")
        lo, hi, mean, std = column_stats(X)
        if kind == "auto":
            kind = "none" if lo.min() >= 0.0 and hi.max() <= 1.0 else "minmax"
            if kind == "none":
                return cls("none")
        if kind == "minmax":
            span = hi - lo
            # A constant column maps to 0 rather than dividing by zero.
            return cls("minmax", lo, np.where(span > 0, span, 1.0), int(np.count_nonzero(span == 0)))
        return cls("standard", mean, np.where(std > 0, std, 1.0), int(np.count_nonzero(std == 0)))

    def transform(self, X: np.ndarray, source: str = "data") -> np.ndarray:
        """float32, C-contiguous; no copy when there is nothing to do. Refuses values that scale
        beyond float32's range (data far outside what the scaling was fitted on), which would
        otherwise reach the core as infinities."""
        if self.kind == "none":
            return np.ascontiguousarray(X, dtype=np.float32)
        out = (np.asarray(X, dtype=np.float64) - self.shift) / self.scale
        if out.size and not np.abs(out).max() <= FLOAT32_MAX:
            raise DataError(f"{source}: values scale beyond float32's range (the model's {self.kind} scaling was "
                            "fitted on far smaller values)")
        return np.ascontiguousarray(out, dtype=np.float32)

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        """Back to the units of the data the scaler was fitted on."""
        if self.kind == "none":
            return Z
        return (Z.astype(np.float64) * self.scale + self.shift).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        if self.kind == "none":
            return {}
        return {"scale_shift": self.shift, "scale_scale": self.scale}

    @classmethod
    def from_arrays(cls, kind: str, arrays: dict[str, np.ndarray], n_features: int) -> Scaler:
        if kind == "none":
            return cls("none")
        if kind not in ("minmax", "standard"):
            raise ValueError(f"unknown scaling {kind!r}")
        shift, scale = arrays.get("scale_shift"), arrays.get("scale_scale")
        for name, a in (("scale_shift", shift), ("scale_scale", scale)):
            if a is None or a.shape != (n_features,) or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} missing or not ({n_features},) finite values")
        if np.any(scale == 0):
            raise ValueError("scale_scale holds a zero")
        return cls(kind, shift.astype(np.float64), scale.astype(np.float64))


def column_stats(X: np.ndarray, chunk_rows: int = 65536):
    """Per-column min, max, mean and std in float64, a chunk at a time (X may be memory-mapped)."""
    n = X.shape[0]
    lo = np.full(X.shape[1], np.inf)
    hi = np.full(X.shape[1], -np.inf)
    total = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        block = np.asarray(X[start : start + chunk_rows], dtype=np.float64)
        lo = np.minimum(lo, block.min(axis=0))
        hi = np.maximum(hi, block.max(axis=0))
        total += block.sum(axis=0)
    mean = total / n
    sq = np.zeros(X.shape[1])
    for start in range(0, n, chunk_rows):
        block = np.asarray(X[start : start + chunk_rows], dtype=np.float64) - mean
        sq += np.einsum("ij,ij->j", block, block)
    return lo, hi, mean, np.sqrt(sq / n)


def check_finite(X: np.ndarray, source: str, chunk_rows: int = 65536, first_row: int = 0) -> None:
    """Raises DataError naming how many values are NaN or infinite, or (in float64 data) too large
    for float32, which the data becomes, and where the first is."""
    if X.dtype.kind in "biu":
        return
    wide = X.dtype.itemsize > 4
    counts, firsts = [0, 0], [None, None]  # NaN or infinite; beyond float32
    for start in range(0, X.shape[0], chunk_rows):
        block = X[start : start + chunk_rows]
        finite = np.isfinite(block)
        for kind, bad in enumerate((~finite, finite & (np.abs(block) > FLOAT32_MAX) if wide else None)):
            count = int(np.count_nonzero(bad)) if bad is not None else 0
            if count and firsts[kind] is None:
                r, c = np.argwhere(bad)[0]
                firsts[kind] = (first_row + start + int(r), int(c))
            counts[kind] += count
    for kind, (count, first) in enumerate(zip(counts, firsts)):
        if count:
            what = (f"NaN or infinite value{'s' if count > 1 else ''}",
                    f"value{'s' if count > 1 else ''} beyond float32's range (±3.4e38)")[kind]
            advice = ("remove or impute them first", "sdae computes in float32: rescale them first")[kind]
            raise DataError(f"{source}: {count} {what}, the first at row {first[0] + 1}, column {first[1] + 1}; "
                            f"{advice}")
