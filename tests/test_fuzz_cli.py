"""The whole command line, fuzzed: random chains of commands and options (valid values and
invalid ones, files of every kind from tests/malformed.py, missing and unwritable paths, stdin
and stdout, repeated options), each run in process on small data under a time budget, against
the contract every run keeps:

- the exit code is 0, 1, 2 or 130 (interrupted); no exception escapes and no traceback shows;
- a failure says exactly one line starting with "Error:", last on stderr, and it is not an
  internal error;
- no file appears but the outputs asked for (after a failure or an interruption, also
  checkpoints), never a temporary file; on success every output named is there; no file
  changes unless named as an output or a checkpoint; no command writes over what it reads.

SDAE_FUZZ_EXAMPLES sets how many chains to try: 1,000 by default (under a minute); the nightly
run tries 10,000 (README, Tests). SDAE_FUZZ_DEBUG=1 with --hypothesis-show-statistics shows how
the chains ended, their last lines, and those that took over two seconds. What it found is kept
below as explicit regression cases.
"""
import contextlib
import functools
import gc
import hashlib
import io
import json
import os
import shutil
import signal
import tempfile
import time
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_chains import Step, altered_model, chains, model_files
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from malformed import any_file

from sdae_cli import resources
from sdae_cli.cli import cli

try:  # show's first import of matplotlib happens here, not in a chain: a Ctrl-C inside an import
    # leaves the module half made in this process, for the next chain, where a real run would end.
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    import matplotlib.image  # noqa: F401
except ImportError:  # show then says how to get it, which the contract covers as well
    pass

EXAMPLES = int(os.environ.get("SDAE_FUZZ_EXAMPLES", "1000"))
BUDGET = 3.0  # seconds a chain may run before it is stopped as Ctrl-C would stop it
MEMORY = 512 << 20  # what the fuzzed jobs may take: bigger ones are refused, not run, on a shared machine


# ---------------------------------------------------------------- the files a chain can name

@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Small inputs of every kind, two models, a classifier, a reconstruction model and two
    checkpoints: copied afresh into each example's own folder."""
    d = tmp_path_factory.mktemp("library")
    rng = np.random.default_rng(0)
    X = rng.random((30, 6), dtype=np.float32)
    np.save(d / "s.npy", X)
    np.save(d / "clean.npy", np.clip(X + 0.1, 0, 1))
    np.save(d / "ints.npy", rng.integers(0, 10, (30, 6)))
    np.save(d / "wide.npy", rng.random((30, 9), dtype=np.float32))
    np.savetxt(d / "big.csv", (X - 0.5) * 100, delimiter=",", header="a,b,c,d,e,f", comments="")
    np.savetxt(d / "w.tsv", X, delimiter="\t")
    np.savez(d / "one.npz", data=X)
    np.savez(d / "multi.npz", a=X, b=X[:, :4])
    y = np.arange(30) % 3
    np.save(d / "y.npy", y)
    (d / "y.txt").write_text("\n".join(["cat", "dog", "owl"][i] for i in y) + "\n")
    np.save(d / "y_short.npy", y[:20])
    np.save(d / "y_one.npy", np.zeros(30, int))
    np.save(d / "ids.npy", np.arange(30))
    with open(d / "labeled.csv", "w") as f:
        f.write("a,b,c,d,e,f,label\n")
        for row, label in zip(X, y):
            f.write(",".join(f"{v:.6f}" for v in row) + f",{['cat', 'dog', 'owl'][label]}\n")
    np.save(d / "one_row.npy", X[:1])
    np.save(d / "const.npy", np.full((30, 6), 0.5, np.float32))
    np.savetxt(d / "col.csv", X[:, :1])
    np.save(d / "huge.npy", np.where(X > 0.5, 1e300, -1e300))  # finite, but not in float32
    np.save(d / "y_nan.npy", np.where(y == 1, np.nan, y))
    os.symlink("s.npy", d / "link.npy")
    os.symlink("nowhere.npy", d / "dangling.npy")
    (d / "adir").mkdir()
    (d / "notdir").write_text("a file where a folder is expected\n")
    runner = CliRunner()

    def make(args):
        result = runner.invoke(cli, [str(a) for a in args])
        assert result.exit_code in (0, 130), result.output

    with contextlib.ExitStack() as stack:
        stack.callback(os.chdir, os.getcwd())
        os.chdir(d)
        make(["pretrain", "s.npy", "--layers", "4,3", "--epochs", "2", "-q", "-o", "m.npz"])
        make(["pretrain", "big.csv", "--layers", "5", "--epochs", "2", "-q", "-o", "m_big.npz"])
        make(["finetune", "-m", "m.npz", "s.npy", "--labels", "y.npy", "--epochs", "2", "-q", "-o", "t.npz"])
        make(["finetune", "-m", "m.npz", "s.npy", "--target", "reconstruct", "--epochs", "2", "-q", "-o", "r.npz"])
        for name, run_epoch in (("ckpt.npz", "train_epoch"), ("fckpt.npz", "stack_train_epoch")):
            with pytest.MonkeyPatch.context() as patch:  # stopped in its second epoch, as by Ctrl-C
                from sdae_cli import _core

                calls, real = [], getattr(_core, run_epoch)

                def second_stops(*args, real=real, calls=calls):
                    calls.append(1)
                    if len(calls) == 2:
                        raise KeyboardInterrupt
                    return real(*args)

                patch.setattr(_core, run_epoch, second_stops)
                if name == "ckpt.npz":
                    make(["pretrain", "s.npy", "--layers", "4,3", "--epochs", "3", "-q", "-o", "x.npz",
                          "--checkpoint", name])
                else:
                    make(["finetune", "-m", "m.npz", "s.npy", "--labels", "y.npy", "--epochs", "3", "-q",
                          "-o", "x.npz", "--checkpoint", name])
            assert (d / name).exists()
    return d


# ---------------------------------------------------------------- running a chain, and the contract

def listing(folder: str) -> dict[str, str]:
    """Every file under folder (relative path -> digest of its bytes, or where a link points)."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                out[os.path.relpath(path, folder)] = "-> " + os.readlink(path)
                continue
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    return out


def stop_like_ctrl_c(signum, frame):
    """SIGALRM: Ctrl-C, handled as the program handles SIGINT at that moment (a KeyboardInterrupt,
    unless it holds it back for a moment), but only inside sdae (not in the test's own code once
    the run is over); the timer repeats until one lands."""
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if frame.f_code.co_name == "__del__" or module.startswith("hypothesis"):
            return  # a destructor or a garbage collector's callback: Python would print the
            # exception and drop it, the runtime's business and not sdae's; the timer tries again
        if module.startswith("sdae_cli"):
            handler = signal.getsignal(signal.SIGINT)
            if callable(handler) and handler is not signal.default_int_handler:
                handler(signal.SIGINT, frame)  # what the program does with Ctrl-C just now
                return
            raise KeyboardInterrupt
        frame = frame.f_back


def run_chain(folder: str, argv: list[str], stdin: bytes, plan: list, budget: float = BUDGET):
    """Runs argv in folder (whose files are its inputs), stopped as by Ctrl-C after `budget`
    seconds, checks the contract, and returns the result."""
    before = listing(folder)
    previous = os.getcwd()
    handler = signal.signal(signal.SIGALRM, stop_like_ctrl_c)
    os.chdir(folder)
    try:
        signal.setitimer(signal.ITIMER_REAL, budget, 0.5)
        try:
            result = CliRunner().invoke(cli, argv, input=stdin)
        except KeyboardInterrupt:  # pragma: no cover - the contract broken in the worst way
            pytest.fail("KeyboardInterrupt escaped the command")
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, handler)
        os.chdir(previous)
    stderr, stdout, exception = result.stderr, result.stdout, result.exception
    result = SimpleNamespace(exit_code=result.exit_code, stderr=stderr)
    if isinstance(exception, SystemExit):
        exception = None
    plan = [Step(*step) for step in plan]
    outputs = {os.path.normpath(o) for step in plan for o in [step.model, *step.outputs] if o and o != "-"}
    outputs |= {os.path.relpath(os.path.realpath(os.path.join(folder, o)), os.path.realpath(folder))
                for o in outputs}  # through a link, what it points to (created if missing)
    checkpoints = {os.path.normpath(step.checkpoint) for step in plan if step.checkpoint not in (None, "", "-")}
    allowed = outputs if result.exit_code == 0 else outputs | checkpoints
    after = listing(folder)
    if not set(after) - set(before) <= allowed:
        # The process would end here, freeing what the error's traceback holds, such as a
        # context manager that Ctrl-C stopped in its exit, which then deletes its temporary file.
        gc.collect()
        after = listing(folder)
    shown = f"\nsdae {' '.join(repr(a) if not a or ' ' in a else a for a in argv)}\n{stderr}"
    assert exception is None, f"{type(exception).__name__}: {exception}{shown}"
    assert result.exit_code in (0, 1, 2, 130), f"exit code {result.exit_code}{shown}"
    assert "Traceback" not in stdout + stderr, shown
    if result.exit_code:
        errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and stderr.rstrip("\n").endswith(errors[0]), f"not one Error: line{shown}"
        assert "internal error" not in errors[0], shown
        assert "Aborted!" not in stderr, shown
    appeared = set(after) - set(before)
    assert appeared <= allowed, f"files left: {sorted(appeared - allowed)}{shown}"
    changed = {p for p in before if p in after and after[p] != before[p]}
    assert changed <= outputs | checkpoints, f"files changed: {sorted(changed - outputs - checkpoints)}{shown}"
    vanished = set(before) - set(after)
    assert vanished <= checkpoints, f"files gone: {sorted(vanished)}{shown}"
    ran = result.exit_code == 0 and not any(t in ("--help", "-h", "--version") for t in argv)
    if ran:
        missing = {o for o in outputs if not os.path.isfile(os.path.join(folder, o))}
        assert not missing, f"outputs missing after success: {sorted(missing)}{shown}"
        where = functools.partial(os.path.join, folder)
        for step in plan:  # codes, reconstructions, scores never replace their own model or data
            for output in step.outputs:
                clash = [r for r in step.reads if output != "-" and os.path.realpath(where(r)) == os.path.realpath(
                    where(output))]
                assert not clash, f"{step.command} wrote over {clash[0]}, which it reads{shown}"
    return result


def prepare(library, base: str, bad: bytes, bad_name: str, stdin: bytes):
    """A fresh folder holding the library and the malformed file; stdin's BAD, S.NPY and BIG.CSV
    stand for those files' bytes."""
    folder = tempfile.mkdtemp(dir=base)
    shutil.copytree(library, folder, symlinks=True, dirs_exist_ok=True)
    with open(os.path.join(folder, bad_name), "wb") as f:
        f.write(bad)
    stdin = {b"BAD": bad, b"S.NPY": (library / "s.npy").read_bytes(),
             b"BIG.CSV": (library / "big.csv").read_bytes()}.get(stdin, stdin)
    return folder, stdin


@pytest.fixture
def small_memory(monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: (MEMORY, "MemAvailable"))


# A Ctrl-C between a call returning a file object and the statement that takes it can only leave
# the object to be closed when it is freed, which warns; its file is deleted all the same.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(chain=chains(), bad=st.deferred(lambda: st.one_of(any_file(model_files()), altered_model())),
       budget=st.sampled_from([BUDGET] * 9 + [0.01, 0.05, 0.2]))
def test_the_command_line_keeps_its_contract(library, tmp_path, small_memory, chain, bad, budget):
    """budget: mostly the full time budget, sometimes a Ctrl-C at a random moment of the run."""
    argv, stdin, plan, bad_name = chain
    folder, stdin = prepare(library, str(tmp_path), bad, bad_name, stdin)
    started = time.monotonic()
    try:
        result = run_chain(folder, argv, stdin, plan, budget)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    event(f"exit code {result.exit_code}")  # --hypothesis-show-statistics shows how deep the chains get
    event(f"{' '.join(step.command for step in plan)}: exit code {result.exit_code}")
    if os.environ.get("SDAE_FUZZ_DEBUG"):
        event((result.stderr.strip().splitlines() or [""])[-1][:70])
        if time.monotonic() - started > 2:
            event(f"{time.monotonic() - started:.0f} s: sdae {' '.join(argv)} (budget {budget})")


def test_the_fuzzer_reaches_training_and_every_output(library, tmp_path, small_memory):
    """A sanity check on the harness: a chain through every command succeeds and writes what it
    names, and an interrupted one leaves only its checkpoint."""
    argv = ["pretrain", "s.npy", "--layers", "4,2", "--epochs", "2", "-q", "-o", "new.npz",
            "finetune", "s.npy", "--labels", "y.npy", "--epochs", "2", "-q",
            "predict", "s.npy", "-o", "out.csv", "encode", "s.npy", "-o", "out.npy", "score", "s.npy", "-o", "out.tsv"]
    plan = [("pretrain", "new.npz", "new.ckpt.npz", []),
            ("finetune", "new.tuned.sdae.npz", "new.tuned.sdae.ckpt.npz", []),
            ("predict", None, None, ["out.csv"]), ("encode", None, None, ["out.npy"]),
            ("score", None, None, ["out.tsv"])]
    folder, stdin = prepare(library, str(tmp_path), b"", "bad.npy", b"")
    run_chain(folder, argv, stdin, plan)
    for name in ("new.npz", "new.tuned.sdae.npz", "out.csv", "out.npy", "out.tsv"):
        assert os.path.isfile(os.path.join(folder, name))
    folder, stdin = prepare(library, str(tmp_path), b"", "bad.npy", b"")
    argv = ["pretrain", "s.npy", "--layers", "3", "--epochs", "1000000", "-o", "long.npz"]
    run_chain(folder, argv, stdin, [("pretrain", "long.npz", "long.ckpt.npz", [])])
    assert os.path.isfile(os.path.join(folder, "long.ckpt.npz")) and not os.path.exists(
        os.path.join(folder, "long.npz"))


# ---------------------------------------------------------------- what the fuzzer found, kept

FOUND = [
    # A batch size beyond int64 reached the core's constructor: TypeError, "internal error".
    (["pretrain", "s.npy", "--layers", "3", "--epochs", "1", "-q", "--batch-size", "99999999999999999999"], b"",
     [("pretrain", "s.sdae.npz", "s.sdae.ckpt.npz", [])], b""),
    # float64 values beyond float32's range passed the NaN/infinity check, then became infinities
    # in the conversion (a RuntimeWarning, or an error under warnings-as-errors).
    (["encode", "-m", "m.npz", "huge.npy"], b"", [("encode", None, None, ["-"])], b""),
    # A model whose metadata describes its training with a number instead of a table loaded (the
    # loader checks what computing needs), then 'info' failed on it with an AttributeError.
    (["info", "bad.npy"], b"", [("info", None, None, [])], lambda: model_with(training=3)),
    # encode wrote its codes over the model it read (only DATA was checked against -o).
    (["encode", "-m", "m.npz", "s.npy", "-o", "m.npz"], b"", [("encode", None, None, ["m.npz"], ("m.npz", "s.npy"))],
     b""),
]


def model_with(**meta) -> bytes:
    """The pretrained model file with some of its metadata replaced."""
    with np.load(io.BytesIO(model_files()[0]), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["meta"] = np.array(json.dumps({**json.loads(str(arrays["meta"])), **meta}))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize("argv, stdin, plan, bad", FOUND)
def test_found_by_the_fuzzer(library, tmp_path, small_memory, argv, stdin, plan, bad):
    """Each chain the fuzzer once failed on (bad: the bytes of bad.npy, where it matters)."""
    folder, stdin = prepare(library, str(tmp_path), bad() if callable(bad) else bad, "bad.npy", stdin)
    run_chain(folder, argv, stdin, plan)


