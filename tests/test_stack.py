"""Fine-tuning through the whole stack: the C++ chain against the NumPy reference and finite
differences, and its epoch loop against a replay."""
import numpy as np
import pytest
import reference as ref

from sdae_cli import _core

ACT = {name: getattr(_core.Activation, name) for name in ("sigmoid", "tanh", "relu", "linear")}
OUT = {"nll": _core.OutputLoss.softmax_nll, "cross-entropy": _core.OutputLoss.cross_entropy,
       "mse": _core.OutputLoss.squared_error}

# (dims, activations, loss): a supervised stack and two unrolled autoencoders.
CASES = {
    "softmax": ([(9, 7), (7, 5), (5, 4)], ["sigmoid", "tanh", "linear"], "nll"),
    "unrolled-ce": ([(9, 6), (6, 4), (4, 6), (6, 9)], ["sigmoid", "relu", "sigmoid", "sigmoid"], "cross-entropy"),
    "unrolled-mse": ([(9, 6), (6, 9)], ["tanh", "linear"], "mse"),
    # Layers of 16 units and more: batches of 5 to 32 rows take the register tiles (short_batch.cpp).
    "unrolled-wide": ([(40, 37), (37, 18), (18, 37), (37, 40)], ["sigmoid"] * 4, "cross-entropy"),
}


# Big enough that gemm splits the products between two threads (from 2^21 multiply-adds:
# 32 x 300 x 272 is 2.6M), for the epoch replay only.
BIG = {"unrolled-big": ([(300, 272), (272, 40), (40, 272), (272, 300)], ["sigmoid"] * 4, "cross-entropy")}


def build(case, seed=0):
    dims, acts, loss = {**CASES, **BIG}[case]
    spec = _core.StackSpec([(i, o, ACT[a]) for (i, o), a in zip(dims, acts)], OUT[loss])
    theta = np.random.default_rng(seed).normal(0, 0.5, spec.size).astype(np.float32)
    return spec, theta, dims, acts, loss


def batch(case, rows=8, seed=1):
    dims, _, loss = {**CASES, **BIG}[case]
    rng = np.random.default_rng(seed)
    X = rng.random((rows, dims[0][0]), dtype=np.float32)
    if loss == "nll":
        Y = np.eye(dims[-1][1], dtype=np.float32)[rng.integers(0, dims[-1][1], rows)]
    else:
        Y = rng.random((rows, dims[-1][1]), dtype=np.float32)
    return X, Y


@pytest.mark.parametrize("case", CASES)
def test_forward_loss_and_gradient_match_reference(case):
    spec, theta, dims, acts, loss = build(case)
    X, Y = batch(case)
    out = np.empty((len(X), spec.n_out), np.float32)
    _core.stack_forward(spec, theta, X, out, 1)
    np.testing.assert_allclose(out, ref.stack_forward(theta, dims, acts, loss, X)[-1], rtol=1e-5, atol=1e-6)
    grad = np.zeros_like(theta)
    got = _core.stack_loss_and_gradient(spec, theta, X, Y, grad, 1)
    assert got == pytest.approx(ref.stack_loss(theta, dims, acts, loss, X, Y), rel=1e-5)
    np.testing.assert_allclose(grad, ref.stack_gradient(theta, dims, acts, loss, X, Y), rtol=2e-4, atol=2e-6)
    rows = np.empty(len(X), np.float32)
    _core.stack_row_loss(spec, theta, X, Y, rows, 1)
    assert rows.mean() == pytest.approx(got, rel=1e-5)


@pytest.mark.parametrize("case", CASES)
def test_forward_over_many_panels_and_threads(case):
    """stack_forward takes 512-row panels, split between threads: 1,100 rows make two whole
    panels and a short one, and every thread count gives the same bits."""
    spec, theta, dims, acts, loss = build(case)
    X, _ = batch(case, rows=1100, seed=4)
    outs = []
    for threads in (1, 2, 3):
        out = np.full((len(X), spec.n_out), np.nan, np.float32)
        _core.stack_forward(spec, theta, X, out, threads)
        outs.append(out)
    np.testing.assert_allclose(outs[0], ref.stack_forward(theta, dims, acts, loss, X)[-1], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(outs[1], outs[0])
    np.testing.assert_array_equal(outs[2], outs[0])


@pytest.mark.parametrize("case", CASES)
def test_reference_gradient_matches_finite_differences(case):
    _, theta, dims, acts, loss = build(case, seed=2)
    theta = theta.astype(np.float64)
    X, Y = batch(case, rows=4, seed=3)
    analytic = ref.stack_gradient(theta, dims, acts, loss, X, Y)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (ref.stack_loss(up, dims, acts, loss, X, Y) - ref.stack_loss(down, dims, acts, loss, X, Y)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case,B", [("unrolled-ce", 4), ("unrolled-wide", 12), ("unrolled-wide", 20),
                                    ("unrolled-big", 32)])
def test_train_epoch_matches_reference_replay(threads, case, B):
    """Shuffle order, masking noise on the input, sgd updates, a short last batch."""
    spec, theta, dims, acts, loss = build(case)
    X, _ = batch(case, rows=5 * B - 1, seed=4)
    seed, epoch, lr = 5, 2, 0.2
    train = _core.TrainSpec(noise=_core.NoiseType.masking, noise_level=0.25, lr=lr, batch_size=B,
                            seed=seed, num_threads=threads)
    expected = theta.astype(np.float64)
    empty = np.zeros(0, np.float32)
    mean_loss, steps = _core.stack_train_epoch(spec, train, theta, empty, empty, 0, X, X, epoch)
    order = _core.shuffled_rows(len(X), seed, epoch)
    total = 0.0
    for start in range(0, len(X), B):
        rows = order[start:start + B]
        Xt = np.empty((len(rows), X.shape[1]), np.float32)
        for i, r in enumerate(rows):
            _core.corrupt(X[r:r + 1], Xt[i:i + 1], _core.NoiseType.masking, 0.25, 0, 1, seed, epoch, r, 1)
        total += ref.stack_loss(expected, dims, acts, loss, Xt, X[rows]) * len(rows)
        expected = expected - lr * ref.stack_gradient(expected, dims, acts, loss, Xt, X[rows])
    assert steps == 5
    assert mean_loss == pytest.approx(total / len(X), rel=1e-4)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=1e-5)


def test_training_does_not_depend_on_where_theta_sits():
    """Fine-tuning from theta at every float offset from a cache line gives the same bits (the
    bias gradients are summed over the batch in an order that does not follow alignment)."""
    spec = _core.StackSpec([(64, 200, ACT["sigmoid"]), (200, 37, ACT["linear"])], OUT["nll"])
    theta = np.random.default_rng(0).normal(0, 0.1, spec.size).astype(np.float32)
    X = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    Y = np.eye(37, dtype=np.float32)[np.random.default_rng(2).integers(0, 37, 64)]
    train = _core.TrainSpec(lr=0.1, batch_size=16, num_threads=1)
    results = []
    for offset in range(16):
        shifted = np.empty(theta.size + 16, np.float32)[offset:offset + theta.size]
        shifted[:] = theta
        empty = np.zeros(0, np.float32)
        _core.stack_train_epoch(spec, train, shifted, empty, empty, 0, X, Y, 0)
        results.append(shifted.copy())
    for result in results:
        np.testing.assert_array_equal(result, results[0])


def test_same_seed_same_parameters_and_threads_agree():
    def run(threads):
        spec = _core.StackSpec([(64, 128, ACT["sigmoid"]), (128, 10, ACT["linear"])], OUT["nll"])
        theta = np.random.default_rng(0).normal(0, 0.1, spec.size).astype(np.float32)
        X = np.random.default_rng(1).random((500, 64), dtype=np.float32)
        Y = np.eye(10, dtype=np.float32)[np.random.default_rng(2).integers(0, 10, 500)]
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        train = _core.TrainSpec(optimizer=_core.Optimizer.adam, lr=0.01, batch_size=32, num_threads=threads)
        step = 0
        for epoch in range(2):
            _, step = _core.stack_train_epoch(spec, train, theta, m, v, step, X, Y, epoch)
        return theta
    np.testing.assert_array_equal(run(1), run(1))
    np.testing.assert_array_equal(run(2), run(2))
    np.testing.assert_allclose(run(1), run(2), rtol=1e-4, atol=1e-5)


def test_bad_stacks_are_refused():
    with pytest.raises(ValueError, match="takes 5 inputs but the layer below gives 4"):
        _core.StackSpec([(3, 4, ACT["sigmoid"]), (5, 2, ACT["linear"])], OUT["nll"])
    with pytest.raises(ValueError, match="cross-entropy needs a sigmoid output"):
        _core.StackSpec([(3, 4, ACT["linear"])], OUT["cross-entropy"])
    spec, theta, *_ = build("softmax")
    with pytest.raises(ValueError, match="Y: expected"):
        _core.stack_loss_and_gradient(spec, theta, np.zeros((3, 9), np.float32), np.zeros((2, 4), np.float32),
                                      np.zeros_like(theta), 1)


def test_cross_entropy_output_is_exact_when_saturated():
    """The unrolled stack's cross-entropy comes from the last pre-activation z (softplus(z) - y z,
    as a dA layer's), not from logs of sigmoid(z): with outputs saturated to 0 and 1 in float32
    it still matches the float64 formula, where clamped logs were off by the clamp."""
    spec, theta, dims, acts, loss = build("unrolled-ce")
    n_in, n_out = dims[-1]
    theta[-(n_in * n_out + n_out):] *= 40.0  # the output layer's weights and bias
    X, Y = batch("unrolled-ce", rows=6)
    A = ref.stack_forward(theta, dims, acts, loss, X)
    M, bias = ref.stack_unpack(theta, dims)[-1]
    Z = A[-2] @ M + bias
    assert np.abs(Z).max() > 30  # sigmoid(z) rounds to 0 or 1 in float32
    expected = np.logaddexp(0, Z) - Y * Z
    rows = np.empty(len(X), np.float32)
    _core.stack_row_loss(spec, theta, X, Y, rows, 1)
    np.testing.assert_allclose(rows, expected.sum(axis=1), rtol=1e-4)
    grad = np.zeros_like(theta)
    mean = _core.stack_loss_and_gradient(spec, theta, X, Y, grad, 1)
    assert mean == pytest.approx(expected.sum(axis=1).mean(), rel=1e-4)


def dropout_masks(dims, seed, epoch, rows, p):
    """One (len(rows), n_out) mask per hidden layer: 0 where the core drops a unit, 1/(1-p) where it keeps it."""
    return [np.array([_core.dropout_keeps(seed, epoch, r, j, n_out, p) for r in rows], np.float64) / (1 - p)
            for j, (_, n_out) in enumerate(dims[:-1])]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case,B,optimizer", [
    ("softmax", 4, "sgd"), ("unrolled-wide", 12, "sgd"), ("unrolled-big", 32, "sgd"), ("softmax", 8, "momentum"),
    # momentum fused into the backward pass: register tiles, split between threads, and a batch
    # past the tiles' 64 rows (the product into the velocity, then a pass adding it)
    ("unrolled-wide", 12, "momentum"), ("unrolled-big", 32, "momentum"), ("unrolled-big", 70, "momentum")])
def test_dropout_epoch_matches_reference_replay(threads, case, B, optimizer):
    """Hidden units dropped per row (the core's keys), the kept ones scaled by 1/(1-p); no
    gradient through a dropped unit; the derivative taken at the unit's own output."""
    spec, theta, dims, acts, loss = build(case)
    theta *= 0.3  # unsaturated outputs: the reference takes logs of the outputs, inexact near 0 and 1
    X, Y = batch(case, rows=3 * B + 1, seed=4)
    seed, epoch, lr, p = 7, 1, 0.1, 0.4
    train = _core.TrainSpec(dropout=p, lr=lr, batch_size=B, seed=seed, num_threads=threads,
                            optimizer=getattr(_core.Optimizer, optimizer))
    expected = theta.astype(np.float64)
    m = np.zeros_like(theta) if optimizer == "momentum" else np.zeros(0, np.float32)
    velocity = np.zeros_like(expected)
    mean_loss, steps = _core.stack_train_epoch(spec, train, theta, m, np.zeros(0, np.float32), 0, X, Y, epoch)
    order = _core.shuffled_rows(len(X), seed, epoch)
    total = 0.0
    for start in range(0, len(X), B):
        rows = order[start:start + B]
        masks = dropout_masks(dims, seed, epoch, rows, p)
        total += ref.stack_loss(expected, dims, acts, loss, X[rows], Y[rows], masks) * len(rows)
        grad = ref.stack_gradient(expected, dims, acts, loss, X[rows], Y[rows], masks)
        if optimizer == "momentum":
            velocity = 0.9 * velocity - lr * grad
            expected = expected + velocity
        else:
            expected = expected - lr * grad
    assert steps == 4
    assert mean_loss == pytest.approx(total / len(X), rel=1e-4)
    np.testing.assert_allclose(theta, expected, rtol=1e-4, atol=1e-5)


def test_dropout_gradient_matches_finite_differences_for_fixed_masks():
    """The reference's masked backprop, which the replay above trusts, against finite differences."""
    _, theta, dims, acts, loss = build("softmax", seed=2)
    theta = theta.astype(np.float64)
    X, Y = batch("softmax", rows=4, seed=3)
    masks = dropout_masks(dims, 3, 0, range(4), 0.3)
    analytic = ref.stack_gradient(theta, dims, acts, loss, X, Y, masks)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        up, down = theta.copy(), theta.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (ref.stack_loss(up, dims, acts, loss, X, Y, masks)
                      - ref.stack_loss(down, dims, acts, loss, X, Y, masks)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_dropout_masks_drop_the_asked_fraction_independently():
    keep = np.array([_core.dropout_keeps(1, 0, r, 0, 1000, 0.3) for r in range(200)])
    assert abs(keep.mean() - 0.7) < 0.01
    other_layer = np.array([_core.dropout_keeps(1, 0, r, 1, 1000, 0.3) for r in range(200)])
    other_epoch = np.array([_core.dropout_keeps(1, 1, r, 0, 1000, 0.3) for r in range(200)])
    for other in (other_layer, other_epoch):  # independent draws agree on 0.7^2 + 0.3^2 of the units
        assert abs(np.mean(keep == other) - 0.58) < 0.01
    assert np.all(_core.dropout_keeps(1, 0, 5, 0, 100, 0.0))


def test_dropout_out_of_range_is_refused():
    with pytest.raises(ValueError, match="dropout must be in"):
        _core.TrainSpec(dropout=1.0)


def test_dropout_is_refused_for_a_da_layer():
    """One TrainSpec serves both; a dA layer has no hidden layer below its output to drop."""
    spec = _core.LayerSpec(4, 3)
    theta = np.zeros(spec.size, np.float32)
    _core.init_params(spec, theta, 0)
    empty = np.zeros(0, np.float32)
    with pytest.raises(ValueError, match="dropout applies to fine-tuning"):
        _core.train_epoch(spec, _core.TrainSpec(dropout=0.5), theta, empty, empty, 0,
                          np.zeros((5, 4), np.float32), 0)


def test_the_stack_layout_comes_from_the_core_and_matches_its_size():
    """StackSpec.layout(): M_j (n_in, n_out) then bias_j (n_out), bottom up, with no gaps; the
    packing in stack.py follows it, so the blocks of a packed classifier are the model's."""
    from sdae_cli.layer import Layer
    from sdae_cli.model import SDAE
    from sdae_cli.stack import classifier_stack

    spec = _core.StackSpec([(5, 3, _core.Activation.sigmoid), (3, 2, _core.Activation.linear)],
                           _core.OutputLoss.softmax_nll)
    assert spec.layout() == [("M0", 0, (5, 3)), ("bias0", 15, (3,)), ("M1", 18, (3, 2)), ("bias1", 24, (2,))]
    assert spec.size == 26
    layer = Layer(5, 3, theta=np.arange(Layer(5, 3).spec.size, dtype=np.float32))
    model = SDAE([layer], head_W=np.full((3, 2), 7, np.float32), head_b=np.array([8, 9], np.float32))
    spec, theta = classifier_stack(model)
    assert theta.size == spec.size
    np.testing.assert_array_equal(theta[:15].reshape(5, 3), layer.params()["W"])
    np.testing.assert_array_equal(theta[15:18], layer.params()["b"])
    np.testing.assert_array_equal(theta[18:], [7] * 6 + [8, 9])
