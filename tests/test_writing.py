"""Writing matrices: formats, write errors, atomic replacement and chunked output."""
import io
import os

import numpy as np
import pytest

from sdae_cli import writing
from sdae_cli.data import read_matrix
from sdae_cli.errors import DataError
from sdae_cli.writing import MatrixWriter, atomic_output, write_matrix


def write_text(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return str(path)


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------ write errors

def test_missing_output_directory(tmp_path, matrix, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"^out/x\.npy: directory 'out' does not exist$"):
        write_matrix("out/x.npy", matrix)


def test_unknown_output_suffix(tmp_path, matrix):
    with pytest.raises(DataError) as info:
        write_matrix(str(tmp_path / "x.xlsx"), matrix)
    for suffix in (".npy", ".npz", ".csv", ".tsv", ".txt"):
        assert suffix in str(info.value)
    with pytest.raises(DataError, match="unknown output format"):
        write_matrix(str(tmp_path / "x.csv"), matrix, fmt="parquet")


def test_output_is_a_directory(tmp_path, matrix):
    (tmp_path / "d.npy").mkdir()
    with pytest.raises(DataError, match="is a directory"):
        write_matrix(str(tmp_path / "d.npy"), matrix)


def test_output_directory_not_writable(tmp_path, matrix, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writing, "_open_new", refuse)  # works even as root
    with pytest.raises(DataError, match=r"x\.npy: permission denied"):
        write_matrix(str(tmp_path / "x.npy"), matrix)
    assert os.listdir(tmp_path) == []


def test_ctrl_c_just_after_the_temporary_file_is_made(tmp_path, matrix, monkeypatch):
    """Found by the command-line fuzzer: a Ctrl-C between the temporary file's creation and the
    moment its name was known (inside tempfile.mkstemp, or on the way back from it) left the file
    behind. The name is now chosen before the file is made."""
    real = writing._open_new

    def made_then_interrupted(temp):
        real(temp)
        raise KeyboardInterrupt

    monkeypatch.setattr(writing, "_open_new", made_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_matrix(str(tmp_path / "x.npy"), matrix)
    assert os.listdir(tmp_path) == []


def test_ctrl_c_while_the_file_object_is_made(tmp_path, matrix, monkeypatch):
    """Found by the command-line fuzzer in CI: a Ctrl-C inside os.fdopen, after the file object
    exists but before the 'with' holds it, orphaned it, and its destructor later warned about an
    unclosed file. The Ctrl-C now waits until the object is held, then removes the file."""
    import gc
    import signal
    import warnings

    real = os.fdopen

    def wrapped_then_interrupted(*args, **kwargs):
        f = real(*args, **kwargs)
        signal.raise_signal(signal.SIGINT)  # Python runs the handler before this call returns
        return f

    monkeypatch.setattr(writing.os, "fdopen", wrapped_then_interrupted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            write_matrix(str(tmp_path / "x.npy"), matrix)
        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert os.listdir(tmp_path) == []


def test_written_file_has_normal_permissions(tmp_path, matrix):
    path = tmp_path / "m.npy"
    write_matrix(str(path), matrix)
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_overwrite_keeps_permissions_and_follows_symlinks(tmp_path, matrix):
    real = tmp_path / "real.npy"
    real.write_bytes(b"old")
    real.chmod(0o640)
    link = tmp_path / "link.npy"
    link.symlink_to(real)
    write_matrix(str(link), matrix)
    assert link.is_symlink()
    assert real.stat().st_mode & 0o777 == 0o640
    np.testing.assert_array_equal(np.load(real), matrix)


def test_path_objects_are_accepted(tmp_path, matrix):
    write_matrix(tmp_path / "m.npy", matrix)
    np.testing.assert_array_equal(read_matrix(tmp_path / "m.npy"), matrix)
    with MatrixWriter(tmp_path / "w.csv", 1, 6) as writer:
        writer.write(matrix[:1])
    np.testing.assert_array_equal(read_matrix(tmp_path / "w.csv").astype(np.float32), matrix[:1])


# ------------------------------------------------------------ atomic writes

def test_failed_npy_write_keeps_old_file(tmp_path, matrix, monkeypatch):
    path = tmp_path / "m.npy"
    path.write_bytes(b"old bytes")

    def broken_header(file, header):
        file.write(b"partial")
        raise RuntimeError("disk exploded")

    monkeypatch.setattr(np.lib.format, "write_array_header_1_0", broken_header)
    with pytest.raises(RuntimeError, match="disk exploded"):
        write_matrix(str(path), matrix)
    assert path.read_bytes() == b"old bytes"
    assert leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == ["m.npy"]


def test_failed_csv_write_keeps_old_file(tmp_path, matrix, monkeypatch):
    path = tmp_path / "m.csv"
    path.write_bytes(b"old bytes")

    real_format_rows = writing.format_rows

    def broken_format_rows(block, delimiter, precision=0):
        real_format_rows(block, delimiter, precision)
        raise RuntimeError("boom")

    monkeypatch.setattr(writing, "format_rows", broken_format_rows)
    with pytest.raises(RuntimeError, match="boom"):
        write_matrix(str(path), matrix)
    assert path.read_bytes() == b"old bytes"
    assert sorted(os.listdir(tmp_path)) == ["m.csv"]


def test_write_refuses_non_matrices(tmp_path):
    with pytest.raises(DataError, match="2-D numeric"):
        write_matrix(str(tmp_path / "v.csv"), np.zeros(3))
    with pytest.raises(DataError, match="complex"):
        write_matrix(str(tmp_path / "c.csv"), np.zeros((2, 2), complex))
    assert os.listdir(tmp_path) == []


def test_os_error_while_writing_becomes_data_error(tmp_path):
    path = tmp_path / "m.bin"
    path.write_bytes(b"old")
    with pytest.raises(DataError, match=r"m\.bin: cannot write \(No space left on device\)"):
        with atomic_output(str(path)) as f:
            f.write(b"new")
            raise OSError(28, "No space left on device")
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["m.bin"]


def test_atomic_output_text_mode(tmp_path):
    path = tmp_path / "model.json"
    with atomic_output(str(path), "w") as f:
        f.write('{"name": "é"}')
        assert not path.exists()  # nothing visible before success
    assert path.read_text(encoding="utf-8") == '{"name": "é"}'
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------ MatrixWriter

@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv"])
def test_matrix_writer_round_trip(tmp_path, suffix):
    chunks = [np.random.default_rng(i).standard_normal((n, 4)).astype(np.float32)
              for i, n in enumerate([3, 0, 5, 1])]
    expected = np.concatenate(chunks)
    path = str(tmp_path / ("w" + suffix))
    with MatrixWriter(path, expected.shape[0], 4) as writer:
        assert not os.path.exists(path)
        for chunk in chunks:
            writer.write(chunk)
    back = read_matrix(path)
    assert back.shape == expected.shape
    np.testing.assert_array_equal(back.astype(np.float32), expected)
    if suffix == ".npy":
        assert back.dtype == np.float32
        np.testing.assert_array_equal(np.load(path), expected)
    if suffix == ".csv":
        with open(path) as f:
            assert f.read().count("\n") == expected.shape[0]
    assert leftovers(tmp_path) == []


def test_matrix_writer_converts_float64_chunks_to_float32(tmp_path):
    path = str(tmp_path / "w.npy")
    with MatrixWriter(path, 2, 2) as writer:
        writer.write(np.array([[0.1, 0.2], [0.3, 0.4]]))
    back = np.load(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, np.array([[0.1, 0.2], [0.3, 0.4]], dtype=np.float32))


@pytest.mark.parametrize("fmt", ["npy", "csv", "npz"])
def test_matrix_writer_stdout(fmt):
    expected = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    out = io.BytesIO()
    with MatrixWriter("-", 6, 3, fmt=fmt, stdout=out) as writer:
        writer.write(expected[:4])
        writer.write(expected[4:])
    back = read_matrix("-", stdin=io.BytesIO(out.getvalue()))
    np.testing.assert_array_equal(back.astype(np.float32), expected)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv"])
def test_matrix_writer_too_few_rows_leaves_old_file(tmp_path, suffix):
    path = tmp_path / ("w" + suffix)
    path.write_bytes(b"old bytes")
    with pytest.raises(DataError, match="2 rows written, expected 5"):
        with MatrixWriter(str(path), 5, 3) as writer:
            writer.write(np.zeros((2, 3), np.float32))
    assert path.read_bytes() == b"old bytes"
    assert sorted(os.listdir(tmp_path)) == [path.name]


def test_matrix_writer_too_few_rows_leaves_no_new_file(tmp_path):
    with pytest.raises(DataError):
        with MatrixWriter(str(tmp_path / "w.npy"), 5, 3) as writer:
            writer.write(np.zeros((2, 3), np.float32))
    assert os.listdir(tmp_path) == []


def test_matrix_writer_too_many_rows_and_bad_shape(tmp_path):
    with MatrixWriter(str(tmp_path / "w.npy"), 2, 3) as writer:
        with pytest.raises(DataError, match="more than"):
            writer.write(np.zeros((3, 3)))
        with pytest.raises(DataError, match=r"expected \(rows, 3\)"):
            writer.write(np.zeros((2, 4)))
        writer.write(np.ones((2, 3)))
    np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), np.ones((2, 3)))


def test_matrix_writer_exception_in_body_removes_temp(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"old bytes")
    with pytest.raises(KeyError):
        with MatrixWriter(str(path), 4, 2) as writer:
            writer.write(np.zeros((1, 2)))
            raise KeyError("interrupted")
    assert path.read_bytes() == b"old bytes"
    assert sorted(os.listdir(tmp_path)) == ["w.npz"]


def test_matrix_writer_missing_directory(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        MatrixWriter(str(tmp_path / "nope" / "w.npy"), 1, 1)


# ------------------------------------------------------------ Ctrl-C in the middle of a zip archive

def test_ctrl_c_waits_for_the_block_then_acts(tmp_path):
    import signal

    called = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: called.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            with writing.interrupts_deferred():
                signal.raise_signal(signal.SIGINT)
                (tmp_path / "done").write_text("the block ran to its end")
        assert (tmp_path / "done").exists()
        with writing.interrupts_deferred():
            signal.raise_signal(signal.SIGTERM)
            assert called == []
        assert called == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ctrl_c_between_opening_an_archive_member_and_its_with(tmp_path, monkeypatch):
    """Found by the command-line fuzzer: a Ctrl-C just after zipfile had opened a member for
    np.savez, before the 'with' that closes it, left an archive that could not be closed; its
    destructor printed a traceback when it was freed. np.savez now runs with Ctrl-C held back
    until it returns, so the model is not written and nothing is left."""
    import gc
    import signal
    import zipfile

    from sdae_cli import PretrainConfig, pretrain

    model = pretrain(np.random.default_rng(0).random((20, 4), dtype=np.float32), PretrainConfig(layers=[3], epochs=1))
    real_open = zipfile.ZipFile.open

    def open_then_ctrl_c(self, *args, **kwargs):
        member = real_open(self, *args, **kwargs)
        signal.raise_signal(signal.SIGINT)
        return member

    monkeypatch.setattr(zipfile.ZipFile, "open", open_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        model.save(str(tmp_path / "m.npz"))
    gc.collect()  # an archive left open would complain here, and pytest fail the test
    assert os.listdir(tmp_path) == []

