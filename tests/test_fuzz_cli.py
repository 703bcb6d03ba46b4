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

SDAE_FUZZ_EXAMPLES sets how many chains to try: 500 by default (about a minute); the nightly
run tries 10,000 (README, Tests). What it found is kept below as explicit regression cases.
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
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from malformed import any_file

from sdae_cli import checkpoint, resources
from sdae_cli.cli import cli
from sdae_cli.cli_support import default_model_path, tuned_model_path

EXAMPLES = int(os.environ.get("SDAE_FUZZ_EXAMPLES", "500"))
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


@functools.cache
def model_files() -> list[bytes]:
    """Whole model files, a pretrained stack and a classifier, for the fuzzer to damage."""
    from sdae_cli import PretrainConfig, pretrain
    from sdae_cli.finetuning import FinetuneConfig, finetune_supervised

    X = np.random.default_rng(0).random((30, 6), dtype=np.float32)
    model = pretrain(X, PretrainConfig(layers=[4, 3], epochs=1))
    tuned = finetune_supervised(model, X, np.arange(30) % 3, FinetuneConfig(epochs=1))
    files = []
    for each in (model, tuned):
        buffer = io.BytesIO()
        np.savez(buffer, **each.arrays())
        files.append(buffer.getvalue())
    return files


def meta_paths(value, path=()):
    """Every place in a model's JSON metadata: (key or index, ...) tuples."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        yield from meta_paths(inner, (*path, key))


json_values = st.one_of(st.integers(-5, 10**12), st.floats(), st.text(max_size=8), st.none(), st.booleans(),
                        st.lists(st.integers(-2, 5), max_size=3), st.sampled_from(["sigmoid", "linear", "minmax",
                                                                                    "standard", "mse"]))


@st.composite
def altered_model(draw) -> bytes:
    """A model file that is a well-formed archive with one thing changed: a value anywhere in its
    metadata, or one of its arrays dropped, reshaped or given another dtype."""
    with np.load(io.BytesIO(draw(st.sampled_from(model_files()))), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(str(arrays["meta"]))
    if draw(st.booleans()):
        path = draw(st.sampled_from(sorted((p for p in meta_paths(meta) if p), key=repr)))
        target = meta
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(json_values)
        arrays["meta"] = np.array(json.dumps(meta))
    else:
        name = draw(st.sampled_from(sorted(a for a in arrays if a != "meta")))
        how = draw(st.sampled_from(["drop", "reshape", "float64", "int"]))
        if how == "drop":
            del arrays[name]
        elif how == "reshape":
            arrays[name] = arrays[name].reshape(-1)[: max(0, arrays[name].size - 1)]
        else:
            arrays[name] = arrays[name].astype(np.float64 if how == "float64" else np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# ---------------------------------------------------------------- what a chain can say

def chance(draw, percent: int) -> bool:
    """True `percent` per cent of the time. (Hypothesis favours 0 and other small numbers, so the
    rare outcome sits at the top of the range.)"""
    return draw(st.integers(0, 99)) >= 100 - percent


def pick(draw, valid: list[str], invalid: list[str], wrong: int = 8) -> str:
    """Mostly a valid value, `wrong` per cent of the time an invalid one."""
    if invalid and chance(draw, wrong):
        return draw(st.sampled_from(invalid))
    return draw(st.sampled_from(valid))


DATA = (["s.npy", "big.csv", "ints.npy", "w.tsv", "one.npz", "labeled.csv", "clean.npy", "-", "link.npy", "BAD"],
        ["multi.npz", "wide.npy", "nope.npy", "adir", "notdir/x.npy", "", "m.npz", "y.npy", "y.txt",
         "one_row.npy", "const.npy", "col.csv", "huge.npy", "dangling.npy"])
MODELS = (["m.npz", "m_big.npz", "t.npz", "r.npz", "BAD"], ["ckpt.npz", "s.npy", "nope.npz", "adir", "-", ""])
LABELS = (["y.npy", "y.txt", "y.npy", "y.txt", "BAD"], ["y_short.npy", "y_one.npy", "ids.npy", "s.npy", "nope.txt",
                                                   "-", "adir", "y_nan.npy", "labeled.csv"])
OUTPUTS = (["out.npy", "out.csv", "out.tsv", "out.npz", "out.txt", "-"],
           ["out.bin", "out", "adir", "nofolder/out.npy", "notdir/out.npy", "s.npy", "y.npy", "", "m.npz",
            "t.npz", "link.npy", "dangling.npy"])
MODEL_OUTPUTS = (["new.npz", "m.npz"], ["nofolder/m.npz", "notdir/m.npz", "adir", "-", "s.npy", "new", ""])
CHECKPOINTS = (["c.ckpt.npz", "ckpt.npz"], ["nofolder/c.npz", "adir", "-", "", "s.npy"])
RESUMES = (["ckpt.npz", "fckpt.npz"], ["m.npz", "nope.npz", "BAD", "t.npz", "adir"])
EPOCHS = (["1", "2", "3"], ["0", "-1", "x", "", "1000000", "99999999999999999999"])
THREADS = (["0", "1", "2"], ["-1", "5000", "x", ""])
TRAINING = {
    "--batch-size": (["1", "2", "7", "32", "1000"], ["0", "-3", "x", "99999999999999999999"]),
    "--lr": (["0.1", "0.01", "1e-3"], ["0", "-1", "nan", "inf", "1e39", "1e-50", "abc", "100"]),
    "--optimizer": (["sgd", "momentum", "adam"], ["bogus", ""]),
    "--momentum": (["0.5", "0.9"], ["1", "-0.1", "x"]),
    "--valid-split": (["0", "0.1", "0.5"], ["0.99", "1", "-0.1", "nan", "x"]),
    "--seed": (["0", "1", "18446744073709551615"], ["-1", "18446744073709551616", "x"]),
    "--threads": THREADS,
    "--key": (["data", "a"], ["b", "nokey", ""]),
    "--checkpoint": CHECKPOINTS,
    "--checkpoint-every": (["0", "1", "2"], ["-1", "x"]),
    "-q": None,
}
COMMANDS = {
    "pretrain": {
        "-o": MODEL_OUTPUTS,
        "--layers": (["3", "4,2", "2,2,2", "100000"], ["0", "-1", "", "3,,2", "1e3", "abc", "20000000", "+3",
                                                       "9999999", "1000000,1000000", "3000000", "5,3000000"]),
        "--noise": (["0", "0.3", "0.1,0.2"], ["1", "-0.1", "nan", "inf", "abc", "", "0.1,0.2,0.3,0.4"]),
        "--noise-type": (["masking", "gaussian", "salt-pepper", "masking,gaussian"], ["bogus", "", "masking,"]),
        "--epochs": EPOCHS,
        "--loss": (["auto", "cross-entropy", "mse"], ["bogus"]),
        "--decoder": (["auto", "sigmoid", "linear"], ["x"]),
        "--activation": (["sigmoid", "tanh", "relu", "relu,tanh"], ["x", ""]),
        "--untied": None,
        "--scale": (["auto", "minmax", "standard", "none"], ["x"]),
        "--resume": RESUMES,
        **TRAINING,
    },
    "finetune": {
        "-m": MODELS,
        "--labels": LABELS,
        "--label-column": (["label", "6"], ["0", "-1", "99", "x", ""]),
        "--target": (["classify", "reconstruct"], ["x"]),
        "--clean": (["clean.npy", "s.npy"], ["wide.npy", "nope.npy", "BAD", "-"]),
        "-o": MODEL_OUTPUTS,
        "--epochs": EPOCHS,
        "--valid": (["s.npy", "clean.npy"], ["wide.npy", "BAD", "nope.npy"]),
        "--valid-labels": LABELS,
        "--patience": (["1", "3"], ["0", "-1", "x"]),
        "--noise": (["0", "0.2"], ["1", "-1", "nan", "x"]),
        "--noise-type": (["masking", "gaussian", "salt-pepper"], ["x"]),
        "--resume": RESUMES,
        **TRAINING,
    },
}
INFERENCE = {"-m": MODELS, "-o": OUTPUTS, "--format": (["npy", "csv"], ["x", ""]), "--threads": THREADS,
             "--key": (["data"], ["a", "nokey"])}
COMMANDS["encode"] = {**INFERENCE, "--layer": (["1", "2"], ["3", "0", "-1", "x", "99999999999999999999"])}
COMMANDS["denoise"] = dict(INFERENCE)
COMMANDS["score"] = dict(INFERENCE)
COMMANDS["predict"] = {**INFERENCE, "--proba": None}
COMMANDS["info"] = {}
WEIGHTED = ["pretrain"] * 3 + ["finetune"] * 3 + ["encode", "denoise", "score", "predict", "info"]  # training: more
# Options nearly every run of a command gives (so that most chains get past parsing).
USUAL = {"pretrain": ["--layers", "--epochs", "-q"], "finetune": ["--labels", "--epochs", "-q"]}
NOISE = ["--bogus", "--", "-x", "--help", "--version"]  # tokens a chain may hold by mistake


class Step(NamedTuple):
    """What one command of a chain may write, and what it reads that it must not overwrite."""

    command: str
    model: str | None  # the model it writes (pretrain, finetune)
    checkpoint: str | None  # where that model's checkpoint goes
    outputs: list  # the data it writes (encode, denoise, predict, score): a file or "-"
    reads: tuple = ()  # an inference command's model and data


@st.composite
def chains(draw):
    """(argv, stdin bytes, [(command, model output or None, checkpoint or None, data outputs)],
    the name of the malformed file)."""
    argv, plan, model_name = [], [], None
    bad_name = "bad" + draw(st.sampled_from([".npy", ".npz", ".csv", ".txt", ".dat"]))
    if chance(draw, 3):
        argv.append(draw(st.sampled_from(["--help", "--version", "-h", "--bogus"])))
    for _ in range(draw(st.sampled_from([1, 1, 2, 2, 3]))):
        name = draw(st.sampled_from(WEIGHTED))
        options = COMMANDS[name]
        names = [o for o in USUAL.get(name, []) if not chance(draw, 15)]
        if name in ("finetune", "encode", "denoise", "score", "predict") and (
                model_name is None or chance(draw, 30)):
            names.append("-m")
        if options:
            names += draw(st.lists(st.sampled_from(sorted(options)), max_size=4))  # repeats: repeated options
        groups = []
        for option in names:
            values = options[option]
            if values is None:
                groups.append([option])
                continue
            value = pick(draw, *values).replace("BAD", bad_name)
            if option == "--labels" and chance(draw, 10):
                option, value = "--target", "reconstruct"
            groups.append([option, value])
        if name == "info" or not chance(draw, 5):
            groups.append([pick(draw, *(MODELS if name == "info" else DATA)).replace("BAD", bad_name)])
        if name in ("encode", "denoise", "score", "predict") and chance(draw, 5):
            reads = [g[1] for g in groups if g[0] == "-m"] + [g[0] for g in groups if len(g) == 1]
            groups.append(["-o", draw(st.sampled_from(reads or ["m.npz"]))])  # written over what it reads
        if chance(draw, 3):
            groups.append([draw(st.sampled_from(NOISE))])
        groups = draw(st.permutations(groups))
        if groups and chance(draw, 3) and len(groups[-1]) == 2:
            groups[-1] = groups[-1][:1]  # an option missing its value
        argv += [name] + [token for group in groups for token in group]
        given = {group[0]: group[1] for group in groups if len(group) == 2}  # of a repeated option, the last
        data = next((g[0] for g in groups if len(g) == 1 and not g[0].startswith("-") or g == ["-"]), None)
        outputs, model_output, ckpt = [], None, None
        if name == "pretrain":
            model_output = given.get("-o") or (default_model_path(data) if data is not None else None)
        elif name == "finetune":  # named after the model it tunes (with --resume, the chain's model)
            base = model_name or given.get("-m") if "--resume" in given else given.get("-m") or model_name
            model_output = given.get("-o") or tuned_model_path(base)
        elif name != "info":
            outputs.append(given.get("-o", "-"))
        if model_output is not None:
            ckpt = given.get("--checkpoint") or checkpoint.default_path(model_output)
        model_name = model_output or (given.get("-m") if name != "info" else model_name) or model_name
        reads = tuple(p for p in (given.get("-m"), data) if p not in (None, "", "-")) if outputs else ()
        plan.append(Step(name, model_output, ckpt, outputs, reads))
    stdin = draw(st.sampled_from([b"", b"S.NPY", b"BIG.CSV", b"BAD"]))
    return argv, stdin, plan, bad_name


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
    try:
        result = run_chain(folder, argv, stdin, plan, budget)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    event(f"exit code {result.exit_code}")  # --hypothesis-show-statistics shows how deep the chains get
    event(f"{' '.join(step.command for step in plan)}: exit code {result.exit_code}")
    if os.environ.get("SDAE_FUZZ_DEBUG"):
        event((result.stderr.strip().splitlines() or [""])[-1][:70])


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


