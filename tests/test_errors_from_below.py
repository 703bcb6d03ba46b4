"""Errors coming up from below the CLI (the C++ core, NumPy, the OS, Ctrl-C outside training, our
own bugs): each becomes one line with the right exit code, no traceback and no file."""
import numpy as np
import pytest
from cli_runs import listing, run, runner

from sdae_cli.cli import cli

# ---------------------------------------------------------------- errors from below, in one line

@pytest.mark.parametrize("kind, exception", [("bad_alloc", MemoryError), ("invalid_argument", ValueError),
                                              ("logic_error", ValueError), ("anything else", ValueError)])
def test_every_exception_of_a_parallel_region_reaches_python(kind, exception):
    from sdae_cli import _core

    with pytest.raises(exception) as caught:
        _core._raise_from_threads(kind)
    assert isinstance(caught.value, _core.CoreError) == (exception is ValueError)


@pytest.mark.parametrize("kind, message", [
    ("bad_alloc", "Error: encode ran out of memory (std::bad_alloc: the core could not allocate memory); "),
    ("invalid_argument", "Error: encode: the core refused the job: X: expected 3 columns, got 4"),
    ("logic_error", "Error: encode: the core refused the job: an internal check failed"),
    ("out of threads", "Error: encode: the core refused the job: out of threads"),
])
def test_core_errors_become_one_line(model, monkeypatch, kind, message):
    from sdae_cli import _core

    monkeypatch.setattr(_core, "stack_forward", lambda *args: _core._raise_from_threads(kind))
    line = run(["encode", "-m", "m.npz", "s.npy", "-o", "codes.npy"], 1)
    assert line.startswith(message), line
    if kind == "bad_alloc":
        assert "is available (" in line and line.endswith("; lower --threads, or use a smaller model")
    assert listing(model) == ["m.npz", "s.npy", "y.npy"]


def test_a_shape_only_the_core_checks(model, monkeypatch):
    """Were a Python check missing, the core's own would still say what is wrong in one line."""
    from sdae_cli.model import SDAE

    np.save(model / "wide.npy", np.random.default_rng(1).random((10, 7), dtype=np.float32))
    monkeypatch.setattr(SDAE, "check_input", lambda self, X, source: None)
    line = run(["encode", "-m", "m.npz", "wide.npy", "-o", "codes.npy"], 1)
    assert line == "Error: encode: the core refused the job: X: expected 20 columns", line
    assert "codes.npy" not in listing(model)


def test_numpy_running_out_of_memory_midway(model, monkeypatch):
    """An allocation NumPy cannot make (here a real one of 4 EiB) after the estimate let the job
    through: one line, exit 1, no model and no checkpoint."""
    from sdae_cli import pretraining

    def impossible(*args):
        return np.zeros(2**62, dtype=np.uint8)

    monkeypatch.setattr(pretraining, "make_layer", impossible)
    line = run(["pretrain", "s.npy", "--layers", "8", "-o", "new.npz"], 1)
    assert line.startswith("Error: pretrain ran out of memory (could not allocate 4.00 EiB more); "), line
    assert line.endswith("; lower --layers or --batch-size, or train on fewer rows"), line
    assert listing(model) == ["m.npz", "s.npy", "y.npy"]


def test_ctrl_c_outside_training(model, monkeypatch):
    from sdae_cli import data

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "read_matrix", interrupted)
    assert run(["encode", "-m", "m.npz", "s.npy", "-o", "codes.npy"], 130) == "Error: encode: interrupted"


def test_an_error_while_ctrl_c_is_handled_is_an_interruption(model, monkeypatch):
    """Found by the command-line fuzzer: Ctrl-C while a checkpoint was being written left NumPy's
    zip archive with a member open, and closing it raised a ValueError in place of the
    KeyboardInterrupt: an 'internal error'."""
    from sdae_cli.training import checkpoints

    def interrupted_while_saving(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        finally:
            raise ValueError("Can't close the ZIP file while there is an open writing handle on it.")

    monkeypatch.setattr(checkpoints, "save", interrupted_while_saving)
    assert run(["pretrain", "s.npy", "--layers", "3", "--epochs", "2", "-o", "new.npz"], 130) == (
        "Error: pretrain: interrupted")
    assert listing(model) == ["m.npz", "s.npy", "y.npy"]


def test_an_operating_system_error(model, monkeypatch):
    import errno

    from sdae_cli import data

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error", "s.npy")

    monkeypatch.setattr(data, "read_matrix", broken)
    assert run(["encode", "-m", "m.npz", "s.npy"], 1) == "Error: encode: s.npy: Input/output error"


def test_a_bug_is_one_line_unless_asked_for_its_traceback(model, monkeypatch):
    from sdae_cli import data

    def bug(*args, **kwargs):
        raise TypeError("unsupported operand type(s) for +: 'int' and 'str'\nmore detail")

    monkeypatch.setattr(data, "read_matrix", bug)
    line = run(["encode", "-m", "m.npz", "s.npy"], 1)
    assert line == ("Error: encode: internal error (TypeError: unsupported operand type(s) for +: 'int' and 'str'); "
                    "please report it with the command line (SDAE_TRACEBACK=1 shows where it happened)")
    monkeypatch.setenv("SDAE_TRACEBACK", "1")
    result = runner().invoke(cli, ["encode", "-m", "m.npz", "s.npy"])
    assert isinstance(result.exception, TypeError)


def test_an_input_too_big_to_map_under_an_rlimit(folder):
    """A .npy is memory-mapped to be read a chunk at a time, and under `ulimit -v` the mapping
    itself counts: a file bigger than the room left was 'not a valid NPY file ([Errno 12] Cannot
    allocate memory)'."""
    import resource
    import subprocess
    import sys

    with open(folder / "big.npy", "wb") as f:  # 2 GiB, sparse: nothing is written but the header
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (2**19, 1024)})
        f.truncate(f.tell() + 2**31)

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (1500 << 20, resource.getrlimit(resource.RLIMIT_AS)[1]))

    done = subprocess.run([sys.executable, "-c", "from sdae_cli.cli import main; main()", "pretrain", "big.npy",
                           "--layers", "3"], capture_output=True, text=True, preexec_fn=limit, timeout=120)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: big.npy: cannot map its 2.0 GiB into memory to read it; ")
    assert done.stderr.endswith(" is available (the process's limit, ulimit -v); raise the limit, or give fewer "
                                "rows\n") and done.stderr.count("\n") == 1, done.stderr
    assert listing(folder) == ["big.npy", "s.npy"]
