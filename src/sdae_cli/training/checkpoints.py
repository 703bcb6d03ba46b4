"""Checkpoints of an unfinished training run: written atomically as plain .npz (nothing
pickled), read back to resume with the same result as an uninterrupted run. `Saver` is what a
run holds: where it saves, and the check that a checkpoint is resumed by the same run."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..errors import SdaeError
from ..writing import atomic_output, write_npz
from .settings import check_resumable

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


def remove(path: str | None) -> None:
    if path and os.path.exists(path):
        os.unlink(path)


def saved_settings(path: str, kind: str) -> dict:
    """The settings the run saved in checkpoint `path` was started with."""
    return load(path, kind)[0]["config"]


class Saver:
    """The checkpoints of one run: where and how often it saves (`checkpointing`, None: never),
    and what makes a checkpoint this run's: the job (kind, and `job` details such as the target),
    a digest of its data and its settings, of which only the RESUMABLE may differ on resuming."""

    def __init__(self, checkpointing: Checkpointing | None, kind: str, settings: dict, fingerprint: str | None,
                 job: dict | None = None):
        self.checkpointing, self.kind, self.settings = checkpointing, kind, settings
        self.fingerprint, self.job = fingerprint, job

    @property
    def path(self) -> str | None:
        return self.checkpointing.path if self.checkpointing else None

    @property
    def every(self) -> int:
        return self.checkpointing.every if self.checkpointing else 0

    def save(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        """Saves the run's state (`meta`: JSON-ready, `arrays`), if the run keeps checkpoints."""
        if self.checkpointing is None:
            return
        header = {"config": self.settings, "fingerprint": self.fingerprint}
        if self.job is not None:
            header["job"] = self.job
        save(self.checkpointing.path, self.kind, {**header, **meta}, arrays)

    def load(self, path: str, other_run: str) -> tuple[dict, dict[str, np.ndarray]]:
        """A checkpoint of this run (`other_run` says what else it could be made from), checked."""
        meta, arrays = load(path, self.kind)
        if meta.get("fingerprint") != self.fingerprint or meta.get("job") != self.job:
            raise SdaeError(f"{path}: {other_run}")
        check_resumable(meta["config"], self.settings)
        return meta, arrays
