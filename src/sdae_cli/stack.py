"""The model's layers as one chain for the core's fine-tuning: packing their parameters into one
flat vector and writing the trained values back. Where each block sits in that vector is the
core's decision (StackSpec.layout(), from stack.hpp); this file only names the blocks."""
from __future__ import annotations

import numpy as np

from . import _core
from .layer import CORE_ACTIVATION, Layer, aligned_zeros

_OUTPUT_LOSS = {"cross-entropy": _core.OutputLoss.cross_entropy, "mse": _core.OutputLoss.squared_error}


def _packed(spec: _core.StackSpec, blocks: list) -> np.ndarray:
    """theta for `spec`: each block (M_j, bias_j, bottom up) where the core's layout puts it."""
    theta = aligned_zeros(spec.size)
    for (_, offset, shape), block in zip(spec.layout(), blocks):
        theta[offset:offset + int(np.prod(shape))].reshape(shape)[...] = block
    return theta


def _blocks(spec: _core.StackSpec, theta: np.ndarray) -> list[np.ndarray]:
    """The blocks of theta (M_j, bias_j, bottom up) as views, shaped."""
    return [theta[offset:offset + int(np.prod(shape))].reshape(shape) for _, offset, shape in spec.layout()]


def _encoders(layers) -> tuple[list, list]:
    dims = [(lay.n_in, lay.n_hidden, CORE_ACTIVATION[lay.activation]) for lay in layers]
    return dims, [p for lay in layers for p in (lay.params()["W"], lay.params()["b"])]


def classifier_stack(model) -> tuple[_core.StackSpec, np.ndarray]:
    """Encoders, then the softmax head: (spec, theta)."""
    dims, blocks = _encoders(model.layers)
    dims.append((model.head_W.shape[0], model.head_W.shape[1], CORE_ACTIVATION["linear"]))
    spec = _core.StackSpec(dims, _core.OutputLoss.softmax_nll)
    return spec, _packed(spec, [*blocks, model.head_W, model.head_b])


def encoder_stack(model, depth: int) -> tuple[_core.StackSpec, np.ndarray]:
    """The first `depth` encoders as one chain, for encoding a chunk in one core call."""
    dims, blocks = _encoders(model.layers[:depth])
    spec = _core.StackSpec(dims, _core.OutputLoss.squared_error)  # no softmax at the end
    return spec, _packed(spec, blocks)


def unrolled_stack(model, for_training: bool = True) -> tuple[_core.StackSpec, np.ndarray]:
    """Encoders up, then each layer's decoder down (its own weights, or W^T when tied): the deep
    autoencoder, with the input layer's loss at the output for training. For inference the loss
    plays no part, and squared error accepts any output activation."""
    dims, blocks = _encoders(model.layers)
    for lay in reversed(model.layers):
        p = lay.params()
        dims.append((lay.n_hidden, lay.n_in, CORE_ACTIVATION[lay.decoder]))
        blocks += [p["W"].T if lay.tied else p["Wd"], p["c"]]
    loss = _OUTPUT_LOSS[model.layers[0].loss] if for_training else _core.OutputLoss.squared_error
    spec = _core.StackSpec(dims, loss)
    return spec, _packed(spec, blocks)


def decoder_stack(model) -> tuple[_core.StackSpec, np.ndarray]:
    """Each layer's decoder, top down (its own weights, or W^T when tied): from the top codes
    back to the (scaled) input, for inference."""
    dims, blocks = [], []
    for lay in reversed(model.layers):
        p = lay.params()
        dims.append((lay.n_hidden, lay.n_in, CORE_ACTIVATION[lay.decoder]))
        blocks += [p["W"].T if lay.tied else p["Wd"], p["c"]]
    spec = _core.StackSpec(dims, _core.OutputLoss.squared_error)  # no loss: inference only
    return spec, _packed(spec, blocks)


def write_back_classifier(model, spec: _core.StackSpec, theta: np.ndarray) -> None:
    """Trained encoder weights and biases (theta of classifier_stack's spec) into the layers, the
    head into head_W/head_b."""
    blocks = _blocks(spec, theta)
    for k, lay in enumerate(model.layers):
        p = lay.params()
        p["W"][...], p["b"][...] = blocks[2 * k], blocks[2 * k + 1]
    model.head_W, model.head_b = blocks[-2].copy(), blocks[-1].copy()


def write_back_unrolled(model, spec: _core.StackSpec, theta: np.ndarray) -> None:
    """The trained chain (theta of unrolled_stack's spec) back into the layers, which become
    untied: decoders keep their own weights."""
    L = len(model.layers)
    blocks = _blocks(spec, theta)
    for k, lay in enumerate(model.layers):
        untied = Layer(lay.n_in, lay.n_hidden, lay.activation, lay.decoder, False, lay.loss, lay.noise_type,
                       lay.noise_level)
        p = untied.params()
        p["W"][...], p["b"][...] = blocks[2 * k], blocks[2 * k + 1]
        d = 2 * L + 2 * (L - 1 - k)
        p["Wd"][...], p["c"][...] = blocks[d], blocks[d + 1]
        model.layers[k] = untied
