"""Text at the speed of the core: the native codec against NumPy, CSV pipelines against NPY ones,
and the memory of a pipeline that streams.

    nice python bench/bench_text.py [--threads 2] [--rows 100000] [--repeats 2] [--skip-rss] [--data DIR]

1. codec: one block of 8,192 x 784 float32 in [0, 1), written by the core (shortest round-trip
   text) and by `numpy.savetxt(fmt="%.9g")` (the shortest fixed format that round-trips float32),
   then read by the core and by `numpy.loadtxt(dtype=float32)`, alternating, best of --repeats;
2. pipeline: `sdae encode` of --rows rows through 784-1000-1000-1000 (a random-init model made by
   `sdae pretrain --epochs 0`), CSV file -> CSV file against NPY file -> NPY file, alternating;
   with --data, MNIST's images too (the issue's case), through a model pretrained on them;
3. memory: peak RSS of `cat x.csv | sdae encode -m m.npz - > out.csv` at 20,000 and 200,000 rows.

Everything runs side by side in one run, so that the ratios hold on a shared machine; the load
average is printed before and after. Files go to a temporary folder (about 4 GB) and are removed.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from sdae_cli import _core

SDAE = [os.path.join(os.path.dirname(sys.executable), "sdae")]
if not os.path.exists(SDAE[0]):
    SDAE = [sys.executable, "-c", "from sdae_cli.cli import main; main()"]


def best_of(repeats: int, *jobs, outputs: tuple[str, ...] = ()):
    """Each job timed `repeats` times, alternating; the best time of each. `outputs[k]`, job k's
    output file, is removed before each of its runs, untimed: every run writes a new file, as a
    pipeline's single run does (replacing a gigabyte file costs this machine's file system, which
    discards freed blocks, about 0.3 s: the cost of the last run's output, not of this job)."""
    best = [float("inf")] * len(jobs)
    for _ in range(repeats):
        for k, job in enumerate(jobs):
            if k < len(outputs) and os.path.exists(outputs[k]):
                os.remove(outputs[k])
            started = time.perf_counter()
            job()
            best[k] = min(best[k], time.perf_counter() - started)
    return best


def codec(threads: int, repeats: int) -> None:
    """The core's codec on 1 thread and on `threads`, against NumPy (one thread) on the same block."""
    X = np.random.default_rng(0).random((8192, 784), dtype=np.float32)
    text = _core.format_text(X, ",", 0, threads)
    back, refused, _ = _core.parse_text(text, ",", 784, threads)
    assert not len(refused) and np.array_equal(back.view(np.uint32), X.view(np.uint32))

    def savetxt():
        np.savetxt(io.BytesIO(), X, fmt="%.9g", delimiter=",")

    def loadtxt():
        np.loadtxt(io.BytesIO(text), delimiter=",", dtype=np.float32)

    out_1, out_n, numpy_out = best_of(repeats, lambda: _core.format_text(X, ",", 0, 1),
                                      lambda: _core.format_text(X, ",", 0, threads), savetxt)
    in_1, in_n, numpy_in = best_of(repeats, lambda: _core.parse_text(text, ",", 784, 1),
                                   lambda: _core.parse_text(text, ",", 784, threads), loadtxt)
    mb = len(text) / 2**20
    print(f"\n### Codec: one block of 8,192 x 784 float32 in [0, 1) ({mb:.0f} MB of CSV)\n")
    print(f"| job | NumPy | sdae, 1 thread | ratio | sdae, {threads} threads | ratio |\n|---|---:|---:|---:|---:|---:|")
    print(f"| format (`np.savetxt`, %.9g) | {numpy_out:.3f} s | {out_1:.3f} s | {numpy_out / out_1:.1f}x | "
          f"{out_n:.3f} s | {numpy_out / out_n:.1f}x |")
    print(f"| parse (`np.loadtxt`, float32) | {numpy_in:.3f} s | {in_1:.3f} s | {numpy_in / in_1:.1f}x | "
          f"{in_n:.3f} s | {numpy_in / in_n:.1f}x |")


def run(argv: list[str], **kwargs) -> None:
    subprocess.run(argv, check=True, **kwargs)


def write_csv(path: str, X: np.ndarray, threads: int) -> None:
    with open(path, "wb") as out:
        for start in range(0, len(X), 8192):
            out.write(_core.format_text(np.ascontiguousarray(X[start:start + 8192]), ",", 0, threads))


def pipeline(folder: str, model: str, X: np.ndarray, threads: int, repeats: int, title: str) -> None:
    """`sdae encode` of the rows X as a CSV file and as an NPY file, alternating, best of `repeats`."""
    npy, csv = os.path.join(folder, "x.npy"), os.path.join(folder, "x-rows.csv")
    np.save(npy, X)
    write_csv(csv, X, threads)
    t = ["--threads", str(threads)]
    codes_csv, codes_npy = os.path.join(folder, "codes.csv"), os.path.join(folder, "codes.npy")
    csv_time, npy_time = best_of(
        repeats,
        lambda: run(SDAE + ["encode", "-m", model, csv, "-o", codes_csv] + t),
        lambda: run(SDAE + ["encode", "-m", model, npy, "-o", codes_npy] + t),
        outputs=(codes_csv, codes_npy))
    rows = len(X)
    print(f"\n### `sdae encode` of {rows:,} x 784 rows through 784-1000-1000-1000, {threads} threads: {title}\n")
    print("| job | time | per row | vs NPY |\n|---|---:|---:|---:|")
    print(f"| NPY file -> NPY file | {npy_time:.2f} s | {npy_time / rows * 1e6:.0f} µs | 1.00x |")
    print(f"| CSV file -> CSV file ({os.path.getsize(csv) / 2**20:,.0f} MB in, "
          f"{os.path.getsize(os.path.join(folder, 'codes.csv')) / 2**20:,.0f} MB out) | {csv_time:.2f} s | "
          f"{csv_time / rows * 1e6:.0f} µs | {csv_time / npy_time:.2f}x |")
    for name in ("x-rows.csv", "x.npy", "codes.csv", "codes.npy"):
        os.remove(os.path.join(folder, name))


def mnist_pipeline(folder: str, data: str, rows: int, threads: int, repeats: int) -> None:
    """The issue's own case: MNIST pixels (k/255 as text: mostly 0) through a 784-1000-1000-1000
    model pretrained on MNIST (one epoch a layer on 10,000 images: saturated codes, many of them
    written in scientific notation)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from recipes import load_mnist

    arrays = load_mnist(data)
    images = np.concatenate([arrays["train_x"], arrays["valid_x"]]).astype(np.float32)
    X = images[np.arange(rows) % len(images)]
    train = os.path.join(folder, "mnist-train.npy")
    np.save(train, images[:10_000])
    model = os.path.join(folder, "mnist-model.npz")
    run(SDAE + ["pretrain", train, "--layers", "1000,1000,1000", "--epochs", "1", "--valid-split", "0",
                "--threads", str(threads), "-q", "-o", model])
    pipeline(folder, model, X, threads, repeats, "MNIST images, a model trained on MNIST")
    os.remove(train)


def peak_rss(folder: str, model: str, csv: str, rows: int, threads: int) -> tuple[float, float]:
    """(peak resident MB of sdae, seconds) for `head -n rows x.csv | sdae encode -m m.npz - > out.csv`."""
    out = os.path.join(folder, "out.csv")
    script = (f"head -n {rows} {csv} | /usr/bin/time -f %M -o {folder}/rss {' '.join(SDAE)} encode -m {model} - "
              f"--threads {threads} > {out}")
    started = time.perf_counter()
    run(["bash", "-o", "pipefail", "-c", script])
    seconds = time.perf_counter() - started
    with open(out, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
    assert lines == rows, (lines, rows)
    os.remove(out)
    with open(os.path.join(folder, "rss")) as f:
        return int(f.read().split()[-1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rss-rows", default="20000,200000")
    parser.add_argument("--skip-rss", action="store_true")
    parser.add_argument("--codec-only", action="store_true")
    parser.add_argument("--data", help="MNIST (train/valid NPY files or mnist-train-valid.npz): the "
                                       "pipeline on its images too, through a model trained on them")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before: {os.getloadavg()[0]:.2f} "
          f"(cores: {os.cpu_count()})")
    codec(args.threads, max(args.repeats, 3))
    if args.codec_only:
        return
    rss_rows = [int(r) for r in args.rss_rows.split(",")]
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", os.getcwd())) as folder:
        seed = os.path.join(folder, "seed.npy")
        np.save(seed, np.random.default_rng(2).random((1000, 784), dtype=np.float32))
        model = os.path.join(folder, "m.npz")
        run(SDAE + ["pretrain", seed, "--layers", "1000,1000,1000", "--epochs", "0", "-q", "-o", model])
        pipeline(folder, model, np.random.default_rng(1).random((args.rows, 784), dtype=np.float32), args.threads,
                 args.repeats, "uniform [0, 1) values, a random-init model")
        if args.data:
            mnist_pipeline(folder, args.data, args.rows, args.threads, args.repeats)
        if not args.skip_rss:
            csv, total = os.path.join(folder, "x.csv"), max(rss_rows)
            write_csv(csv, np.random.default_rng(1).random((total, 784), dtype=np.float32), args.threads)
            print(f"\n### Peak RSS of `cat x.csv | sdae encode -m m.npz - > out.csv` (784-1000-1000-1000, "
                  f"{args.threads} threads)\n")
            print("| rows | CSV in | peak RSS | time |\n|---:|---:|---:|---:|")
            for rows in rss_rows:
                rss, seconds = peak_rss(folder, model, csv, rows, args.threads)
                print(f"| {rows:,} | {rows * os.path.getsize(csv) / total / 2**20:,.0f} MB | {rss:,.0f} MB | "
                      f"{seconds:.1f} s |")
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\n{time.strftime('%H:%M UTC', time.gmtime())}; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
