"""The estimators' parameters, read from the CLI's own option definitions: the names, the
defaults and the checks of `sdae pretrain` and `sdae finetune`, so that none is written twice.

    --noise-type      -> noise_type              (pretrain's options, dashes as underscores)
    --untied          -> untied                  (the flag, False by default)
    finetune --epochs -> finetune_epochs         (fine-tuning's options, prefixed)
    --seed            -> random_state            (scikit-learn's names for the shared three;
    --threads         -> n_threads                verbose is off by default, as in every
    -q/--quiet        -> verbose                  scikit-learn estimator)

Options that name files or steer a run (-o, --resume, --checkpoint, --labels, ...) have no
parameter: an estimator takes its data as arrays and keeps its model in memory.
"""
from __future__ import annotations

import functools
import numbers

import click
import numpy as np

from .errors import ConfigError

FINETUNE_PREFIX = "finetune_"
# Options that are not training settings, by click's name for them.
NOT_SETTINGS = frozenset({
    "output", "resume_path", "key", "checkpoint_path", "checkpoint_every",  # files and run control
    "model_path", "labels_path", "label_column", "clean_path", "valid_path", "valid_labels_path",  # inputs
    "target",  # the transformer's `finetune`; the classifier's is always classify
})
RENAMED = {"seed": "random_state", "threads": "n_threads", "quiet": "verbose"}
SHARED = tuple(RENAMED)  # one value for pretraining and fine-tuning alike


def _command(name: str) -> click.Command:
    from .cli import cli

    return cli.commands[name]


def _options(command: str) -> list[click.Option]:
    """The command's options that are training settings, in the order of its --help."""
    return [p for p in _command(command).params if isinstance(p, click.Option) and p.name not in NOT_SETTINGS]


def _python_value(value):
    """A CLI value as a parameter value: a one-item list as its item, a longer one as a tuple."""
    if isinstance(value, list):
        return value[0] if len(value) == 1 else tuple(value)
    return value


@functools.cache
def _defaults(command: str) -> dict:
    """What the command's options hold when none is given: its own parse of an empty command
    line (once: the options do not change while the program runs; callers only read it)."""
    return _command(command).make_context(command, ["DATA"], resilient_parsing=True).params


def estimator_parameters() -> dict[str, list[tuple[str, object]]]:
    """(name, default) of each estimator's parameters, in order: pretraining's settings, then
    (the transformer's `finetune` and) fine-tuning's, then the shared three."""
    pre, tune = _defaults("pretrain"), _defaults("finetune")
    pretrain = [(o.name, _python_value(pre[o.name])) for o in _options("pretrain") if o.name not in SHARED]
    finetune = [(FINETUNE_PREFIX + o.name, _python_value(tune[o.name])) for o in _options("finetune")
                if o.name not in SHARED]
    shared = [(RENAMED[o.name], 0 if o.name == "quiet" else pre[o.name]) for o in _options("pretrain")
              if o.name in SHARED]
    return {"transformer": pretrain + [("finetune", None)] + finetune + shared,
            "classifier": pretrain + finetune + shared}


def _cli_form(value):
    """A parameter value as the CLI's parser takes it: sequences comma-joined, numbers as text."""
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return value
    if isinstance(value, (list, tuple, np.ndarray)):
        return ",".join(str(_cli_form(v)) for v in value)
    return str(value)


def _checked(command: str, values: dict, prefix: str = "") -> dict:
    """The command's settings (click's names) from parameter values, through the options' own
    conversions and checks; a refused value is a ConfigError naming the parameter."""
    ctx, defaults = click.Context(_command(command)), _defaults(command)
    out = {}
    for option in _options(command):
        if option.name == "quiet":
            continue  # verbose is any number, as in scikit-learn
        name = RENAMED.get(option.name) if option.name in SHARED else prefix + option.name
        value = values[name]
        if value is None:  # unset, where the CLI's default is unset too (e.g. lr: the optimizer's)
            default = _python_value(defaults[option.name])
            if default is not None:
                raise ConfigError(name, f"None is not a value here (the default is {default!r})")
            out[option.name] = None
            continue
        try:
            out[option.name] = option.process_value(ctx, _cli_form(value))
        except click.BadParameter as e:
            raise ConfigError(name, e.message) from None
    return out


def _config_fields(config_class, settings: dict, seed: int, threads: int) -> dict:
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class) if f.init}
    out = {name: value for name, value in settings.items() if name in names}
    if "untied" in settings:
        out["tied"] = not settings["untied"]
    out["seed"], out["threads"] = seed, threads
    return out


def pretrain_settings(params: dict, seed: int) -> dict:
    """PretrainConfig's arguments from the estimator's parameters."""
    from .pretraining import PretrainConfig

    settings = _checked("pretrain", {**params, "random_state": seed})
    if settings["layers"] is None:
        raise ConfigError("layers", "give the hidden layer sizes, e.g. layers=(500, 250)")
    return _config_fields(PretrainConfig, settings, seed, settings["threads"])


def finetune_settings(params: dict, seed: int) -> dict:
    """FinetuneConfig's arguments from the estimator's finetune_* (and shared) parameters."""
    from .finetuning import FinetuneConfig

    settings = _checked("finetune", {**params, "random_state": seed}, FINETUNE_PREFIX)
    return _config_fields(FinetuneConfig, settings, seed, settings["threads"])


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


def params_from_model(model, names: list[str]) -> dict:
    """The parameters a model was trained with (from its metadata), among `names`: what makes
    a loaded estimator's get_params say how its model was made."""
    found = {}
    for key, value in (model.training or {}).items():
        if key == "tied":
            found["untied"] = not value
        elif key in RENAMED:
            found[RENAMED[key]] = value
        else:
            found[key] = value
    tuned = model.finetuning or {}
    for key, value in (tuned.get("settings") or {}).items():
        if key not in RENAMED:
            found[FINETUNE_PREFIX + key] = value
    if tuned.get("target") == "reconstruct":
        found["finetune"] = "reconstruct"
    return {name: _python_value(value) for name, value in found.items() if name in names}
