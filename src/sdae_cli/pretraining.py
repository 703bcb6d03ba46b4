"""Greedy layer-wise pretraining: each dA learns on the codes of the one below it."""
from __future__ import annotations

import time

import numpy as np

from . import _core, resources
from .errors import ConfigError, SdaeError
from .layer import CORE_OPTIMIZER, Layer
from .model import SDAE
from .scaling import Scaler, check_finite
from .schedule import epoch_lr
from .training import checkpoints
from .training.configs import PretrainConfig
from .training.reporter import Reporter
from .training.state import TrainingState, check_divergence, run_epochs, validation_rows


def layer_seed(seed: int, k: int) -> int:
    return (seed * 1024 + k) % 2**64


def pretrain(X: np.ndarray, config: PretrainConfig, reporter: Reporter | None = None, source: str = "data",
             checkpointing: checkpoints.Checkpointing | None = None, resume: str | None = None) -> SDAE:
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
    saver = checkpoints.Saver(checkpointing, "pretrain", config.to_json(),
                              checkpoints.fingerprint(data) if checkpointing or resume else None)
    run = Run(SDAE([], scaler, config.seed, [], config.to_json()), config, reporter, source, saver)
    current = run.restore(resume) if resume else None
    held_out = validation_rows(data.shape[0], config.valid_split, config.seed)
    train, valid = (data[~held_out], data[held_out]) if held_out.any() else (data, None)
    try:
        return run.train_layers(current, train, valid, data.shape[1])
    except KeyboardInterrupt:  # outside an epoch: the last checkpoint is a finished layer
        where = f"; progress saved to {checkpointing.path}" if checkpointing and run.model.layers else ""
        raise checkpoints.Interrupted(f"interrupted after {len(run.model.layers)} finished layer(s){where}") from None


# A layer partway through its training: the layer, and the state its epochs change (theta is the layer's).
LayerInProgress = tuple[Layer, TrainingState]


class Run:
    """One pretraining run: the model so far, and its checkpoints."""

    def __init__(self, model: SDAE, config: PretrainConfig, reporter: Reporter, source: str,
                 saver: checkpoints.Saver):
        self.model, self.config, self.reporter, self.source, self.saver = model, config, reporter, source, saver

    def save(self, current: LayerInProgress | None) -> None:
        arrays = {f"theta{j}": layer.theta for j, layer in enumerate(self.model.layers)}
        meta = {"layers": [layer.describe() for layer in self.model.layers], "history": self.model.history,
                "current": None}
        if current is not None:
            layer, state = current
            arrays.update({f"{name}_cur": array for name, array in state.arrays().items()})
            meta["current"] = {"layer": layer.describe(), "value_range": layer.value_range, **state.scalars()}
        self.saver.save(meta, arrays)

    def restore(self, path: str) -> LayerInProgress | None:
        meta, arrays = self.saver.load(path, f"made from other data than {self.source} (or other scaling); "
                                             "resume on the same data")
        try:
            for j, desc in enumerate(meta["layers"]):
                self.model.layers.append(Layer(**desc, theta=arrays[f"theta{j}"].astype(np.float32)))
            self.model.history = list(meta["history"])
            cur = meta["current"]
            if cur is None:
                return None
            layer = Layer(**cur["layer"], theta=arrays["theta_cur"].astype(np.float32),
                          value_range=tuple(cur["value_range"]))
            state = TrainingState(layer.theta, self.config.optimizer)
            state.restore({name: arrays[f"{name}_cur"] for name in ("theta", "m", "v")}, cur)
            return layer, state
        except (KeyError, TypeError, ValueError) as e:
            raise SdaeError(f"{path}: damaged checkpoint ({e})") from None

    def train_layers(self, current: LayerInProgress | None, train: np.ndarray, valid: np.ndarray | None,
                     n_features: int) -> SDAE:
        config = self.config
        for layer in self.model.layers:  # finished before the checkpoint: their codes feed the next
            train = layer.encode(train, config.threads)
            valid = layer.encode(valid, config.threads) if valid is not None else None
        for k in range(len(self.model.layers), len(config.layers)):
            n_in = self.model.layers[-1].n_hidden if k else n_features
            if current is None:
                layer = make_layer(k, n_in, int(config.layers[k]), train, config, self.reporter)
                current = layer, TrainingState(layer.theta, config.optimizer)
            self.train_layer(k, current, train, valid)
            self.model.layers.append(current[0])
            self.model.history.append(current[1].history)
            current = None
            self.save(None)
            if k + 1 < len(config.layers):  # the next layer learns on these codes
                train = self.model.layers[-1].encode(train, config.threads)
                valid = self.model.layers[-1].encode(valid, config.threads) if valid is not None else None
        return self.model

    def train_layer(self, k: int, current: LayerInProgress, train: np.ndarray, valid: np.ndarray | None) -> None:
        layer, state = current
        epochs = self.config.per_layer["epochs"][k]
        self.reporter.stage_start(
            f"layer {k + 1}/{len(self.config.layers)} ({layer.n_in}->{layer.n_hidden}, {layer.loss})", epochs)
        try:
            for record in state.history:
                self.reporter.epoch_end(record)
            run_epochs(state, lambda: self.run_epoch(k, current, epochs, train, valid),
                       lambda: state.epoch < epochs, lambda: self.save(current), self.saver.every,
                       lambda: self.interrupted(k, state))
        finally:
            self.reporter.stage_end()

    def run_epoch(self, k, current: LayerInProgress, epochs: int, train, valid) -> None:
        (layer, state), config, started = current, self.config, time.perf_counter()
        lr = epoch_lr(config.lr, config.lr_schedule, config.lr_decay, config.lr_final, state.epoch, epochs)
        spec = train_spec(layer, config, layer_seed(config.seed, k), lr)
        loss, state.step = _core.train_epoch(layer.spec, spec, layer.theta, state.m, state.v, state.step, train,
                                             state.epoch)
        valid_loss = _core.reconstruction_loss(layer.spec, spec, layer.theta, valid) if valid is not None else None
        saved = f" (the last good epoch is saved in {self.saver.path}; resume it with a lower --lr)" \
            if self.saver.path else ""
        check_divergence(loss, layer.theta, f"layer {k + 1}, epoch {state.epoch + 1}", config.lr,
                         f" or check the input scaling{saved}")
        state.epoch += 1
        record = {"epoch": state.epoch, "train": loss, "valid": valid_loss, "lr": lr,
                  "seconds": round(time.perf_counter() - started, 4)}
        state.history.append(record)
        self.reporter.epoch_end(record)

    def interrupted(self, k: int, state: TrainingState) -> checkpoints.Interrupted:
        done = f"layer {k + 1}, epoch {state.epoch}" if state.epoch else f"layer {k + 1} before its first epoch"
        if self.saver.path is None:
            return checkpoints.Interrupted(f"interrupted in {done}; no checkpoint was being kept")
        return checkpoints.Interrupted(
            f"interrupted after {done}; progress saved to {self.saver.path}; resume with the same "
            f"command and --resume {self.saver.path}")


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
    layer.value_range = (lo, hi)  # salt-and-pepper noise sets inputs to these ends
    return layer


def train_spec(layer: Layer, config: PretrainConfig, seed: int, lr: float) -> _core.TrainSpec:
    lo, hi = layer.value_range
    return _core.TrainSpec(
        loss=layer.core_loss, noise=layer.core_noise, noise_level=layer.noise_level, noise_low=lo, noise_high=hi,
        optimizer=CORE_OPTIMIZER[config.optimizer], lr=lr, momentum=config.momentum,
        batch_size=config.batch_size, seed=seed, num_threads=config.threads,
    )
