"""Bad input through the real CLI: one clear line naming the file, row, column or flag, exit 1
(runtime) or 2 (usage), no traceback, and no output file created or changed."""
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner

from sdae_cli.cli import cli

EXISTING = b"existing output, must survive\n"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    X = rng.random((60, 6), dtype=np.float32)
    np.save(d / "good.npy", X)
    np.savetxt(d / "good.csv", X, delimiter=",")
    np.save(d / "wide.npy", rng.random((10, 9), dtype=np.float32))
    np.save(d / "y.npy", rng.integers(0, 3, 60))
    np.save(d / "y_short.npy", rng.integers(0, 3, 50))
    np.save(d / "y_one.npy", np.zeros(60, int))
    np.save(d / "big_values.npy", X * 100)
    (d / "empty.csv").write_text("")
    (d / "header_only.csv").write_text("a,b,c\n")
    (d / "cell.csv").write_text("a,b,c\n1,2,3\n4,oops,6\n")
    (d / "ragged.csv").write_text("1,2,3\n4,5\n")
    (d / "lies.npy").write_text("1,2,3\n4,5,6\n")
    (d / "nan.csv").write_text("1,2\n3,nan\nnan,4\n")
    (d / "inf.npy").write_bytes(b"")
    np.save(d / "inf.npy", np.array([[1.0, np.inf], [2.0, 3.0]]))
    np.save(d / "one_d.npy", np.arange(5.0))
    np.save(d / "three_d.npy", np.zeros((2, 2, 2)))
    np.save(d / "no_rows.npy", np.zeros((0, 4)))
    np.save(d / "no_cols.npy", np.zeros((4, 0)))
    np.save(d / "objects.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    np.save(d / "strings.npy", np.array([["a", "b"]]))
    np.save(d / "complex.npy", np.ones((3, 2), dtype=complex))
    (d / "adir").mkdir()
    runner = CliRunner()
    result = runner.invoke(cli, ["pretrain", str(d / "good.npy"), "--layers", "4", "--epochs", "1", "-q",
                                 "-o", str(d / "model.npz")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["finetune", "-m", str(d / "model.npz"), str(d / "good.npy"), "--labels",
                                 str(d / "y.npy"), "--epochs", "1", "-q", "-o", str(d / "tuned.npz")])
    assert result.exit_code == 0, result.output
    raw = (d / "model.npz").read_bytes()
    (d / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (d / "garbage.npz").write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    np.savez(d / "foreign.npz", weights=np.zeros(3))
    with np.load(d / "model.npz", allow_pickle=False) as npz:
        entries = {k: npz[k] for k in npz.files}
    meta = json.loads(str(entries["meta"]))
    meta["format_version"] = 999
    np.savez(d / "newer.npz", **{**entries, "meta": np.array(json.dumps(meta))})
    return d


def csv_quirks(d):
    (d / "quirks.csv").write_bytes(b'\xef\xbb\xbf"x","y"\r\n"1.5","2"\r\n3,"4.25"\r\n')
    return d / "quirks.csv"


CASES = {
    # name: (args with {d} for the folder, exit code, fragments of the message)
    "missing file": (["encode", "-m", "{d}/model.npz", "{d}/nope.npy"], 1, ["nope.npy", "no such file"]),
    "empty file": (["encode", "-m", "{d}/model.npz", "{d}/empty.csv"], 1, ["empty.csv", "empty"]),
    "directory": (["encode", "-m", "{d}/model.npz", "{d}/adir"], 1, ["adir", "directory"]),
    "suffix lies": (["encode", "-m", "{d}/model.npz", "{d}/lies.npy"], 1, ["lies.npy", "NPY"]),
    "non-numeric cell": (["encode", "-m", "{d}/model.npz", "{d}/cell.csv"], 1, ["cell.csv", "line 3", "column 2"]),
    "ragged rows": (["encode", "-m", "{d}/model.npz", "{d}/ragged.csv"], 1, ["ragged.csv", "line 2"]),
    "header only": (["encode", "-m", "{d}/model.npz", "{d}/header_only.csv"], 1, ["header_only.csv", "no data"]),
    "nan": (["pretrain", "{d}/nan.csv", "--layers", "2"], 1, ["nan.csv", "2 NaN", "row 2, column 2"]),
    "infinity": (["pretrain", "{d}/inf.npy", "--layers", "2"], 1, ["inf.npy", "1 NaN or infinite", "row 1"]),
    "1-D array": (["pretrain", "{d}/one_d.npy", "--layers", "2"], 1, ["one_d.npy", "(5,)"]),
    "3-D array": (["pretrain", "{d}/three_d.npy", "--layers", "2"], 1, ["three_d.npy", "(2, 2, 2)"]),
    "zero rows": (["pretrain", "{d}/no_rows.npy", "--layers", "2"], 1, ["no_rows.npy", "row"]),
    "zero columns": (["pretrain", "{d}/no_cols.npy", "--layers", "2"], 1, ["no_cols.npy", "column"]),
    "object dtype": (["pretrain", "{d}/objects.npy", "--layers", "2"], 1, ["objects.npy", "pickle"]),
    "string dtype": (["pretrain", "{d}/strings.npy", "--layers", "2"], 1, ["strings.npy", "dtype"]),
    "complex": (["pretrain", "{d}/complex.npy", "--layers", "2"], 1, ["complex.npy", "complex"]),
    "columns differ from the model": (["encode", "-m", "{d}/model.npz", "{d}/wide.npy"], 1,
                                      ["wide.npy", "9 columns", "expects 6"]),
    "layers not numbers": (["pretrain", "{d}/good.npy", "--layers", "500,abc"], 2, ["--layers"]),
    "layers not positive": (["pretrain", "{d}/good.npy", "--layers", "5,0"], 2, ["--layers"]),
    "noise list too long": (["pretrain", "{d}/good.npy", "--layers", "4,2", "--noise", "0.1,0.2,0.3"], 2,
                            ["--noise", "3 values", "2 layers"]),
    "noise type list too long": (["pretrain", "{d}/good.npy", "--layers", "4", "--noise-type", "masking,gaussian"],
                                 2, ["--noise-type"]),
    "noise of 1": (["pretrain", "{d}/good.npy", "--layers", "4", "--noise", "1.0"], 2, ["--noise", "[0, 1)"]),
    "negative noise": (["pretrain", "{d}/good.npy", "--layers", "4", "--noise", "-0.1"], 2, ["--noise"]),
    "zero learning rate": (["pretrain", "{d}/good.npy", "--layers", "4", "--lr", "0"], 2, ["--lr", "> 0"]),
    "zero batch size": (["pretrain", "{d}/good.npy", "--layers", "4", "--batch-size", "0"], 2, ["--batch-size"]),
    "negative epochs": (["pretrain", "{d}/good.npy", "--layers", "4", "--epochs", "-1"], 2, ["--epochs"]),
    "epochs for other layers": (["pretrain", "{d}/good.npy", "--layers", "4,3", "--epochs", "2,2,2"], 2, ["--epochs"]),
    "zero fine-tuning epochs": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels", "{d}/y.npy",
                                "--epochs", "0"], 2, ["--epochs"]),
    "unknown schedule": (["pretrain", "{d}/good.npy", "--layers", "4", "--lr-schedule", "step"], 2,
                         ["--lr-schedule"]),
    "decay above 1": (["pretrain", "{d}/good.npy", "--layers", "4", "--lr-decay", "1.5"], 2, ["--lr-decay"]),
    "final fraction 0": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels", "{d}/y.npy",
                          "--lr-final", "0"], 2, ["--lr-final"]),
    "error monitor to reconstruct": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--target", "reconstruct",
                                      "--monitor", "error"], 2, ["--monitor"]),
    "layer out of range": (["encode", "-m", "{d}/model.npz", "{d}/good.npy", "--layer", "3"], 2,
                           ["--layer", "1 to 1"]),
    "cross-entropy outside [0, 1]": (["pretrain", "{d}/big_values.npy", "--layers", "4", "--loss", "cross-entropy",
                                      "--scale", "none"], 2, ["--loss", "[0, 1]", "--scale minmax"]),
    "labels of another length": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels", "{d}/y_short.npy"],
                                 1, ["60 rows", "50 labels"]),
    "a single class": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels", "{d}/y_one.npy"], 1,
                       ["one class"]),
    "labels for reconstruct": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--target", "reconstruct",
                                "--labels", "{d}/y.npy"], 2, ["--labels"]),
    "truncated model": (["encode", "-m", "{d}/truncated.npz", "{d}/good.npy"], 1, ["truncated.npz"]),
    "corrupted model": (["encode", "-m", "{d}/garbage.npz", "{d}/good.npy"], 1, ["garbage.npz"]),
    "foreign npz": (["encode", "-m", "{d}/foreign.npz", "{d}/good.npy"], 1, ["foreign.npz", "not an sdae model"]),
    "newer model format": (["encode", "-m", "{d}/newer.npz", "{d}/good.npy"], 1, ["newer.npz", "999", "upgrade"]),
    "output in a missing directory": (["encode", "-m", "{d}/model.npz", "{d}/good.npy", "-o", "{d}/nodir/c.npy"], 1,
                                      ["nodir"]),
    "output not writable": (["encode", "-m", "{d}/model.npz", "{d}/good.npy", "-o", "/proc/sdae-test.npy"], 1,
                            ["/proc/sdae-test.npy"]),
    "infinite learning rate": (["pretrain", "{d}/good.npy", "--layers", "4", "--lr", "inf"], 2, ["--lr", "finite"]),
    "learning rate zero in float32": (["pretrain", "{d}/good.npy", "--layers", "4", "--lr", "1e-50"], 2, ["--lr"]),
    "infinite gaussian sigma": (["pretrain", "{d}/good.npy", "--layers", "4", "--noise", "inf", "--noise-type",
                                 "gaussian"], 2, ["--noise", "sigma"]),
    "negative gaussian sigma in finetune": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--target",
                                             "reconstruct", "--noise", "-0.5", "--noise-type", "gaussian"], 2,
                                            ["--noise", "sigma"]),
    "seed beyond 64 bits": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels", "{d}/y.npy", "--seed",
                             str(2**64)], 2, ["--seed"]),
    "labels path under a file": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--labels",
                                  "{d}/good.npy/y.csv"], 1, ["good.npy/y.csv", "no such file"]),
    "validation files with reconstruct": (["finetune", "-m", "{d}/model.npz", "{d}/good.npy", "--target",
                                           "reconstruct", "--valid", "{d}/good.npy"], 2, ["--valid"]),
    "model output in a missing directory": (["pretrain", "{d}/good.npy", "--layers", "4", "-o", "{d}/nodir/m.npz"],
                                            2, ["-o", "nodir", "does not exist"]),
    "model output to stdout": (["pretrain", "{d}/good.npy", "--layers", "4", "-o", "-"], 2, ["-o", "stdout"]),
    "labels written as npz": (["predict", "-m", "{d}/tuned.npz", "{d}/good.npy", "-o", "{d}/p.npz"], 1, ["p.npz"]),
    "output is the input": (["encode", "-m", "{d}/model.npz", "{d}/good.npy", "-o", "{d}/good.npy"], 2,
                            ["good.npy", "input"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_gets_one_clear_line_and_writes_nothing(files, case, tmp_path):
    args, code, fragments = CASES[case]
    args = [a.replace("{d}", str(files)) for a in args]
    out = tmp_path / "out.npz"
    existing = tmp_path / "existing.csv"
    existing.write_bytes(EXISTING)
    if "-o" not in args:
        args += ["-o", str(out if args[0] in ("pretrain", "finetune") else existing)]
    before = sorted(os.listdir(files))
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    message = result.output.strip().splitlines()[-1]
    assert message.startswith("Error: ")
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not out.exists()
    assert existing.read_bytes() == EXISTING
    assert sorted(os.listdir(files)) == before  # no stray temporary or output files
    assert sorted(os.listdir(tmp_path)) == ["existing.csv"]


def test_bom_quotes_and_windows_line_ends_simply_work(files, tmp_path):
    path = csv_quirks(tmp_path)
    result = CliRunner().invoke(cli, ["pretrain", str(path), "--layers", "2", "--epochs", "1", "-q",
                                      "-o", str(tmp_path / "m.npz"), "encode", str(path)])
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 2


def test_a_constant_column_is_fine_and_said_once(tmp_path):
    X = np.random.default_rng(0).random((50, 4))
    X[:, 2] = 7.0
    X[:, 3] = np.arange(50) % 2  # a 0/1 column spans exactly 1: not constant
    np.save(tmp_path / "c.npy", X)
    result = CliRunner().invoke(cli, ["pretrain", str(tmp_path / "c.npy"), "--layers", "3", "--epochs", "1",
                                      "--scale", "minmax", "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 0, result.output
    assert result.output.count("constant column") == 1


def test_a_pickled_model_is_refused_without_running_the_payload(files, tmp_path):
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as zf:
        with zf.open("meta.npy", "w") as f:
            np.lib.format.write_array(f, np.array([Payload()], dtype=object), allow_pickle=True)
        with zf.open("W0.npy", "w") as f:
            f.write(pickle.dumps(Payload()))
    result = CliRunner().invoke(cli, ["encode", "-m", str(tmp_path / "evil.npz"), str(files / "good.npy")])
    assert result.exit_code == 1
    assert "evil.npz" in result.output and "Traceback" not in result.output
    assert not marker.exists()
