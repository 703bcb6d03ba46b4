"""Training partway: the state an epoch changes (parameters, optimizer moments, counters), the
epoch loop that rewinds it when an epoch is cut short, the divergence check, and the held-out
rows."""
from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ..errors import ConfigError, TrainingError
from ..layer import aligned_copy, aligned_zeros


class TrainingState:
    """Parameters `theta` (trained in place), the optimizer's moments m (momentum, adam) and v
    (adam), the updates (`step`) and epochs done, the history, and for runs that keep their best
    epoch (fine-tuning) its parameters and how many epochs have gone by since it."""

    def __init__(self, theta: np.ndarray, optimizer: str, keep_best: bool = False, averaging: bool = False):
        self.theta = theta
        self.m = aligned_zeros(theta.size if optimizer != "sgd" else 0)
        self.v = aligned_zeros(theta.size if optimizer == "adam" else 0)
        self.best_theta = theta.copy() if keep_best else None
        # Weight averaging: the sum of the parameters at the end of each averaged epoch, in
        # float64 so that the mean is the same bits whatever the order of resumes.
        self.weight_sum = np.zeros(theta.size if averaging else 0, np.float64)
        self.step, self.epoch, self.history = 0, 0, []
        self.best, self.since_best, self.averaged = None, 0, 0

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays a checkpoint stores, by name."""
        names = ["theta", "m", "v"] + (["best_theta"] if self.best_theta is not None else [])
        names += ["weight_sum"] if self.weight_sum.size else []
        return {name: getattr(self, name) for name in names}

    def scalars(self) -> dict:
        """The counters and history a checkpoint stores, JSON-ready."""
        out = {"step": self.step, "epoch": self.epoch, "history": self.history}
        if self.best_theta is not None:
            out.update(best=self.best, since_best=self.since_best)
        if self.weight_sum.size:
            out.update(averaged=self.averaged)
        return out

    def add_to_average(self) -> np.ndarray:
        """Adds theta to the averaged epochs; returns their mean (float32, as theta)."""
        self.weight_sum += self.theta
        self.averaged += 1
        return (self.weight_sum / self.averaged).astype(np.float32)

    def restore(self, arrays: dict[str, np.ndarray], scalars: dict) -> None:
        """What a checkpoint stored (as arrays() and scalars() gave it) back in place."""
        for name, array in self.arrays().items():
            if name in ("m", "v"):  # saved from this optimizer: the sizes agree
                setattr(self, name, aligned_copy(arrays[name]))
            else:
                array[...] = arrays[name]
        for name in self.scalars():
            setattr(self, name, scalars[name])

    def snapshot(self) -> tuple[dict, dict]:
        """A copy of everything an epoch changes, for rewind()."""
        return ({name: array.copy() for name, array in self.arrays().items()},
                copy.deepcopy(self.scalars()))

    def rewind(self, snap: tuple[dict, dict]) -> None:
        arrays, scalars = snap
        for name, array in self.arrays().items():
            array[...] = arrays[name]
        for name, value in scalars.items():
            setattr(self, name, value)


def run_epochs(state: TrainingState, one_epoch: Callable[[], None], keep_going: Callable[[], bool],
               save: Callable[[], None], every: int, interrupted: Callable[[], Exception]) -> None:
    """Epochs while keep_going(): each starts from a snapshot of `state`, so that Ctrl-C/SIGTERM
    (KeyboardInterrupt) or divergence (TrainingError) leave the last finished epoch, which is
    saved before the error goes on (interrupted() makes the message); every `every` epochs are
    saved too."""
    while True:
        snap = None  # set while an epoch is under way: what a stop must undo
        try:
            if not keep_going():
                break
            snap = state.snapshot()
            try:
                one_epoch()
            except TrainingError:
                state.rewind(snap)
                save()
                raise
            snap = None
            if every and state.epoch % every == 0:
                save()
        except KeyboardInterrupt:
            # Wherever the signal lands (in an epoch, between epochs, or while a checkpoint is
            # written: the write is atomic, the old file stays until the new one is whole), undo
            # the unfinished epoch, save the last finished one, and stop with the resume hint.
            if snap is not None:
                state.rewind(snap)
            save()
            raise interrupted() from None


def check_divergence(loss: float, theta: np.ndarray, where: str, lr: float, advice: str = "") -> None:
    """Raises TrainingError if an epoch's loss or parameters are no longer finite."""
    if not np.isfinite(loss) or not np.all(np.isfinite(theta)):
        raise TrainingError(f"{where}: the loss diverged (NaN or infinite); lower the learning rate "
                            f"(--lr, now {lr:g}){advice}")


def validation_rows(n: int, fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of the held-out rows: a seeded hash of the row number, not a NumPy RNG
    stream, so the split never changes with the NumPy version."""
    n_valid = int(round(n * fraction))
    if n_valid == 0:
        return np.zeros(n, dtype=bool)
    if n - n_valid < 1:
        raise ConfigError("valid-split", f"{fraction} leaves no training rows out of {n}")
    z = np.arange(n, dtype=np.uint64) + np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    mask = np.zeros(n, dtype=bool)
    mask[np.argsort(z, kind="stable")[:n_valid]] = True
    return mask
