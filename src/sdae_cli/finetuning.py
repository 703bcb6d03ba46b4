"""Fine-tuning the whole stack end to end: supervised (softmax on top) or unsupervised (the
unrolled deep autoencoder, optionally on noisy/clean pairs)."""
from __future__ import annotations

import copy
import time

import numpy as np

from . import _core, resources
from .errors import ConfigError, DataError, SdaeError
from .layer import CORE_NOISE, CORE_OPTIMIZER, aligned_zeros
from .model import SDAE
from .scaling import check_finite
from .schedule import epoch_lr
from .stack import classifier_stack, unrolled_stack, write_back_classifier, write_back_unrolled
from .training import checkpoints
from .training.configs import FinetuneConfig
from .training.reporter import Reporter
from .training.state import TrainingState, check_divergence, run_epochs, validation_rows


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
                        reporter: Reporter | None = None, valid: tuple | None = None, source: str = "data",
                        checkpointing=None, resume: str | None = None) -> SDAE:
    """A new model: the stack with a softmax layer on top, all trained on (X, labels)."""
    reporter = reporter or Reporter()
    if len(labels) != X.shape[0]:
        raise DataError(f"{source}: {X.shape[0]} rows but {len(labels)} labels")
    classes, y = class_indices(labels, "labels")
    resources.require("finetune", resources.finetune_parts(X.shape, model.sizes, len(classes), config,
                                                           model.scaler.kind != "none", False))
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
    monitor = config.monitor or "error"
    saver = make_saver(checkpointing, train_X, targets, config, {"target": "classify", "classes": classes})
    history, kept = run(spec, theta, train_X, targets, CORE_NOISE[noise_type], level, config, validate, reporter,
                        f"finetune ({'-'.join(map(str, model.sizes))}-{len(classes)}, softmax)", monitor, saver,
                        model, resume)
    write_back_classifier(tuned, spec, theta)
    tuned.finetuning = {"target": "classify", "settings": config.to_json(), "monitor": monitor, "kept_epoch": kept,
                        "history": history}
    return tuned


def finetune_reconstruct(model: SDAE, X: np.ndarray, config: FinetuneConfig, reporter: Reporter | None = None,
                         clean: np.ndarray | None = None, source: str = "data", checkpointing=None,
                         resume: str | None = None) -> SDAE:
    """A new model: the unrolled encoder-decoder trained end to end to reconstruct its input from
    a corrupted copy, or, with `clean`, to map the noisy rows X to their clean counterparts."""
    resources.require("finetune", resources.finetune_parts(X.shape, model.sizes, None, config,
                                                           model.scaler.kind != "none", clean is not None))
    reporter = reporter or Reporter()
    if config.monitor == "error":
        raise ConfigError("monitor", "reconstruct has no classification error; use --monitor loss")
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
        raise DataError(f"{'clean data' if clean is not None else source}: values outside [0, 1] after the "
                        "model's scaling; the model's cross-entropy loss needs targets in [0, 1]")
    held_out = validation_rows(len(data), config.valid_split, config.seed)
    train_X, train_Y = data[~held_out], targets[~held_out]
    valid_X, valid_Y = (data[held_out], targets[held_out]) if held_out.any() else (None, None)
    if valid_X is not None and clean is None:  # judge on a fixed corruption, as training sees
        noisy = np.empty_like(valid_X)
        low, high = float(data.min()), float(data.max())  # salt-and-pepper: the data's own extremes
        _core.corrupt(valid_X, noisy, CORE_NOISE[noise_type], level, low, high, config.seed, 2**63, 0,
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
    saver = make_saver(checkpointing, train_X, train_Y, config,
                       {"target": "reconstruct", "paired": clean is not None})
    history, kept = run(spec, theta, train_X, train_Y, CORE_NOISE[noise_type], level, config, validate, reporter,
                        f"finetune ({'-'.join(map(str, sizes + sizes[-2::-1]))}, reconstruct)", "loss", saver,
                        model, resume)
    write_back_unrolled(tuned, spec, theta)
    tuned.finetuning = {"target": "reconstruct", "paired": clean is not None, "noise_type": noise_type,
                        "noise_level": level, "settings": config.to_json(), "monitor": "loss", "kept_epoch": kept,
                        "history": history}
    return tuned


def prepared(model: SDAE, X: np.ndarray, source: str) -> np.ndarray:
    model.check_input(X, source)
    check_finite(X, source)
    return model.scaler.transform(X, source)


def make_saver(checkpointing, X: np.ndarray, Y: np.ndarray, config: FinetuneConfig, job: dict) -> checkpoints.Saver:
    """The checkpoints of fine-tuning on (X, Y) for `job` (the target and its details)."""
    return checkpoints.Saver(checkpointing, "finetune", config.to_json(),
                             checkpoints.fingerprint(X) + checkpoints.fingerprint(Y), job)


def save_state(saver: checkpoints.Saver, base: SDAE, state: TrainingState) -> None:
    """A checkpoint holds the model fine-tuning started from, and the state."""
    arrays = {f"model.{k}": v for k, v in base.arrays().items()}
    saver.save({"state": state.scalars()}, {**arrays, **state.arrays()})


def restore_state(saver: checkpoints.Saver, path: str, state: TrainingState) -> None:
    meta, arrays = saver.load(path, "made from other data, labels or target; resume on the same ones")
    try:
        state.restore(arrays, meta["state"])
    except (KeyError, ValueError) as e:
        raise SdaeError(f"{path}: damaged checkpoint ({e})") from None


def base_model(path: str) -> SDAE:
    """The model a fine-tuning checkpoint started from."""
    _, arrays = checkpoints.load(path, "finetune")
    return SDAE.from_arrays({k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")})


def run(spec, theta, X, Y, noise, level, config: FinetuneConfig, validate, reporter: Reporter, label: str,
        monitor: str, saver: checkpoints.Saver, base: SDAE, resume: str | None) -> tuple[list[dict], int]:
    """The epoch loop with early stopping: keeps the parameters of the epoch with the best
    validation figure (`monitor`: "error" or "loss"; on a tie the earlier epoch). Returns the
    history and the kept epoch. Checkpoints hold `base`, the model fine-tuning started from."""
    low, high = float(X.min()), float(X.max())
    factors = layer_lr_factors(config, len(spec.layout()) // 2, label.removeprefix("finetune "))

    def train(lr: float):
        return _core.TrainSpec(noise=noise, noise_level=level, noise_low=low, noise_high=high,
                               dropout=config.dropout, lr_factors=factors, optimizer=CORE_OPTIMIZER[config.optimizer],
                               lr=lr, momentum=config.momentum,
                               batch_size=config.batch_size, seed=config.seed, num_threads=config.threads)

    criterion = {"error": "valid_error", "loss": "valid"}[monitor]
    state = TrainingState(theta, config.optimizer, keep_best=True, averaging=config.average_from > 0)
    if resume:
        restore_state(saver, resume, state)
    reporter.stage_start(label, config.epochs)
    try:
        for record in state.history:
            reporter.epoch_end(record)

        def interrupted():
            where = (f"; progress saved to {saver.path}; resume with the same command and "
                     f"--resume {saver.path}") if saver.path else ""
            return checkpoints.Interrupted(f"fine-tuning interrupted after epoch {state.epoch}{where}")

        run_epochs(state, lambda: tune_epoch(spec, train, X, Y, config, validate, reporter, criterion, state),
                   lambda: state.epoch < config.epochs and state.since_best < config.patience,
                   lambda: save_state(saver, base, state), saver.every, interrupted)
        if state.since_best >= config.patience:
            reporter.note(f"stopped after epoch {state.epoch}: no better validation figure for "
                          f"{config.patience} epochs; keeping epoch {state.epoch - state.since_best}")
    finally:
        reporter.stage_end()
    theta[...] = state.best_theta
    return state.history, state.epoch - state.since_best


def layer_lr_factors(config: FinetuneConfig, n_layers: int, network: str = "") -> list[float]:
    """--lr-factors for the core: one per layer of the network fine-tuned (`network` names it),
    each times the learning rate a finite float32; [] for none."""
    if config.lr_factors is None:
        return []
    if len(config.lr_factors) != n_layers:
        raise ConfigError("lr-factors", f"{len(config.lr_factors)} given for the {n_layers} layers of the network"
                          f"{' ' + network if network else ''}; give one per layer, bottom up, the output layer last")
    with np.errstate(over="ignore"):
        if not all(np.isfinite(np.float32(config.lr) * np.float32(f)) for f in config.lr_factors):
            raise ConfigError("lr-factors", f"a factor times the learning rate {config.lr} is beyond float32")
    return [float(f) for f in config.lr_factors]


def tune_epoch(spec, train, X, Y, config: FinetuneConfig, validate, reporter: Reporter, criterion: str,
               state: TrainingState) -> None:
    started = time.perf_counter()
    lr = epoch_lr(config.lr, config.lr_schedule, config.lr_decay, config.lr_final, state.epoch, config.epochs)
    loss, state.step = _core.stack_train_epoch(spec, train(lr), state.theta, state.m, state.v, state.step, X, Y,
                                               state.epoch)
    check_divergence(loss, state.theta, f"fine-tuning, epoch {state.epoch + 1}", config.lr)
    state.epoch += 1
    # From --average-from on, an epoch's model is the mean of the parameters since (SWA): that is
    # what is validated and kept; training goes on from the epoch's own parameters.
    averaging = 0 < config.average_from <= state.epoch
    model = state.add_to_average() if averaging else state.theta
    valid_loss, valid_error = validate(model)
    record = {"epoch": state.epoch, "train": loss, "valid": valid_loss, "valid_error": valid_error, "lr": lr,
              "seconds": round(time.perf_counter() - started, 4)}
    if averaging:
        record["averaged"] = state.averaged
    state.history.append(record)
    reporter.epoch_end(record)
    figure = record[criterion]
    if figure is None or state.best is None or figure < state.best:
        state.best, state.since_best = figure, 0
        state.best_theta[...] = model
    else:
        state.since_best += 1
