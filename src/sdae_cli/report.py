"""Human-readable summaries of a model, for `sdae info`."""
from __future__ import annotations

from .model import SDAE


def _loss(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def describe(model: SDAE, name: str) -> str:
    lines = [
        f"model      {name}",
        f"sizes      {'-'.join(map(str, model.sizes))}",
        f"scaling    {model.scaler.kind}",
        f"seed       {model.seed}",
    ]
    training = model.training
    if training:
        lines.append(
            "training   " + ", ".join(f"{key}={training[key]}" for key in
                                      ("optimizer", "lr", "batch_size", "epochs", "valid_split", "threads")
                                      if key in training)
        )
    for k, layer in enumerate(model.layers):
        noise = "none" if layer.noise_type == "none" else f"{layer.noise_type} {layer.noise_level:g}"
        lines.append(
            f"layer {k + 1}    {layer.n_in} -> {layer.n_hidden}  {layer.activation} encoder, {layer.decoder} decoder, "
            f"{'tied' if layer.tied else 'untied'}, {layer.loss} loss, {noise} noise"
        )
        history = model.history[k] if k < len(model.history) else []
        if history:
            cells = [f"{r['epoch']}:{_loss(r['train'])}/{_loss(r['valid'])}" for r in history]
            lines.append("  epoch:train/valid  " + "  ".join(cells))
    return "\n".join(lines)
