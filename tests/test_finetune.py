"""Fine-tuning, predict and score: through the model API and the CLI, on the shipped digits."""
import numpy as np
import pytest
from click.testing import CliRunner

from sdae_cli import SDAE, PretrainConfig, pretrain
from sdae_cli.cli import cli
from sdae_cli.datasets import load_digits
from sdae_cli.errors import DataError
from sdae_cli.finetuning import finetune_reconstruct, finetune_supervised
from sdae_cli.training.configs import FinetuneConfig
from sdae_cli.training.state import validation_rows

NAMES = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])


@pytest.fixture(scope="module")
def split():
    X, y = load_digits()
    test = validation_rows(len(X), 0.3, 0)
    return X[~test], y[~test], X[test], y[test]


@pytest.fixture(scope="module")
def pretrained(split):
    Xtr = split[0]
    return pretrain(Xtr, PretrainConfig(layers=[256, 128], noise=0.3, epochs=50, optimizer="adam", lr=0.003,
                                        threads=2))


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, split):
    d = tmp_path_factory.mktemp("digits")
    Xtr, ytr, Xte, yte = split
    np.save(d / "train.npy", Xtr)
    np.save(d / "test.npy", Xte)
    np.save(d / "ytrain.npy", ytr)
    np.savetxt(d / "names.txt", NAMES[ytr], fmt="%s")
    return d


def run(args, cwd):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def test_cli_defaults_reach_97_5_percent(digit_files, split):
    """The issue's bar for the defaults: `pretrain --layers 256,128` and `finetune --labels` with
    nothing else, held-out 30%, through the CLI."""
    d = digit_files
    result = run(["pretrain", d / "train.npy", "--layers", "256,128", "-q", "-o", d / "pre.npz",
                  "finetune", d / "train.npy", "--labels", d / "ytrain.npy", "-q", "-o", d / "tuned.npz",
                  "predict", d / "test.npy", "-o", d / "pred.txt"], d)
    assert result.exit_code == 0, result.output
    predicted = np.loadtxt(d / "pred.txt", dtype=np.int64)
    accuracy = np.mean(predicted == split[3])
    assert accuracy >= 0.975, accuracy


def test_predict_gives_back_the_users_label_strings_and_probabilities(digit_files, split, pretrained, tmp_path):
    d = digit_files
    pretrained.save(tmp_path / "pre.npz")
    result = run(["finetune", "-m", tmp_path / "pre.npz", d / "train.npy", "--labels", d / "names.txt",
                  "--optimizer", "adam", "--epochs", "30", "-q", "-o", tmp_path / "names.npz",
                  "predict", d / "test.npy", "-o", tmp_path / "pred.txt",
                  "predict", d / "test.npy", "--proba", "-o", tmp_path / "proba.csv"], tmp_path)
    assert result.exit_code == 0, result.output
    labels = np.loadtxt(tmp_path / "pred.txt", dtype=str)
    assert set(labels) <= set(NAMES) and len(labels) == len(split[2])
    assert np.mean(labels == NAMES[split[3]]) > 0.9
    header = (tmp_path / "proba.csv").read_text().splitlines()[0].split(",")
    assert header == sorted(NAMES)
    P = np.loadtxt(tmp_path / "proba.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(header)[P.argmax(axis=1)], labels)
    model = SDAE.load(tmp_path / "names.npz")
    assert model.classes == sorted(NAMES.tolist())
    with np.load(tmp_path / "names.npz", allow_pickle=False) as npz:
        assert npz["head_W"].shape == (128, 10) and npz["head_b"].shape == (10,)


def test_labels_from_a_column_of_the_csv_by_name_and_index(split, pretrained, tmp_path):
    Xtr, ytr = split[0][:300], split[1][:300]
    header = ",".join([f"p{i}" for i in range(64)] + ["digit"])
    rows = [",".join(str(int(v)) for v in row) + "," + NAMES[label] for row, label in zip(Xtr, ytr)]
    (tmp_path / "train.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    pretrained.save(tmp_path / "pre.npz")
    for column in ("digit", "64"):
        out = tmp_path / f"m{column}.npz"
        result = run(["finetune", "-m", tmp_path / "pre.npz", tmp_path / "train.csv", "--label-column", column,
                      "--epochs", "2", "-q", "-o", out], tmp_path)
        assert result.exit_code == 0, result.output
        assert SDAE.load(out).classes == sorted(set(NAMES[ytr].tolist()))


@pytest.mark.parametrize("kind", ["masking", "gaussian"])
def test_paired_finetuning_denoises_better_than_pretraining_alone(split, pretrained, kind):
    Xtr, _, Xte, _ = split
    rng = np.random.default_rng(0)

    def corrupt(A):
        if kind == "masking":
            return np.where(rng.random(A.shape) < 0.3, 0, A).astype(np.float32)
        return np.clip(A + rng.normal(0, 3.2, A.shape), 0, 16).astype(np.float32)

    noisy_train, noisy_test = corrupt(Xtr), corrupt(Xte)
    tuned = finetune_reconstruct(pretrained, noisy_train, FinetuneConfig(epochs=100, optimizer="adam", threads=2),
                                 clean=Xtr)
    before = np.mean((pretrained.denoise(noisy_test) - Xte) ** 2)
    after = np.mean((tuned.denoise(noisy_test) - Xte) ** 2)
    assert after < 0.8 * before, (before, after)
    assert all(not layer.tied for layer in tuned.layers)
    assert tuned.encode(Xte).shape == (len(Xte), 128)


def test_unpaired_reconstruct_finetuning_round_trips_through_the_file(split, pretrained, tmp_path):
    Xtr, _, Xte, _ = split
    tuned = finetune_reconstruct(pretrained, Xtr, FinetuneConfig(epochs=5, threads=1))
    tuned.save(tmp_path / "rec.npz")
    loaded = SDAE.load(tmp_path / "rec.npz")
    np.testing.assert_array_equal(loaded.denoise(Xte), tuned.denoise(Xte))
    assert loaded.finetuning["target"] == "reconstruct" and len(loaded.finetuning["history"]) == 5
    with np.load(tmp_path / "rec.npz", allow_pickle=False) as npz:
        assert npz["Wd0"].shape == (256, 64) and npz["Wd1"].shape == (128, 256)


def test_early_stopping_keeps_the_best_validation_epoch(split, pretrained):
    Xtr, ytr, Xte, _ = split
    tuned = finetune_supervised(pretrained, Xtr, ytr, FinetuneConfig(epochs=200, optimizer="sgd", lr=0.5,
                                                                     lr_schedule="constant", valid_split=0.1,
                                                                     patience=3, monitor="loss", threads=1))
    history = tuned.finetuning["history"]
    assert len(history) < 200
    best = min(history, key=lambda r: r["valid"])
    assert best["epoch"] == len(history) - 3
    # The kept parameters are the best epoch's: the validation loss recomputed from the model matches it.
    held_out = validation_rows(len(Xtr), 0.1, 0)
    P = tuned.predict_proba(Xtr[held_out])
    classes = np.asarray(tuned.classes)
    index = np.searchsorted(classes, ytr[held_out])
    loss = -np.mean(np.log(P[np.arange(len(index)), index]))
    assert loss == pytest.approx(best["valid"], rel=1e-4)


def test_score_flags_rows_unlike_the_training_data(split, pretrained):
    Xte = split[2]
    normal = pretrained.score(Xte)
    odd = pretrained.score(np.random.default_rng(0).uniform(0, 16, (100, 64)).astype(np.float32))
    assert normal.shape == (len(Xte),)
    assert np.median(odd) > 3 * np.median(normal)


def test_score_via_cli_writes_one_value_per_row(digit_files, pretrained, tmp_path):
    pretrained.save(tmp_path / "pre.npz")
    result = run(["score", "-m", tmp_path / "pre.npz", digit_files / "test.npy", "-o", tmp_path / "s.npy"], tmp_path)
    assert result.exit_code == 0, result.output
    scores = np.load(tmp_path / "s.npy")
    np.testing.assert_allclose(scores[:, 0], pretrained.score(np.load(digit_files / "test.npy")), rtol=1e-6)


class TestErrors:
    def test_labels_of_the_wrong_length(self, split, pretrained):
        with pytest.raises(DataError, match="rows but 10 labels"):
            finetune_supervised(pretrained, split[0], split[1][:10], FinetuneConfig(epochs=1))

    def test_a_single_class(self, split, pretrained):
        with pytest.raises(DataError, match="only one class"):
            finetune_supervised(pretrained, split[0][:20], np.zeros(20, int), FinetuneConfig(epochs=1))

    def test_labels_with_reconstruct_is_a_usage_error(self, digit_files, tmp_path):
        result = run(["pretrain", digit_files / "train.npy", "--layers", "8", "--epochs", "1", "-q",
                      "-o", tmp_path / "m.npz", "finetune", digit_files / "train.npy", "--target", "reconstruct",
                      "--labels", digit_files / "ytrain.npy", "-o", tmp_path / "t.npz"], tmp_path)
        assert result.exit_code == 2
        assert "--labels" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "m.npz").exists() and not (tmp_path / "t.npz").exists()

    def test_predict_without_a_classifier(self, digit_files, pretrained, tmp_path):
        pretrained.save(tmp_path / "pre.npz")
        result = run(["predict", "-m", tmp_path / "pre.npz", digit_files / "test.npy", "-o", tmp_path / "p.txt"],
                     tmp_path)
        assert result.exit_code == 1
        assert "no classifier" in result.output
        assert not (tmp_path / "p.txt").exists()


def test_default_output_name_and_explicit_validation_files(digit_files, split, pretrained, tmp_path, monkeypatch):
    d = digit_files
    pretrained.save(tmp_path / "digits.sdae.npz")
    np.save(tmp_path / "valid.npy", split[2][:100])
    np.savetxt(tmp_path / "valid_labels.txt", split[3][:100], fmt="%d")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["finetune", "-m", str(tmp_path / "digits.sdae.npz"), str(d / "train.npy"),
                                      "--labels", str(d / "ytrain.npy"), "--valid", str(tmp_path / "valid.npy"),
                                      "--valid-labels", str(tmp_path / "valid_labels.txt"), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "digits.tuned.sdae.npz" in result.output
    history = SDAE.load(tmp_path / "digits.tuned.sdae.npz").finetuning["history"]
    assert len(history) == 3 and all(r["valid_error"] is not None for r in history)
    # The validation figures are those of the given rows, not of a split of the training rows.
    tuned = SDAE.load(tmp_path / "digits.tuned.sdae.npz")
    kept = history[tuned.finetuning["kept_epoch"] - 1]
    assert kept["valid_error"] == min(r["valid_error"] for r in history)
    error = np.mean(tuned.predict(split[2][:100]) != split[3][:100])
    assert error == pytest.approx(kept["valid_error"])


def test_info_describes_the_fine_tuning(split, pretrained, tmp_path):
    tuned = finetune_supervised(pretrained, split[0], split[1], FinetuneConfig(epochs=3, valid_split=0.1,
                                                                               threads=1))
    tuned.save(tmp_path / "t.npz")
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "t.npz")])
    assert result.exit_code == 0, result.output
    assert "finetuned  classify: softmax over 10 classes" in result.output
    history = tuned.finetuning["history"]
    kept = history[tuned.finetuning["kept_epoch"] - 1]
    assert kept["valid_error"] == min(r["valid_error"] for r in history)
    assert f"kept epoch {kept['epoch']}" in result.output
