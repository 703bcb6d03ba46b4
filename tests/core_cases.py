"""Shared by the core's tests: the option names as the core's enums, every architecture, and a
layer with data to train it on."""
import itertools

import numpy as np

from sdae_cli import _core

ACT = {name: getattr(_core.Activation, name) for name in ("sigmoid", "tanh", "relu", "linear")}
LOSS = {"cross-entropy": _core.Loss.cross_entropy, "mse": _core.Loss.squared_error}
NOISE = {"masking": _core.NoiseType.masking, "gaussian": _core.NoiseType.gaussian,
         "salt-pepper": _core.NoiseType.salt_pepper}
OPT = {name: getattr(_core.Optimizer, name) for name in ("sgd", "momentum", "adam")}

# Every (encoder, decoder, loss) the core accepts: cross-entropy needs a sigmoid decoder.
ARCHS = [(enc, dec, loss) for enc, dec, loss in itertools.product(
    ("sigmoid", "tanh", "relu"), ("sigmoid", "linear"), ("cross-entropy", "mse"))
    if not (loss == "cross-entropy" and dec != "sigmoid")]


def make_layer(n_in, n_hidden, tied, encoder="sigmoid", decoder="sigmoid", seed=0):
    spec = _core.LayerSpec(n_in, n_hidden, tied, ACT[encoder], ACT[decoder])
    theta = np.zeros(spec.size, np.float32)
    _core.init_params(spec, theta, seed)
    # Non-zero biases so that their gradients are exercised too.
    theta[n_in * n_hidden:n_in * n_hidden + n_hidden + n_in] = \
        np.random.default_rng(seed).normal(0, 0.1, n_hidden + n_in).astype(np.float32)
    return spec, theta


def unit_data(rows, cols, seed=0):
    return np.random.default_rng(seed).random((rows, cols), dtype=np.float32)


def corrupted(X, noise="masking", level=0.3, seed=0, epoch=0):
    Xt = np.empty_like(X)
    _core.corrupt(X, Xt, NOISE[noise], level, 0.0, 1.0, seed, epoch, 0, 1)
    return Xt


def corrupted_row(X, row, seed, epoch):
    out = np.empty((1, X.shape[1]), np.float32)
    _core.corrupt(X[row:row + 1], out, NOISE["masking"], 0.3, 0.0, 1.0, seed, epoch, row, 1)
    return out
