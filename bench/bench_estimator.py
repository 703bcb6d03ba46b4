"""What the scikit-learn estimators cost over the API the CLI calls: the same training and the
same inference, timed through both, printed as a Markdown table of ratios.

    python bench/bench_estimator.py [--threads 1] [--repeats 5]

The estimators check their input (sklearn's validate_data), turn their parameters into the
CLI's settings and call the same functions; what this measures is that wrapping, which should
be lost in the noise of one training run.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from sdae_cli.datasets import load_digits
from sdae_cli.finetuning import finetune_supervised
from sdae_cli.pretraining import pretrain
from sdae_cli.sklearn import SDAEClassifier, SDAETransformer
from sdae_cli.training.configs import FinetuneConfig, PretrainConfig

SETTINGS = dict(layers=(256, 128), epochs=5)


def best_of(repeats: int, first, second) -> tuple[float, float]:
    """The best time of each function over `repeats` rounds, the two alternating so that a
    change in the machine's load falls on both."""
    times: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for function, out in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            out.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    X, y = load_digits()
    X = np.tile(X, (4, 1))  # 7,188 rows of 64 pixels
    y = np.tile(y, 4)
    config = dict(SETTINGS, threads=args.threads, layers=list(SETTINGS["layers"]))
    est = SDAETransformer(**SETTINGS, n_threads=args.threads)
    clf = SDAEClassifier(**SETTINGS, finetune_epochs=5, n_threads=args.threads)
    model = pretrain(X, PretrainConfig(**config))
    est.fit(X)

    rows = [
        ("pretrain 64-256-128, 5 epochs a layer", lambda: pretrain(X, PretrainConfig(**config)),
         lambda: SDAETransformer(**SETTINGS, n_threads=args.threads).fit(X)),
        ("pretrain, then fine-tune with labels 5 epochs",
         lambda: finetune_supervised(pretrain(X, PretrainConfig(**config)), X, y,
                                     FinetuneConfig(epochs=5, threads=args.threads)),
         lambda: clf.fit(X, y)),
        ("encode 7,188 rows", lambda: model.encode(X, threads=args.threads), lambda: est.transform(X)),
        ("denoise 7,188 rows", lambda: model.denoise(X, threads=args.threads), lambda: est.denoise(X)),
    ]
    print(f"threads {args.threads}, best of {args.repeats}\n")
    print("| job | model API (s) | estimator (s) | estimator / API |")
    print("|---|---|---|---|")
    for name, api, estimator in rows:
        a, e = best_of(args.repeats, api, estimator)
        print(f"| {name} | {a:.4f} | {e:.4f} | {e / a:.3f} |")

    # What the estimator adds to a fit, by itself: checking X, and its parameters made settings.
    from sklearn.utils.validation import validate_data

    check, translate = best_of(args.repeats * 20, lambda: validate_data(clf, X, y, reset=False),
                               lambda: clf._configs("classify"))
    print(f"\nthe estimator's own work in a fit: validate_data {1000 * check:.2f} ms, "
          f"parameters to settings {1000 * translate:.2f} ms")


if __name__ == "__main__":
    main()
