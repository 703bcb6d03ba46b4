"""The C++ core against the NumPy reference (tests/reference.py), finite differences,
and its reproducibility and threading guarantees."""
import itertools

import numpy as np
import pytest
import reference as ref

from sdae_cli import _core

ACT = {name: getattr(_core.Activation, name) for name in ("sigmoid", "tanh", "relu", "linear")}
LOSS = {"cross-entropy": _core.Loss.cross_entropy, "mse": _core.Loss.squared_error}
NOISE = {"masking": _core.NoiseType.masking, "gaussian": _core.NoiseType.gaussian,
         "salt-pepper": _core.NoiseType.salt_pepper}
OPT = {name: getattr(_core.Optimizer, name) for name in ("sgd", "momentum", "adam")}

# Every (encoder, decoder, loss) the core accepts: cross-entropy needs a sigmoid decoder.
ARCHS = [(enc, dec, loss) for enc, dec, loss in itertools.product(
    ("sigmoid", "tanh", "relu"), ("sigmoid", "linear"), ("cross-entropy", "mse"))
    if not (loss == "cross-entropy" and dec != "sigmoid")]


def make_layer(n_in, n_hidden, tied, encoder="sigmoid", decoder="sigmoid", seed=0):
    spec = _core.LayerSpec(n_in, n_hidden, tied, ACT[encoder], ACT[decoder])
    theta = np.zeros(spec.size, np.float32)
    _core.init_params(spec, theta, seed)
    # Non-zero biases so that their gradients are exercised too.
    theta[n_in * n_hidden:n_in * n_hidden + n_hidden + n_in] = \
        np.random.default_rng(seed).normal(0, 0.1, n_hidden + n_in).astype(np.float32)
    return spec, theta


def unit_data(rows, cols, seed=0):
    return np.random.default_rng(seed).random((rows, cols), dtype=np.float32)


def corrupted(X, noise="masking", level=0.3, seed=0, epoch=0):
    Xt = np.empty_like(X)
    _core.corrupt(X, Xt, NOISE[noise], level, 0.0, 1.0, seed, epoch, 0, 1)
    return Xt


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("encoder,decoder,loss", ARCHS)
def test_loss_and_gradient_match_reference(encoder, decoder, loss, tied):
    n_in, n_hidden = 13, 7
    spec, theta = make_layer(n_in, n_hidden, tied, encoder, decoder)
    X = unit_data(9, n_in)
    Xt = corrupted(X)
    grad = np.zeros_like(theta)
    got = _core.loss_and_gradient(spec, LOSS[loss], theta, X, Xt, grad, 1)
    args = (X, Xt, n_in, n_hidden, tied, encoder, decoder, loss)
    assert got == pytest.approx(ref.loss(theta, *args), rel=1e-5)
    np.testing.assert_allclose(grad, ref.gradient(theta, *args), rtol=2e-4, atol=2e-6)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("encoder,decoder,loss", ARCHS)
def test_reference_gradient_matches_finite_differences(encoder, decoder, loss, tied):
    n_in, n_hidden = 6, 4
    _, theta = make_layer(n_in, n_hidden, tied, encoder, decoder, seed=3)
    theta = theta.astype(np.float64)
    X = unit_data(5, n_in, seed=1)
    Xt = corrupted(X, seed=2)
    args = (X, Xt, n_in, n_hidden, tied, encoder, decoder, loss)
    analytic = ref.gradient(theta, *args)
    numeric = np.empty_like(theta)
    eps = 1e-6
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (ref.loss(up, *args) - ref.loss(down, *args)) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("encoder,decoder,loss", ARCHS)
def test_core_gradient_matches_its_own_finite_difference(encoder, decoder, loss, tied):
    """A directional derivative of the float32 core loss, so no reference is involved."""
    n_in, n_hidden = 10, 6
    spec, theta = make_layer(n_in, n_hidden, tied, encoder, decoder, seed=5)
    X = unit_data(8, n_in, seed=4)
    Xt = corrupted(X, seed=6)
    grad = np.zeros_like(theta)
    _core.loss_and_gradient(spec, LOSS[loss], theta, X, Xt, grad, 1)
    direction = np.random.default_rng(7).normal(size=theta.size).astype(np.float32)
    direction /= np.linalg.norm(direction)
    eps = 1e-2
    scratch = np.zeros_like(theta)
    up = _core.loss_and_gradient(spec, LOSS[loss], theta + eps * direction, X, Xt, scratch, 1)
    down = _core.loss_and_gradient(spec, LOSS[loss], theta - eps * direction, X, Xt, scratch, 1)
    numeric = (up - down) / (2 * eps)
    assert float(grad @ direction) == pytest.approx(numeric, rel=2e-2, abs=2e-4)


@pytest.mark.parametrize("rows", [2, 6], ids=["small-batch", "batch"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("noise", ["masking", "gaussian", "salt-pepper"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_train_steps_match_reference(optimizer, noise, tied, rows):
    """Three updates in a row, so momentum and adam state carry over between them. Batches of
    up to 4 rows take the core's streaming loops, larger ones the general products (at this
    size, narrower than 16 units, Eigen's: the register tiles are tested below)."""
    check_steps_against_reference(11, 5, rows, optimizer, noise, tied, threads=1)


@pytest.mark.parametrize("rows", [1, 3, 20])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_steps_split_over_two_threads_match_reference(optimizer, tied, rows):
    """Layers this large split their hidden units between two threads (step_threads: a step of
    up to 4 rows splits from 2^19 multiply-adds, 520 x 1024 has 532,480 a row). Momentum takes
    the gradient route; adam is left to the smaller layers above, because at this size a few
    gradients are within float32 rounding of zero and adam's division turns that into whole
    steps of difference from the float64 reference, on one thread as on two."""
    check_steps_against_reference(520, 1024, rows, optimizer, "masking", tied, threads=2)


@pytest.mark.parametrize("rows", [5, 6, 7, 9, 16, 17, 32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_short_batches_match_reference(optimizer, tied, rows):
    """Batches of 5 to 32 rows take the register tiles of short_batch.cpp: 53 hidden units and
    75 inputs leave a short last piece of every row, and these batches every tile of rows
    (16, 8, 4, 2, 1); plain SGD updates the weights in their own kernel, adam through the gradient."""
    check_steps_against_reference(75, 53, rows, optimizer, "masking", tied, threads=1)


@pytest.mark.parametrize("rows", [33, 100, 128])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_batches_to_128_rows_match_reference(tied, rows):
    """The tiles take x~ W, the decode H W^T (Wd's untied; above 32 rows, in transposed form)
    and the backprop up to 128 rows (tiles of 8, then 4, 2, 1); the update from more than 64
    rows goes to the general GEMM."""
    check_steps_against_reference(75, 53, rows, "sgd", "masking", tied, threads=1)


@pytest.mark.parametrize("rows", [6, 16])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_short_batches_over_wide_rows_match_reference(tied, rows):
    """300 hidden units: six blocks of 48 columns and a piece of 12."""
    check_steps_against_reference(40, 300, rows, "sgd", "masking", tied, threads=1)


@pytest.mark.parametrize("rows", [17, 32])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_short_batches_split_over_two_threads_match_reference(tied, rows):
    """Two threads (from 2^21 multiply-adds a step: 17 x 300 x 600 is 3.1M), with hidden slices
    of 304 units (six blocks of 48 and a piece of 16) and 296 (six and a piece of 8)."""
    check_steps_against_reference(300, 600, rows, "sgd", "masking", tied, threads=2)


@pytest.mark.parametrize("n_in, n_hidden", [(20, 16), (33, 40), (47, 90), (90, 47), (64, 32), (16, 64)])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_short_batches_every_column_block_match_reference(tied, n_in, n_hidden):
    """The tiles go along a row in blocks of 48 columns and end on one block of 16, 32 or 48
    that overlaps the block before; rows narrower than 48 take blocks of 32 and 16 and a last
    16 that overlaps. These widths (rows of W, and of Wd untied) take each of those ends."""
    check_steps_against_reference(n_in, n_hidden, 16, "sgd", "masking", tied, threads=1)


def check_steps_against_reference(n_in, n_hidden, rows, optimizer, noise, tied, threads):
    lr = 0.05
    loss = "mse" if noise == "gaussian" else "cross-entropy"
    decoder = "linear" if loss == "mse" else "sigmoid"
    spec, theta = make_layer(n_in, n_hidden, tied, "sigmoid", decoder)
    train = _core.TrainSpec(loss=LOSS[loss], noise=NOISE[noise], noise_level=0.25, optimizer=OPT[optimizer],
                            lr=lr, batch_size=rows, num_threads=threads)
    m = np.zeros(theta.size if optimizer != "sgd" else 0, np.float32)
    v = np.zeros(theta.size if optimizer == "adam" else 0, np.float32)
    expected = theta.astype(np.float64)
    em, ev = np.zeros(theta.size), np.zeros(theta.size)
    for step in range(3):
        X = unit_data(rows, n_in, seed=step)
        Xt = corrupted(X, noise, 0.25, seed=step)
        args = (X, Xt, n_in, n_hidden, tied, "sigmoid", decoder, loss)
        got_loss = _core.train_step(spec, train, theta, m, v, step, X, Xt)
        assert got_loss == pytest.approx(ref.loss(expected, *args), rel=1e-4)
        g = ref.gradient(expected, *args)
        expected, em, ev = ref.update(expected, g, em, ev, step + 1, optimizer, lr)
    # Adam divides by sqrt(v): where a gradient is ~0, float32 rounding moves a step by up to ~1e-3 lr.
    atol = 1e-3 * lr if optimizer == "adam" else 1e-5
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("n_in,n_hidden,N,B,threads", [(8, 5, 23, 3, 1), (8, 5, 23, 5, 1), (300, 600, 49, 16, 2)])
def test_train_epoch_matches_reference_shuffle_noise_and_batches(n_in, n_hidden, N, B, threads):
    """A whole epoch: the documented shuffle order, per-row noise keys, a short last batch (of
    one row at 49 rows). Each batch is gathered during the step before it (at 300 x 600, by both
    threads of the step, whichever is first done encoding)."""
    seed, epoch, lr = 11, 3, 0.1
    spec, theta = make_layer(n_in, n_hidden, True)
    X = unit_data(N, n_in, seed=9)
    expected = theta.astype(np.float64)
    train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                            optimizer=OPT["sgd"], lr=lr, batch_size=B, seed=seed, num_threads=threads)
    mean_loss, steps = _core.train_epoch(spec, train, theta, np.zeros(0, np.float32), np.zeros(0, np.float32),
                                         0, X, epoch)
    order = _core.shuffled_rows(N, seed, epoch)
    assert sorted(order) == list(range(N))
    total = 0.0
    for start in range(0, N, B):
        rows = order[start:start + B]
        Xb = X[rows]
        Xt = np.concatenate([corrupted_row(X, r, seed, epoch) for r in rows])
        args = (Xb, Xt, n_in, n_hidden, True, "sigmoid", "sigmoid", "cross-entropy")
        total += ref.loss(expected, *args) * len(rows)
        expected = expected - lr * ref.gradient(expected, *args)
    assert steps == -(-N // B)
    assert mean_loss == pytest.approx(total / N, rel=1e-4)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=1e-5)


def corrupted_row(X, row, seed, epoch):
    out = np.empty((1, X.shape[1]), np.float32)
    _core.corrupt(X[row:row + 1], out, NOISE["masking"], 0.3, 0.0, 1.0, seed, epoch, row, 1)
    return out


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
    tile of Z^T stored transposed): every end of a block of batch rows, rows of W in tiles of 8
    and a remainder, 53 columns of H in blocks of 16 and a remainder, and W split between two
    threads."""
    spec, theta = make_layer(n_in, n_hidden, True, "sigmoid", "linear")
    H = unit_data(rows, n_hidden, seed=rows)
    Z = np.empty((rows, n_in), np.float32)
    _core.decode(spec, theta, H, Z, threads)
    W, _, c, _ = ref.unpack(theta, n_in, n_hidden, True)
    np.testing.assert_allclose(Z, H.astype(np.float64) @ W.T + c, rtol=1e-5, atol=1e-5)


class TestBoundary:
    """Views in, no hidden copies, clear errors for wrong shapes."""

    spec, theta = make_layer(6, 4, True)

    def test_theta_is_updated_in_place(self):
        theta = self.theta.copy()
        before = theta.copy()
        address = theta.__array_interface__["data"][0]
        train = _core.TrainSpec(optimizer=OPT["sgd"], noise_level=0.2, batch_size=4, num_threads=1)
        empty = np.zeros(0, np.float32)
        _core.train_epoch(self.spec, train, theta, empty, empty, 0, unit_data(8, 6), 0)
        assert theta.__array_interface__["data"][0] == address
        assert not np.array_equal(theta, before)

    def test_outputs_are_written_into_the_callers_array(self):
        X = unit_data(5, 6)
        H = np.zeros((5, 4), np.float32)
        _core.encode(self.spec, self.theta, X, H, 1)
        assert np.all(H > 0)

    def test_results_do_not_depend_on_where_arrays_sit_in_memory(self):
        """Outputs at every float offset from a cache line agree bit for bit (NumPy aligns arrays
        only loosely, and vector and scalar exp round differently)."""
        spec = _core.LayerSpec(77, 53, False, ACT["sigmoid"], ACT["sigmoid"])
        theta = np.zeros(spec.size, np.float32)
        _core.init_params(spec, theta, 0)
        X = unit_data(40, 77)
        codes, recons = [], []
        for offset in range(16):
            H = np.empty(40 * 53 + 16, np.float32)[offset:offset + 40 * 53].reshape(40, 53)
            Z = np.empty(40 * 77 + 16, np.float32)[offset:offset + 40 * 77].reshape(40, 77)
            shifted = np.empty(theta.size + 16, np.float32)[offset:offset + theta.size]
            shifted[:] = theta
            _core.encode(spec, shifted, X, H, 1)
            _core.decode(spec, shifted, H, Z, 1)
            codes.append(H.copy())
            recons.append(Z.copy())
        for H, Z in zip(codes, recons):
            np.testing.assert_array_equal(H, codes[0])
            np.testing.assert_array_equal(Z, recons[0])

    def test_stack_forward_does_not_depend_on_where_arrays_sit_in_memory(self):
        """The same for the chain that encode, denoise and predict run (its short products
        take 9 rows, its panels all 700): the input and output at every float offset."""
        spec = _core.StackSpec([(77, 53, ACT["sigmoid"]), (53, 40, ACT["tanh"])], _core.OutputLoss.squared_error)
        theta = np.random.default_rng(0).normal(0, 0.3, spec.size).astype(np.float32)
        for rows in (9, 700):
            X = unit_data(rows, 77)
            outs = []
            for offset in range(16):
                Xs = np.empty(rows * 77 + 16, np.float32)[offset:offset + rows * 77].reshape(rows, 77)
                Xs[:] = X
                out = np.empty(rows * 40 + 16, np.float32)[offset:offset + rows * 40].reshape(rows, 40)
                _core.stack_forward(spec, theta, Xs, out, 2)
                outs.append(out.copy())
            for out in outs:
                np.testing.assert_array_equal(out, outs[0])

    @pytest.mark.parametrize("optimizer", ["sgd", "adam"])
    def test_training_does_not_depend_on_where_theta_sits(self, optimizer):
        """An epoch at batch 16 (the register tiles, and bias gradients summed over the batch)
        from theta at every float offset from a cache line: the same bits. (Eigen's colwise sums
        added the columns it peeled for alignment in another order: they did not.)"""
        spec = _core.LayerSpec(300, 40, True, ACT["sigmoid"], ACT["sigmoid"])
        theta = np.zeros(spec.size, np.float32)
        _core.init_params(spec, theta, 0)
        X = unit_data(48, 300, seed=5)
        train = _core.TrainSpec(loss=LOSS["cross-entropy"], noise=NOISE["masking"], noise_level=0.3,
                                optimizer=OPT[optimizer], lr=0.1, batch_size=16, seed=1, num_threads=1)
        results = []
        for offset in range(16):
            shifted = np.empty(theta.size + 16, np.float32)[offset:offset + theta.size]
            shifted[:] = theta
            m, v = np.zeros_like(theta), np.zeros_like(theta)
            _core.train_epoch(spec, train, shifted, m, v, 0, X, 0)
            results.append(shifted.copy())
        for result in results:
            np.testing.assert_array_equal(result, results[0])

    def test_a_read_only_memmap_is_accepted_without_copy(self, tmp_path):
        X = unit_data(5, 6)
        np.save(tmp_path / "x.npy", X)
        mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
        H = np.empty((5, 4), np.float32)
        _core.encode(self.spec, self.theta, mapped, H, 1)
        expected = np.empty_like(H)
        _core.encode(self.spec, self.theta, X, expected, 1)
        np.testing.assert_array_equal(H, expected)

    @pytest.mark.parametrize("bad", [
        unit_data(5, 6).astype(np.float64),  # would need a conversion
        np.asfortranarray(unit_data(5, 6)),  # would need a transpose copy
    ], ids=["float64", "fortran"])
    def test_arrays_that_would_need_a_copy_are_refused(self, bad):
        with pytest.raises(TypeError):
            _core.encode(self.spec, self.theta, bad, np.empty((5, 4), np.float32), 1)

    def test_wrong_shapes_raise_value_error_naming_the_array(self):
        with pytest.raises(ValueError, match="X: expected 6 columns, got 7"):
            _core.encode(self.spec, self.theta, unit_data(5, 7), np.empty((5, 4), np.float32), 1)
        with pytest.raises(ValueError, match="theta: expected 34 parameters"):
            _core.encode(self.spec, self.theta[:-1].copy(), unit_data(5, 6), np.empty((5, 4), np.float32), 1)
        with pytest.raises(ValueError, match="cross-entropy needs a sigmoid decoder"):
            spec = _core.LayerSpec(6, 4, True, ACT["sigmoid"], ACT["linear"])
            _core.loss_and_gradient(spec, LOSS["cross-entropy"], self.theta, unit_data(2, 6), unit_data(2, 6),
                                    np.zeros_like(self.theta), 1)

    def test_bad_hyper_parameters_raise_value_error(self):
        with pytest.raises(ValueError, match="learning rate"):
            _core.TrainSpec(lr=0.0)
        with pytest.raises(ValueError, match="batch size"):
            _core.TrainSpec(batch_size=0)
        with pytest.raises(ValueError, match="layer sizes"):
            _core.LayerSpec(0, 4)


def test_a_smaller_team_than_asked_for_still_computes_everything():
    """OMP_THREAD_LIMIT or OMP_DYNAMIC can give fewer threads than num_threads asks: every slice
    of the work must still be done (and done the same way)."""
    import os
    import subprocess
    import sys

    script = """
import sys, numpy as np
from sdae_cli import _core
from sdae_cli.layer import Layer, aligned_zeros
layer = Layer(256, 256)
_core.init_params(layer.spec, layer.theta, 0)
X = np.random.default_rng(0).random((64, 256), dtype=np.float32)
grad = aligned_zeros(layer.theta.size)  # where outputs sit must not matter: sdae aligns them all
loss = _core.loss_and_gradient(layer.spec, _core.Loss.cross_entropy, layer.theta, X, X, grad, 2)
H = aligned_zeros((4096, 256))
_core.encode(layer.spec, layer.theta, np.random.default_rng(1).random((4096, 256), dtype=np.float32), H, 2)
online = Layer(520, 510)  # batch 1 with plain SGD: the fused path, its rows split in two slices
_core.init_params(online.spec, online.theta, 0)
train = _core.TrainSpec(noise=_core.NoiseType.masking, noise_level=0.3, lr=0.01, batch_size=1, num_threads=2)
_core.train_epoch(online.spec, train, online.theta, aligned_zeros(0), aligned_zeros(0), 0,
                  np.random.default_rng(2).random((64, 520), dtype=np.float32), 0)
np.savez(sys.argv[1], loss=loss, grad=grad, H=H, online=online.theta)
"""
    results = []
    for limit in (None, "1"):
        env = dict(os.environ)
        if limit:
            env["OMP_THREAD_LIMIT"] = limit
        out = f"/tmp/sdae-team-{os.getpid()}-{limit}.npz"
        subprocess.run([sys.executable, "-c", script, out], env=env, check=True)
        with np.load(out) as f:
            results.append({k: f[k] for k in f.files})
        os.unlink(out)
    full, limited = results
    for name in ("loss", "grad", "H", "online"):
        np.testing.assert_array_equal(limited[name], full[name], err_msg=name)
