"""Weight averaging in fine-tuning (--average-from, SWA): from epoch K on, an epoch's model is the
mean of the parameters at the end of epochs K..e; that model is validated, kept and resumed."""
import json

import numpy as np
import pytest
from click.testing import CliRunner
from ctrl_c import CtrlCInEpoch

from sdae_cli.cli import cli
from sdae_cli.datasets import load_digits
from sdae_cli.finetuning import finetune_supervised
from sdae_cli.pretraining import pretrain
from sdae_cli.training.configs import FinetuneConfig, PretrainConfig


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:400], y[:400], pretrain(X[:400], PretrainConfig(layers=[16], epochs=1, threads=1))


def parameters(model) -> np.ndarray:
    return np.concatenate([model.layers[0].theta, model.head_W.ravel(), model.head_b])


# A constant rate: the first e epochs of any run are the same, so a run of e epochs gives epoch e.
SETTINGS = dict(lr_schedule="constant", optimizer="momentum", lr=0.1, dropout=0.1, patience=50, threads=1)


def test_the_kept_model_is_the_mean_of_the_averaged_epochs(digits):
    X, y, model = digits
    epochs = [parameters(finetune_supervised(model, X, y, FinetuneConfig(epochs=e, **SETTINGS)))
              for e in (1, 2, 3, 4)]
    averaged = finetune_supervised(model, X, y, FinetuneConfig(epochs=4, average_from=2, **SETTINGS))
    # Without validation every epoch is kept in turn: the last, the mean of epochs 2, 3 and 4.
    expected = (np.sum([e.astype(np.float64) for e in epochs[1:]], axis=0) / 3).astype(np.float32)
    assert parameters(averaged).tobytes() == expected.tobytes()
    assert [r.get("averaged") for r in averaged.finetuning["history"]] == [None, 1, 2, 3]
    assert averaged.finetuning["settings"]["average_from"] == 2


def test_the_averaged_model_is_what_is_validated_and_kept(digits):
    X, y, model = digits
    valid = (X[300:], y[300:])
    tuned = finetune_supervised(model, X[:300], y[:300], FinetuneConfig(epochs=8, average_from=3, **SETTINGS),
                                valid=valid)
    history, kept = tuned.finetuning["history"], tuned.finetuning["kept_epoch"]
    errors = [r["valid_error"] for r in history]
    assert kept == 1 + errors.index(min(errors))
    # The kept model's own validation error is its epoch's record: the record is of the mean.
    assert np.mean(tuned.predict(valid[0]) != valid[1]) == pytest.approx(history[kept - 1]["valid_error"])
    plain = finetune_supervised(model, X[:300], y[:300], FinetuneConfig(epochs=8, **SETTINGS), valid=valid)
    assert [r["valid_error"] for r in plain.finetuning["history"][:2]] == errors[:2]  # before K: the same run
    assert [r["train"] for r in plain.finetuning["history"]] == [r["train"] for r in history]  # training goes on alike


def test_a_run_resumed_while_averaging_ends_where_the_whole_run_ends(digits, tmp_path):
    from sdae_cli.training import checkpoints

    X, y, model = digits
    config = dict(SETTINGS, epochs=6, average_from=2, lr_schedule="cosine")
    whole = finetune_supervised(model, X, y, FinetuneConfig(**config))
    saving = checkpoints.Checkpointing(str(tmp_path / "t.ckpt.npz"))
    with pytest.raises(checkpoints.Interrupted):
        finetune_supervised(model, X, y, FinetuneConfig(**config), CtrlCInEpoch(4), checkpointing=saving)
    state = checkpoints.load(saving.path, "finetune")[0]["state"]
    assert (state["epoch"], state["averaged"]) == (3, 2)
    resumed = finetune_supervised(model, X, y, FinetuneConfig(**config), resume=saving.path)
    assert parameters(resumed).tobytes() == parameters(whole).tobytes()


def test_the_command_line_takes_and_records_it(tmp_path):
    X, y = load_digits()
    np.save(tmp_path / "x.npy", X[:300])
    np.save(tmp_path / "y.npy", y[:300])
    runner = CliRunner()
    result = runner.invoke(cli, ["pretrain", str(tmp_path / "x.npy"), "--layers", "8", "--epochs", "1", "-q",
                                 "-o", str(tmp_path / "m.npz"), "finetune", str(tmp_path / "x.npy"), "--labels",
                                 str(tmp_path / "y.npy"), "--epochs", "3", "--average-from", "2",
                                 "-o", str(tmp_path / "t.npz")])
    assert result.exit_code == 0, result.output
    assert "valid figures of the mean of the last 2 epochs" in result.output
    with np.load(tmp_path / "t.npz", allow_pickle=False) as npz:
        tuning = json.loads(str(npz["meta"]))["finetuning"]
    assert tuning["settings"]["average_from"] == 2
    info = runner.invoke(cli, ["info", str(tmp_path / "t.npz")]).output
    assert "average_from=2" in info
    cells = [line for line in info.splitlines() if "epoch:train/valid" in line][-1].split()[1:]  # fine-tuning's
    assert [c.split(":")[0] for c in cells] == ["1", "2", "3"]
    assert ["/~" in c for c in cells] == [False, True, True]  # from epoch 2 on, the mean's figures
    for bad in ("-1", "x", "1.5"):
        result = runner.invoke(cli, ["finetune", "-m", str(tmp_path / "m.npz"), str(tmp_path / "x.npy"),
                                     "--labels", str(tmp_path / "y.npy"), "--average-from", bad])
        assert result.exit_code == 2 and "--average-from" in result.output
