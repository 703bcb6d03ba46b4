"""Learning-rate schedules: each epoch's learning rate, computed from the settings and the epoch's
number alone, so that a resumed run takes the same rates as an uninterrupted one.

The names are PyTorch's and Keras's: `exponential` (ExponentialLR / ExponentialDecay: lr·decay^e),
`cosine` (CosineAnnealingLR / CosineDecay) and `linear` (LinearLR / PolynomialDecay of power 1),
the last two ending at lr·final on the last epoch.
"""
from __future__ import annotations

import math

from .errors import ConfigError

SCHEDULES = ("constant", "exponential", "cosine", "linear")


def check_schedule(schedule: str, decay: float, final: float) -> None:
    if schedule not in SCHEDULES:
        raise ConfigError("lr-schedule", f"{schedule!r} is not one of {', '.join(SCHEDULES)}")
    if not (math.isfinite(decay) and 0.0 < decay <= 1.0):
        raise ConfigError("lr-decay", f"must be in (0, 1], got {decay}")
    if not (math.isfinite(final) and 0.0 < final <= 1.0):
        raise ConfigError("lr-final", f"must be a fraction of --lr in (0, 1], got {final}")


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
