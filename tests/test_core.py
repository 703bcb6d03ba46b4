"""The C++ core's dA layer against the NumPy reference (tests/reference.py) and finite
differences: loss, gradients, training steps at every batch shape, and a whole epoch."""
import numpy as np
import pytest
import reference as ref
from core_cases import ARCHS, LOSS, NOISE, OPT, corrupted, corrupted_row, make_layer, unit_data

from sdae_cli import _core


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
    and the backprop up to 128 rows (tiles of 8 with AVX-512, 6 with AVX2, then 4, 2, 1); the
    update from more than 64 rows goes to the general GEMM."""
    check_steps_against_reference(75, 53, rows, "sgd", "masking", tied, threads=1)


@pytest.mark.parametrize("rows", [6, 16])
@pytest.mark.parametrize("tied", [True, False], ids=["tied", "untied"])
def test_short_batches_over_wide_rows_match_reference(tied, rows):
    """300 hidden units: six blocks of 48 columns and a piece of 12 (AVX-512), or eighteen of 16
    and a piece of 12 (AVX2)."""
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
    16 that overlaps (AVX-512; with AVX2 blocks of 16 ending on one of 8 or 16). These widths
    (rows of W, and of Wd untied) take each of those ends."""
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
