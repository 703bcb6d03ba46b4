"""The `sdae` command: in-process with CliRunner, and as a real program in a shell pipeline."""
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import sdae_cli
from sdae_cli import SDAE, PretrainConfig, pretrain
from sdae_cli.cli import cli


@pytest.fixture
def runner():
    try:
        return CliRunner(mix_stderr=False)  # Click < 8.2 mixes stderr into stdout by default
    except TypeError:
        return CliRunner()  # Click >= 8.2 keeps them apart


def stderr_of(result) -> str:
    try:
        return result.stderr
    except ValueError:
        return ""


def invoke(runner, args, ok=True, **kwargs):
    result = runner.invoke(cli, [str(a) for a in args], **kwargs)
    everything = result.stdout + stderr_of(result)
    assert "Traceback" not in everything
    if ok:
        assert result.exit_code == 0, (result.exit_code, everything, result.exception)
    return result


@pytest.fixture
def model_file(data_files):
    """A 10-16-8 model of small_data, trained through the API."""
    path = str(data_files.dir / "m.npz")
    pretrain(data_files.X, PretrainConfig(layers=[16, 8], epochs=2)).save(path)
    return path


def listing(directory):
    return sorted(p.name for p in directory.iterdir())


# ---------------------------------------------------------------- pretrain

def test_pretrain_writes_the_model_named_by_o(runner, data_files):
    out = data_files.dir / "m.npz"
    result = invoke(runner, ["pretrain", data_files.npy, "--layers", "16,8", "--epochs", "2", "-o", out])
    model = SDAE.load(str(out))
    assert model.sizes == [10, 16, 8]
    assert [len(h) for h in model.history] == [2, 2]
    assert "m.npz" in stderr_of(result)
    assert listing(data_files.dir) == ["m.npz", "x.csv", "x.npy"]  # no temp or checkpoint files left


def test_pretrain_without_o_writes_stem_sdae_npz_in_the_cwd(runner, data_files, monkeypatch):
    work = data_files.dir / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = invoke(runner, ["pretrain", data_files.csv, "--layers", "6", "--epochs", "1"])
    assert listing(work) == ["x.sdae.npz"]
    assert SDAE.load(str(work / "x.sdae.npz")).sizes == [10, 6]
    assert "x.sdae.npz" in stderr_of(result)


def test_options_after_data_and_per_layer_lists_reach_the_model(runner, data_files):
    out = data_files.dir / "m.npz"
    invoke(runner, ["pretrain", data_files.npy, "--layers", "6,4", "--noise", "0.1,0.2",
                    "--noise-type", "masking,gaussian", "--activation", "sigmoid,tanh", "--epochs", "1",
                    "--seed", "5", "--untied", "-q", "-o", out])
    meta = SDAE.load(str(out)).meta()
    assert [(la["noise_level"], la["noise_type"], la["activation"], la["tied"]) for la in meta["layers"]] == [
        (0.1, "masking", "sigmoid", False), (0.2, "gaussian", "tanh", False)]
    assert meta["seed"] == 5
    assert meta["training"]["epochs"] == 1


def test_quiet_pretrain_prints_nothing(runner, data_files):
    result = invoke(runner, ["pretrain", data_files.npy, "--layers", "4", "--epochs", "1", "-q",
                             "-o", data_files.dir / "m.npz"])
    assert result.stdout == "" and stderr_of(result) == ""


# ---------------------------------------------------------------- chains

def test_chain_pretrain_encode_denoise(runner, data_files, monkeypatch):
    monkeypatch.chdir(data_files.dir)
    result = invoke(runner, ["pretrain", "x.npy", "--layers", "8", "-q", "-o", "m.npz",
                             "encode", "x.npy", "-o", "codes.npy",
                             "denoise", "x.csv", "-o", "clean.csv"])
    assert result.stdout == ""
    model = SDAE.load("m.npz")
    codes = np.load("codes.npy")
    assert codes.shape == (60, 8)
    assert np.array_equal(codes, model.encode(data_files.X))
    clean = np.loadtxt("clean.csv", delimiter=",", ndmin=2, dtype=np.float32)
    assert clean.shape == (60, 10)
    assert clean.tobytes() == model.denoise(data_files.X).tobytes()  # the text reads back to the same bits


# ---------------------------------------------------------------- encode and denoise

def test_encode_to_stdout_is_csv_of_the_api_codes(runner, data_files, model_file):
    result = invoke(runner, ["encode", "-m", model_file, data_files.npy])
    codes = np.loadtxt(io.StringIO(result.stdout), delimiter=",", ndmin=2, dtype=np.float32)
    expected = SDAE.load(model_file).encode(data_files.X)
    assert codes.shape == (60, 8)
    assert codes.tobytes() == expected.tobytes()


def test_encode_format_npy_to_stdout(runner, data_files, model_file):
    result = invoke(runner, ["encode", "-m", model_file, data_files.npy, "--format", "npy"])
    assert result.stdout_bytes.startswith(b"\x93NUMPY")
    codes = np.load(io.BytesIO(result.stdout_bytes), allow_pickle=False)
    assert codes.dtype == np.float32
    assert np.array_equal(codes, SDAE.load(model_file).encode(data_files.X))


def test_encode_layer_1_gives_the_first_layers_width(runner, data_files, model_file):
    result = invoke(runner, ["encode", "-m", model_file, data_files.npy, "--layer", "1", "--format", "npy"])
    codes = np.load(io.BytesIO(result.stdout_bytes))
    assert codes.shape == (60, 16)
    assert np.array_equal(codes, SDAE.load(model_file).encode(data_files.X, layer=1))


@pytest.mark.parametrize("suffix", ["csv", "npy"])
def test_stdin_gives_the_same_output_as_the_file(runner, data_files, model_file, suffix):
    path = getattr(data_files, suffix)
    from_file = invoke(runner, ["encode", "-m", model_file, path])
    with open(path, "rb") as f:
        raw = f.read()
    from_stdin = invoke(runner, ["encode", "-m", model_file, "-"], input=raw)
    assert from_stdin.stdout_bytes == from_file.stdout_bytes
    assert np.loadtxt(io.StringIO(from_stdin.stdout), delimiter=",", ndmin=2).shape == (60, 8)


def test_denoise_keeps_shape_and_units(runner, data_files):
    big = data_files.X * 16
    np.save(data_files.dir / "big.npy", big)
    model_path = data_files.dir / "big.sdae.npz"
    invoke(runner, ["pretrain", data_files.dir / "big.npy", "--layers", "12", "--epochs", "3", "-q",
                    "-o", model_path])
    out = data_files.dir / "clean.npy"
    invoke(runner, ["denoise", "-m", model_path, data_files.dir / "big.npy", "-o", out])
    clean = np.load(out)
    assert clean.shape == big.shape
    assert clean.max() > 8 and clean.min() > -1 and clean.max() < 17  # pixel-like units, not [0, 1]
    assert clean.tobytes() == SDAE.load(str(model_path)).denoise(big).tobytes()


# ---------------------------------------------------------------- info, demo, version, help

def test_info_prints_sizes_and_a_line_per_layer(runner, model_file):
    result = invoke(runner, ["info", model_file])
    lines = result.stdout.splitlines()
    assert any(line.startswith("sizes") and "10-16-8" in line for line in lines)
    layer_lines = [line for line in lines if line.startswith("layer ")]
    assert len(layer_lines) == 2
    assert "10 -> 16" in layer_lines[0] and "16 -> 8" in layer_lines[1]
    assert all("cross-entropy" in line and "masking 0.3" in line for line in layer_lines)
    assert sum("epoch:train/valid" in line for line in lines) == 2


def test_demo_shows_denoising_cuts_the_error(runner, tmp_path):
    result = invoke(runner, ["demo", "--pictures", tmp_path])
    lines = [line for line in result.stdout.splitlines() if "mean squared error" in line]
    assert len(lines) == 1 and "denoised" in lines[0]
    before, after = map(float, re.search(r"([0-9.]+)\D*->\s*([0-9.]+)", lines[0]).groups())
    assert 0 < after < before
    try:
        from matplotlib.image import imread
    except ImportError:  # then the demo says how to get its pictures instead
        assert "pip install 'sdae[plot]'" in result.stdout and list(tmp_path.iterdir()) == []
        return
    # The 256 filters of layer 1 as 8x8 tiles, 16 a row, zoomed 4 times; one loss panel a stage.
    assert imread(tmp_path / "sdae-demo-filters.png").shape[:2] == (4 * (16 * 9 + 1),) * 2
    assert imread(tmp_path / "sdae-demo-curves.png").shape[:2] == (320, 3 * 400)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sdae-demo-curves.png", "sdae-demo-filters.png"]


def test_demo_without_pictures_writes_nothing(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sdae_cli.demo.LAYERS", [8])
    monkeypatch.setattr("sdae_cli.demo.PRETRAIN", dict(layers=[8], epochs=1))
    monkeypatch.setattr("sdae_cli.demo.FINETUNE", dict(epochs=1))
    result = invoke(runner, ["demo", "--no-pictures", "--threads", "1"])
    assert "pictures" not in result.stdout and list(tmp_path.iterdir()) == []
    result = invoke(runner, ["demo", "--pictures", tmp_path / "missing"], ok=False)
    assert result.exit_code == 2 and "missing: no such folder" in stderr_of(result)


def test_version(runner):
    result = invoke(runner, ["--version"])
    assert result.stdout.strip() == f"sdae, version {sdae_cli.__version__}"


def sdae_program() -> str:
    beside_python = os.path.join(os.path.dirname(sys.executable), "sdae")
    program = beside_python if os.path.exists(beside_python) else shutil.which("sdae")
    assert program is not None, "the sdae command is not installed"
    return program


def test_help_lists_the_commands():
    done = subprocess.run([sdae_program(), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    commands = done.stdout.split("Commands:")[1]
    for name in ("pretrain", "encode", "denoise", "info", "demo", "show"):
        assert re.search(rf"^\s+{name}\s", commands, re.MULTILINE), name


def test_real_shell_pipeline(data_files, model_file):
    reader = "import sys, numpy as np; print(np.loadtxt(sys.stdin, delimiter=',', ndmin=2).shape)"
    script = (f"set -o pipefail; cat x.csv | '{sdae_program()}' encode -m m.npz - "
              f"| '{sys.executable}' -c \"{reader}\"")
    done = subprocess.run(["bash", "-c", script], cwd=data_files.dir, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(60, 8)"


# ---------------------------------------------------------------- errors

ERRORS = {
    "encode without a model": (["encode", "x.npy", "-o", "o.npy"], 2, ["-m"]),
    "missing data file": (["encode", "-m", "m.npz", "nope.npy", "-o", "o.npy"], 1, ["nope.npy"]),
    "--noise of the wrong length": (["pretrain", "x.npy", "--layers", "4,2", "--noise", "0.1,0.2,0.3",
                                     "-o", "e.npz"], 2, ["--noise", "3"]),
    "--layer too high": (["encode", "-m", "m.npz", "x.npy", "--layer", "3", "-o", "o.npy"], 2, ["--layer", "3"]),
    "--layer 0": (["encode", "-m", "m.npz", "x.npy", "--layer", "0", "-o", "o.npy"], 2, ["--layer"]),
    "column count mismatch": (["denoise", "-m", "m.npz", "wide.npy", "-o", "o.npy"], 1, ["wide.npy", "7", "10"]),
    "cross-entropy on unscaled 0..16": (["pretrain", "big.npy", "--layers", "4", "--loss", "cross-entropy",
                                         "--scale", "none", "-o", "e.npz"], 2, ["--loss", "[0, 1]"]),
    "a non-model npz as -m": (["encode", "-m", "plain.npz", "x.npy", "-o", "o.npy"], 1, ["plain.npz"]),
    "an .npy array as -m": (["encode", "-m", "x.npy", "x.npy", "-o", "o.npy"], 1, ["x.npy"]),
    "encode output is the input": (["encode", "-m", "m.npz", "x.npy", "-o", "x.npy"], 2, ["-o", "x.npy"]),
    "denoise output is the input": (["denoise", "-m", "m.npz", "x.csv", "-o", "x.csv"], 2, ["-o", "x.csv"]),
    "pretrain output is the input": (["pretrain", "x.npy", "--layers", "4", "-o", "x.npy"], 2, ["-o", "x.npy"]),
    "diverging training": (["pretrain", "x.npy", "--layers", "8", "--lr", "1e6", "--loss", "mse",
                            "--scale", "standard", "--epochs", "3", "--checkpoint-every", "0", "-o", "e.npz"],
                           1, ["--lr", "diverged"]),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_with_the_right_exit_code_and_write_nothing(runner, data_files, model_file,
                                                                         monkeypatch, case):
    args, code, fragments = ERRORS[case]
    monkeypatch.chdir(data_files.dir)
    np.save("wide.npy", np.ones((5, 7), np.float32))
    np.save("big.npy", data_files.X * 16)
    np.savez("plain.npz", a=np.ones((3, 3)))
    before = {name: (data_files.dir / name).read_bytes() for name in listing(data_files.dir)}

    result = invoke(runner, args, ok=False)
    assert result.exit_code == code, (result.exit_code, result.output)
    errors = [line for line in (result.stdout + stderr_of(result)).splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0]

    # A diverged run may keep its last good epoch as a checkpoint to resume from, but no model.
    after = [name for name in listing(data_files.dir) if not (case == "diverging training" and name == "e.ckpt.npz")]
    assert after == sorted(before)
    for name, content in before.items():
        assert (data_files.dir / name).read_bytes() == content, name
