"""Text at the speed of the core: the native codec against NumPy, CSV pipelines against NPY ones,
and the memory of a pipeline that streams.

    nice python bench/bench_text.py [--threads 2] [--rows 100000] [--repeats 2] [--skip-rss]

1. codec: one block of 8,192 x 784 float32 in [0, 1), written by the core (shortest round-trip
   text) and by `numpy.savetxt(fmt="%.9g")` (the shortest fixed format that round-trips float32),
   then read by the core and by `numpy.loadtxt(dtype=float32)`, alternating, best of --repeats;
2. pipeline: `sdae encode` of --rows rows through 784-1000-1000-1000 (a random-init model made by
   `sdae pretrain --epochs 0`), CSV file -> CSV file against NPY file -> NPY file, alternating;
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


def best_of(repeats: int, *jobs):
    """Each job timed `repeats` times, alternating; the best time of each."""
    best = [float("inf")] * len(jobs)
    for _ in range(repeats):
        for k, job in enumerate(jobs):
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


def pipeline(folder: str, model: str, csv: str, rows: int, threads: int, repeats: int) -> None:
    npy = os.path.join(folder, "x.npy")
    head = os.path.join(folder, "head.csv")
    with open(head, "wb") as out:
        run(["head", "-n", str(rows), csv], stdout=out)
    X = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float32, shape=(rows, 784))
    X[:] = np.random.default_rng(1).random((rows, 784), dtype=np.float32)
    X.flush()
    del X
    t = ["--threads", str(threads)]
    csv_time, npy_time = best_of(
        repeats,
        lambda: run(SDAE + ["encode", "-m", model, head, "-o", os.path.join(folder, "codes.csv")] + t),
        lambda: run(SDAE + ["encode", "-m", model, npy, "-o", os.path.join(folder, "codes.npy")] + t))
    print(f"\n### `sdae encode` of {rows:,} x 784 rows through 784-1000-1000-1000, {threads} threads\n")
    print("| job | time | per row | vs NPY |\n|---|---:|---:|---:|")
    print(f"| NPY file -> NPY file | {npy_time:.2f} s | {npy_time / rows * 1e6:.0f} µs | 1.00x |")
    print(f"| CSV file -> CSV file ({os.path.getsize(head) / 2**20:,.0f} MB in, "
          f"{os.path.getsize(os.path.join(folder, 'codes.csv')) / 2**20:,.0f} MB out) | {csv_time:.2f} s | "
          f"{csv_time / rows * 1e6:.0f} µs | {csv_time / npy_time:.2f}x |")
    for name in ("head.csv", "x.npy", "codes.csv", "codes.npy"):
        os.remove(os.path.join(folder, name))


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
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    codec(args.threads, max(args.repeats, 3))
    if args.codec_only:
        return
    rss_rows = [int(r) for r in args.rss_rows.split(",")]
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", os.getcwd())) as folder:
        seed = os.path.join(folder, "seed.npy")
        np.save(seed, np.random.default_rng(2).random((1000, 784), dtype=np.float32))
        model = os.path.join(folder, "m.npz")
        run(SDAE + ["pretrain", seed, "--layers", "1000,1000,1000", "--epochs", "0", "-q", "-o", model])
        csv = os.path.join(folder, "x.csv")
        total = max([args.rows] + ([] if args.skip_rss else rss_rows))
        rng = np.random.default_rng(1)
        with open(csv, "wb") as out:  # the same rows as the NPY input (same seed, same draws)
            X = rng.random((total, 784), dtype=np.float32)
            for start in range(0, total, 8192):
                out.write(_core.format_text(X[start:start + 8192], ",", 0, args.threads))
            del X
        pipeline(folder, model, csv, args.rows, args.threads, args.repeats)
        if not args.skip_rss:
            print(f"\n### Peak RSS of `cat x.csv | sdae encode -m m.npz - > out.csv` (784-1000-1000-1000, "
                  f"{args.threads} threads)\n")
            print("| rows | CSV in | peak RSS | time |\n|---:|---:|---:|---:|")
            for rows in rss_rows:
                rss, seconds = peak_rss(folder, model, csv, rows, args.threads)
                print(f"| {rows:,} | {rows * os.path.getsize(csv) / total / 2**20:,.0f} MB | {rss:,.0f} MB | "
                      f"{seconds:.1f} s |")
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
