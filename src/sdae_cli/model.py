"""The model: a stack of dA layers with its input scaling; encode, denoise, save and load."""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import __version__, _core, resources
from .data import iter_chunks
from .errors import DataError, ModelError
from .layer import ALIGNMENT, Layer, aligned_zeros
from .scaling import Scaler, check_finite
from .writing import atomic_output, write_npz

FORMAT_NAME = "sdae-model"
FORMAT_VERSION = 1
CHUNK_ROWS = 8192  # rows per pass in encode/denoise: bounds memory whatever the input size


def _gather(chunks_into, rows: int, width: int) -> np.ndarray:
    """A chunked pass into one array of all rows: chunks_into(out) yields the chunks, computed in
    place in `out` where it can (no copy at all), else copied in as they come."""
    out = aligned_zeros((rows, width))
    start = 0
    for chunk in chunks_into(out):
        if not np.may_share_memory(chunk, out):
            out[start:start + len(chunk)] = chunk
        start += len(chunk)
    return out


class _ChunkBuffers:
    """Where a chunked pass writes each chunk's result: into `into` (the caller's array of all
    rows), or one array reused for every chunk if the caller said it consumes each chunk at once
    (`reuse`: a fresh array per chunk costs a page fault and a page clear per 4 KB, a tenth of
    encode's time), or a fresh one."""

    def __init__(self, into: np.ndarray | None = None, reuse: bool = False) -> None:
        self._reused: np.ndarray | None = None
        self.into = into
        self.reuse = reuse
        self.start = 0  # the first row of the current chunk

    def out(self, rows: int, width: int) -> np.ndarray:
        if self.into is not None:
            view = self.into[self.start:self.start + rows]
            if view.ctypes.data % ALIGNMENT == 0:  # as every array the core writes
                return view
        if not self.reuse:
            return aligned_zeros((rows, width))
        array = self._reused
        if array is None or array.shape[0] < rows or array.shape[1] != width:
            array = self._reused = aligned_zeros((rows, width))
        return array[:rows]  # the first rows of a C-contiguous array: contiguous, same address


@dataclass
class SDAE:
    """A stacked denoising autoencoder: layers[0] reads the (scaled) input."""

    layers: list[Layer]
    scaler: Scaler = field(default_factory=Scaler)
    seed: int = 0
    history: list[list[dict]] = field(default_factory=list)  # per layer, per epoch: train/valid loss
    training: dict = field(default_factory=dict)  # the settings pretraining ran with
    # After fine-tuning: how ("supervised" or "reconstruct"), its settings and history.
    finetuning: dict = field(default_factory=dict)
    # Supervised models: the softmax layer on top, and the user's class labels in output order.
    head_W: np.ndarray | None = None  # (n_top, n_classes)
    head_b: np.ndarray | None = None  # (n_classes,)
    classes: list | None = None

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def sizes(self) -> list[int]:
        return [self.n_in] + [layer.n_hidden for layer in self.layers]

    # --- inference -----------------------------------------------------------------------------
    def check_input(self, X: np.ndarray, source: str) -> None:
        if X.ndim != 2 or X.shape[1] != self.n_in:
            cols = X.shape[1] if X.ndim == 2 else "?"
            raise DataError(f"{source}: has {cols} columns, the model expects {self.n_in}")

    # The iter_* methods yield one chunk of rows at a time. With reuse=True the next chunk
    # overwrites the last (for callers that write each chunk out at once); with `into`, an array
    # for all rows (from aligned_zeros), each chunk is computed in its rows of it.
    def iter_encode(self, X, layer: int | None = None, threads: int = 0, source: str = "data",
                    chunk_rows: int = CHUNK_ROWS, into: np.ndarray | None = None,
                    reuse: bool = False) -> Iterator[np.ndarray]:
        """Codes of layer `layer` (1-based; default the top), one chunk of rows at a time."""
        depth = len(self.layers) if layer is None else layer
        if not 1 <= depth <= len(self.layers):
            raise ValueError(f"layer {layer} out of range: the model has layers 1 to {len(self.layers)}")
        self.check_input(X, source)
        self._require_memory("encode", self.sizes[:depth + 1], X, threads, chunk_rows)
        from .stack import encoder_stack

        # One core call a chunk: it takes row panels through every layer while they are in cache.
        spec, theta = encoder_stack(self, depth)
        buffers = _ChunkBuffers(into, reuse)
        for start, chunk in iter_chunks(X, chunk_rows):
            buffers.start = start
            H = self._scaled_chunk(chunk, start, source)
            out = buffers.out(len(H), spec.n_out)
            _core.stack_forward(spec, theta, H, out, threads)
            yield out

    def iter_denoise(self, X, threads: int = 0, source: str = "data", chunk_rows: int = CHUNK_ROWS,
                     into: np.ndarray | None = None, reuse: bool = False) -> Iterator[np.ndarray]:
        """Up through every layer and back down, in the input's original units, a chunk at a time
        (`into` and `reuse` as for iter_encode; with scaling to undo, every chunk is a new array)."""
        self.check_input(X, source)
        self._require_memory("denoise", self.sizes + self.sizes[-2::-1], X, threads, chunk_rows)
        unscaled = self.scaler.kind == "none"
        buffers = _ChunkBuffers(into if unscaled else None, reuse and unscaled)
        reconstruct = self._reconstructor(threads, buffers)
        for start, chunk in iter_chunks(X, chunk_rows):
            buffers.start = start
            yield self.scaler.inverse(reconstruct(self._scaled_chunk(chunk, start, source)))

    def _reconstructor(self, threads: int, buffers: _ChunkBuffers):
        """A function from a scaled chunk to its reconstruction through the whole stack (into
        buffers.out): the unrolled chain, one core call a chunk."""
        from .stack import unrolled_stack

        spec, theta = unrolled_stack(self, for_training=False)

        def reconstruct(H: np.ndarray) -> np.ndarray:
            out = buffers.out(len(H), spec.n_out)
            _core.stack_forward(spec, theta, H, out, threads)
            return out
        return reconstruct

    def iter_predict_proba(self, X, threads: int = 0, source: str = "data",
                           chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        """Class probabilities (rows, n_classes), columns in the order of self.classes."""
        if self.head_W is None:
            raise ModelError("the model has no classifier; fine-tune it with labels first (sdae finetune --labels)")
        from .stack import classifier_stack

        self.check_input(X, source)
        self._require_memory("predict", self.sizes + [len(self.classes)], X, threads, chunk_rows)
        spec, theta = classifier_stack(self)
        for start, chunk in iter_chunks(X, chunk_rows):
            P = aligned_zeros((chunk.shape[0], spec.n_out))
            _core.stack_forward(spec, theta, self._scaled_chunk(chunk, start, source), P, threads)
            yield P

    def iter_score(self, X, threads: int = 0, source: str = "data",
                   chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
        """Per-row reconstruction error (rows, 1): the mean squared difference between the scaled
        input and its reconstruction through the whole stack. High scores flag unusual rows."""
        self.check_input(X, source)
        self._require_memory("score", self.sizes + self.sizes[-2::-1], X, threads, chunk_rows)
        reconstruct = self._reconstructor(threads, _ChunkBuffers(reuse=True))  # Z stays inside
        for start, chunk in iter_chunks(X, chunk_rows):
            scaled = self._scaled_chunk(chunk, start, source)
            Z = reconstruct(scaled)
            yield np.mean((Z - scaled) ** 2, axis=1, dtype=np.float64).astype(np.float32)[:, None]

    def predict_proba(self, X, threads: int = 0) -> np.ndarray:
        return _gather(lambda into: self.iter_predict_proba(X, threads), X.shape[0], len(self.classes or []))

    def predict(self, X, threads: int = 0) -> np.ndarray:
        """The user's labels, as a NumPy array of their type (int or str)."""
        index = self.predict_proba(X, threads).argmax(axis=1)
        return np.asarray(self.classes)[index]

    def score(self, X, threads: int = 0) -> np.ndarray:
        return _gather(lambda into: self.iter_score(X, threads), X.shape[0], 1)[:, 0]

    def encode(self, X, layer: int | None = None, threads: int = 0) -> np.ndarray:
        depth = len(self.layers) if layer is None else layer
        width = self.layers[depth - 1].n_hidden if 1 <= depth <= len(self.layers) else 0  # else iter_encode says
        return _gather(lambda into: self.iter_encode(X, layer, threads, into=into), X.shape[0], width)

    def denoise(self, X, threads: int = 0) -> np.ndarray:
        return _gather(lambda into: self.iter_denoise(X, threads, into=into), X.shape[0], self.n_in)

    def decode(self, H, threads: int = 0) -> np.ndarray:
        """Top codes H (rows, n_top) back down through every decoder, in the input's original
        units: the inverse of encode, as far as the autoencoder learned it."""
        from .stack import decoder_stack

        H = np.ascontiguousarray(H, dtype=np.float32)
        if H.ndim != 2 or H.shape[1] != self.layers[-1].n_hidden:
            cols = H.shape[1] if H.ndim == 2 else "?"
            raise DataError(f"codes: have {cols} columns, the model's top layer has {self.layers[-1].n_hidden}")
        check_finite(H, "codes")
        self._require_memory("denoise", self.sizes[::-1], H, threads, max(len(H), 1))
        spec, theta = decoder_stack(self)
        out = aligned_zeros((H.shape[0], self.n_in))
        _core.stack_forward(spec, theta, H, out, threads)
        return self.scaler.inverse(out)

    def _require_memory(self, job: str, chain: list[int], X, threads: int, chunk_rows: int) -> None:
        """Before a pass's first allocation: refuses one that cannot fit (chain: the widths data
        goes through, input first)."""
        rows = X.shape[0] if X.shape[0] is not None else chunk_rows  # rows that flow: a block at a time
        resources.require(job, resources.inference_parts(job, chain, rows, self.scaler.kind != "none",
                                                         threads, chunk_rows))

    def _scaled_chunk(self, chunk, start: int, source: str) -> np.ndarray:
        check_finite(chunk, source, first_row=start)
        return self.scaler.transform(chunk, source)

    # --- the file ------------------------------------------------------------------------------
    def meta(self) -> dict:
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "tool_version": __version__,
            "sizes": self.sizes,
            "layers": [layer.describe() for layer in self.layers],
            "scaling": self.scaler.kind,
            "seed": self.seed,
            "training": self.training,
            "history": self.history,
            "finetuning": self.finetuning,
            "classes": self.classes,
        }

    def arrays(self) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {"meta": np.array(json.dumps(self.meta()))}
        for k, layer in enumerate(self.layers):
            for name, value in layer.params().items():
                out[f"{name}{k}"] = value
        out.update(self.scaler.to_arrays())
        if self.head_W is not None:
            out["head_W"], out["head_b"] = self.head_W, self.head_b
        return out

    def save(self, path: str) -> None:
        """Writes the .npz atomically: a reader never sees a half-written model."""
        for k, layer in enumerate(self.layers):
            if not np.all(np.isfinite(layer.theta)):
                raise ModelError(f"{path}: layer {k + 1} has non-finite parameters; not saved")
        if self.head_W is not None and not np.all(np.isfinite(self.head_W)):
            raise ModelError(f"{path}: the classifier has non-finite parameters; not saved")
        with atomic_output(path) as f:
            write_npz(f, self.arrays())

    @classmethod
    def load(cls, path: str) -> SDAE:
        """Reads and validates a model file; never unpickles anything."""
        try:
            # Our own handle: np.load leaves its file open when a damaged archive fails to parse.
            with open(path, "rb") as f:
                if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                    raise ModelError(f"{path}: not an sdae model file (not an .npz archive)")
                f.seek(0)
                with np.load(f, allow_pickle=False) as npz:
                    arrays = {name: npz[name] for name in npz.files}
        except ModelError:
            raise
        except FileNotFoundError:
            raise ModelError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ModelError(f"{path}: is a directory, expected a model file") from None
        except PermissionError:
            raise ModelError(f"{path}: permission denied") from None
        except Exception as e:  # anything a damaged or hostile archive makes NumPy raise
            if "pickle" in str(e).lower():
                raise ModelError(f"{path}: holds pickled objects, which sdae refuses to load") from None
            raise ModelError(f"{path}: not an sdae model file (not a readable .npz: {e})") from None
        try:
            return cls.from_arrays(arrays)
        except ModelError as e:
            raise ModelError(f"{path}: {e}") from None
        except Exception as e:  # a well-formed archive whose contents are not ours
            raise ModelError(f"{path}: not a valid sdae model ({type(e).__name__}: {e})") from None

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> SDAE:
        if "meta" not in arrays or arrays["meta"].dtype.kind != "U" or arrays["meta"].shape != ():
            raise ModelError("not an sdae model (no 'meta' entry)")
        meta = json.loads(str(arrays["meta"]))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
            raise ModelError("not an sdae model (wrong 'format' in meta)")
        version = meta.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ModelError(
                f"model format version {version} is newer than this sdae ({__version__}) reads "
                f"(version {FORMAT_VERSION}); upgrade sdae"
            )
        layers = []
        for k, desc in enumerate(meta["layers"]):
            layer = Layer(**{key: desc[key] for key in (
                "n_in", "n_hidden", "activation", "decoder", "tied", "loss", "noise_type", "noise_level")})
            if k and layer.n_in != layers[-1].n_hidden:
                raise ModelError(f"layer {k + 1} takes {layer.n_in} inputs but layer {k} gives {layers[-1].n_hidden}")
            for name, view in layer.params().items():
                stored = arrays.get(f"{name}{k}")
                if stored is None or stored.shape != view.shape or stored.dtype != np.float32:
                    raise ModelError(f"entry {name}{k} missing or not {view.shape} float32")
                if not np.all(np.isfinite(stored)):
                    raise ModelError(f"entry {name}{k} holds NaN or infinite values")
                view[...] = stored
            layers.append(layer)
        if not layers:
            raise ModelError("the model has no layers")
        scaler = Scaler.from_arrays(meta["scaling"], arrays, layers[0].n_in)
        model = cls(layers, scaler, int(meta.get("seed", 0)), meta.get("history", []), meta.get("training", {}),
                    meta.get("finetuning") or {})
        classes = meta.get("classes")
        if classes is not None:
            expected = (layers[-1].n_hidden, len(classes))
            head_W, head_b = arrays.get("head_W"), arrays.get("head_b")
            if head_W is None or head_W.shape != expected or head_W.dtype != np.float32:
                raise ModelError(f"entry head_W missing or not {expected} float32")
            if head_b is None or head_b.shape != expected[1:] or head_b.dtype != np.float32:
                raise ModelError(f"entry head_b missing or not ({expected[1]},) float32")
            if not (np.all(np.isfinite(head_W)) and np.all(np.isfinite(head_b))):
                raise ModelError("the classifier holds NaN or infinite values")
            model.head_W, model.head_b, model.classes = head_W, head_b, list(classes)
        return model
