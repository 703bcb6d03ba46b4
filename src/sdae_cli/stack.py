"""The model's layers as one chain for the core's fine-tuning: packing their parameters into one
flat vector and writing the trained values back."""
from __future__ import annotations

import numpy as np

from . import _core
from .layer import CORE_ACTIVATION, Layer, aligned_copy

_OUTPUT_LOSS = {"cross-entropy": _core.OutputLoss.cross_entropy, "mse": _core.OutputLoss.squared_error}


def classifier_stack(model) -> tuple["_core.StackSpec", np.ndarray]:
    """Encoders, then the softmax head: (spec, theta)."""
    dims = [(lay.n_in, lay.n_hidden, CORE_ACTIVATION[lay.activation]) for lay in model.layers]
    dims.append((model.head_W.shape[0], model.head_W.shape[1], CORE_ACTIVATION["linear"]))
    parts = [p for lay in model.layers for p in (lay.params()["W"], lay.params()["b"])]
    parts += [model.head_W, model.head_b]
    spec = _core.StackSpec(dims, _core.OutputLoss.softmax_nll)
    return spec, aligned_copy(np.concatenate([p.ravel() for p in parts]))


def encoder_stack(model, depth: int) -> tuple["_core.StackSpec", np.ndarray]:
    """The first `depth` encoders as one chain, for encoding a chunk in one core call."""
    layers = model.layers[:depth]
    dims = [(lay.n_in, lay.n_hidden, CORE_ACTIVATION[lay.activation]) for lay in layers]
    parts = [p for lay in layers for p in (lay.params()["W"], lay.params()["b"])]
    spec = _core.StackSpec(dims, _core.OutputLoss.squared_error)  # no softmax at the end
    return spec, aligned_copy(np.concatenate([p.ravel() for p in parts]))


def unrolled_stack(model, for_training: bool = True) -> tuple["_core.StackSpec", np.ndarray]:
    """Encoders up, then each layer's decoder down (its own weights, or W^T when tied): the deep
    autoencoder, with the input layer's loss at the output for training. For inference the loss
    plays no part, and squared error accepts any output activation."""
    dims, parts = [], []
    for lay in model.layers:
        dims.append((lay.n_in, lay.n_hidden, CORE_ACTIVATION[lay.activation]))
        parts += [lay.params()["W"], lay.params()["b"]]
    for lay in reversed(model.layers):
        p = lay.params()
        dims.append((lay.n_hidden, lay.n_in, CORE_ACTIVATION[lay.decoder]))
        parts += [p["W"].T if lay.tied else p["Wd"], p["c"]]
    loss = _OUTPUT_LOSS[model.layers[0].loss] if for_training else _core.OutputLoss.squared_error
    spec = _core.StackSpec(dims, loss)
    return spec, aligned_copy(np.concatenate([np.ravel(p) for p in parts]))


def _blocks(theta: np.ndarray, shapes: list[tuple]) -> list[np.ndarray]:
    out, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(theta[at:at + size].reshape(shape))
        at += size
    return out


def write_back_classifier(model, theta: np.ndarray) -> None:
    """Trained encoder weights and biases into the layers, the head into head_W/head_b."""
    shapes = [s for lay in model.layers for s in ((lay.n_in, lay.n_hidden), (lay.n_hidden,))]
    shapes += [model.head_W.shape, model.head_b.shape]
    blocks = _blocks(theta, shapes)
    for k, lay in enumerate(model.layers):
        p = lay.params()
        p["W"][...], p["b"][...] = blocks[2 * k], blocks[2 * k + 1]
    model.head_W, model.head_b = blocks[-2].copy(), blocks[-1].copy()


def write_back_unrolled(model, theta: np.ndarray) -> None:
    """The trained chain back into the layers, which become untied: decoders keep their own weights."""
    L = len(model.layers)
    shapes = [s for lay in model.layers for s in ((lay.n_in, lay.n_hidden), (lay.n_hidden,))]
    shapes += [s for lay in reversed(model.layers) for s in ((lay.n_hidden, lay.n_in), (lay.n_in,))]
    blocks = _blocks(theta, shapes)
    for k, lay in enumerate(model.layers):
        untied = Layer(lay.n_in, lay.n_hidden, lay.activation, lay.decoder, False, lay.loss, lay.noise_type,
                       lay.noise_level)
        p = untied.params()
        p["W"][...], p["b"][...] = blocks[2 * k], blocks[2 * k + 1]
        d = 2 * L + 2 * (L - 1 - k)
        p["Wd"][...], p["c"][...] = blocks[d], blocks[d + 1]
        model.layers[k] = untied
