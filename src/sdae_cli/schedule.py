"""Learning-rate schedules: each epoch's learning rate, computed from the settings and the epoch's
number alone, so that a resumed run takes the same rates as an uninterrupted one.

The names are PyTorch's and Keras's: `exponential` (ExponentialLR / ExponentialDecay: lr·decay^e),
`cosine` (CosineAnnealingLR / CosineDecay) and `linear` (LinearLR / PolynomialDecay of power 1),
the last two ending at lr·final on the last epoch. (The names: options.SCHEDULES; the settings'
ranges: training/settings.py.)
"""
from __future__ import annotations

import math


def epoch_lr(lr: float, schedule: str, decay: float, final: float, epoch: int, epochs: int) -> float:
    """The learning rate of epoch `epoch` (0 is the first) of a run of `epochs`."""
    if schedule == "exponential":
        factor = decay**epoch
    elif schedule == "constant" or epochs <= 1:
        factor = 1.0
    else:
        progress = min(epoch / (epochs - 1), 1.0)  # 0 on the first epoch, 1 on the last
        if schedule == "cosine":
            factor = final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
        else:  # linear
            factor = 1.0 + (final - 1.0) * progress
    return max(lr * factor, TINY)


TINY = 1e-30  # a long exponential decay must not reach 0 in float32: the core takes lr > 0 only
