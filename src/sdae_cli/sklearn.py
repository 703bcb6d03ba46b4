"""scikit-learn estimators over the same model, core and file as the CLI.

    SDAETransformer   fit(X) pretrains (and, with finetune="reconstruct", fine-tunes the
                      unrolled stack); transform, inverse_transform, denoise, score_samples
    SDAEClassifier    fit(X, y) pretrains, then fine-tunes with a softmax on top

Their constructor parameters are the training settings, read from the tables the CLI's options
are built from (training/settings.py, through estimator_params.py): a name or default lives in
one place. `save(path)` writes the model file
the CLI reads; `load(path)` gives back a fitted estimator from any model file.
"""
from __future__ import annotations

try:
    import sklearn  # noqa: F401  (the top-level scikit-learn: imports here are absolute)
except ImportError:
    raise ImportError("sdae's estimators need scikit-learn: pip install 'sdae[sklearn]'") from None

import functools
import inspect

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import estimator_params as settings
from .errors import ConfigError, DataError, ModelError
from .model import SDAE

__all__ = ["SDAEClassifier", "SDAETransformer", "load"]

FINETUNE_TARGETS = (None, "reconstruct")


def _with_signature(cls, names_and_defaults: list[tuple[str, object]]):
    """Gives cls an __init__ taking exactly these keyword parameters, stored as attributes
    unchanged (scikit-learn's contract; get_params reads the signature)."""
    names = [name for name, _ in names_and_defaults]

    def __init__(self, **params):
        unknown = set(params) - set(names)
        if unknown:
            raise TypeError(f"{cls.__name__}() got unexpected keyword arguments {sorted(unknown)}")
        for name, default in names_and_defaults:
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
           for name, default in names_and_defaults])
    __init__.__qualname__ = f"{cls.__name__}.__init__"
    __init__.__doc__ = cls.__doc__
    cls.__init__ = __init__
    return cls


class _SDAEBase(BaseEstimator):
    """What both estimators share: the parameters as training settings, the model, the file."""

    # --- fitting -------------------------------------------------------------------------------
    def _reporter(self):
        from .progress import CliReporter
        from .training.reporter import Reporter

        return CliReporter(quiet=False) if self.verbose else Reporter()

    def _configs(self, finetune: str | None):
        """(PretrainConfig, FinetuneConfig or None) from the parameters, checked against the
        settings tables before any training; a bad value is a ValueError naming the parameter."""
        from .finetuning import layer_lr_factors
        from .training.configs import FinetuneConfig, PretrainConfig

        params = self.get_params(deep=False)
        try:
            seed = settings.seed_of(self.random_state)
            pre = PretrainConfig(**settings.pretrain_settings(params, seed))
        except ConfigError as e:
            raise self._refused(e, "") from None
        if not finetune:
            return pre, None
        try:
            tune = FinetuneConfig(**settings.finetune_settings(params, seed))
            if finetune == "reconstruct" and tune.monitor == "error":
                raise ConfigError("monitor", "reconstruct has no classification error; use 'loss'")
            # the network fine-tuned: the hidden layers and a softmax, or unrolled
            layer_lr_factors(tune, len(pre.layers) + 1 if finetune == "classify" else 2 * len(pre.layers))
        except ConfigError as e:
            raise self._refused(e, settings.FINETUNE_PREFIX) from None
        return pre, tune

    def _refused(self, error: ConfigError, prefix: str) -> ValueError:
        name = settings.parameter_name(error.option, prefix, self.get_params(deep=False))
        return ValueError(f"{type(self).__name__}: {name}: {error.message}")

    # --- using -----------------------------------------------------------------------------------
    def _checked(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return validate_data(self, X, reset=False, dtype=(np.float32, np.float64))

    def _threads(self) -> int:
        return int(self.n_threads or 0)  # the core: 0 is every core

    def save(self, path: str) -> None:
        """Writes the model file (.npz) that every sdae command reads."""
        check_is_fitted(self, "model_")
        self.model_.save(path)

    @classmethod
    def load(cls, path: str):
        """A fitted estimator from a model file made by the CLI or by save(); its parameters are
        the settings the model was trained with."""
        return cls._from_model(SDAE.load(path))

    @classmethod
    def _from_model(cls, model: SDAE):
        estimator = cls(**settings.params_from_model(model, cls._param_names()))
        estimator._set_model(model)
        return estimator

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def _set_model(self, model: SDAE) -> None:
        self.model_ = model
        self.n_features_in_ = model.n_in

    # --- pickling: the model travels as its file's arrays (its C++ specs do not pickle) ---------
    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state:
            state = dict(state, model_=state["model_"].arrays())
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), dict):
            state = dict(state, model_=SDAE.from_arrays(state["model_"]))
        super().__setstate__(state)


def _data_errors_as_value_errors(function):
    """Data the model refuses is a ValueError, as scikit-learn expects."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DataError as e:
            raise ValueError(str(e)) from None
    return wrapper


class SDAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _SDAEBase):
    """A stack of denoising autoencoders as a scikit-learn transformer.

    Parameters are `sdae pretrain`'s options (same names, underscores for dashes, same
    defaults; `untied` as the flag), then `finetune` (None, or "reconstruct" to fine-tune the
    unrolled stack end to end after pretraining, as `sdae finetune --target reconstruct`) with
    `sdae finetune`'s options prefixed `finetune_` (finetune_epochs, finetune_lr, ...), and
    random_state (--seed; None draws one), n_threads (--threads; 0: all cores) and verbose
    (progress on stderr, as without -q; default off). Per-layer settings (noise, noise_type,
    epochs, activation) take one value or a sequence with one per layer.

    Fitted attributes: model_ (the sdae.SDAE), n_features_in_ (and feature_names_in_).
    """

    @_data_errors_as_value_errors
    def fit(self, X, y=None):
        """Pretrains on X (rows, features); with finetune="reconstruct", then fine-tunes."""
        from .finetuning import finetune_reconstruct
        from .pretraining import pretrain

        if self.finetune not in FINETUNE_TARGETS:
            raise ValueError(f"SDAETransformer: finetune: {self.finetune!r} is not None or 'reconstruct'")
        X = validate_data(self, X, dtype=(np.float32, np.float64))
        pre, tune = self._configs(self.finetune)
        model = pretrain(X, pre, self._reporter(), source="X")
        if tune is not None:
            model = finetune_reconstruct(model, X, tune, self._reporter(), source="X")
        self.model_ = model
        return self

    @_data_errors_as_value_errors
    def transform(self, X, layer: int | None = None):
        """The codes of X: the top layer's (rows, n_top), or layer `layer`'s (1 is the first)."""
        X = self._checked(X)
        return self.model_.encode(X, layer, self._threads())

    @_data_errors_as_value_errors
    def inverse_transform(self, X):
        """Top codes (rows, n_top) decoded back to the input's units."""
        check_is_fitted(self, "model_")
        from sklearn.utils import check_array

        H = check_array(X, dtype=(np.float32, np.float64))
        return self.model_.decode(H, self._threads())

    @_data_errors_as_value_errors
    def denoise(self, X):
        """X up through every layer and back down, in X's units (sdae denoise)."""
        X = self._checked(X)
        return self.model_.denoise(X, self._threads())

    @_data_errors_as_value_errors
    def score_samples(self, X):
        """Minus each row's reconstruction error (sdae score): higher is more typical."""
        X = self._checked(X)
        return -self.model_.score(X, self._threads()).astype(np.float64)

    def score(self, X, y=None):
        """The mean of score_samples: minus the mean reconstruction error (for model selection)."""
        return float(np.mean(self.score_samples(X)))

    @property
    def _n_features_out(self):
        return self.model_.layers[-1].n_hidden

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the core computes in float32
        return tags


class SDAEClassifier(ClassifierMixin, _SDAEBase):
    """Pretrained denoising autoencoders under a softmax layer, fine-tuned together on labels
    (sdae pretrain, then sdae finetune --labels) as a scikit-learn classifier.

    Parameters are `sdae pretrain`'s options, then `sdae finetune`'s prefixed `finetune_`,
    random_state, n_threads and verbose, as for SDAETransformer. Labels may be integers or
    strings; predict returns them.

    Fitted attributes: model_, classes_, n_features_in_ (and feature_names_in_). The tuned
    stack's codes are model_.encode(X) (a classifier with a transform method would pass for a
    transformer in a Pipeline).
    """

    @_data_errors_as_value_errors
    def fit(self, X, y):
        """Pretrains on X, then fine-tunes the stack with a softmax on top on (X, y)."""
        from .finetuning import finetune_supervised
        from .pretraining import pretrain

        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"SDAEClassifier: only one class ({classes[0]!r}); classification needs at least two")
        pre, tune = self._configs("classify")
        model = pretrain(X, pre, self._reporter(), source="X")
        self.model_ = finetune_supervised(model, X, y, tune, self._reporter(), source="X")
        self.classes_ = classes
        return self

    def _set_model(self, model: SDAE) -> None:
        if model.classes is None:
            raise ModelError("the model has no classifier (fine-tune it with labels); load it with "
                             "SDAETransformer.load")
        super()._set_model(model)
        self.classes_ = np.asarray(model.classes)

    @_data_errors_as_value_errors
    def predict_proba(self, X):
        """Class probabilities (rows, n_classes), columns in the order of classes_."""
        X = self._checked(X)
        return self.model_.predict_proba(X, self._threads())

    def predict(self, X):
        """The label of the most probable class for each row, as given to fit."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


PARAMETERS = settings.estimator_parameters()
_with_signature(SDAETransformer, PARAMETERS["transformer"])
_with_signature(SDAEClassifier, PARAMETERS["classifier"])


def load(path: str):
    """A fitted estimator from any sdae model file: SDAEClassifier for a model fine-tuned with
    labels, else SDAETransformer."""
    model = SDAE.load(path)
    return (SDAEClassifier if model.classes is not None else SDAETransformer)._from_model(model)
