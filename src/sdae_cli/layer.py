"""One trained (or to be trained) denoising-autoencoder layer: its architecture and parameters."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _core
from .options import ACTIVATIONS, DECODERS, LOSSES, NOISE_TYPES, OPTIMIZERS

# The user's names (options.py) for the core's enums: the one place that maps them.
CORE_ACTIVATION = {name: getattr(_core.Activation, name) for name in (*ACTIVATIONS, "linear")}
CORE_LOSS = {"cross-entropy": _core.Loss.cross_entropy, "mse": _core.Loss.squared_error}
CORE_NOISE = {
    "masking": _core.NoiseType.masking,
    "gaussian": _core.NoiseType.gaussian,
    "salt-pepper": _core.NoiseType.salt_pepper,
    "none": _core.NoiseType.none,
}
CORE_OPTIMIZER = {name: getattr(_core.Optimizer, name) for name in OPTIMIZERS}


ALIGNMENT = 64  # bytes: a cache line, and the widest vector register


def aligned_zeros(shape, dtype=np.float32) -> np.ndarray:
    """Zeros at a 64-byte aligned address. Eigen's vectorised loops peel scalar iterations up to
    an aligned address, so where an array sits changes the last bits of what is computed into
    it; aligning every parameter and output array makes the same seed give the same model in
    every process, not only within one."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    raw = np.zeros(count * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + count * dtype.itemsize].view(dtype).reshape(shape)


def aligned_copy(array: np.ndarray, dtype=np.float32) -> np.ndarray:
    out = aligned_zeros(np.shape(array), dtype)
    out[...] = array
    return out


@dataclass
class Layer:
    """A dA layer. theta holds every parameter in one float32 vector; W, b, c, Wd are views of it."""

    n_in: int
    n_hidden: int
    activation: str = "sigmoid"
    decoder: str = "sigmoid"
    tied: bool = True
    loss: str = "cross-entropy"
    noise_type: str = "masking"
    noise_level: float = 0.0
    theta: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    # The values the layer's input spans in training (salt-and-pepper noise sets inputs to these
    # ends); a training-time setting, not stored in the model file.
    value_range: tuple[float, float] = field(default=(0.0, 1.0), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder {self.decoder!r}: choose one of {', '.join(DECODERS)}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss {self.loss!r}: choose one of {', '.join(LOSSES)}")
        if self.noise_type not in NOISE_TYPES:
            raise ValueError(f"noise type {self.noise_type!r}: choose one of {', '.join(NOISE_TYPES)}")
        self.spec = _core.LayerSpec(
            self.n_in, self.n_hidden, self.tied, CORE_ACTIVATION[self.activation], CORE_ACTIVATION[self.decoder]
        )
        if self.theta is None:
            self.theta = aligned_zeros(self.spec.size)
        if self.theta.shape != (self.spec.size,) or self.theta.dtype != np.float32:
            raise ValueError(f"theta: expected ({self.spec.size},) float32, got {self.theta.shape} {self.theta.dtype}")
        if self.theta.ctypes.data % ALIGNMENT:
            self.theta = aligned_copy(self.theta)

    def __deepcopy__(self, memo) -> Layer:
        return Layer(**self.describe(), theta=self.theta.copy())

    def params(self) -> dict[str, np.ndarray]:
        """The parameter blocks by name (W, b, c and, untied, Wd): views into theta."""
        return {name: self.theta[off:off + int(np.prod(shape))].reshape(shape)
                for name, off, shape in self.spec.layout()}

    @property
    def core_loss(self):
        return CORE_LOSS[self.loss]

    @property
    def core_noise(self):
        return CORE_NOISE[self.noise_type]

    def describe(self) -> dict:
        """The architecture as JSON-ready values (the parameters are stored beside it)."""
        return {
            "n_in": self.n_in,
            "n_hidden": self.n_hidden,
            "activation": self.activation,
            "decoder": self.decoder,
            "tied": self.tied,
            "loss": self.loss,
            "noise_type": self.noise_type,
            "noise_level": self.noise_level,
        }

    def encode(self, X: np.ndarray, threads: int = 0) -> np.ndarray:
        """Codes of X (rows, n_in) float32 C-contiguous → (rows, n_hidden)."""
        H = aligned_zeros((X.shape[0], self.n_hidden))
        _core.encode(self.spec, self.theta, X, H, threads)
        return H

    def decode(self, H: np.ndarray, threads: int = 0) -> np.ndarray:
        """Reconstruction of codes H (rows, n_hidden) → (rows, n_in)."""
        Z = aligned_zeros((H.shape[0], self.n_in))
        _core.decode(self.spec, self.theta, H, Z, threads)
        return Z
