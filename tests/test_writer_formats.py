"""The one writer (writing.py) behind every output: matrices, labels and probabilities in every
format, to stdout and to files alike; text formatting; flushing; nothing left by a failure."""
import io
import os

import numpy as np
import pytest

from sdae_cli import writing
from sdae_cli.data import read_matrix
from sdae_cli.errors import DataError
from sdae_cli.writing import MatrixWriter


@pytest.mark.parametrize("fmt", ["npy", "csv", "tsv", "txt"])
@pytest.mark.parametrize("labels", [np.array([3, 1, 2, 1]), np.array(["cat", "dög", "cat", "owl"])],
                         ids=["ints", "names"])
def test_labels_to_stdout_and_to_a_file_are_the_same_bytes(tmp_path, fmt, labels):
    out = io.BytesIO()
    writing.write_labels("-", labels, fmt, stdout=out)
    path = tmp_path / f"l.{fmt}"
    writing.write_labels(str(path), labels)
    assert path.read_bytes() == out.getvalue()
    if fmt == "npy":
        back = np.load(path)
        assert back.dtype == labels.dtype
        np.testing.assert_array_equal(back, labels)
    else:  # one label a line, as str() gives it
        assert out.getvalue().decode("utf-8") == "".join(f"{v}\n" for v in labels.tolist())


@pytest.mark.parametrize("fmt", ["npy", "csv", "tsv"])
def test_probabilities_to_stdout_and_to_a_file(tmp_path, fmt):
    P = np.random.default_rng(1).dirichlet(np.ones(3), size=5).astype(np.float32)
    out = io.BytesIO()
    writing.write_probabilities("-", P, ["a", 7, "c"], fmt, stdout=out)
    path = tmp_path / f"p.{fmt}"
    writing.write_probabilities(str(path), P, ["a", 7, "c"])
    assert path.read_bytes() == out.getvalue()
    if fmt == "npy":
        np.testing.assert_array_equal(np.load(path), P)
    else:
        sep = "\t" if fmt == "tsv" else ","
        lines = out.getvalue().decode().splitlines()
        assert lines[0] == sep.join(["a", "7", "c"])
        back = np.array([[np.float32(v) for v in line.split(sep)] for line in lines[1:]], np.float32)
        np.testing.assert_array_equal(back, P)  # %.9g round-trips float32


@pytest.mark.parametrize("write", [writing.write_labels, lambda p, x: writing.write_probabilities(p, x, [0])])
def test_labels_and_probabilities_refuse_npz(tmp_path, write):
    with pytest.raises(DataError, match="written as .npy, .csv, .tsv or .txt"):
        write(str(tmp_path / "x.npz"), np.zeros((2, 1), np.float32))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv", ".txt"])
def test_matrix_to_stdout_and_to_a_file_read_back_the_same(tmp_path, matrix, suffix):
    out = io.BytesIO()
    writing.write_matrix("-", matrix, suffix[1:], stdout=out)
    path = tmp_path / ("m" + suffix)
    writing.write_matrix(str(path), matrix)
    from_stdout = read_matrix("-", stdin=io.BytesIO(out.getvalue()))
    np.testing.assert_array_equal(read_matrix(str(path)), from_stdout)
    np.testing.assert_array_equal(from_stdout.astype(matrix.dtype), matrix)
    if suffix != ".npz":  # a zip archive records the time it was written
        assert path.read_bytes() == out.getvalue()


def test_text_is_formatted_by_dtype():
    # Floats: the shortest text that reads back to the same bits of their own width.
    assert writing.format_rows(np.array([[0.1, 2]], np.float32), ",") == b"0.1,2\n"
    assert writing.format_rows(np.array([[0.1 + 2**-55, 2]], np.float64), "\t") == b"0.10000000000000003\t2\n"
    assert writing.format_rows(np.array([np.float32(1 / 3)]), ",") == b"0.33333334\n"
    assert writing.format_rows(np.array([[True, False]]), ",") == b"1,0\n"
    assert writing.format_rows(np.array(["é", "b"]), ",") == "é\nb\n".encode()


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_a_failure_midway_leaves_no_file_and_no_temporary(tmp_path, suffix):
    path = tmp_path / ("w" + suffix)
    with pytest.raises(RuntimeError, match="midway"):
        with MatrixWriter(str(path), 4, 3) as writer:
            writer.write(np.ones((2, 3), np.float32))
            raise RuntimeError("midway")
    assert os.listdir(tmp_path) == []


def test_stdout_is_flushed_after_every_block():
    class Recorder(io.BytesIO):
        flushed = 0

        def flush(self):
            Recorder.flushed += 1
            sizes.append(len(self.getvalue()))

    sizes = []
    out = Recorder()
    with MatrixWriter("-", 4, 2, "csv", stdout=out) as writer:
        writer.write(np.zeros((1, 2), np.float32))
        writer.write(np.ones((3, 2), np.float32))
    assert sizes[:2] == [len(b"0,0\n"), len(b"0,0\n1,1\n1,1\n1,1\n")]
