"""Does greedy pretraining help supervised fine-tuning? The same 64-256-128-10 network and the
same fine-tuning budget, from pretrained weights and from the tutorial's random initialisation,
over several seeds, on the digits shipped with sdae (held-out 30%).

    python bench/pretraining_value.py [--seeds 5]
"""
from __future__ import annotations

import argparse

import numpy as np

from sdae_cli import _core
from sdae_cli.datasets import load_digits
from sdae_cli.finetuning import FinetuneConfig, finetune_supervised
from sdae_cli.pretraining import PretrainConfig, pretrain, validation_rows

PRETRAIN = dict(layers=[256, 128], noise=0.3, epochs=50, optimizer="adam", lr=0.003)


def accuracies(seed: int, optimizer: str, lr: float) -> tuple[float, float]:
    X, y = load_digits()
    test = validation_rows(len(X), 0.3, 0)
    # The settings these README figures were measured with (before fine-tuning had its own defaults).
    config = FinetuneConfig(epochs=150, optimizer=optimizer, lr=lr, patience=20, seed=seed, lr_schedule="constant",
                            valid_split=0.1, monitor="loss")
    pretrained = pretrain(X[~test], PretrainConfig(**PRETRAIN, seed=seed))
    random_init = pretrain(X[~test], PretrainConfig(**{**PRETRAIN, "epochs": 1}, seed=seed))
    for k, layer in enumerate(random_init.layers):  # back to the initial weights, untrained
        _core.init_params(layer.spec, layer.theta, 1000 * seed + k)
        layer.theta[layer.n_in * layer.n_hidden:] = 0.0
    out = []
    for model in (pretrained, random_init):
        tuned = finetune_supervised(model, X[~test], y[~test], config)
        out.append(float(np.mean(tuned.predict(X[test]) == y[test])))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print("| fine-tuning | pretrained: test accuracy | random init: test accuracy | difference |")
    print("|---|---|---|---|")
    for optimizer, lr in (("sgd", 0.1), ("adam", 0.001)):
        pairs = np.array([accuracies(seed, optimizer, lr) for seed in range(args.seeds)]) * 100
        mean = pairs.mean(axis=0)
        print(f"| {optimizer} lr {lr} | {mean[0]:.2f}% ({pairs[:, 0].min():.2f}-{pairs[:, 0].max():.2f}) "
              f"| {mean[1]:.2f}% ({pairs[:, 1].min():.2f}-{pairs[:, 1].max():.2f}) "
              f"| {mean[0] - mean[1]:+.2f} points |")


if __name__ == "__main__":
    main()
