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
}
__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
