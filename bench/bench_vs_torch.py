#!/usr/bin/env python3
"""sdae against PyTorch on the CPU, side by side in one process: dA pretraining steps, supervised
fine-tuning, encode and denoise, each also shown as a fraction of the sgemm ceiling (the better
of numpy's BLAS and torch.mm at the matching shape). Float32, the same thread count on both sides.

    python bench/bench_vs_torch.py [--threads 2] [--repeats 3] [--quick] [--json out.json]

Not a test: pytest does not collect it. Needs torch (pip install torch).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for sdae, torch and numpy's BLAS")
    parser.add_argument("--repeats", type=int, default=3, help="timings per measurement; the best is kept")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in under a minute")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser


ARGS = build_parser().parse_args() if __name__ == "__main__" else None
# BLAS libraries read their thread count when loaded: set it before numpy (and torch) import.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads if ARGS else 2)

import numpy as np  # noqa: E402

try:
    import torch  # noqa: E402
    import torch.nn.functional as F  # noqa: E402
except ImportError:  # main() says so and exits 2
    torch = None

from sdae_cli import _core  # noqa: E402
from sdae_cli.layer import Layer, aligned_copy, aligned_zeros  # noqa: E402
from sdae_cli.model import SDAE  # noqa: E402
from sdae_cli.scaling import Scaler  # noqa: E402

ENCODER_SIZES = [784, 1000, 1000, 1000]
FINETUNE_SIZES = [784, 1000, 1000, 1000, 10]
CHUNK = 8192
LR, NOISE = 0.01, 0.3


# --- timing ---------------------------------------------------------------------------------------
def best_times(repeats: int, runs: dict) -> dict:
    """Best wall time of each run over `repeats` rounds, alternating the runs within each round
    so that every side sees the same machine conditions."""
    best = {name: math.inf for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def sgemm_gflops(m: int, k: int, n: int, repeats: int, library: str = "numpy") -> float:
    """Raw float32 GEMM rate, (m, k) x (k, n), with numpy's BLAS (or torch.mm)."""
    rng = np.random.default_rng(0)
    A, B = rng.random((m, k), dtype=np.float32), rng.random((k, n), dtype=np.float32)
    C = np.empty((m, n), np.float32)
    if library == "torch":
        A, B, C = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
        call = lambda: torch.mm(A, B, out=C)  # noqa: E731
    else:
        call = lambda: np.matmul(A, B, out=C)  # noqa: E731
    call()
    start = time.perf_counter()
    call()
    calls = max(1, int(0.2 / max(time.perf_counter() - start, 1e-7)))  # ~0.2 s per timing

    def many():
        for _ in range(calls):
            call()
    return 2.0 * m * k * n * calls / best_times(repeats, {"gemm": many})["gemm"] / 1e9


# --- one dA layer: a pretraining epoch ----------------------------------------------------------
def sdae_dA_epoch(n_in: int, n_hidden: int, batch: int, threads: int):
    spec = _core.LayerSpec(n_in, n_hidden, True, _core.Activation.sigmoid, _core.Activation.sigmoid)
    train = _core.TrainSpec(loss=_core.Loss.cross_entropy, noise=_core.NoiseType.masking, noise_level=NOISE,
                            optimizer=_core.Optimizer.sgd, lr=LR, batch_size=batch, seed=0, num_threads=threads)
    theta = aligned_zeros(spec.size)  # as the tool allocates it (Layer): 64-byte aligned
    _core.init_params(spec, theta, 0)
    m = v = np.zeros(0, np.float32)
    state = {"step": 0, "epoch": 0}

    def epoch(X):
        _, state["step"] = _core.train_epoch(spec, train, theta, m, v, state["step"], X, state["epoch"])
        state["epoch"] += 1
    return epoch


def torch_dA_epoch(n_in: int, n_hidden: int, batch: int):
    bound = 4 * math.sqrt(6.0 / (n_in + n_hidden))
    W = torch.nn.Parameter(torch.empty(n_in, n_hidden).uniform_(-bound, bound))
    b, c = torch.nn.Parameter(torch.zeros(n_hidden)), torch.nn.Parameter(torch.zeros(n_in))
    opt = torch.optim.SGD([W, b, c], lr=LR)

    def epoch(X):
        X = torch.from_numpy(X)
        order = torch.randperm(X.shape[0])
        for start in range(0, X.shape[0], batch):
            x = X[order[start:start + batch]]
            x_tilde = x * (torch.rand_like(x) > NOISE)
            h = torch.sigmoid(x_tilde @ W + b)
            z_logits = h @ W.t() + c
            loss = F.binary_cross_entropy_with_logits(z_logits, x, reduction="sum") / x.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
    return epoch


def measure_dA(n_in, n_hidden, batch, rows_sdae, rows_torch, args) -> dict:
    rng = np.random.default_rng(0)
    X = rng.random((max(rows_sdae, rows_torch), n_in), dtype=np.float32)
    sdae_run, torch_run = sdae_dA_epoch(n_in, n_hidden, batch, args.threads), torch_dA_epoch(n_in, n_hidden, batch)
    warm = X[:max(4 * batch, 64)]
    sdae_run(warm), torch_run(warm)
    Xs, Xt = X[:rows_sdae], X[:rows_torch]
    t = best_times(args.repeats, {"sdae": lambda: sdae_run(Xs), "torch": lambda: torch_run(Xt)})
    return row(f"dA {n_in}->{n_hidden} pretrain", batch, 10.0 * n_in * n_hidden, (rows_sdae, t["sdae"]),
               (rows_torch, t["torch"]), (batch, n_in, n_hidden))


# --- supervised fine-tuning of the whole stack ----------------------------------------------------
def glorot_stack(sizes, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(6.0 / (a + b))
        out.append((rng.uniform(-bound, bound, (a, b)).astype(np.float32), np.zeros(b, np.float32)))
    return out


def sdae_finetune_epoch(sizes, batch, threads):
    acts = [_core.Activation.sigmoid] * (len(sizes) - 2) + [_core.Activation.linear]
    spec = _core.StackSpec(list(zip(sizes[:-1], sizes[1:], acts)), _core.OutputLoss.softmax_nll)
    train = _core.TrainSpec(noise=_core.NoiseType.none, optimizer=_core.Optimizer.sgd, lr=LR,
                            batch_size=batch, seed=0, num_threads=threads)
    theta = aligned_copy(np.concatenate([p.ravel() for pair in glorot_stack(sizes) for p in pair]))  # as stack.py
    m = v = np.zeros(0, np.float32)
    state = {"step": 0, "epoch": 0}

    def epoch(X, labels):
        Y = np.eye(sizes[-1], dtype=np.float32)[labels]
        _, state["step"] = _core.stack_train_epoch(spec, train, theta, m, v, state["step"], X, Y, state["epoch"])
        state["epoch"] += 1
    return epoch


def torch_finetune_epoch(sizes, batch):
    params = [(torch.nn.Parameter(torch.from_numpy(W)), torch.nn.Parameter(torch.from_numpy(b)))
              for W, b in glorot_stack(sizes)]
    opt = torch.optim.SGD([p for pair in params for p in pair], lr=LR)

    def epoch(X, labels):
        X, labels = torch.from_numpy(X), torch.from_numpy(labels)
        order = torch.randperm(X.shape[0])
        for start in range(0, X.shape[0], batch):
            idx = order[start:start + batch]
            h = X[idx]
            for W, b in params[:-1]:
                h = torch.sigmoid(h @ W + b)
            logits = h @ params[-1][0] + params[-1][1]
            loss = F.cross_entropy(logits, labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return epoch


def measure_finetune(batch, rows, args) -> dict:
    rng = np.random.default_rng(0)
    X = rng.random((rows, FINETUNE_SIZES[0]), dtype=np.float32)
    labels = rng.integers(0, FINETUNE_SIZES[-1], rows)
    runs = {"torch": torch_finetune_epoch(FINETUNE_SIZES, batch)}
    if hasattr(_core, "stack_train_epoch"):
        runs["sdae"] = sdae_finetune_epoch(FINETUNE_SIZES, batch, args.threads)
    warm = max(4 * batch, 64)
    for run in runs.values():
        run(X[:warm], labels[:warm])
    t = best_times(args.repeats, {name: (lambda r=run: r(X, labels)) for name, run in runs.items()})
    flops = 6.0 * sum(a * b for a, b in zip(FINETUNE_SIZES[:-1], FINETUNE_SIZES[1:]))
    sdae = (rows, t["sdae"]) if "sdae" in t else None
    return row("finetune " + "-".join(map(str, FINETUNE_SIZES)) + " (softmax)", batch, flops, sdae,
               (rows, t["torch"]), (batch, 1000, 1000))


# --- inference: encode and denoise 100,000 rows ---------------------------------------------------
def sdae_model(sizes) -> SDAE:
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = Layer(a, b, noise_level=NOISE)
        _core.init_params(layer.spec, layer.theta, k)
        layers.append(layer)
    return SDAE(layers, Scaler("none"))


def torch_encode(params, X, down: bool):
    """The matmul+sigmoid chain up the stack (and, for denoise, back down with W^T), 8192 rows at a time."""
    with torch.inference_mode():
        X, outs = torch.from_numpy(X), []
        for start in range(0, X.shape[0], CHUNK):
            h = X[start:start + CHUNK]
            for W, b, _ in params:
                h = torch.sigmoid(h @ W + b)
            if down:
                for W, _, c in reversed(params):
                    h = torch.sigmoid(h @ W.t() + c)
            outs.append(h)
        return torch.cat(outs).numpy()


def measure_inference(rows, args) -> list[dict]:
    X = np.random.default_rng(0).random((rows, ENCODER_SIZES[0]), dtype=np.float32)
    model = sdae_model(ENCODER_SIZES)
    params = [tuple(torch.from_numpy(p.copy()) for p in (lay.params()["W"], lay.params()["b"], lay.params()["c"]))
              for lay in model.layers]
    per_row = 2.0 * sum(a * b for a, b in zip(ENCODER_SIZES[:-1], ENCODER_SIZES[1:]))
    warm = X[:2 * CHUNK]
    out = []
    for what, down in (("encode", False), ("denoise", True)):
        sdae_call = (lambda Z: model.denoise(Z, threads=args.threads)) if down else \
            (lambda Z: model.encode(Z, threads=args.threads))
        sdae_call(warm), torch_encode(params, warm, down)
        # timed here, within this iteration: the lambdas see this iteration's sdae_call and down
        t = best_times(args.repeats, {"sdae": lambda: sdae_call(X),  # noqa: B023
                                      "torch": lambda: torch_encode(params, X, down)})  # noqa: B023
        name = f"{what} {'-'.join(map(str, ENCODER_SIZES))}, {rows:,} rows"
        out.append(row(name, CHUNK, per_row * (2 if down else 1), (rows, t["sdae"]), (rows, t["torch"]),
                       (CHUNK, 784, 1000)))
    return out


# --- the table ------------------------------------------------------------------------------------
def row(name, batch, flops_per_sample, sdae, torch_, gemm_shape) -> dict:
    """One table row from (samples, seconds) of each side; sdae None: not implemented."""
    def side(measured):
        if measured is None:
            return None
        samples, seconds = measured
        return {"samples": samples, "seconds": seconds, "samples_per_s": samples / seconds,
                "gflops": flops_per_sample * samples / seconds / 1e9}
    return {"name": name, "batch": batch, "flops_per_sample": flops_per_sample, "sdae": side(sdae),
            "torch": side(torch_), "gemm_shape": list(gemm_shape)}


def ceiling(g: dict) -> tuple[float, str]:
    """The best sgemm rate measured at a shape, and whose it is."""
    library = max(g, key=g.get)
    return g[library], library


def markdown(rows: list[dict], gemm: dict) -> str:
    lines = ["| measurement | batch | sdae samples/s | torch samples/s | sdae GFLOP/s | torch GFLOP/s | sdae/torch "
             "| sgemm ceiling GFLOP/s at (B,k)x(k,n) | sdae % of ceiling | torch % of ceiling |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for r in rows:
        m, k, n = r["gemm_shape"]
        best, library = ceiling(gemm[(m, k, n)])
        s, t = r["sdae"], r["torch"]
        if s is None:
            sdae_cells = ["not implemented yet", "—"]
            ratio, sdae_pct = "—", "—"
        else:
            sdae_cells = [f"{s['samples_per_s']:,.0f}", f"{s['gflops']:.1f}"]
            ratio, sdae_pct = f"{s['samples_per_s'] / t['samples_per_s']:.2f}×", f"{100 * s['gflops'] / best:.0f}%"
        lines.append(f"| {r['name']} | {r['batch']} | {sdae_cells[0]} | {t['samples_per_s']:,.0f} | {sdae_cells[1]} "
                     f"| {t['gflops']:.1f} | {ratio} | {best:.1f} at ({m},{k})x({k},{n}), {library} | {sdae_pct} "
                     f"| {100 * t['gflops'] / best:.0f}% |")
    return "\n".join(lines)


def gemm_markdown(gemm: dict) -> str:
    lines = ["| sgemm shape | numpy GFLOP/s | torch.mm GFLOP/s |", "|---|---:|---:|"]
    for (m, k, n), g in sorted(gemm.items()):
        lines.append(f"| ({m},{k})x({k},{n}) | {g['numpy']:.1f} | {g['torch.mm']:.1f} |")
    return "\n".join(lines)


def machine(threads: int) -> dict:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "threads": threads, "torch": torch.__version__, "numpy": np.__version__, "sdae": _core.__version__,
            "python": platform.python_version(), "load_before": os.getloadavg()[0],
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def main(args) -> None:
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    try:  # the environment variables above already did it; this also covers an already-loaded BLAS
        from threadpoolctl import threadpool_limits
        # This reaches sdae's own OpenBLAS too; sdae sets it back to one thread at each product it
        # calls from its threads (src/cpp/sdae/gemm.cpp), so its figures do not depend on it.
        threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        pass
    torch.manual_seed(0)
    quick = args.quick
    rows_big, rows_b1_sdae, rows_b1_torch = (2000, 300, 100) if quick else (20000, 2000, 1000)
    rows_finetune, rows_inference = (2000, 10000) if quick else (10000, 100000)
    info = machine(args.threads)
    print("# sdae vs PyTorch" + (" (--quick)" if quick else ""))
    print(f"\nCPU: {info['cpu']}; {info['logical_cpus']} logical CPUs ({info['usable_cpus']} usable); "
          f"{args.threads} threads each side\n"
          f"torch {info['torch']}, numpy {info['numpy']}, sdae {info['sdae']}, Python {info['python']}; "
          f"{info['date']}; best of {args.repeats}; load average {info['load_before']:.2f} before the run\n",
          flush=True)

    shapes = {(b, 784, 1000) for b in (1, 16, 128)} | {(b, 1000, 1000) for b in (1, 16, 32, 128)} | {(CHUNK, 784, 1000)}
    gemm = {s: {"numpy": sgemm_gflops(*s, args.repeats), "torch.mm": sgemm_gflops(*s, args.repeats, "torch")}
            for s in sorted(shapes)}
    print(gemm_markdown(gemm))
    peak = max(gemm.items(), key=lambda item: ceiling(item[1])[0])
    print(f"\nbest sgemm: {ceiling(peak[1])[0]:.1f} GFLOP/s ({ceiling(peak[1])[1]}, shape {peak[0]}); each row's "
          "ceiling below is the better of numpy and torch.mm at its shape\n", flush=True)

    rows = []
    for n_in in (784, 1000):
        for batch in (1, 16, 128):
            big = batch > 1
            rows.append(measure_dA(n_in, 1000, batch, rows_big if big else rows_b1_sdae,
                                   rows_big if big else rows_b1_torch, args))
            print(f"  done: {rows[-1]['name']}, batch {batch}", file=sys.stderr, flush=True)
    rows.append(measure_finetune(32, rows_finetune, args))
    print(f"  done: {rows[-1]['name']}", file=sys.stderr, flush=True)
    rows.extend(measure_inference(rows_inference, args))
    print("  done: encode, denoise", file=sys.stderr, flush=True)
    info["load_after"] = os.getloadavg()[0]

    print(markdown(rows, gemm))
    elapsed = time.perf_counter() - started
    print(f"\nFLOPs: dA step 10·B·n_in·n_hidden; fine-tuning 6·B·Σ n_in·n_out; encode 2·rows·Σ n_in·n_out "
          f"(denoise twice that).\nRun took {elapsed:.0f} s; load average {info['load_after']:.2f} at the end "
          f"(above {args.threads} means other processes shared the CPUs).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "args": vars(args), "seconds": elapsed, "rows": rows,
                       "sgemm": [{"shape": list(s), **g} for s, g in sorted(gemm.items())]}, f, indent=2)


if __name__ == "__main__":
    if torch is None:
        print("bench_vs_torch.py compares sdae with PyTorch, which is not installed here.\n"
              "Install it for the benchmark only (pip install torch) and run again.", file=sys.stderr)
        sys.exit(2)
    main(ARGS)
