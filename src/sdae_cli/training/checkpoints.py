"""Checkpoints of an unfinished training run: written atomically as plain .npz (nothing
pickled), read back to resume with the same result as an uninterrupted run."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from . import __version__
from .writing import atomic_output, write_npz
from .errors import SdaeError, TrainingError

FORMAT_NAME = "sdae-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpointing:
    """Where and how often an unfinished run saves itself (and always at each finished layer,
    on Ctrl-C/SIGTERM and on divergence)."""

    path: str
    every: int = 1  # epochs between saves; 0: only at the moments above


class Interrupted(SdaeError):
    """Training stopped by a signal; a checkpoint holds its last finished epoch."""

    exit_code = 130


def default_path(output: str) -> str:
    """m.npz -> m.ckpt.npz, beside the output it will become."""
    base = output[:-4] if output.endswith(".npz") else output
    return base + ".ckpt.npz"


def fingerprint(data: np.ndarray) -> str:
    """A digest of the training data, so a checkpoint is resumed on the data it was made from."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr(data.shape).encode())
    for start in range(0, data.shape[0], 65536):
        digest.update(np.ascontiguousarray(data[start:start + 65536]).tobytes())
    return digest.hexdigest()


def save(path: str, kind: str, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    header = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "tool_version": __version__,
              "kind": kind, **meta}
    with atomic_output(path, durable=False) as f:
        write_npz(f, {"meta": np.array(json.dumps(header)), **arrays})


def load(path: str, kind: str) -> tuple[dict, dict[str, np.ndarray]]:
    try:
        # Our own handle: np.load leaves its file open when a damaged archive fails to parse.
        with open(path, "rb") as f, np.load(f, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        meta = json.loads(str(arrays.pop("meta")))
    except FileNotFoundError:
        raise SdaeError(f"{path}: no such checkpoint") from None
    except Exception as e:  # anything a damaged archive makes NumPy or json raise
        raise SdaeError(f"{path}: not a readable sdae checkpoint ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise SdaeError(f"{path}: not an sdae checkpoint")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise SdaeError(f"{path}: checkpoint format {meta.get('format_version')} is newer than this sdae reads")
    if meta.get("kind") != kind:
        raise SdaeError(f"{path}: a {meta.get('kind')} checkpoint, not a {kind} one")
    return meta, arrays


def run_epochs(state, one_epoch, keep_going, save, every: int, interrupted) -> None:
    """Epochs while keep_going(): each starts from a snapshot of `state`, so that Ctrl-C/SIGTERM
    (KeyboardInterrupt) or divergence (TrainingError) leave the last finished epoch, which is
    saved before the error goes on (interrupted() makes the message); every `every` epochs are
    saved too. state needs snapshot(), rewind(snap) and epoch."""
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


def remove(path: str | None) -> None:
    if path and os.path.exists(path):
        os.unlink(path)
