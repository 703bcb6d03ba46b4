"""Pictures of what a model learned, as PNG files: its filters, its learning curves, and
reconstructions of a few rows. Needs matplotlib (`pip install 'sdae[plot]'`).

Tiled pictures (filters, reconstructions) are drawn pixel for pixel, not through axes: each
tile is one image, every tile's pixel is `zoom` screen pixels, and tiles are separated by a
one-pixel dark blue border (a colour, which cannot occur inside a tile, whose pixels are grey), so a tile grid
can be read back from the file. Matplotlib is used through its object API only: no pyplot,
no backend switch, nothing process-wide.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ModelError, SdaeError

BORDER = (0.1, 0.15, 0.4)  # dark blue: the tiles are grey, so a border pixel is never taken for one
TILE_PIXELS = 32  # tiles are zoomed to at least this many screen pixels on their longer side


def require_matplotlib():
    """The matplotlib module, or one line saying how to get it."""
    try:
        import matplotlib
        import matplotlib.figure
        import matplotlib.image
    except ImportError:
        raise SdaeError("pictures need matplotlib: pip install 'sdae[plot]' (or pip install matplotlib)") from None
    return matplotlib


@dataclass(frozen=True)
class Grid:
    """Where the tiles of a tiled picture are: `rows` x `cols` slots of `tile` (height, width)
    pixels of data, each shown `zoom` times larger, a one-pixel border (before zooming) around
    and between them; the first `count` slots, row by row, hold tiles, the rest are border."""

    rows: int
    cols: int
    tile: tuple[int, int]
    count: int
    zoom: int

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the picture in pixels."""
        h, w = self.tile
        return (self.zoom * (self.rows * (h + 1) + 1), self.zoom * (self.cols * (w + 1) + 1))


def parse_image_shape(text: str | None, n_in: int) -> tuple[int, int]:
    """'28x28' as (28, 28), checked against the model's input width; None infers a square."""
    if text is None:
        side = math.isqrt(n_in)
        if side * side != n_in:
            raise SdaeError(f"the model's {n_in} inputs are not a square image; give --image-shape HxW")
        return side, side
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise SdaeError(f"--image-shape {text!r}: expected HEIGHTxWIDTH, e.g. 28x28")
    h, w = int(parts[0]), int(parts[1])
    if h * w != n_in:
        raise SdaeError(f"--image-shape {text}: {h}x{w} = {h * w} pixels, but the model has {n_in} inputs")
    return h, w


def tile_grid(images: np.ndarray, cols: int | None = None) -> tuple[np.ndarray, Grid]:
    """Tiles images (count, h, w) of grey values in [0, 1] into one RGB picture, as the SdA
    tutorial's tile_raster_images: `cols` per row (default: a square-ish grid)."""
    count, h, w = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    grid = Grid(rows, cols, (h, w), count, max(1, math.ceil(TILE_PIXELS / max(h, w))))
    picture = np.empty((rows * (h + 1) + 1, cols * (w + 1) + 1, 3), np.float32)
    picture[...] = BORDER
    for i in range(count):
        r, c = divmod(i, cols)
        top, left = 1 + r * (h + 1), 1 + c * (w + 1)
        picture[top:top + h, left:left + w, :] = np.clip(images[i], 0.0, 1.0)[:, :, None]
    picture = np.repeat(np.repeat(picture, grid.zoom, axis=0), grid.zoom, axis=1)
    return picture, grid


def each_to_unit_range(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to [0, 1] on its own range (a constant row becomes mid grey)."""
    v = np.asarray(vectors, np.float64)
    lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
    span = hi - lo
    return np.where(span > 0, (v - lo) / np.where(span > 0, span, 1.0), 0.5)


def filter_weights(model, layer: int = 1) -> np.ndarray:
    """(n_in, n_hidden of `layer`): for layer 1 its weights; for a deeper layer, the product of
    the weights from the input up to it, the input pattern each of its units responds to most
    in the linear approximation (Erhan et al. 2009 compare it with activation maximisation)."""
    if not 1 <= layer <= len(model.layers):
        raise SdaeError(f"--layer {layer} is out of range: the model has layers 1 to {len(model.layers)}")
    W = model.layers[0].params()["W"].astype(np.float64)
    for lay in model.layers[1:layer]:
        W = W @ lay.params()["W"].astype(np.float64)
    return W


def save_picture(picture: np.ndarray, path: str) -> None:
    """An RGB array written as a PNG of exactly its pixel size, atomically."""
    require_matplotlib()
    import matplotlib.image

    from .writing import atomic_output

    with atomic_output(path) as f:
        matplotlib.image.imsave(f, picture, format="png")


def filters(model, path: str, image_shape: str | None = None, layer: int = 1) -> Grid:
    """Writes the filters of `layer`'s units, one tile each, every tile on its own grey range.
    Returns the grid."""
    require_matplotlib()
    h, w = parse_image_shape(image_shape, model.n_in)
    W = filter_weights(model, layer)
    picture, grid = tile_grid(each_to_unit_range(W.T).reshape(-1, h, w))
    save_picture(picture, path)
    return grid


def corrupted_copy(model, X: np.ndarray, seed: int = 0, threads: int = 0) -> np.ndarray:
    """X corrupted as the first layer was trained (its noise type and level), in X's units."""
    from . import _core
    from .layer import CORE_NOISE

    first = model.layers[0]
    scaled = model.scaler.transform(X, "data")
    noisy = np.empty_like(scaled)
    low, high = (float(scaled.min()), float(scaled.max())) if scaled.size else (0.0, 1.0)
    _core.corrupt(scaled, noisy, CORE_NOISE[first.noise_type], first.noise_level, low, high, seed, 0, 0, threads)
    return model.scaler.inverse(noisy)


def reconstructions(model, X: np.ndarray, path: str, image_shape: str | None = None, samples: int = 10,
                    threads: int = 0) -> Grid:
    """Writes three rows of tiles for the first `samples` rows of X: the input, the input
    corrupted as the first layer was trained, and that corrupted input denoised through the
    stack. All tiles share one grey scale (the inputs' range), so they compare. Returns the grid."""
    require_matplotlib()
    h, w = parse_image_shape(image_shape, model.n_in)
    model.check_input(X, "data")
    if X.shape[0] == 0:
        raise SdaeError("data: no rows to reconstruct")
    from .scaling import check_finite

    check_finite(X[:samples], "data")  # before float32: 1e300 would become inf in the cast
    clean = np.asarray(X[:samples], np.float32)
    noisy = corrupted_copy(model, clean, threads=threads)
    denoised = model.denoise(noisy, threads=threads)
    lo, hi = float(clean.min()), float(clean.max())
    span = hi - lo if hi > lo else 1.0
    images = (np.concatenate([clean, noisy, denoised]).astype(np.float64) - lo) / span
    picture, grid = tile_grid(images.reshape(-1, h, w), cols=len(clean))
    save_picture(picture, path)
    return grid


def stages(model) -> list[dict]:
    """Each training stage in the model's metadata (every pretrained layer, then fine-tuning) as
    {"title", "epoch", "train", "valid", "valid_error"}: lists of numbers (None where a record
    has none), or None for a series no record has. Metadata that is not such records is refused
    in one line: it comes from a file, which may have been damaged or made elsewhere."""
    named = [(f"layer {k + 1} ({lay.n_in}->{lay.n_hidden})", history)
             for k, (lay, history) in enumerate(zip(model.layers, model.history or []))]
    tuned = model.finetuning or {}
    if tuned.get("history"):
        named.append((f"fine-tuning ({tuned.get('target', '')})", tuned["history"]))
    out = []
    try:
        for title, records in named:
            stage = {"title": title, "epoch": [int(r["epoch"]) for r in records]}
            for key in ("train", "valid", "valid_error"):
                values = [None if r.get(key) is None else float(r[key]) for r in records]
                stage[key] = values if any(v is not None for v in values) else None
            out.append(stage)
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise ModelError(f"damaged training history in the model's metadata ({type(e).__name__}: {e})") from None
    return out


def curves(model, path: str) -> list[dict]:
    """Writes one panel per stage: training and validation loss per epoch, and the validation
    error (right axis) where fine-tuning classified with held-out rows. Returns the stages
    drawn, as stages() gives them."""
    require_matplotlib()
    from matplotlib.figure import Figure

    from .writing import atomic_output

    panels = [stage for stage in stages(model) if stage["epoch"]]
    if not panels:
        raise SdaeError("the model holds no training history to plot (epochs 0, or made outside sdae)")
    fig = Figure(figsize=(4.0 * len(panels), 3.2), dpi=100, layout="constrained")
    for i, stage in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key, style in (("train", "-"), ("valid", "--")):
            if stage[key] is not None:
                ax.plot(stage["epoch"], [np.nan if v is None else v for v in stage[key]], style, marker=".",
                        label=f"{key} loss")
        if stage["valid_error"] is not None:
            right = ax.twinx()
            right.plot(stage["epoch"], [np.nan if e is None else 100 * e for e in stage["valid_error"]], ":",
                       color="tab:red", marker=".", label="valid error")
            right.set_ylabel("validation error (%)")
        ax.set_title(stage["title"])
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(loc="upper right", fontsize="small")
    with atomic_output(path) as f:
        fig.savefig(f, format="png")
    return panels
