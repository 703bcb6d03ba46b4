"""The README's MNIST recipes, run as the CLI commands a user types: validation error (or, for
the denoising recipe, validation mean squared error) and wall time.

    python bench/recipes.py --data ../shared/data                # every recipe
    python bench/recipes.py --data DIR --recipe classify --threads 2
    python bench/recipes.py --data DIR --recipe classify --seeds 0,1,2,3   # the spread over seeds

DIR holds train_x.npy, train_y.npy, valid_x.npy and valid_y.npy (pixels scaled to [0, 1]), or
the shared mnist-train-valid.npz (uint8 pixels, scaled here by 255 as its README says). Only
validation data is used: the MNIST test set is not read, nor needed.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

SDAE = [sys.executable, "-c", "from sdae_cli.cli import main; main()"]

# The README's recipes, word for word ({threads} is filled in). Each is a list of commands.
LR_FACTORS = "--lr-factors 0.1,0.3,1,1 "  # the classifier's per-layer rates, bottom up
CLASSIFY = [
    "pretrain train_x.npy --layers 1000,1000,1000 --noise 0.1,0.2,0.3 --epochs 10 --batch-size 32 "
    "--optimizer sgd --lr 0.03 --valid-split 0 --threads {threads} -q -o pretrained.npz",
    "finetune -m pretrained.npz train_x.npy --labels train_y.npy --valid valid_x.npy --valid-labels valid_y.npy "
    "--epochs 85 --optimizer momentum --lr 0.1 --lr-schedule cosine --patience 85 --dropout 0.4 --noise 0.1 "
    + LR_FACTORS + "--threads {threads} -q -o classifier.npz",
]
# The same network and fine-tuning budget from the tutorial's random initialisation (no
# pretraining), every layer at the full rate: the factors keep what pretraining put in the lower
# layers, and random layers have nothing to keep (with them it is 1.62%, README).
RANDOM_INIT = [
    "pretrain train_x.npy --layers 1000,1000,1000 --epochs 0 --valid-split 0 -q -o random.npz",
    CLASSIFY[1].replace("pretrained.npz", "random.npz").replace("classifier.npz", "random-classifier.npz")
    .replace(LR_FACTORS, ""),
]
# Denoising images with 30% of their pixels set to 0: one dA layer trained on that corruption,
# then the unrolled 784-1000-784 fine-tuned end to end on fresh masks every epoch.
DENOISE = [
    "pretrain train_x.npy --layers 1000 --noise 0.3 --epochs 10 --lr 0.03 --valid-split 0 --threads {threads} "
    "-q -o denoise-pre.npz",
    "finetune -m denoise-pre.npz train_x.npy --target reconstruct --epochs 20 --optimizer sgd --lr 0.1 "
    "--lr-schedule cosine --threads {threads} -q -o denoiser.npz",
]
# The same trained on the fixed masked copy paired with the clean images (--clean).
DENOISE_PAIRED = [
    DENOISE[0],
    "finetune -m denoise-pre.npz masked_train_x.npy --target reconstruct --clean train_x.npy --epochs 20 "
    "--optimizer sgd --lr 0.1 --lr-schedule cosine --threads {threads} -q -o denoiser-paired.npz",
]
MASKED_FRACTION = 0.3


def load_mnist(data: str) -> dict[str, np.ndarray]:
    """train_x/train_y/valid_x/valid_y from `data`: NPY files, or the shared npz (pixels / 255)."""
    shared = os.path.join(data, "mnist-train-valid.npz")
    if os.path.exists(os.path.join(data, "train_x.npy")):
        arrays = {name: np.load(os.path.join(data, f"{name}.npy"))
                  for name in ("train_x", "train_y", "valid_x", "valid_y")}
    elif os.path.exists(shared):
        with np.load(shared) as d:
            arrays = {name: d[name] for name in ("train_x", "train_y", "valid_x", "valid_y")}
        for name in ("train_x", "valid_x"):
            arrays[name] = (arrays[name] / 255.0).astype(np.float32)
    else:
        sys.exit(f"{data}: no train_x.npy nor mnist-train-valid.npz")
    return arrays


def prepare(data: str, folder: str) -> None:
    """train/valid NPY files in `folder`, pixels in [0, 1], and their masked copies."""
    arrays = load_mnist(data)
    rng = np.random.default_rng(12345)
    for name in ("train_x", "valid_x"):
        x = arrays[name].astype(np.float32)
        arrays[f"masked_{name}"] = np.where(rng.random(x.shape) < MASKED_FRACTION, 0.0, x).astype(np.float32)
    for name, array in arrays.items():
        np.save(os.path.join(folder, f"{name}.npy"), array)


def run(commands: list[str], folder: str, threads: int, seed: int) -> float:
    """Runs the commands in `folder`, each with `--seed seed`; returns their wall time in seconds."""
    started = time.perf_counter()
    for command in commands:
        line = command.format(threads=threads) + f" --seed {seed}"
        print(f"  $ sdae {line}", flush=True)
        subprocess.run(SDAE + shlex.split(line), cwd=folder, check=True)
    return time.perf_counter() - started


def validation_error(model: str, folder: str, threads: int) -> str:
    subprocess.run(SDAE + ["predict", "-m", model, "valid_x.npy", "--threads", str(threads), "-o", "predicted.npy"],
                   cwd=folder, check=True)
    predicted = np.load(os.path.join(folder, "predicted.npy"))
    error = float(np.mean(predicted != np.load(os.path.join(folder, "valid_y.npy"))))
    return f"validation error {100 * error:.2f}%", 100 * error


def validation_mse(model: str, folder: str, threads: int) -> str:
    """The masked input's and the denoised images' MSE against the clean validation images."""
    subprocess.run(SDAE + ["denoise", "-m", model, "masked_valid_x.npy", "--threads", str(threads),
                           "-o", "denoised.npy"], cwd=folder, check=True)
    clean = np.load(os.path.join(folder, "valid_x.npy"))
    masked = np.load(os.path.join(folder, "masked_valid_x.npy"))
    denoised = np.load(os.path.join(folder, "denoised.npy"))
    mse = float(np.mean((denoised - clean) ** 2))
    return f"validation MSE {float(np.mean((masked - clean) ** 2)):.4f} masked -> {mse:.4f}", mse


# name: (table label, commands, the model they write, how it is scored)
RECIPES = {
    "classify": ("classify, pretrained", CLASSIFY, "classifier.npz", validation_error),
    "random-init": ("classify, random initialisation", RANDOM_INIT, "random-classifier.npz", validation_error),
    "denoise": ("denoise 30% masked pixels", DENOISE, "denoiser.npz", validation_mse),
    "denoise-paired": ("denoise, trained on the fixed masked copy (--clean)", DENOISE_PAIRED, "denoiser-paired.npz",
                       validation_mse),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder with train/valid NPY files or mnist-train-valid.npz")
    parser.add_argument("--recipe", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds: each recipe runs once per seed")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as folder:
        prepare(args.data, folder)
        for name, (label, commands, model, score) in RECIPES.items():
            if args.recipe not in (name, "all"):
                continue
            figures = []
            for seed in seeds:
                seconds = run(commands, folder, args.threads, seed)
                minutes = f"{seconds / 60:.1f} min ({seconds:.0f} s)"
                text, figure = score(model, folder, args.threads)
                figures.append(figure)
                rows.append(f"| {label}{f' (seed {seed})' if len(seeds) > 1 else ''} | {text} | {minutes} |")
                print(rows[-1], flush=True)
            if len(seeds) > 1:
                rows.append(f"| {label}: over seeds {args.seeds} | mean {np.mean(figures):.4g}, "
                            f"{min(figures):.4g} to {max(figures):.4g} | |")
    print("\n| recipe | result | wall time |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
