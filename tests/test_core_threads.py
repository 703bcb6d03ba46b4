"""The core's noise, seeds and threads: corruption keyed by (seed, epoch, row), the same seed
and thread count giving the same bits, one and two threads agreeing; initialisation, encode
and decode against the reference."""
import numpy as np
import pytest
import reference as ref
from core_cases import ACT, LOSS, NOISE, OPT, corrupted, make_layer, unit_data

from sdae_cli import _core


class TestCorruption:
    X = np.random.default_rng(0).uniform(0.2, 0.8, (400, 250)).astype(np.float32)

    def run(self, noise, level, low=0.0, high=1.0, seed=1, threads=1):
        out = np.empty_like(self.X)
        _core.corrupt(self.X, out, NOISE[noise], level, low, high, seed, 0, 0, threads)
        return out

    def test_masking_zeroes_the_given_fraction_and_keeps_the_rest(self):
        out = self.run("masking", 0.3)
        hit = out != self.X
        assert np.all(out[hit] == 0.0)
        assert hit.mean() == pytest.approx(0.3, abs=0.01)

    def test_gaussian_adds_zero_mean_noise_of_the_given_sigma(self):
        diff = (self.run("gaussian", 0.5) - self.X).astype(np.float64)
        assert diff.mean() == pytest.approx(0.0, abs=0.01)
        assert diff.std() == pytest.approx(0.5, rel=0.02)
        # Normal, not uniform: about 4.6% of draws lie beyond two sigma.
        assert np.mean(np.abs(diff) > 1.0) == pytest.approx(0.0455, abs=0.005)

    def test_salt_pepper_sets_the_fraction_to_low_or_high_evenly(self):
        out = self.run("salt-pepper", 0.2, low=-1.0, high=2.0)
        hit = out != self.X
        assert hit.mean() == pytest.approx(0.2, abs=0.01)
        assert np.all(np.isin(out[hit], [-1.0, 2.0]))
        assert np.mean(out[hit] == 2.0) == pytest.approx(0.5, abs=0.03)

    @pytest.mark.parametrize("noise", ["masking", "gaussian", "salt-pepper"])
    def test_noise_depends_on_seed_not_on_threads(self, noise):
        a = self.run(noise, 0.3, seed=4, threads=1)
        np.testing.assert_array_equal(a, self.run(noise, 0.3, seed=4, threads=2))
        assert not np.array_equal(a, self.run(noise, 0.3, seed=5, threads=1))

    def test_rows_are_keyed_by_their_index(self):
        """The noise of row r is the same whether it is corrupted alone or in a block."""
        whole = self.run("masking", 0.5, seed=2)
        alone = np.empty((1, self.X.shape[1]), np.float32)
        _core.corrupt(self.X[17:18], alone, NOISE["masking"], 0.5, 0.0, 1.0, 2, 0, 17, 1)
        np.testing.assert_array_equal(alone[0], whole[17])

    @pytest.mark.parametrize("noise,level", [("masking", 1.0), ("masking", -0.1), ("salt-pepper", 1.5),
                                             ("gaussian", -1.0)])
    def test_out_of_range_levels_are_refused(self, noise, level):
        with pytest.raises(ValueError, match="noise|sigma"):
            self.run(noise, level)


def train_epochs(threads, seed=0, epochs=2, optimizer="adam", tied=True):
    spec, theta = make_layer(40, 30, tied)
    X = unit_data(300, 40, seed=1)
    train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                            optimizer=OPT[optimizer], lr=0.01, batch_size=16, seed=seed, num_threads=threads)
    m, v = np.zeros(theta.size, np.float32), np.zeros(theta.size, np.float32)
    step = 0
    for epoch in range(epochs):
        _, step = _core.train_epoch(spec, train, theta, m, v, step, X, epoch)
    return theta


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_and_threads_give_identical_parameters(threads):
    np.testing.assert_array_equal(train_epochs(threads), train_epochs(threads))


def test_two_threads_sharing_steps_give_identical_parameters():
    """300 x 600 at batch 16 splits every step between two threads, and which thread gathers
    which row of the next batch depends on timing: the parameters may not."""
    def run():
        spec, theta = make_layer(300, 600, True)
        X = unit_data(80, 300, seed=3)
        train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                                optimizer=OPT["sgd"], lr=0.05, batch_size=16, seed=2, num_threads=2)
        for epoch in range(2):
            _core.train_epoch(spec, train, theta, np.zeros(0, np.float32), np.zeros(0, np.float32), 0, X, epoch)
        return theta
    np.testing.assert_array_equal(run(), run())


def test_different_seeds_give_different_parameters():
    assert not np.allclose(train_epochs(1, seed=0), train_epochs(1, seed=1))


@pytest.mark.parametrize("tied", [True, False])
def test_one_and_two_threads_agree(tied):
    np.testing.assert_allclose(train_epochs(1, tied=tied), train_epochs(2, tied=tied), rtol=1e-4, atol=1e-5)


def test_large_batches_agree_across_threads():
    """Big enough that the elementwise loops and products really run on two threads."""
    spec, theta = make_layer(300, 200, True)
    X = unit_data(512, 300, seed=2)
    Xt = corrupted(X)
    g1, g2 = np.zeros_like(theta), np.zeros_like(theta)
    l1 = _core.loss_and_gradient(spec, LOSS["cross-entropy"], theta, X, Xt, g1, 1)
    l2 = _core.loss_and_gradient(spec, LOSS["cross-entropy"], theta, X, Xt, g2, 2)
    assert l1 == pytest.approx(l2, rel=1e-6)
    np.testing.assert_allclose(g1, g2, rtol=1e-4, atol=1e-6)


def test_init_follows_the_tutorial_bounds():
    for encoder, factor in (("sigmoid", 4.0), ("tanh", 1.0)):
        spec = _core.LayerSpec(300, 200, False, ACT[encoder], ACT["sigmoid"])
        theta = np.zeros(spec.size, np.float32)
        _core.init_params(spec, theta, 0)
        W = theta[:60000].reshape(300, 200)
        bound = factor * np.sqrt(6 / 500)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.99 * bound
        assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)  # uniform
        np.testing.assert_array_equal(theta[60000:60500], 0.0)  # biases
        np.testing.assert_array_equal(theta[60500:].reshape(200, 300), W.T)  # untied decoder starts as W^T


def test_encode_and_decode_match_reference():
    n_in, n_hidden = 20, 9
    for tied in (True, False):
        spec, theta = make_layer(n_in, n_hidden, tied, "tanh", "linear")
        X = unit_data(33, n_in)
        H = np.empty((33, n_hidden), np.float32)
        Z = np.empty((33, n_in), np.float32)
        _core.encode(spec, theta, X, H, 1)
        _core.decode(spec, theta, H, Z, 1)
        W, b, c, Wd = ref.unpack(theta, n_in, n_hidden, tied)
        np.testing.assert_allclose(H, np.tanh(X @ W + b), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(Z, H.astype(np.float64) @ Wd + c, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows", [33, 48, 100, 128])
@pytest.mark.parametrize("n_in, n_hidden, threads", [(75, 53, 1), (784, 40, 2)])
def test_decode_of_batches_over_32_rows_matches_reference(rows, n_in, n_hidden, threads):
    """Z = H W^T for 33 to 128 rows goes through the tiles in transposed form (H^T, then each
    tile of Z^T stored transposed; with AVX2 from 17 rows): every end of a block of batch rows,
    rows of W in tiles of 8 (AVX2: 6) and a remainder, 53 columns of H in blocks of 16 and a
    remainder, and W split between two threads."""
    spec, theta = make_layer(n_in, n_hidden, True, "sigmoid", "linear")
    H = unit_data(rows, n_hidden, seed=rows)
    Z = np.empty((rows, n_in), np.float32)
    _core.decode(spec, theta, H, Z, threads)
    W, _, c, _ = ref.unpack(theta, n_in, n_hidden, True)
    np.testing.assert_allclose(Z, H.astype(np.float64) @ W.T + c, rtol=1e-5, atol=1e-5)
