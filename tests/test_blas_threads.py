"""The BLAS's thread count belongs to the whole process: threadpoolctl, OPENBLAS_NUM_THREADS,
torch or a notebook may raise it. sdae's own threads split every product, so whatever was set,
training and encoding give the same bits and no OpenBLAS warning reaches stderr."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sdae_cli import _core

pytestmark = pytest.mark.skipif(_core.gemm_backend != "openblas", reason="this build found no OpenBLAS")

# Shapes whose products reach the BLAS from inside sdae's parallel regions: a dA step of 128 rows
# split over two threads (its updates, 256 x 200 by 256 x 128), encode and decode split by rows,
# and fine-tuning's products.
SCRIPT = r"""
import hashlib, json, sys
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from sdae_cli.finetuning import FinetuneConfig, finetune_supervised
from sdae_cli.pretraining import PretrainConfig, pretrain

def digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()

def run():
    rng = np.random.default_rng(0)
    X = rng.random((600, 200), dtype=np.float32)
    model = pretrain(X, PretrainConfig(layers=[256, 64], epochs=2, batch_size=128, seed=0, threads=2))
    codes = model.encode(X, threads=2)
    denoised = model.denoise(X, threads=2)
    labels = (X[:, 0] > 0.5).astype(np.int64)
    tuned = finetune_supervised(model, X, labels, FinetuneConfig(epochs=1, batch_size=64, threads=2))
    return digest(*[layer.theta for layer in model.layers], codes, denoised,
                  *[layer.theta for layer in tuned.layers], tuned.predict_proba(X, threads=2))

ours = [i for i in threadpool_info() if "scipy_openblas32" in i["filepath"]]
out = {"seen": len(ours), "plain": run()}
with threadpool_limits(2, user_api="blas"):
    out["set_to_2"] = [i["num_threads"] for i in threadpool_info() if "scipy_openblas32" in i["filepath"]]
    out["limit2"] = run()
with threadpool_limits(1, user_api="blas"):
    out["limit1"] = run()
json.dump(out, sys.stdout)
"""


def run_script(env_extra):
    pytest.importorskip("threadpoolctl")
    env = dict(os.environ, **env_extra)
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


@pytest.mark.parametrize("env", [{}, {"OPENBLAS_NUM_THREADS": "2"}], ids=["default", "OPENBLAS_NUM_THREADS=2"])
def test_same_bits_and_no_warning_whatever_the_blas_threads(env):
    out, stderr = run_script(env)
    # threadpoolctl finds sdae's OpenBLAS and really did raise it, so the runs below differ in it.
    assert out["seen"] == 1
    assert out["set_to_2"] == [2]
    assert out["limit2"] == out["plain"]
    assert out["limit1"] == out["plain"]
    assert "OpenBLAS" not in stderr, stderr[:500]
    assert stderr.strip() == ""


def test_threads_of_numpy_blas_are_left_alone():
    """sdae sets only its own library's count: NumPy's BLAS keeps what the user gave it."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    spec = _core.LayerSpec(200, 128)
    theta = np.zeros(spec.size, np.float32)
    _core.init_params(spec, theta, 0)
    X = np.random.default_rng(0).random((300, 200), dtype=np.float32)
    H = np.empty((300, 128), np.float32)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                  if i["user_api"] == "blas" and "scipy_openblas32" not in i["filepath"]}
        _core.encode(spec, theta, X, H, 2)
        after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                 if i["user_api"] == "blas" and "scipy_openblas32" not in i["filepath"]}
    assert after == before
