"""`sdae demo`: the main jobs end to end on the digits shipped with sdae."""
from __future__ import annotations

import os
import time

import numpy as np

from .datasets import load_digits
from .finetuning import finetune_supervised
from .pretraining import pretrain
from .training.configs import FinetuneConfig, PretrainConfig
from .training.state import validation_rows

LAYERS = [256, 128]
MASKED_FRACTION = 0.3
PRETRAIN = dict(layers=LAYERS, noise=0.3, epochs=50, optimizer="adam", lr=0.003)
FINETUNE: dict = {}  # fine-tuning's defaults
FILTERS_PNG, CURVES_PNG = "sdae-demo-filters.png", "sdae-demo-curves.png"


def run_demo(threads: int = 0, echo=print, pictures: str | None = None) -> dict:
    """Pretrains on 70% of the digits; masks 30% of the pixels of the other 30% and reports how
    much `denoise` cuts their error; fine-tunes with the labels and reports the test accuracy.
    With `pictures` (a folder) and matplotlib installed, writes the first layer's filters and the
    learning curves there. Returns the figures it printed."""
    X, y = load_digits()
    held_out = validation_rows(len(X), 0.3, seed=0)
    train, test = X[~held_out], X[held_out]
    echo(f"digits: {len(X)} images of 8x8 pixels (0..16); training on {len(train)}, holding out {len(test)}")
    echo(f"pretrain: sdae pretrain train.npy --layers {','.join(map(str, LAYERS))} --noise 0.3 --epochs 50 "
         "--optimizer adam --lr 0.003")
    started = time.perf_counter()
    model = pretrain(train, PretrainConfig(**PRETRAIN, threads=threads))
    echo(f"  trained {'-'.join(map(str, model.sizes))} in {time.perf_counter() - started:.2f}s; final validation "
         "loss " + ", ".join(f"layer {k + 1}: {h[-1]['valid']:.3f}" for k, h in enumerate(model.history)))

    started = time.perf_counter()
    codes = model.encode(test, threads=threads)
    echo(f"encode: {test.shape[0]}x{test.shape[1]} -> {codes.shape[0]}x{codes.shape[1]} codes "
         f"in {time.perf_counter() - started:.3f}s")

    mask = np.random.default_rng(1).random(test.shape) < MASKED_FRACTION
    noisy = np.where(mask, 0.0, test).astype(np.float32)
    started = time.perf_counter()
    clean = model.denoise(noisy, threads=threads)
    seconds = time.perf_counter() - started
    before = float(np.mean((noisy - test) ** 2))
    after = float(np.mean((clean - test) ** 2))
    echo(f"denoise: {int(MASKED_FRACTION * 100)}% of the pixels of the held-out digits set to 0")
    echo(f"  mean squared error vs the clean digits: {before:.2f} masked -> {after:.2f} denoised "
         f"({100 * (1 - after / before):.0f}% lower), in {seconds:.3f}s")

    echo("finetune: sdae finetune train.npy --labels labels.npy")
    started = time.perf_counter()
    tuned = finetune_supervised(model, train, y[~held_out], FinetuneConfig(**FINETUNE, threads=threads))
    epochs = len(tuned.finetuning["history"])
    accuracy = float(np.mean(tuned.predict(test, threads=threads) == y[held_out]))
    echo(f"  {epochs} epochs in {time.perf_counter() - started:.2f}s; test accuracy on the held-out digits: "
         f"{100 * accuracy:.2f}%")
    if pictures is not None:
        write_pictures(tuned, model, pictures, echo)
    return {"error_masked": before, "error_denoised": after, "accuracy": accuracy}


def write_pictures(tuned, pretrained, folder: str, echo) -> None:
    """The pretrained first layer's filters (what the dA learned, as in the SdA tutorial) and the
    tuned model's curves (every layer and the fine-tuning); a note instead without matplotlib."""
    from . import plots
    from .errors import SdaeError

    try:
        plots.require_matplotlib()
    except SdaeError:
        echo("pictures: install matplotlib (pip install 'sdae[plot]') for the filters and learning curves")
        return
    filters, curves = os.path.join(folder, FILTERS_PNG), os.path.join(folder, CURVES_PNG)
    grid = plots.filters(pretrained, filters)
    plots.curves(tuned, curves)
    echo(f"pictures: {filters} (the {grid.count} filters of layer 1, 8x8 each), {curves} (loss per epoch)")
