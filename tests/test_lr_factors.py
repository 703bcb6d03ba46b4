"""Per-layer learning rates in fine-tuning (--lr-factors): layer j moves at lr * factor j, for
sgd and momentum (fused into the backward pass) and adam (after it), against a NumPy replay;
factors of 1 are the run without them, bit for bit; the command line takes, records, resumes
and refuses them."""
import json

import numpy as np
import pytest
import reference as ref
from cli_runs import run
from ctrl_c import CtrlCInEpoch
from test_stack import build

from sdae_cli import _core
from sdae_cli.datasets import load_digits
from sdae_cli.finetuning import finetune_supervised
from sdae_cli.pretraining import pretrain
from sdae_cli.training.configs import FinetuneConfig, PretrainConfig

FACTORS = [0.3, 1.7, 0.6, 1.2]  # unequal, so that a factor applied to the wrong layer shows


def rates(dims, lr, factors):
    """Each parameter's learning rate, in the core's layout (a layer's weights, then its bias)."""
    return np.concatenate([np.full(n_in * n_out + n_out, lr * f) for (n_in, n_out), f in zip(dims, factors)])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case,B,optimizer", [
    ("softmax", 4, "sgd"), ("unrolled-big", 32, "sgd"), ("softmax", 8, "momentum"),
    # momentum fused: register tiles, products split between threads, a batch past the tiles' 64 rows
    ("unrolled-wide", 12, "momentum"), ("unrolled-big", 32, "momentum"), ("unrolled-big", 70, "momentum"),
    ("softmax", 8, "adam"), ("unrolled-wide", 12, "adam")])
def test_each_layer_moves_at_its_own_rate(threads, case, B, optimizer):
    spec, theta, dims, acts, loss = build(case)
    theta *= 0.3  # unsaturated outputs: the reference takes logs of the outputs
    rng = np.random.default_rng(4)
    X = rng.random((3 * B + 1, dims[0][0]), dtype=np.float32)
    Y = (np.eye(dims[-1][1], dtype=np.float32)[rng.integers(0, dims[-1][1], len(X))] if loss == "nll"
         else rng.random((len(X), dims[-1][1]), dtype=np.float32))
    seed, epoch, lr = 7, 1, 0.05
    factors = FACTORS[:len(dims)]
    train = _core.TrainSpec(lr=lr, lr_factors=factors, batch_size=B, seed=seed, num_threads=threads,
                            optimizer=getattr(_core.Optimizer, optimizer))
    m = np.zeros_like(theta) if optimizer != "sgd" else np.zeros(0, np.float32)
    v = np.zeros_like(theta) if optimizer == "adam" else np.zeros(0, np.float32)
    _, steps = _core.stack_train_epoch(spec, train, theta, m, v, 0, X, Y, epoch)

    expected = np.asarray(build(case)[1], np.float64) * 0.3
    lrs = rates(dims, lr, factors)
    ref_m, ref_v = np.zeros_like(expected), np.zeros_like(expected)
    order = _core.shuffled_rows(len(X), seed, epoch)
    for step, start in enumerate(range(0, len(X), B), 1):
        rows = order[start:start + B]
        grad = ref.stack_gradient(expected, dims, acts, loss, X[rows], Y[rows])
        if optimizer == "sgd":
            expected = expected - lrs * grad
        elif optimizer == "momentum":
            ref_m = 0.9 * ref_m - lrs * grad
            expected = expected + ref_m
        else:
            ref_m = 0.9 * ref_m + 0.1 * grad
            ref_v = 0.999 * ref_v + 0.001 * grad**2
            step_size = lrs * np.sqrt(1 - 0.999**step) / (1 - 0.9**step)
            expected = expected - step_size * ref_m / (np.sqrt(ref_v) + 1e-8 * np.sqrt(1 - 0.999**step))
    assert steps == 4
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_factors_of_one_are_the_run_without_them_bit_for_bit(optimizer):
    spec, theta0, dims, _, _ = build("unrolled-big")
    X = np.random.default_rng(5).random((100, dims[0][0]), dtype=np.float32)
    out = []
    for factors in ([], [1.0] * len(dims)):
        theta = theta0 * 0.3
        m = np.zeros_like(theta) if optimizer != "sgd" else np.zeros(0, np.float32)
        v = np.zeros_like(theta) if optimizer == "adam" else np.zeros(0, np.float32)
        train = _core.TrainSpec(lr=0.05, lr_factors=factors, batch_size=32, dropout=0.2, num_threads=2,
                                optimizer=getattr(_core.Optimizer, optimizer))
        _core.stack_train_epoch(spec, train, theta, m, v, 0, X, X, 0)
        out.append(theta.tobytes() + m.tobytes() + v.tobytes())
    assert out[0] == out[1]


def test_the_core_refuses_factors_it_cannot_apply():
    spec, theta, dims, _, _ = build("softmax")
    X = np.random.default_rng(5).random((8, dims[0][0]), dtype=np.float32)
    Y = np.eye(dims[-1][1], dtype=np.float32)[np.arange(8) % dims[-1][1]]
    empty = np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="2 learning-rate factors for 3 layers"):
        _core.stack_train_epoch(spec, _core.TrainSpec(lr_factors=[1.0, 1.0]), theta, empty, empty, 0, X, Y, 0)
    for bad in ([0.0, 1.0, 1.0], [-1.0, 1.0, 1.0], [float("nan"), 1.0, 1.0], [1e38, 1.0, 1.0]):
        with pytest.raises(ValueError, match="learning-rate factors must be > 0"):
            _core.TrainSpec(lr=10.0, lr_factors=bad)
    layer = _core.LayerSpec(4, 3)
    with pytest.raises(ValueError, match="apply to fine-tuning the stack, not to a dA layer"):
        _core.train_epoch(layer, _core.TrainSpec(lr_factors=[1.0]), np.zeros(layer.size, np.float32), empty, empty,
                          0, np.zeros((5, 4), np.float32), 0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:300], y[:300], pretrain(X[:300], PretrainConfig(layers=[16, 8], epochs=1, threads=1))


def parameters(model) -> bytes:
    return b"".join(layer.theta.tobytes() for layer in model.layers) + model.head_W.tobytes()


def test_a_resumed_run_keeps_its_factors_and_ends_where_the_whole_run_ends(digits, tmp_path):
    from sdae_cli.training import checkpoints

    X, y, model = digits
    config = dict(epochs=5, lr_factors=[0.25, 0.5, 1.0], dropout=0.1, threads=1)
    whole = finetune_supervised(model, X, y, FinetuneConfig(**config))
    assert parameters(whole) != parameters(finetune_supervised(model, X, y, FinetuneConfig(
        **{**config, "lr_factors": None})))
    saving = checkpoints.Checkpointing(str(tmp_path / "t.ckpt.npz"))
    with pytest.raises(checkpoints.Interrupted):
        finetune_supervised(model, X, y, FinetuneConfig(**config), CtrlCInEpoch(3), checkpointing=saving)
    assert checkpoints.saved_settings(saving.path, "finetune")["lr_factors"] == [0.25, 0.5, 1.0]
    resumed = finetune_supervised(model, X, y, FinetuneConfig(**config), resume=saving.path)
    assert parameters(resumed) == parameters(whole)


def test_the_command_line_takes_records_and_refuses_them(digits, tmp_path, monkeypatch):
    X, y, model = digits
    monkeypatch.chdir(tmp_path)
    np.save("x.npy", X)
    np.save("y.npy", y)
    model.save("m.npz")
    tune = ["finetune", "-m", "m.npz", "x.npy", "--labels", "y.npy", "--epochs", "2", "-q", "--threads", "1"]
    run([*tune, "--lr-factors", "0.25, 0.5,1", "-o", "t.npz"], 0)
    with np.load("t.npz", allow_pickle=False) as npz:
        assert json.loads(str(npz["meta"]))["finetuning"]["settings"]["lr_factors"] == [0.25, 0.5, 1.0]
    from click.testing import CliRunner

    from sdae_cli.cli import cli
    assert "lr_factors=[0.25, 0.5, 1.0]" in CliRunner().invoke(cli, ["info", "t.npz"]).output
    # The unrolled 64-16-8-16-64 has four layers.
    run(["finetune", "-m", "m.npz", "x.npy", "--target", "reconstruct", "--epochs", "1", "-q", "--threads", "1",
         "--lr-factors", "0.5,1,1,0.5", "-o", "r.npz"], 0)
    refusals = {
        "1,1": "2 given for the 3 layers of the network (64-16-8-10, softmax); give one per layer",
        "1,0,1": "each factor must be a finite number > 0, got 0.0",
        "1,nan,1": "each factor must be a finite number > 0, got nan",
        "1,,1": "has an empty item",
        "1,x,1": "'x' is not a number",
        "1,1e39,1": "a factor times the learning rate 0.1 is beyond float32",
    }
    for value, message in refusals.items():
        error = run([*tune, "--lr-factors", value, "-o", "bad.npz"], 2)
        assert error.startswith("Error: Invalid value for '--lr-factors': ") and message in error, error
    assert not (tmp_path / "bad.npz").exists()


def test_the_estimators_take_them_as_finetune_lr_factors(digits):
    from sdae_cli.sklearn import SDAEClassifier

    X, y, _ = digits
    made = dict(layers=(16,), epochs=1, finetune_epochs=2, n_threads=1)
    slow = SDAEClassifier(**made, finetune_lr_factors=(0.5, 1.0)).fit(X, y)
    assert list(slow.model_.finetuning["settings"]["lr_factors"]) == [0.5, 1.0]
    assert not np.array_equal(slow.model_.layers[0].theta, SDAEClassifier(**made).fit(X, y).model_.layers[0].theta)
