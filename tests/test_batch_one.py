"""Batch 1 with plain SGD on a tied layer takes its own fused path in the core (online_sgd.cpp):
each thread owns rows of W and a step is one pass over them, with part of each update applied
in the next pass. It must train exactly the
epoch that the general path defines: the same shuffle, the same per-row noise, the same updates."""
import numpy as np
import pytest
import reference as ref
from core_cases import ACT, ARCHS, LOSS, NOISE, OPT, make_layer, unit_data

from sdae_cli import _core

EMPTY = np.zeros(0, np.float32)


def train_one_epoch(spec, theta, X, threads, loss="cross-entropy", noise="masking", level=0.3, seed=5, epoch=2,
                    lr=0.05, batch=1, optimizer="sgd"):
    train = _core.TrainSpec(loss=LOSS[loss], noise=NOISE[noise], noise_level=level, noise_low=0.0, noise_high=1.0,
                            optimizer=OPT[optimizer], lr=lr, batch_size=batch, seed=seed, num_threads=threads)
    assert _core.online_sgd_applies(spec, train)  # these tests are about that path
    state = np.zeros(theta.size, np.float32)
    return _core.train_epoch(spec, train, theta, state, state.copy(), 0, X, epoch)


def replay(theta, X, n_in, n_hidden, encoder, decoder, loss, noise="masking", level=0.3, seed=5, epoch=2, lr=0.05):
    """The epoch step by step in float64: documented order, per-row noise, plain SGD."""
    expected = theta.astype(np.float64)
    total = 0.0
    for row in _core.shuffled_rows(len(X), seed, epoch):
        x = X[row:row + 1]
        xt = np.empty_like(x)
        _core.corrupt(x, xt, NOISE[noise], level, 0.0, 1.0, seed, epoch, row, 1)
        args = (x, xt, n_in, n_hidden, True, encoder, decoder, loss)
        total += ref.loss(expected, *args)
        expected = expected - lr * ref.gradient(expected, *args)
    return expected, total / len(X)


# (n_in, n_hidden, threads, lr): one thread; and a layer over 2^17 weights split between two, with
# sizes that leave padded columns (509 = 31 * 16 + 13) and slices of 260 rows (65 blocks of 4)
# and 257 (64 blocks and a row of its own).
SHAPES = [(19, 11, 1, 0.05), (517, 509, 2, 0.002)]


@pytest.mark.parametrize("n_in,n_hidden,threads,lr", SHAPES, ids=["small", "split"])
@pytest.mark.parametrize("encoder,decoder,loss", ARCHS)
def test_epoch_matches_the_reference_replay(n_in, n_hidden, threads, lr, encoder, decoder, loss):
    spec, theta = make_layer(n_in, n_hidden, True, encoder, decoder)
    X = unit_data(12, n_in, seed=3)
    expected, expected_loss = replay(theta, X, n_in, n_hidden, encoder, decoder, loss, lr=lr)
    mean_loss, steps = train_one_epoch(spec, theta, X, threads, loss=loss, lr=lr)
    assert steps == len(X)
    assert mean_loss == pytest.approx(expected_loss, rel=1e-4)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_epochs_of_a_few_rows(rows):
    """The first step has no pending update and the last leaves one to apply after the loop."""
    spec, theta = make_layer(517, 509, True)
    X = unit_data(rows, 517, seed=7)
    expected, _ = replay(theta, X, 517, 509, "sigmoid", "sigmoid", "cross-entropy", lr=0.01)
    train_one_epoch(spec, theta, X, 2, lr=0.01)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("noise,level", [("gaussian", 0.2), ("salt-pepper", 0.25)])
def test_every_noise_is_applied_as_the_general_path_does(noise, level):
    n_in, n_hidden = 517, 509
    spec, theta = make_layer(n_in, n_hidden, True)
    X = unit_data(8, n_in, seed=4)
    expected, _ = replay(theta, X, n_in, n_hidden, "sigmoid", "sigmoid", "mse", noise=noise, level=level, lr=0.01)
    train_one_epoch(spec, theta, X, 2, loss="mse", noise=noise, level=level, lr=0.01)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=2e-5)


def test_agrees_with_the_general_path():
    """Batch 1 through momentum 0 is the general minibatch step: both paths land together."""
    spec, theta = make_layer(517, 509, True)
    X = unit_data(20, 517, seed=6)
    general = theta.copy()
    train_one_epoch(spec, theta, X, 2)
    train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                            optimizer=OPT["sgd"], lr=0.05, batch_size=1, seed=5, num_threads=2)
    for row in _core.shuffled_rows(len(X), 5, 2):  # the general path's train_step, sample by sample
        xt = np.empty((1, 517), np.float32)
        _core.corrupt(X[row:row + 1], xt, NOISE["masking"], 0.3, 0.0, 1.0, 5, 2, row, 1)
        _core.train_step(spec, train, general, EMPTY, EMPTY, 0, X[row:row + 1], xt)
    np.testing.assert_allclose(theta, general, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_and_threads_give_identical_parameters(threads):
    def two_epochs(seed):
        spec, theta = make_layer(600, 500, True)
        X = unit_data(30, 600, seed=7)
        for epoch in range(2):
            train_one_epoch(spec, theta, X, threads, seed=seed, epoch=epoch)
        return theta

    first = two_epochs(5)
    np.testing.assert_array_equal(two_epochs(5), first)
    assert not np.allclose(two_epochs(6), first)  # only the seed differs


def test_which_settings_take_this_path():
    spec = _core.LayerSpec(600, 500, True, ACT["sigmoid"], ACT["sigmoid"])
    untied = _core.LayerSpec(600, 500, False, ACT["sigmoid"], ACT["sigmoid"])
    train = lambda **kw: _core.TrainSpec(**{"optimizer": OPT["sgd"], "batch_size": 1, **kw})  # noqa: E731
    assert _core.online_sgd_applies(spec, train())
    assert not _core.online_sgd_applies(untied, train())
    assert not _core.online_sgd_applies(spec, train(batch_size=2))
    assert not _core.online_sgd_applies(spec, train(optimizer=OPT["momentum"]))


def test_one_and_two_threads_agree():
    spec, one = make_layer(600, 500, True)
    two = one.copy()
    X = unit_data(30, 600, seed=8)
    train_one_epoch(spec, one, X, 1)
    train_one_epoch(spec, two, X, 2)
    np.testing.assert_allclose(one, two, rtol=1e-4, atol=1e-5)


def test_learning_reduces_the_reconstruction_error():
    """A few hundred single-sample steps on structured data lower the held-out loss."""
    rng = np.random.default_rng(0)
    basis = rng.random((8, 600))
    X = (rng.random((400, 8)) @ basis / 4).clip(0, 1).astype(np.float32)
    spec, theta = make_layer(600, 500, True)
    train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3, optimizer=OPT["sgd"],
                            lr=0.01, batch_size=1, seed=0, num_threads=2)
    before = _core.reconstruction_loss(spec, train, theta, X[300:])
    for epoch in range(3):
        _core.train_epoch(spec, train, theta, EMPTY, EMPTY, 0, X[:300], epoch)
    assert _core.reconstruction_loss(spec, train, theta, X[300:]) < 0.9 * before
