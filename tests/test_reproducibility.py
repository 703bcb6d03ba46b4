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
