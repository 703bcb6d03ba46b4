"""Greedy layer-wise pretraining: each dA learns on the codes of the one below it."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _core, checkpoint, resources
from .defaults import PRETRAIN
from .errors import ConfigError, SdaeError, TrainingError
from .layer import CORE_OPTIMIZER, OPTIMIZERS, Layer, aligned_copy, aligned_zeros
from .model import SDAE
from .scaling import Scaler, check_finite
from .schedule import check_schedule, epoch_lr

@dataclass
class PretrainConfig:
    """Settings of a pretraining run. Per-layer settings take one value or one per layer."""

    layers: list[int]
    noise: float | list[float] = 0.3
    noise_type: str | list[str] = "masking"
    activation: str | list[str] = "sigmoid"
    loss: str = "auto"  # auto | cross-entropy | mse
    decoder: str = "auto"  # auto | sigmoid | linear
    tied: bool = True
    epochs: int | list[int] = PRETRAIN["epochs"]  # for every layer, or per layer; 0 keeps the initial weights
    batch_size: int = 32
    optimizer: str = PRETRAIN["optimizer"]
    lr: float | None = None  # None: the optimizer's default (defaults.py)
    momentum: float = 0.9
    lr_schedule: str = PRETRAIN["lr_schedule"]  # over each layer's epochs; see schedule.py
    lr_decay: float = 0.95
    lr_final: float = 0.01
    scale: str = "auto"
    valid_split: float = PRETRAIN["valid_split"]
    seed: int = 0
    threads: int = 0
    per_layer: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        n = len(self.layers)
        if n == 0 or any(int(s) <= 0 for s in self.layers):
            raise ConfigError("layers", "give one or more positive layer sizes, e.g. 500,250")
        self.per_layer = {
            "noise": expand(self.noise, n, "noise"),
            "noise_type": expand(self.noise_type, n, "noise-type"),
            "activation": expand(self.activation, n, "activation"),
            "epochs": [int(e) for e in expand(self.epochs, n, "epochs")],
        }
        for level, kind in zip(self.per_layer["noise"], self.per_layer["noise_type"]):
            check_noise(kind, level)
        if isinstance(self.epochs, (list, tuple)) and len(self.epochs) == 1:
            self.epochs = int(self.epochs[0])
        if any(e < 0 for e in self.per_layer["epochs"]):
            raise ConfigError("epochs", f"must be >= 0 (0: the layer keeps its initial weights), got {self.epochs}")
        check_training(self, PRETRAIN["lr"], min_epochs=0)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("per_layer")
        return out


def check_noise(kind: str | None, level: float) -> None:
    if kind in (None, "masking", "salt-pepper") and not 0.0 <= level < 1.0:
        raise ConfigError("noise", f"{level} is not a fraction in [0, 1) for {kind or 'masking'} noise")
    if kind == "gaussian" and not (math.isfinite(level) and level >= 0.0):
        raise ConfigError("noise", f"gaussian sigma {level} must be a finite number >= 0")


def check_training(config, default_lr: dict, min_epochs: int = 1) -> None:
    """The settings pretraining and fine-tuning share, checked as the core will see them (float32);
    a learning rate left at None becomes the optimizer's entry in `default_lr`."""
    if config.optimizer not in OPTIMIZERS:
        raise ConfigError("optimizer", f"{config.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
    if config.lr is None:
        config.lr = default_lr[config.optimizer]
    lr32 = np.float32(config.lr) if math.isfinite(config.lr) and abs(config.lr) < 3e38 else np.float32(np.inf)
    if not (np.isfinite(lr32) and lr32 > 0):
        raise ConfigError("lr", f"must be a finite number > 0 (in float32), got {config.lr}")
    if not config.batch_size > 0:
        raise ConfigError("batch-size", f"must be > 0, got {config.batch_size}")
    if min_epochs and not config.epochs >= min_epochs:
        raise ConfigError("epochs", f"must be > 0, got {config.epochs}")
    check_schedule(config.lr_schedule, config.lr_decay, config.lr_final)
    if not 0.0 <= config.valid_split < 1.0:
        raise ConfigError("valid-split", f"must be in [0, 1), got {config.valid_split}")
    if not 0 <= config.seed < 2**64:
        raise ConfigError("seed", f"must be in [0, 2**64), got {config.seed}")


def expand(value, n: int, name: str) -> list:
    """One value for every layer, or exactly one per layer."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(name, f"{len(values)} values given for {n} layers; give one, or one per layer")
    return values


class Reporter:
    """What training tells its caller, stage by stage (a layer, or fine-tuning). The default
    tells nothing."""

    def note(self, message: str) -> None: ...
    def stage_start(self, label: str, epochs: int) -> None: ...
    def epoch_end(self, record: dict) -> None: ...
    def stage_end(self) -> None: ...


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


def layer_seed(seed: int, k: int) -> int:
    return (seed * 1024 + k) % 2**64


# Settings a resumed run may change: they do not alter what was already trained.
RESUMABLE_OVERRIDES = ("lr", "epochs", "threads")


def pretrain(X: np.ndarray, config: PretrainConfig, reporter: Reporter | None = None, source: str = "data",
             checkpointing: checkpoint.Checkpointing | None = None, resume: str | None = None) -> SDAE:
    """Trains the stack on X (rows, features), any numeric dtype; returns the model. With
    `resume`, continues the checkpoint at that path and ends with the model an uninterrupted
    run with the same seed and threads would have made."""
    reporter = reporter or Reporter()
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise SdaeError(f"{source}: expected a non-empty 2-D array, got shape {X.shape}")
    check_finite(X, source)
    scaler = Scaler.fit(X, config.scale)
    resources.require("pretrain", resources.pretrain_parts(X.shape, config, scaler.kind != "none"))
    if config.scale == "auto" and scaler.kind == "minmax":
        reporter.note(f"{source}: values outside [0, 1]; scaling each column to [0, 1] (--scale minmax)")
    if scaler.constant_columns:
        reporter.note(f"{source}: {scaler.constant_columns} constant column(s); they scale to 0")
    data = scaler.transform(X)
    run = Run(SDAE([], scaler, config.seed, [], config.to_json()), config, reporter, source, checkpointing,
              checkpoint.fingerprint(data) if checkpointing or resume else None)
    current = run.restore(resume) if resume else None
    held_out = validation_rows(data.shape[0], config.valid_split, config.seed)
    train, valid = (data[~held_out], data[held_out]) if held_out.any() else (data, None)
    try:
        return run.train_layers(current, train, valid, data.shape[1])
    except KeyboardInterrupt:  # outside an epoch: the last checkpoint is a finished layer
        where = f"; progress saved to {checkpointing.path}" if checkpointing and run.model.layers else ""
        raise checkpoint.Interrupted(f"interrupted after {len(run.model.layers)} finished layer(s){where}") from None


class LayerState:
    """A layer partway through its training: parameters, optimizer state, epochs done."""

    def __init__(self, layer: Layer, config: PretrainConfig, m=None, v=None, step=0, epoch=0, history=None):
        self.layer = layer
        size = layer.theta.size
        self.m = aligned_copy(m) if m is not None else aligned_zeros(size if config.optimizer != "sgd" else 0)
        self.v = aligned_copy(v) if v is not None else aligned_zeros(size if config.optimizer == "adam" else 0)
        self.step, self.epoch, self.history = step, epoch, history or []

    def snapshot(self) -> tuple:
        return self.layer.theta.copy(), self.m.copy(), self.v.copy(), self.step, self.epoch, list(self.history)

    def rewind(self, snap: tuple) -> None:
        self.layer.theta[...], self.m[...], self.v[...] = snap[:3]
        self.step, self.epoch, self.history = snap[3], snap[4], snap[5]


class Run:
    """One pretraining run: the model so far, and its checkpoints."""

    def __init__(self, model: SDAE, config: PretrainConfig, reporter: Reporter, source: str,
                 checkpointing: checkpoint.Checkpointing | None, fingerprint: str | None):
        self.model, self.config, self.reporter, self.source = model, config, reporter, source
        self.checkpointing, self.fingerprint = checkpointing, fingerprint

    def save(self, current: LayerState | None) -> None:
        if self.checkpointing is None:
            return
        arrays = {f"theta{j}": layer.theta for j, layer in enumerate(self.model.layers)}
        meta = {"config": self.config.to_json(), "fingerprint": self.fingerprint,
                "layers": [layer.describe() for layer in self.model.layers], "history": self.model.history,
                "current": None}
        if current is not None:
            arrays.update(theta_cur=current.layer.theta, m_cur=current.m, v_cur=current.v)
            meta["current"] = {"layer": current.layer.describe(), "value_range": current.layer.value_range,
                               "step": current.step, "epoch": current.epoch, "history": current.history}
        checkpoint.save(self.checkpointing.path, "pretrain", meta, arrays)

    def restore(self, path: str) -> LayerState | None:
        meta, arrays = checkpoint.load(path, "pretrain")
        if meta["fingerprint"] != self.fingerprint:
            raise SdaeError(f"{path}: made from other data than {self.source} (or other scaling); "
                            "resume on the same data")
        saved, given = meta["config"], self.config.to_json()
        for key, value in saved.items():
            if key not in RESUMABLE_OVERRIDES and given.get(key) != value:
                raise ConfigError(key.replace("_", "-"), f"the checkpoint was made with {value!r}, "
                                  f"not {given.get(key)!r}; a resumed run keeps its settings")
        try:
            for j, desc in enumerate(meta["layers"]):
                self.model.layers.append(Layer(**desc, theta=arrays[f"theta{j}"].astype(np.float32)))
            self.model.history = list(meta["history"])
            cur = meta["current"]
            if cur is None:
                return None
            layer = Layer(**cur["layer"], theta=arrays["theta_cur"].astype(np.float32))
            layer.value_range = tuple(cur["value_range"])
            return LayerState(layer, self.config, arrays["m_cur"], arrays["v_cur"], cur["step"], cur["epoch"],
                              cur["history"])
        except (KeyError, TypeError, ValueError) as e:
            raise SdaeError(f"{path}: damaged checkpoint ({e})") from None

    def train_layers(self, current: LayerState | None, train: np.ndarray, valid: np.ndarray | None,
                     n_features: int) -> SDAE:
        config = self.config
        for layer in self.model.layers:  # finished before the checkpoint: their codes feed the next
            train = layer.encode(train, config.threads)
            valid = layer.encode(valid, config.threads) if valid is not None else None
        for k in range(len(self.model.layers), len(config.layers)):
            n_in = self.model.layers[-1].n_hidden if k else n_features
            if current is None:
                current = LayerState(make_layer(k, n_in, int(config.layers[k]), train, config, self.reporter), config)
            self.train_layer(k, current, train, valid)
            self.model.layers.append(current.layer)
            self.model.history.append(current.history)
            current = None
            self.save(None)
            if k + 1 < len(config.layers):  # the next layer learns on these codes
                train = self.model.layers[-1].encode(train, config.threads)
                valid = self.model.layers[-1].encode(valid, config.threads) if valid is not None else None
        return self.model

    def train_layer(self, k: int, state: LayerState, train: np.ndarray, valid: np.ndarray | None) -> None:
        config, layer = self.config, state.layer
        epochs = config.per_layer["epochs"][k]
        self.reporter.stage_start(
            f"layer {k + 1}/{len(config.layers)} ({layer.n_in}->{layer.n_hidden}, {layer.loss})", epochs)
        try:
            for record in state.history:
                self.reporter.epoch_end(record)
            checkpoint.run_epochs(state, lambda: self.run_epoch(k, state, epochs, train, valid),
                                  lambda: state.epoch < epochs, lambda: self.save(state),
                                  self.checkpointing.every if self.checkpointing else 0,
                                  lambda: self.interrupted(k, state))
        finally:
            self.reporter.stage_end()

    def run_epoch(self, k, state: LayerState, epochs: int, train, valid) -> None:
        config, layer, started = self.config, state.layer, time.perf_counter()
        lr = epoch_lr(config.lr, config.lr_schedule, config.lr_decay, config.lr_final, state.epoch, epochs)
        spec = train_spec(layer, config, layer_seed(config.seed, k), lr)
        loss, state.step = _core.train_epoch(layer.spec, spec, layer.theta, state.m, state.v, state.step, train,
                                             state.epoch)
        valid_loss = _core.reconstruction_loss(layer.spec, spec, layer.theta, valid) if valid is not None else None
        if not np.isfinite(loss) or not np.all(np.isfinite(layer.theta)):
            where = f" (the last good epoch is saved in {self.checkpointing.path}; resume it with a lower --lr)" \
                if self.checkpointing else ""
            raise TrainingError(
                f"layer {k + 1}, epoch {state.epoch + 1}: the loss diverged (NaN or infinite); lower the learning "
                f"rate (--lr, now {config.lr:g}) or check the input scaling{where}")
        state.epoch += 1
        record = {"epoch": state.epoch, "train": loss, "valid": valid_loss, "lr": lr,
                  "seconds": round(time.perf_counter() - started, 4)}
        state.history.append(record)
        self.reporter.epoch_end(record)

    def interrupted(self, k: int, state: LayerState) -> checkpoint.Interrupted:
        done = f"layer {k + 1}, epoch {state.epoch}" if state.epoch else f"layer {k + 1} before its first epoch"
        if self.checkpointing is None:
            return checkpoint.Interrupted(f"interrupted in {done}; no checkpoint was being kept")
        return checkpoint.Interrupted(
            f"interrupted after {done}; progress saved to {self.checkpointing.path}; resume with the same "
            f"command and --resume {self.checkpointing.path}")


def make_layer(k: int, n_in: int, n_hidden: int, train: np.ndarray, config: PretrainConfig,
               reporter: Reporter) -> Layer:
    """Chooses the loss and decoder for the data this layer sees, and initialises it."""
    lo, hi = float(train.min()), float(train.max())
    in_unit = lo >= 0.0 and hi <= 1.0
    loss, decoder = config.loss, config.decoder
    where = "the input values" if k == 0 else f"the codes of layer {k}"
    if loss == "auto":
        loss = "cross-entropy" if in_unit and decoder != "linear" else "mse"
        reporter.note(f"layer {k + 1}: {where} lie in [{lo:.3g}, {hi:.3g}]: using {loss} loss")
    if loss == "cross-entropy" and not in_unit:
        raise ConfigError(
            "loss", f"cross-entropy needs inputs in [0, 1], but {where} span [{lo:.3g}, {hi:.3g}] "
            "(use --scale minmax, or --loss mse)"
        )
    if decoder == "auto":
        decoder = "sigmoid" if in_unit else "linear"
    if loss == "cross-entropy" and decoder != "sigmoid":
        raise ConfigError("decoder", "cross-entropy needs a sigmoid decoder")
    layer = Layer(n_in, n_hidden, config.per_layer["activation"][k], decoder, config.tied, loss,
                  config.per_layer["noise_type"][k], float(config.per_layer["noise"][k]))
    _core.init_params(layer.spec, layer.theta, layer_seed(config.seed, k))
    layer.value_range = (lo, hi)
    return layer


def train_spec(layer: Layer, config: PretrainConfig, seed: int, lr: float) -> "_core.TrainSpec":
    lo, hi = getattr(layer, "value_range", (0.0, 1.0))
    return _core.TrainSpec(
        loss=layer.core_loss, noise=layer.core_noise, noise_level=layer.noise_level, noise_low=lo, noise_high=hi,
        optimizer=CORE_OPTIMIZER[config.optimizer], lr=lr, momentum=config.momentum,
        batch_size=config.batch_size, seed=seed, num_threads=config.threads,
    )
