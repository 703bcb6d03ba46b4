"""sdae: stacked denoising autoencoders on the CPU.

The public names load lazily, so that `sdae --help` does not pay for NumPy and the extension.
"""
__version__ = "0.1.0"

_LAZY = {
    "SDAE": "model",
    "PretrainConfig": "training.configs",
    "FinetuneConfig": "training.configs",
    "pretrain": "pretraining",
    "SdaeError": "errors",
    "DataError": "errors",
    "ModelError": "errors",
    "TrainingError": "errors",
    "read_matrix": "data",
    "write_matrix": "writing",
    "SDAETransformer": "sklearn",  # these two need scikit-learn (pip install 'sdae[sklearn]')
    "SDAEClassifier": "sklearn",
}
__all__ = [name for name, module in _LAZY.items() if module != "sklearn"] + ["__version__"]  # * works without it


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
