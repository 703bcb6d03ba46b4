"""Fine-tuning the whole stack end to end: supervised (softmax on top) or unsupervised (the
unrolled deep autoencoder, optionally on noisy/clean pairs)."""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import numpy as np

from . import _core
from .errors import ConfigError, DataError, SdaeError, TrainingError
from .layer import NOISE_TYPES, aligned_zeros
from .model import SDAE
from .pretraining import DEFAULT_LR, OPTIMIZERS, Reporter, validation_rows
from .scaling import check_finite
from .stack import classifier_stack, unrolled_stack, write_back_classifier, write_back_unrolled

_CORE_OPTIMIZER = {name: getattr(_core.Optimizer, name) for name in OPTIMIZERS}
_CORE_NOISE = {"masking": _core.NoiseType.masking, "gaussian": _core.NoiseType.gaussian,
               "salt-pepper": _core.NoiseType.salt_pepper, "none": _core.NoiseType.none}


@dataclass
class FinetuneConfig:
    epochs: int = 50
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float | None = None  # None: the optimizer's default
    momentum: float = 0.9
    valid_split: float = 0.1
    patience: int = 10  # epochs without a better validation figure before stopping
    noise: float | None = None  # reconstruct: input corruption (None: the input layer's)
    noise_type: str | None = None
    seed: int = 0
    threads: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError("optimizer", f"{self.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        for name in ("epochs", "batch_size", "lr", "patience"):
            if not getattr(self, name) > 0:
                raise ConfigError(name.replace("_", "-"), f"must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.valid_split < 1.0:
            raise ConfigError("valid-split", f"must be in [0, 1), got {self.valid_split}")
        if self.noise_type is not None and self.noise_type not in NOISE_TYPES:
            raise ConfigError("noise-type", f"{self.noise_type!r} is not one of {', '.join(NOISE_TYPES)}")
        if self.noise is not None and self.noise_type in (None, "masking", "salt-pepper") \
                and not 0.0 <= self.noise < 1.0:
            raise ConfigError("noise", f"{self.noise} is not a fraction in [0, 1)")


def class_indices(labels: np.ndarray, source: str) -> tuple[list, np.ndarray]:
    """The sorted distinct labels (as JSON-ready ints or strings) and each row's index among them."""
    labels = np.asarray(labels)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise DataError(f"{source}: labels must be integers or names, got non-integer numbers")
        labels = labels.astype(np.int64)
    classes, index = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise DataError(f"{source}: only one class ({classes[0]!r}); classification needs at least two")
    names = [int(c) for c in classes] if classes.dtype.kind in "iub" else [str(c) for c in classes]
    return names, index.reshape(-1)


def finetune_supervised(model: SDAE, X: np.ndarray, labels: np.ndarray, config: FinetuneConfig,
                        reporter: Reporter | None = None, valid: tuple | None = None,
                        source: str = "data") -> SDAE:
    """A new model: the stack with a softmax layer on top, all trained on (X, labels)."""
    reporter = reporter or Reporter()
    if len(labels) != X.shape[0]:
        raise DataError(f"{source}: {X.shape[0]} rows but {len(labels)} labels")
    classes, y = class_indices(labels, "labels")
    data = prepared(model, X, source)
    if valid is not None:
        valid_X, valid_y = prepared(model, valid[0], "validation data"), valid[1]
        if len(valid_y) != valid_X.shape[0]:
            raise DataError(f"validation data: {valid_X.shape[0]} rows but {len(valid_y)} labels")
        unknown = set(np.asarray(valid_y).tolist()) - set(classes)
        if unknown:
            raise DataError(f"validation labels: {sorted(map(str, unknown))[:3]} not among the training classes")
        valid_y = np.searchsorted(np.asarray(classes), np.asarray(valid_y))
        train_X, train_y = data, y
    else:
        held_out = validation_rows(len(y), config.valid_split, config.seed)
        train_X, train_y = data[~held_out], y[~held_out]
        valid_X, valid_y = (data[held_out], y[held_out]) if held_out.any() else (None, None)

    tuned = copy.deepcopy(model)
    tuned.head_W = np.zeros((model.layers[-1].n_hidden, len(classes)), np.float32)
    tuned.head_b = np.zeros(len(classes), np.float32)
    tuned.classes = classes
    spec, theta = classifier_stack(tuned)
    targets = np.eye(len(classes), dtype=np.float32)[train_y]

    def validate(theta):
        if valid_X is None:
            return None, None
        P = aligned_zeros((len(valid_X), len(classes)))
        _core.stack_forward(spec, theta, valid_X, P, config.threads)
        loss = float(-np.mean(np.log(np.maximum(P[np.arange(len(valid_y)), valid_y], 1e-30))))
        return loss, float(np.mean(P.argmax(axis=1) != valid_y))

    noise_type, level = config.noise_type or ("masking" if config.noise else "none"), config.noise or 0.0
    history = run(spec, theta, train_X, targets, _CORE_NOISE[noise_type], level, config, validate, reporter,
                  f"finetune ({'-'.join(map(str, model.sizes))}-{len(classes)}, softmax)", "valid")
    write_back_classifier(tuned, theta)
    tuned.finetuning = {"target": "classify", "settings": asdict(config), "history": history}
    return tuned


def finetune_reconstruct(model: SDAE, X: np.ndarray, config: FinetuneConfig, reporter: Reporter | None = None,
                         clean: np.ndarray | None = None, source: str = "data") -> SDAE:
    """A new model: the unrolled encoder-decoder trained end to end to reconstruct its input from
    a corrupted copy, or, with `clean`, to map the noisy rows X to their clean counterparts."""
    reporter = reporter or Reporter()
    data = prepared(model, X, source)
    if clean is not None:
        if clean.shape != X.shape:
            raise DataError(f"clean data: shape {clean.shape} differs from the noisy data's {X.shape}")
        targets = prepared(model, clean, "clean data")
        noise_type, level = config.noise_type or "none", config.noise or 0.0
    else:
        targets = data
        first = model.layers[0]
        noise_type = config.noise_type or first.noise_type
        level = first.noise_level if config.noise is None else config.noise
    if model.layers[0].loss == "cross-entropy" and (targets.min() < 0 or targets.max() > 1):
        raise DataError("clean data: values outside [0, 1] after the model's scaling; the model's "
                        "cross-entropy loss needs targets in [0, 1]")
    held_out = validation_rows(len(data), config.valid_split, config.seed)
    train_X, train_Y = data[~held_out], targets[~held_out]
    valid_X, valid_Y = (data[held_out], targets[held_out]) if held_out.any() else (None, None)
    if valid_X is not None and clean is None:  # judge on a fixed corruption, as training sees
        noisy = np.empty_like(valid_X)
        _core.corrupt(valid_X, noisy, _CORE_NOISE[noise_type], level, 0.0, 1.0, config.seed, 2**63, 0,
                      config.threads)
        valid_X = noisy

    tuned = copy.deepcopy(model)
    spec, theta = unrolled_stack(tuned)

    def validate(theta):
        if valid_X is None:
            return None, None
        rows = aligned_zeros(len(valid_X))
        _core.stack_row_loss(spec, theta, valid_X, valid_Y, rows, config.threads)
        return float(rows.mean(dtype=np.float64)), None

    sizes = model.sizes
    history = run(spec, theta, train_X, train_Y, _CORE_NOISE[noise_type], level, config, validate, reporter,
                  f"finetune ({'-'.join(map(str, sizes + sizes[-2::-1]))}, reconstruct)", "valid")
    write_back_unrolled(tuned, theta)
    tuned.finetuning = {"target": "reconstruct", "paired": clean is not None, "noise_type": noise_type,
                        "noise_level": level, "settings": asdict(config), "history": history}
    return tuned


def prepared(model: SDAE, X: np.ndarray, source: str) -> np.ndarray:
    model.check_input(X, source)
    check_finite(X, source)
    return model.scaler.transform(X)


def run(spec, theta, X, Y, noise, level, config: FinetuneConfig, validate, reporter: Reporter, label: str,
        criterion: str) -> list[dict]:
    """The epoch loop with early stopping: keeps the parameters of the best validation epoch."""
    train = _core.StackTrainSpec(noise=noise, noise_level=level, optimizer=_CORE_OPTIMIZER[config.optimizer],
                                 lr=config.lr, momentum=config.momentum, batch_size=config.batch_size,
                                 seed=config.seed, num_threads=config.threads)
    m = aligned_zeros(theta.size if config.optimizer != "sgd" else 0)
    v = aligned_zeros(theta.size if config.optimizer == "adam" else 0)
    step, history = 0, []
    best, best_theta, since_best = np.inf, theta.copy(), 0
    reporter.stage_start(label, config.epochs)
    try:
        for epoch in range(config.epochs):
            started = time.perf_counter()
            loss, step = _core.stack_train_epoch(spec, train, theta, m, v, step, X, Y, epoch)
            if not np.isfinite(loss) or not np.all(np.isfinite(theta)):
                theta[...] = best_theta
                raise TrainingError(f"fine-tuning, epoch {epoch + 1}: the loss diverged (NaN or infinite); "
                                    f"lower the learning rate (--lr, now {config.lr:g})")
            valid_loss, valid_error = validate(theta)
            record = {"epoch": epoch + 1, "train": loss, "valid": valid_loss, "valid_error": valid_error,
                      "seconds": round(time.perf_counter() - started, 4)}
            history.append(record)
            reporter.epoch_end(record)
            figure = record[criterion]
            if figure is None:
                best_theta[...] = theta
                continue
            if figure < best:
                best, since_best = figure, 0
                best_theta[...] = theta
            else:
                since_best += 1
                if since_best >= config.patience:
                    reporter.note(f"stopped after epoch {epoch + 1}: no better validation figure for "
                                  f"{config.patience} epochs; keeping epoch {epoch + 1 - since_best}")
                    break
    finally:
        reporter.stage_end()
    theta[...] = best_theta
    return history
