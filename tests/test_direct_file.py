"""Outputs written around the page cache: the same bytes whatever the sizes, the blocks really
direct where the file system allows it, the ordinary way where it does not, and errors that
reach the command as one line with no file left behind."""
import errno
import fcntl
import os

import numpy as np
import pytest

from sdae_cli import direct_file
from sdae_cli.direct_file import DirectFile
from sdae_cli.errors import DataError
from sdae_cli.writing import MatrixWriter


def takes_direct_io(folder) -> bool:
    """Whether the file system under `folder` opens files with O_DIRECT (tmpfs on older kernels,
    for one, does not)."""
    probe = os.path.join(folder, "probe")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600)
    except OSError:
        return False
    os.close(fd)
    os.remove(probe)
    return True


def pieces(seed, sizes):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]


def write_direct(path, parts):
    with open(path, "wb") as f:
        out = DirectFile(f)
        for part in parts:
            assert out.write(part) == len(part)
        out.finish()


@pytest.fixture
def small_buffer(monkeypatch):
    """Two blocks a buffer, so that a few kilobytes cross every boundary there is."""
    monkeypatch.setattr(direct_file, "BUFFER", 2 * direct_file.ALIGN)


@pytest.mark.parametrize("sizes", [
    [], [0], [1], [4095], [4096], [4097], [8192], [8193],
    [3000, 3000, 3000], [4096, 4096, 1], [1, 8191, 8192, 5], [20_000, 7, 12_289, 0, 4096],
])
def test_the_bytes_are_the_bytes_given(tmp_path, small_buffer, sizes):
    parts = pieces(len(sizes), sizes)
    write_direct(tmp_path / "out", parts)
    assert (tmp_path / "out").read_bytes() == b"".join(parts)


def test_whole_blocks_go_direct_and_the_tail_does_not(tmp_path, small_buffer, monkeypatch):
    if not takes_direct_io(tmp_path):
        pytest.skip(f"the file system under {tmp_path} refuses O_DIRECT")
    writes = []
    real_write = os.write

    def recording_write(fd, data):
        writes.append((len(data), bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", recording_write)
    parts = pieces(1, [5000, 9000, 3000])  # 17,000 bytes: four whole blocks and a tail of 616
    write_direct(tmp_path / "out", parts)
    assert (tmp_path / "out").read_bytes() == b"".join(parts)
    assert writes == [(8192, True), (8192, True), (616, False)]
    assert not fcntl.fcntl(os.open(tmp_path / "out", os.O_RDONLY), fcntl.F_GETFL) & os.O_DIRECT


def test_a_file_system_that_refuses_the_blocks_gets_them_the_ordinary_way(tmp_path, small_buffer, monkeypatch):
    real_write = os.write
    refused = []

    def picky_write(fd, data):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(len(data))
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", picky_write)
    parts = pieces(2, [30_000, 1])
    write_direct(tmp_path / "out", parts)
    assert (tmp_path / "out").read_bytes() == b"".join(parts)
    assert len(refused) <= 1  # refused once, then the flag is off for good


def test_without_o_direct_the_same_bytes(tmp_path, small_buffer, monkeypatch):
    monkeypatch.setattr(direct_file, "_set_direct", lambda fd, on: False)
    parts = pieces(3, [10_000, 123, 4096])
    write_direct(tmp_path / "out", parts)
    assert (tmp_path / "out").read_bytes() == b"".join(parts)


def test_a_full_disk_is_one_line_and_leaves_no_file(tmp_path, small_buffer, monkeypatch):
    """The thread meets the error; the command reports it as the ordinary writes did."""
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    path = tmp_path / "codes.csv"
    with pytest.raises(DataError, match=r"codes\.csv: cannot write \(No space left on device\)"):
        with MatrixWriter(str(path), 2000, 10) as writer:
            for _ in range(20):
                writer.write(np.full((100, 10), 0.25, np.float32))
    assert os.listdir(tmp_path) == []


def test_an_error_in_the_body_stops_the_thread_and_leaves_the_old_file(tmp_path, small_buffer):
    import threading

    path = tmp_path / "codes.npy"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="stop"):
        with MatrixWriter(str(path), 10_000, 10) as writer:
            writer.write(np.ones((5000, 10), np.float32))
            raise RuntimeError("stop")
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["codes.npy"]
    assert not [t for t in threading.enumerate() if t.name == "sdae-direct-write"]


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_matrix_writer_output_across_many_buffers(tmp_path, small_buffer, suffix):
    """The writer's own outputs through many small buffers read back to the same float32 bits."""
    from sdae_cli.data import read_matrix

    X = np.random.default_rng(4).random((3001, 7), dtype=np.float32)
    with MatrixWriter(str(tmp_path / ("x" + suffix)), len(X), 7) as writer:
        for start in range(0, len(X), 500):
            writer.write(X[start:start + 500])
    back = read_matrix(str(tmp_path / ("x" + suffix))).astype(np.float32)
    assert np.array_equal(back.view(np.uint32), X.view(np.uint32))
