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
                                      ("optimizer", "lr", "lr_schedule", "batch_size", "epochs", "valid_split",
                                       "threads") if key in training)
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
                                      ("optimizer", "lr", "lr_schedule", "batch_size", "epochs", "patience",
                                       "noise", "dropout", "lr_factors", "average_from") if settings.get(key))]
    history = tuning.get("history", [])
    if history:
        lines.append(f"           {len(history)} epochs; {kept_epoch_summary(tuning)}")
        # An averaged epoch's validation figures are its mean model's (--average-from): marked "~".
        cells = [f"{r['epoch']}:{_loss(r['train'])}/{'~' if r.get('averaged') else ''}{_loss(r.get('valid'))}"
                 + (f"/{100 * r['valid_error']:.2f}%" if r.get("valid_error") is not None else "") for r in history]
        lines.append("  epoch:train/valid" + ("/error" if history[0].get("valid_error") is not None else "")
                     + "  " + "  ".join(cells))
    return lines


def kept_epoch(tuning: dict) -> dict:
    """The history record of the epoch whose parameters fine-tuning kept. Models written before
    `kept_epoch` was recorded kept the lowest validation loss."""
    history = tuning["history"]
    if "kept_epoch" in tuning:
        return history[tuning["kept_epoch"] - 1]
    return min((r for r in history if r.get("valid") is not None), key=lambda r: r["valid"], default=history[-1])


def kept_epoch_summary(tuning: dict) -> str:
    """"kept epoch 12 (by validation error): validation loss 0.0512, error 1.21%"."""
    best = kept_epoch(tuning)
    text = f"kept epoch {best['epoch']}"
    if best.get("valid") is None:
        return text + ", the last (no validation rows)"
    text += f" (by validation {tuning.get('monitor', 'loss')}): validation loss {best['valid']:.4f}"
    if best.get("valid_error") is not None:
        text += f", error {100 * best['valid_error']:.2f}%"
    return text
