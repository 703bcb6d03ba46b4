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
    lines += describe_finetuning(model)
    return "\n".join(lines)


def describe_finetuning(model: SDAE) -> list[str]:
    tuning = model.finetuning
    if not tuning:
        return []
    settings = tuning.get("settings", {})
    target = tuning.get("target", "?")
    if target == "classify":
        head = f"softmax over {len(model.classes or [])} classes: {', '.join(map(str, (model.classes or [])[:10]))}"
        head += " ..." if len(model.classes or []) > 10 else ""
    else:
        head = "unrolled encoder-decoder" + (", on noisy/clean pairs" if tuning.get("paired") else "")
    lines = [f"finetuned  {target}: {head}",
             "           " + ", ".join(f"{key}={settings[key]}" for key in
                                      ("optimizer", "lr", "batch_size", "epochs", "patience") if key in settings)]
    history = tuning.get("history", [])
    scored = [r for r in history if r.get("valid") is not None]
    if scored:
        best = min(scored, key=lambda r: r["valid"])
        error = f", validation error {100 * best['valid_error']:.2f}%" if best.get("valid_error") is not None else ""
        lines.append(f"           {len(history)} epochs; kept epoch {best['epoch']}: validation loss "
                     f"{best['valid']:.4f}{error}")
    return lines
