"""The training settings, in one table per job: each setting's name, default, accepted values,
whether it takes one value per layer, and whether `--resume` may change it. The CLI builds its
options' defaults and choices from these tables, the configs (`PretrainConfig`,
`FinetuneConfig`, in configs.py) are made from them and validate against them (`validate`), and
estimators can read them as scikit-learn reads `_parameter_constraints`:

    >>> from sdae_cli.training.settings import PRETRAIN
    >>> PRETRAIN["batch_size"].default, PRETRAIN["batch_size"].accepts
    (32, Range(int, 1, 9223372036854775807, text='> 0'))

No heavy imports: `sdae --help` loads this.

Fine-tuning defaults to momentum at 0.1 with a cosine decay to 1% over 50 epochs, on every row:
on the shipped digits (validation split inside the training part) that gives 98.1% where plain
SGD with 10% held out for early stopping gave 92.9%; a held-out split of a small data set is both
rows lost to training and an early-stopping signal too coarse to trust (126 rows: 0.8% a row).
"""
from __future__ import annotations

import math
import numbers
from typing import NamedTuple

from ..errors import ConfigError
from ..options import ACTIVATIONS, AUTO, DECODERS, LOSSES, MONITORS, NOISE_TYPES, OPTIMIZERS, SCALINGS, SCHEDULES

MAX_THREADS = 1024  # more is a typo: the core would start that many OS threads for a large enough loop
REQUIRED = ...  # the default of a setting that has none: it must be given


# ----------------------------------------------------------- what a setting accepts

class Choice(NamedTuple):
    """One of `names` (or None, if `optional`)."""

    names: tuple
    optional: bool = False

    def check(self, option: str, value) -> None:
        if not (value in self.names or (self.optional and value is None)):
            raise ConfigError(option, f"{value!r} is not one of {', '.join(self.names)}")


class Range(NamedTuple):
    """A number of `kind` between low and high (either end open; None: unbounded). `text` says
    the bounds in messages when the plain interval would not read well."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    text: str | None = None
    optional: bool = False  # None accepted too

    def __repr__(self) -> str:
        ends = [repr(v) for v in (self.low, self.high)] + [f"{k}=True" for k in ("low_open", "high_open")
                                                           if getattr(self, k)]
        return f"Range({self.kind.__name__}, {', '.join(ends)}" + (f", text={self.text!r})" if self.text else ")")

    def contains(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):  # NumPy's scalars are Real
            return False
        if self.kind is int and not isinstance(value, numbers.Integral) and not (
                math.isfinite(value) and value == int(value)):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return bool(above and below)  # NaN is neither

    def check(self, option: str, value) -> None:
        if not (self.contains(value) or (self.optional and value is None)):
            raise ConfigError(option, f"must be {self.describe()}, got {value}")

    def describe(self) -> str:
        if self.text:
            return self.text
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"

    def click_type(self):
        """The Click type that refuses what this range refuses, as the command line parses it."""
        import click

        make = click.IntRange if self.kind is int else click.FloatRange
        return make(self.low, self.high, min_open=self.low_open, max_open=self.high_open)


class Setting(NamedTuple):
    """One training setting. `accepts` is a Choice, a Range, or a function(option, value) that
    raises ConfigError; per-layer settings take one value, or one per layer, each checked."""

    default: object
    accepts: object
    doc: str
    per_layer: bool = False
    resumable: bool = False  # --resume may change it: it does not alter what was already trained

    def check(self, option: str, value) -> None:
        (self.accepts if callable(self.accepts) else self.accepts.check)(option, value)


def _layer_sizes(option: str, value) -> None:
    if not isinstance(value, (list, tuple)) or not value or any(int(s) <= 0 for s in value):
        raise ConfigError(option, "give one or more positive layer sizes, e.g. 500,250")


def _learning_rate(option: str, value) -> None:
    """None (the optimizer's default), or a finite number > 0 as the core will see it (float32)."""
    if value is None:
        return
    import numpy as np

    lr32 = np.float32(value) if math.isfinite(value) and abs(value) < 3e38 else np.float32(np.inf)
    if not (np.isfinite(lr32) and lr32 > 0):
        raise ConfigError(option, f"must be a finite number > 0 (in float32), got {value}")


def _lr_factors(option: str, value) -> None:
    """None (every layer at the rate), or one finite factor > 0 per layer; the count is checked
    against the network fine-tuned (finetuning.layer_lr_factors)."""
    if value is None:
        return
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(option, f"give one factor per layer, e.g. 0.1,0.3,1,1; got {value!r}")
    for factor in value:
        if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not (
                math.isfinite(factor) and factor > 0):
            raise ConfigError(option, f"each factor must be a finite number > 0, got {factor!r}")


def _any(option: str, value) -> None:
    """Checked against another setting (see check_noise)."""


def _flag(option: str, value) -> None:
    if not isinstance(value, bool):
        raise ConfigError(option, f"must be True or False, got {value!r}")


# ------------------------------------------------------------------ the tables

# Shared by both jobs; each table below adds its own and sets its own defaults.
_COMMON = {
    "batch_size": Setting(32, Range(int, 1, 2**63 - 1, text="> 0"), "rows per minibatch"),
    "optimizer": Setting(None, Choice(OPTIMIZERS), "sgd, momentum or adam"),
    "lr": Setting(None, _learning_rate, "learning rate; None: the optimizer's default (DEFAULT_LR)",
                  resumable=True),
    "momentum": Setting(0.9, Range(float, 0, 1, high_open=True), "the momentum optimizer's"),
    "lr_schedule": Setting(None, Choice(SCHEDULES), "learning rate per epoch (see schedule.py)"),
    "lr_decay": Setting(0.95, Range(float, 0, 1, low_open=True), "exponential: factor per epoch"),
    "lr_final": Setting(0.01, Range(float, 0, 1, low_open=True, text="a fraction of --lr in (0, 1]"),
                        "cosine, linear: the last epoch's learning rate, as a fraction of lr"),
    "valid_split": Setting(None, Range(float, 0, 1, high_open=True), "fraction of rows held out"),
    "seed": Setting(0, Range(int, 0, 2**64 - 1, text="in [0, 2**64)"), "seeds initialisation, noise, order"),
    "threads": Setting(0, Range(int, 0, MAX_THREADS), "compute threads (0: all cores)", resumable=True),
}


def _table(**settings) -> dict[str, Setting]:
    """Settings in the order a config takes them: the job's own, then the shared ones, with the
    job's defaults (a plain value given for a shared setting is its default in this job)."""
    out = {}
    for name, value in settings.items():
        out[name] = _COMMON[name]._replace(default=value) if name in _COMMON else value
    return out | {name: s for name, s in _COMMON.items() if name not in out}


PRETRAIN: dict[str, Setting] = _table(
    layers=Setting(REQUIRED, _layer_sizes, "hidden layer sizes, bottom to top"),
    noise=Setting(0.3, _any, "corruption: the fraction masked or flipped, or gaussian sigma", per_layer=True),
    noise_type=Setting("masking", Choice(NOISE_TYPES), "masking, gaussian, salt-pepper or none",
                       per_layer=True),
    activation=Setting("sigmoid", Choice(ACTIVATIONS), "encoder activation", per_layer=True),
    loss=Setting(AUTO, Choice((AUTO, *LOSSES)), "auto: cross-entropy for data in [0, 1], else mse"),
    decoder=Setting(AUTO, Choice((AUTO, *DECODERS)), "auto: sigmoid for data in [0, 1], else linear"),
    tied=Setting(True, _flag, "decoders use W transposed"),
    epochs=Setting(15, Range(int, 0, text=">= 0 (0: the layer keeps its initial weights)"),
                   "epochs of each layer", per_layer=True, resumable=True),
    batch_size=32, optimizer="sgd", lr=None, momentum=0.9, lr_schedule="constant", lr_decay=0.95,
    lr_final=0.01,
    scale=Setting(AUTO, Choice(SCALINGS), "input scaling; auto: minmax unless the data lie in [0, 1]"),
    valid_split=0.1,
)

FINETUNE: dict[str, Setting] = _table(
    epochs=Setting(50, Range(int, 1, text="> 0"), "epochs at most", resumable=True),
    batch_size=32, optimizer="momentum", lr=None, momentum=0.9, lr_schedule="cosine", lr_decay=0.95,
    lr_final=0.01, valid_split=0.0,
    patience=Setting(10, Range(int, 1, text="> 0"), "epochs without a better validation figure before stopping",
                     resumable=True),
    monitor=Setting(None, Choice(MONITORS, optional=True), "the validation figure that keeps an epoch; "
                    "None: error to classify, loss to reconstruct"),
    noise=Setting(None, _any, "input corruption; None: none to classify, the input layer's to reconstruct"),
    noise_type=Setting(None, Choice(NOISE_TYPES, optional=True), "the corruption's kind"),
    dropout=Setting(0.0, Range(float, 0, 1, high_open=True, text="a fraction in [0, 1)"),
                    "fraction of every hidden layer's units dropped for each training row"),
    lr_factors=Setting(None, _lr_factors, "each layer's learning rate as a factor of lr, bottom up, the output "
                       "layer last; None: lr for every layer", resumable=True),
    average_from=Setting(0, Range(int, 0, text=">= 0 (0: off)"),
                         "from this epoch on, the model of an epoch is the mean of the parameters at the end "
                         "of every epoch since (stochastic weight averaging, SWA); 0: off"),
)

# The learning rate each optimizer starts from when none is given.
DEFAULT_LR = {"pretrain": {"sgd": 0.1, "momentum": 0.01, "adam": 0.001},
              "finetune": {"sgd": 0.1, "momentum": 0.1, "adam": 0.001}}

# What a resumed run may change (the same for both jobs): the one list --resume reads.
RESUMABLE = tuple(sorted({name for table in (PRETRAIN, FINETUNE) for name, s in table.items() if s.resumable}))


def option_name(name: str) -> str:
    """A setting's command-line spelling, as messages name it: batch_size -> batch-size."""
    return name.replace("_", "-")


def expand(value, n: int, name: str) -> list:
    """One value for every layer, or exactly one per layer."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(name, f"{len(values)} values given for {n} layers; give one, or one per layer")
    return values


def check_noise(kind: str | None, level) -> None:
    """A corruption level against its kind: a fraction for masking and salt-and-pepper, a sigma
    for gaussian."""
    if not isinstance(level, (int, float)):
        raise ConfigError("noise", f"{level!r} is not a number")
    if kind in (None, "masking", "salt-pepper") and not 0.0 <= level < 1.0:
        raise ConfigError("noise", f"{level} is not a fraction in [0, 1) for {kind or 'masking'} noise")
    if kind == "gaussian" and not (math.isfinite(level) and level >= 0.0):
        raise ConfigError("noise", f"gaussian sigma {level} must be a finite number >= 0")


def validate(config, table: dict[str, Setting], job: str) -> None:
    """Checks every setting of `config` against `table`, fills in the learning rate the optimizer
    starts from, and (for per-layer settings) config.per_layer: one value per layer each."""
    n = None
    if "layers" in table:
        table["layers"].check("layers", config.layers)
        n = len(config.layers)
    config.per_layer = {}
    for name, setting in table.items():
        value = getattr(config, name)
        if setting.per_layer:
            values = expand(value, n, option_name(name))
            for item in values:
                setting.check(option_name(name), item)
            config.per_layer[name] = values
        elif name != "layers":
            setting.check(option_name(name), value)
    if "layers" in table:
        if isinstance(config.epochs, (list, tuple)) and len(config.epochs) == 1:
            config.epochs = config.epochs[0]  # as models record it: one number for every layer
        for kind, level in zip(config.per_layer["noise_type"], config.per_layer["noise"]):
            check_noise(kind, level)
    elif config.noise is not None:
        check_noise(config.noise_type, config.noise)
    if config.lr is None:
        config.lr = DEFAULT_LR[job][config.optimizer]


def resumed_settings(saved: dict, settings: dict, given: set[str]) -> dict:
    """The settings of a resumed run: the checkpoint's (`saved`), except those `given` on this
    command line. Only the RESUMABLE may differ from the checkpoint's."""
    # A setting the checkpoint does not name is newer than it: the run had its default.
    merged = {name: value if name in given or name not in saved else saved[name] for name, value in settings.items()}
    check_resumable(saved, merged)
    return merged


def check_resumable(saved: dict, settings: dict) -> None:
    """Refuses a resumed run whose settings differ from the checkpoint's in anything but RESUMABLE."""
    for key, value in saved.items():
        if key not in RESUMABLE and settings.get(key) != value:
            raise ConfigError(option_name(key), f"the checkpoint was made with {value!r}, "
                              f"not {settings.get(key)!r}; a resumed run keeps its settings")


def lr_help(job: str) -> str:
    return "Learning rate (default: " + ", ".join(f"{name} {lr:g}" for name, lr in DEFAULT_LR[job].items()) + ")."
