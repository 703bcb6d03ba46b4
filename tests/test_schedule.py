"""Learning-rate schedules, per-layer epochs and the fine-tuning monitor: what each epoch is
trained with, what is recorded in the model, and that --resume follows the same schedule."""
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from ctrl_c import CtrlCInEpoch

from sdae_cli import _core
from sdae_cli.cli import cli
from sdae_cli.datasets import load_digits
from sdae_cli.finetuning import finetune_supervised
from sdae_cli.layer import CORE_OPTIMIZER
from sdae_cli.pretraining import layer_seed, pretrain
from sdae_cli.schedule import epoch_lr
from sdae_cli.training.configs import FinetuneConfig, PretrainConfig
from sdae_cli.training.state import validation_rows


def test_schedules_follow_their_definitions():
    lr = 0.2
    assert [epoch_lr(lr, "constant", 0.5, 0.1, e, 5) for e in range(5)] == [lr] * 5
    assert [epoch_lr(lr, "exponential", 0.5, 0.1, e, 5) for e in range(5)] == pytest.approx(
        [0.2, 0.1, 0.05, 0.025, 0.0125])
    cosine = [epoch_lr(lr, "cosine", 0.5, 0.1, e, 5) for e in range(5)]
    # from lr to lr * final along half a cosine wave: the middle epoch halfway between
    assert cosine == pytest.approx([0.2, 0.02 + 0.18 * (1 + math.cos(math.pi / 4)) / 2, 0.11,
                                    0.02 + 0.18 * (1 + math.cos(3 * math.pi / 4)) / 2, 0.02])
    assert [epoch_lr(lr, "linear", 0.5, 0.1, e, 5) for e in range(5)] == pytest.approx(
        [0.2, 0.155, 0.11, 0.065, 0.02])
    assert epoch_lr(lr, "cosine", 0.5, 0.1, 0, 1) == lr  # a one-epoch run takes the start
    assert epoch_lr(lr, "exponential", 0.1, 0.1, 10_000, 10_001) > 0  # never 0 in float32


def digits(rows=300):
    X, y = load_digits()
    return X[:rows], y[:rows]


def test_pretraining_trains_each_epoch_at_its_scheduled_rate_and_records_it():
    """The same layer trained epoch by epoch through the core with the schedule's rates gives the
    same bits as pretrain with --lr-schedule cosine."""
    X, _ = digits()
    config = PretrainConfig(layers=[20], epochs=4, lr=0.3, lr_schedule="cosine", lr_final=0.05, valid_split=0,
                            threads=1)
    model = pretrain(X, config)
    rates = [r["lr"] for r in model.history[0]]
    assert rates == [epoch_lr(0.3, "cosine", 0.95, 0.05, e, 4) for e in range(4)]
    assert rates[0] == 0.3 and rates[-1] == pytest.approx(0.015)

    fresh = pretrain(X, PretrainConfig(layers=[20], epochs=0, valid_split=0, threads=1))  # initial weights only
    layer = fresh.layers[0]
    data = fresh.scaler.transform(X)
    empty = np.zeros(0, np.float32)
    for epoch, lr in enumerate(rates):
        spec = _core.TrainSpec(loss=layer.core_loss, noise=layer.core_noise, noise_level=0.3, noise_low=0.0,
                               noise_high=1.0, optimizer=CORE_OPTIMIZER["sgd"], lr=lr, batch_size=32,
                               seed=layer_seed(0, 0), num_threads=1)
        _core.train_epoch(layer.spec, spec, layer.theta, empty, empty, 0, data, epoch)
    np.testing.assert_array_equal(layer.theta, model.layers[0].theta)


def test_epochs_per_layer_and_zero_epochs_keep_the_initial_weights():
    X, _ = digits()
    model = pretrain(X, PretrainConfig(layers=[20, 10], epochs=[3, 0], valid_split=0, threads=1))
    assert [len(h) for h in model.history] == [3, 0]
    again = pretrain(X, PretrainConfig(layers=[20, 10], epochs=[1, 0], valid_split=0, threads=1))
    np.testing.assert_array_equal(model.layers[1].theta, again.layers[1].theta)  # both untrained
    initial = np.zeros_like(model.layers[1].theta)
    _core.init_params(model.layers[1].spec, initial, layer_seed(0, 1))
    np.testing.assert_array_equal(model.layers[1].theta, initial)


def run(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def meta(path):
    with np.load(path, allow_pickle=False) as npz:
        return json.loads(str(npz["meta"]))


def test_schedule_settings_are_recorded_and_resume_keeps_them(tmp_path):
    X, y = digits()
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    run(["pretrain", tmp_path / "x.npy", "--layers", "16", "--epochs", "2", "--lr-schedule", "exponential",
         "--lr-decay", "0.5", "-q", "-o", tmp_path / "m.npz",
         "finetune", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--epochs", "3", "--lr-schedule", "linear",
         "--lr-final", "0.2", "--dropout", "0.25", "-q", "-o", tmp_path / "t.npz"])
    training = meta(tmp_path / "m.npz")["training"]
    assert (training["lr_schedule"], training["lr_decay"]) == ("exponential", 0.5)
    assert [r["lr"] for r in meta(tmp_path / "m.npz")["history"][0]] == pytest.approx([0.1, 0.05])
    tuning = meta(tmp_path / "t.npz")["finetuning"]
    assert (tuning["settings"]["lr_schedule"], tuning["settings"]["lr_final"]) == ("linear", 0.2)
    assert tuning["settings"]["dropout"] == 0.25
    assert [r["lr"] for r in tuning["history"]] == pytest.approx([0.1, 0.06, 0.02])


def test_resumed_finetuning_follows_the_schedule_bit_for_bit(tmp_path):
    """A cosine run with dropout stopped in its third epoch (as by Ctrl-C) and resumed ends where
    the uninterrupted run ends; resuming with another schedule is refused."""
    from sdae_cli.training import checkpoints as checkpoint

    X, y = digits()
    model = pretrain(X, PretrainConfig(layers=[16], epochs=1, threads=1))
    config = dict(epochs=5, lr_schedule="cosine", dropout=0.2, patience=10, threads=1)
    whole = finetune_supervised(model, X, y, FinetuneConfig(**config))
    saving = checkpoint.Checkpointing(str(tmp_path / "t.ckpt.npz"))
    with pytest.raises(checkpoint.Interrupted):
        finetune_supervised(model, X, y, FinetuneConfig(**config), CtrlCInEpoch(3), checkpointing=saving)
    assert checkpoint.load(saving.path, "finetune")[0]["state"]["epoch"] == 2
    with pytest.raises(Exception, match="lr_schedule|lr-schedule"):
        finetune_supervised(model, X, y, FinetuneConfig(**{**config, "lr_schedule": "linear"}), resume=saving.path)
    resumed = finetune_supervised(model, X, y, FinetuneConfig(**config), resume=saving.path)
    assert [r["lr"] for r in resumed.finetuning["history"]] == [r["lr"] for r in whole.finetuning["history"]]
    np.testing.assert_array_equal(resumed.head_W, whole.head_W)
    np.testing.assert_array_equal(resumed.layers[0].theta, whole.layers[0].theta)


@pytest.fixture(scope="module")
def tuned_by_error():
    X, y = load_digits()
    held = validation_rows(len(X), 0.3, 0)
    model = pretrain(X[~held], PretrainConfig(layers=[32], epochs=3, threads=1))
    config = FinetuneConfig(epochs=40, optimizer="sgd", lr=0.5, lr_schedule="constant", valid_split=0.1, patience=6,
                            threads=1)
    return finetune_supervised(model, X[~held], y[~held], config), X[~held], y[~held]


def test_classification_keeps_the_first_epoch_of_lowest_validation_error(tuned_by_error):
    tuned, X, y = tuned_by_error
    history = tuned.finetuning["history"]
    errors = [r["valid_error"] for r in history]
    best = errors.index(min(errors)) + 1  # the earliest epoch with the lowest error
    assert tuned.finetuning["monitor"] == "error" and tuned.finetuning["kept_epoch"] == best
    assert len(history) < 40 and len(history) == best + 6  # patience counts from the kept epoch
    held_out = validation_rows(len(X), 0.1, 0)
    predicted = tuned.predict(X[held_out])
    assert np.mean(predicted != y[held_out]) == pytest.approx(history[best - 1]["valid_error"])


def test_monitor_loss_keeps_the_lowest_validation_loss():
    X, y = load_digits()
    model = pretrain(X[:600], PretrainConfig(layers=[32], epochs=2, threads=1))
    tuned = finetune_supervised(model, X[:600], y[:600], FinetuneConfig(epochs=30, optimizer="sgd", lr=0.5, patience=4,
                                                                        valid_split=0.1, monitor="loss", threads=1))
    history = tuned.finetuning["history"]
    losses = [r["valid"] for r in history]
    assert tuned.finetuning["kept_epoch"] == losses.index(min(losses)) + 1


def test_progress_and_info_show_both_figures_and_the_kept_epoch(tmp_path):
    X, y = digits(600)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    result = run(["pretrain", tmp_path / "x.npy", "--layers", "16", "--epochs", "1", "-o", tmp_path / "m.npz",
                  "finetune", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--epochs", "3",
                  "--valid-split", "0.1", "-o", tmp_path / "t.npz"])
    lines = [line for line in result.output.splitlines() if "finetune (" in line]
    assert len(lines) == 3 and all("valid loss" in line and "valid error" in line for line in lines)
    kept = meta(tmp_path / "t.npz")["finetuning"]["kept_epoch"]
    assert f"kept epoch {kept} (by validation error)" in result.output
    info = run(["info", tmp_path / "t.npz"]).output
    assert f"kept epoch {kept} (by validation error): validation loss" in info and "error" in info
    assert "epoch:train/valid/error" in info
