"""Jobs that cannot be: size lists with holes, signs or absurd sizes, jobs bigger than the memory
the machine or the process's limits leave, and errors coming up from the C++ core. Each gets one
line, the right exit code, no traceback and no file."""
import numpy as np
import pytest
from click.testing import CliRunner

from sdae_cli.cli import cli


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A folder holding s.npy (200 x 20 in [0, 1)), made the working directory."""
    np.save(tmp_path / "s.npy", np.random.default_rng(0).random((200, 20), dtype=np.float32))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # Click < 8.2 mixes stderr into stdout by default
    except TypeError:
        return CliRunner()  # Click >= 8.2 keeps them apart


def run(args, exit_code):
    """Runs sdae in process; checks the exit code, that nothing escaped as an exception, and that
    a failure says one line; returns that line (or "" on success)."""
    result = runner().invoke(cli, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == exit_code, output
    if exit_code == 0:
        return ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.rstrip("\n").endswith(errors[0]), result.stderr
    return errors[0]


def listing(path):
    return sorted(p.name for p in path.iterdir())


# ---------------------------------------------------------------- size lists

@pytest.mark.parametrize("layers, message", [
    ("20,,5", "'20,,5' has an empty item; separate the values with single commas"),
    ("20,5,", "'20,5,' has an empty item"),
    (",5", "',5' has an empty item"),
    ("", "nothing given; give one value or a comma-separated list"),
    ("+5", "'+5' is not a whole number (digits only, no sign)"),
    ("-5", "'-5' is not a whole number (digits only, no sign)"),
    ("5,-5", "'-5' is not a whole number"),
    ("1_000", "'1_000' is not a whole number"),
    ("1e3", "'1e3' is not a whole number"),
    ("0", "a layer needs at least 1 unit, got 0"),
    ("2000000000", "2000000000 units in one layer is more than sdae takes (10,000,000); is there a digit too many?"),
    ("10000001", "10000001 units in one layer is more than sdae takes"),
])
def test_layer_lists_refuse_holes_signs_and_absurd_sizes(folder, layers, message):
    line = run(["pretrain", "s.npy", "--layers", layers, "--epochs", "1"], 2)
    assert line == f"Error: Invalid value for '--layers': {message}" or line.startswith(
        f"Error: Invalid value for '--layers': {message}")
    assert listing(folder) == ["s.npy"]


@pytest.mark.parametrize("option, value, message", [
    ("--noise", "0.1,,0.2", "'0.1,,0.2' has an empty item"),
    ("--noise", "abc", "'abc' is not a number"),
    ("--noise-type", "masking,", "'masking,' has an empty item"),
    ("--activation", "sigmoid,,tanh", "'sigmoid,,tanh' has an empty item"),
    ("--activation", "soft", "'soft' is not one of sigmoid, tanh, relu"),
])
def test_other_lists_refuse_empty_items(folder, option, value, message):
    line = run(["pretrain", "s.npy", "--layers", "4,3", option, value, "--epochs", "1"], 2)
    assert line.startswith(f"Error: Invalid value for '{option}': {message}")
    assert listing(folder) == ["s.npy"]


def test_spaces_around_items_are_fine(folder):
    run(["pretrain", "s.npy", "--layers", " 4, 3 ", "--epochs", "1", "-q", "-o", "m.npz"], 0)
    assert listing(folder) == ["m.npz", "s.npy"]
