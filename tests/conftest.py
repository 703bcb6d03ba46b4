"""Shared fixtures: the shipped digits, small matrices, one on disk, and a folder for CLI runs."""
from types import SimpleNamespace

import cli_runs
import numpy as np
import pytest

from sdae_cli.datasets import load_digits


@pytest.fixture(scope="session")
def digits():
    """(X, y): 1,797 8x8 digits, pixels 0..16. Read-only, since every test shares them."""
    X, y = load_digits()
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture
def matrix():
    """37 x 6 float32 standard normal values (negative, fractional: a fair I/O test)."""
    return np.random.default_rng(0).standard_normal((37, 6)).astype(np.float32)


@pytest.fixture
def small_data():
    """60 rows x 10 columns of float32 in [0, 1)."""
    return np.random.default_rng(0).random((60, 10), dtype=np.float32)


@pytest.fixture
def data_files(tmp_path, small_data):
    """small_data written as x.npy and x.csv (%.9g: float32 round-trips exactly) in tmp_path."""
    npy = tmp_path / "x.npy"
    csv = tmp_path / "x.csv"
    np.save(npy, small_data)
    np.savetxt(csv, small_data, delimiter=",", fmt="%.9g")
    return SimpleNamespace(dir=tmp_path, npy=str(npy), csv=str(csv), X=small_data)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """A working directory holding s.npy (200 x 20 in [0, 1)), for the CLI's error tests."""
    return cli_runs.data_folder(tmp_path, monkeypatch)


@pytest.fixture
def model(folder):
    """`folder` with m.npz, a 20-8-4 model of s.npy, and y.npy, labels of its rows. (A test module
    that means another model defines its own.)"""
    return cli_runs.model_folder(folder)
