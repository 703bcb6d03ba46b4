"""The estimators' parameters, read from the training settings tables (training/settings.py),
which the CLI's options are built from too: names, defaults and checks live there, once.

    noise_type        -> noise_type              (pretraining's settings, as named there)
    tied              -> untied                  (as the CLI's flag: --untied)
    finetune epochs   -> finetune_epochs         (fine-tuning's settings, prefixed)
    seed              -> random_state            (scikit-learn's names for the shared ones;
    threads           -> n_threads                verbose, the CLI's -q turned round, is off
                         verbose                  by default, as in every scikit-learn estimator)

Options that name files or steer a run (-o, --resume, --checkpoint, --labels, ...) are not
settings: an estimator takes its data as arrays and keeps its model in memory.
"""
from __future__ import annotations

import numbers

import numpy as np

from .errors import ConfigError
from .training.settings import FINETUNE, PRETRAIN, REQUIRED

FINETUNE_PREFIX = "finetune_"
RENAMED = {"seed": "random_state", "threads": "n_threads"}  # scikit-learn's names
SHARED = tuple(RENAMED)  # one value for pretraining and fine-tuning alike


def _default(setting):
    return None if setting.default is REQUIRED else setting.default


def estimator_parameters() -> dict[str, list[tuple[str, object]]]:
    """(name, default) of each estimator's parameters, in order: pretraining's settings, then
    (the transformer's `finetune` and) fine-tuning's, then random_state, n_threads, verbose."""
    pretrain = [("untied", not s.default) if name == "tied" else (name, _default(s))
                for name, s in PRETRAIN.items() if name not in SHARED]
    finetune = [(FINETUNE_PREFIX + name, _default(s)) for name, s in FINETUNE.items() if name not in SHARED]
    shared = [(RENAMED[name], _default(PRETRAIN[name])) for name in SHARED] + [("verbose", 0)]
    return {"transformer": pretrain + [("finetune", None)] + finetune + shared,
            "classifier": pretrain + finetune + shared}


def _per_layer(value):
    """A per-layer parameter as the config takes it: a sequence as a list, else the value."""
    return list(value) if isinstance(value, (list, tuple, np.ndarray)) else value


def pretrain_settings(params: dict, seed: int) -> dict:
    """PretrainConfig's arguments from the estimator's parameters (the config checks them)."""
    out = {}
    for name, setting in PRETRAIN.items():
        if name == "tied":
            out[name] = not params["untied"] if isinstance(params["untied"], (bool, np.bool_)) else params["untied"]
        elif name in SHARED:
            out[name] = seed if name == "seed" else params[RENAMED[name]]
        elif name == "layers":
            layers = params["layers"]
            if layers is None:
                raise ConfigError("layers", "give the hidden layer sizes, e.g. layers=(500, 250)")
            out[name] = [layers] if isinstance(layers, numbers.Integral) else _per_layer(layers)
        else:
            out[name] = _per_layer(params[name]) if setting.per_layer else params[name]
    return out


def finetune_settings(params: dict, seed: int) -> dict:
    """FinetuneConfig's arguments from the estimator's finetune_* (and shared) parameters."""
    return {name: seed if name == "seed" else params[RENAMED[name]] if name in SHARED
            else params[FINETUNE_PREFIX + name] for name in FINETUNE}


def parameter_name(option: str, prefix: str, params: dict) -> str:
    """The parameter a ConfigError's option (a setting's CLI spelling) stands for."""
    name = option.replace("-", "_")
    if name in RENAMED:
        return RENAMED[name]
    if name == "tied":
        return "untied"
    return prefix + name if prefix + name in params else name


def seed_of(random_state) -> int:
    """The core's seed for scikit-learn's random_state: an int as it is; None or a
    RandomState draws one (from NumPy's global state, or from that RandomState)."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, (bool, np.bool_)):
        if not 0 <= int(random_state) < 2**64:
            raise ConfigError("random_state", f"must be in [0, 2**64), got {random_state}")
        return int(random_state)
    raise ConfigError("random_state", f"must be None, an int or a numpy RandomState, got {random_state!r}")


def _parameter_value(value, per_layer: bool):
    """A recorded setting as a parameter: per-layer lists of one as their item, lists as tuples."""
    if isinstance(value, list):
        return value[0] if per_layer and len(value) == 1 else tuple(value)
    return value


def params_from_model(model, names: list[str]) -> dict:
    """The parameters a model was trained with (from its metadata), among `names`: what makes
    a loaded estimator's get_params say how its model was made."""
    found = {}
    for key, value in (model.training or {}).items():
        per_layer = key in PRETRAIN and PRETRAIN[key].per_layer
        if key == "tied":
            found["untied"] = not value
        else:
            found[RENAMED.get(key, key)] = _parameter_value(value, per_layer)
    tuned = model.finetuning or {}
    for key, value in (tuned.get("settings") or {}).items():
        if key not in RENAMED:
            found[FINETUNE_PREFIX + key] = _parameter_value(value, False)
    if tuned.get("target") == "reconstruct":
        found["finetune"] = "reconstruct"
    return {name: value for name, value in found.items() if name in names}
