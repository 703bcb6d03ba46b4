"""Memory and start-up: `sdae encode` of an .npy of 100,000 and of 1,000,000 rows should peak at
about the same resident memory (the input is memory-mapped, the output written chunk by chunk),
and `sdae --help` should answer at once (no heavy imports at start-up).

    python bench/bench_memory.py [--rows 100000,1000000] [--features 784] [--hidden 1000]

Writes its files to a temporary folder (about 7 GB at the default sizes) and removes them.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from sdae_cli import _core
from sdae_cli.layer import Layer
from sdae_cli.model import SDAE

SDAE_CMD = [sys.executable, "-c", "from sdae_cli.cli import main; main()"]


def write_rows(path: str, rows: int, features: int) -> None:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 65536):
        out[start:start + 65536] = rng.random((min(65536, rows - start), features), dtype=np.float32)
    out.flush()
    del out


def peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(peak resident MB, seconds) of one command, measured by GNU time."""
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M"] + args, capture_output=True, text=True, check=True)
    return int(result.stderr.strip().splitlines()[-1]) / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000")
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--hidden", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.getcwd()) as folder:
        layer = Layer(args.features, args.hidden)
        _core.init_params(layer.spec, layer.theta, 0)
        model_path = os.path.join(folder, "model.npz")
        SDAE([layer]).save(model_path)
        print("| rows | input | output | peak RSS | seconds |\n|---:|---:|---:|---:|---:|")
        for rows in map(int, args.rows.split(",")):
            data, codes = os.path.join(folder, "x.npy"), os.path.join(folder, "codes.npy")
            write_rows(data, rows, args.features)
            rss, seconds = peak_rss_mb(SDAE_CMD + ["encode", "-m", model_path, data, "-o", codes])
            assert np.load(codes, mmap_mode="r").shape == (rows, args.hidden)
            print(f"| {rows:,} | {os.path.getsize(data) / 2**20:,.0f} MB | {os.path.getsize(codes) / 2**20:,.0f} MB "
                  f"| {rss:,.0f} MB | {seconds:.1f} |", flush=True)
            os.unlink(data)
            os.unlink(codes)
    best = min(peak_rss_mb(["sdae", "--help"])[1] for _ in range(5))
    print(f"\n`sdae --help`: {best:.3f} s (best of 5, including the Python interpreter's start)")


if __name__ == "__main__":
    main()
