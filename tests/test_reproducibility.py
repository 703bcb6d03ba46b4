"""The same seed gives the same model bit for bit, in separate processes too: where NumPy happens
to place arrays must not change a single bit (Eigen's loops peel up to aligned addresses)."""
import hashlib
import subprocess
import sys

import numpy as np

from sdae_cli.layer import ALIGNMENT, Layer

SCRIPT = """
import hashlib, sys
import numpy as np
padding = [np.empty(int(sys.argv[1]), np.uint8) for _ in range(5)]  # shifts where later arrays land
from sdae_cli import PretrainConfig, pretrain
X = np.random.default_rng(0).random((600, 300), dtype=np.float32)
model = pretrain(X, PretrainConfig(layers=[256, 96], epochs=2, batch_size=40, optimizer="adam", threads=2))
print(hashlib.sha256(b"".join(layer.theta.tobytes() for layer in model.layers)).hexdigest())
"""


def test_same_seed_same_model_across_processes_with_different_memory_layouts():
    digests = {
        subprocess.run([sys.executable, "-c", SCRIPT, str(padding)], capture_output=True, text=True,
                       check=True).stdout.strip()
        for padding in (1, 77, 4099)
    }
    assert len(digests) == 1, digests


def test_layers_keep_their_parameters_on_aligned_addresses():
    theta = np.zeros(10 * 7 + 7 + 10 + 1, np.float32)[1:]  # deliberately 4 bytes off
    layer = Layer(10, 7, theta=theta)
    assert layer.theta.ctypes.data % ALIGNMENT == 0
    assert hashlib.sha256(layer.theta.tobytes()).digest() == hashlib.sha256(theta.tobytes()).digest()
    assert layer.encode(np.zeros((3, 10), np.float32)).ctypes.data % ALIGNMENT == 0


def test_the_command_line_and_the_api_make_the_same_model_from_the_same_settings_table(tmp_path):
    """Both read their defaults from training/settings.py: `sdae pretrain` with only --layers and
    PretrainConfig(layers=...) give the same bits and record the same settings; so do
    `sdae finetune` and FinetuneConfig()."""
    from click.testing import CliRunner

    from sdae_cli import SDAE, PretrainConfig, pretrain
    from sdae_cli.cli import cli
    from sdae_cli.finetuning import finetune_supervised
    from sdae_cli.training.configs import FinetuneConfig

    X = np.random.default_rng(3).random((90, 12), dtype=np.float32)
    y = np.arange(90) % 3
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    result = CliRunner().invoke(cli, ["pretrain", str(tmp_path / "x.npy"), "--layers", "6,4", "--epochs", "2",
                                      "--threads", "1", "-q", "-o", str(tmp_path / "m.npz"),
                                      "finetune", str(tmp_path / "x.npy"), "--labels", str(tmp_path / "y.npy"),
                                      "--epochs", "2", "--threads", "1", "-q", "-o", str(tmp_path / "t.npz")])
    assert result.exit_code == 0, result.output
    by_cli, tuned_by_cli = SDAE.load(str(tmp_path / "m.npz")), SDAE.load(str(tmp_path / "t.npz"))
    by_api = pretrain(X, PretrainConfig(layers=[6, 4], epochs=[2], threads=1))
    tuned_by_api = finetune_supervised(by_api, X, y, FinetuneConfig(epochs=2, threads=1))
    # (the command line records per-layer settings as lists; one value stands for every layer)
    cli_config, api_config = PretrainConfig(**by_cli.training), PretrainConfig(**by_api.training)
    assert cli_config.per_layer == api_config.per_layer
    per_layer = set(cli_config.per_layer)
    assert {k: v for k, v in by_cli.training.items() if k not in per_layer} == \
        {k: v for k, v in by_api.training.items() if k not in per_layer}
    assert tuned_by_cli.finetuning["settings"] == tuned_by_api.finetuning["settings"]
    for a, b in zip(by_cli.layers + tuned_by_cli.layers, by_api.layers + tuned_by_api.layers):
        assert a.theta.tobytes() == b.theta.tobytes()
    assert tuned_by_cli.head_W.tobytes() == tuned_by_api.head_W.tobytes()
