"""What the tests of refused jobs share: a data folder, a model in it (each test file makes them
its fixtures), and running sdae in process with the checks every refusal keeps (one line, the
exit code, no traceback)."""
import numpy as np
from click.testing import CliRunner

from sdae_cli.cli import cli


def data_folder(tmp_path, monkeypatch):
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
    assert result.exit_code == exit_code, result.stdout + result.stderr
    if exit_code == 0:
        return ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.rstrip("\n").endswith(errors[0]), result.stderr
    return errors[0]


def listing(path):
    return sorted(p.name for p in path.iterdir())



def model_folder(folder):
    """m.npz, a 20-8-4 model of s.npy, and y.npy, labels of s.npy's rows."""
    run(["pretrain", "s.npy", "--layers", "8,4", "--epochs", "1", "-q", "-o", "m.npz"], 0)
    np.save(folder / "y.npy", np.arange(200) % 3)
    return folder
