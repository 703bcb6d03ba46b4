"""Inference gives a row the same bits in any batch: its products are chains of fused
multiply-adds down k, one per element (src/cpp/sdae/rowwise.hpp), so a row's codes, reconstruction
or class probabilities do not depend on the rows computed with it, its place among them, the
thread count, or the blocks a pipe delivers (the CLI half is in test_text.py)."""
import numpy as np
import pytest

from sdae_cli import _core

TILES = _core._kernel_limits["short_tiles"]
FUSED = _core._kernel_limits["fused_chains"]  # an FMA instruction in the build's target
SHAPES = [(1, 1), (6, 4), (3, 15), (5, 16), (7, 17), (31, 33), (50, 100), (20, 300), (9, 600)]


def fma_chain(A, M):
    """A M replayed in NumPy as the kernel promises to compute it: for each k in order, s <- the
    float32 rounding of a*m + s. (a*m is exact in float64; rounding the float64 sum again to
    float32 differs from one rounding only on exact ties, which these inputs do not hit.)"""
    S = np.zeros((A.shape[0], M.shape[1]), np.float32)
    for k in range(A.shape[1]):
        S = (A[:, k:k + 1].astype(np.float64) * M[k].astype(np.float64) + S).astype(np.float32)
    return S


def plain_chain(A, M):
    """The same chain where the build has no FMA instruction: a*m rounded to float32, then the
    sum rounded again."""
    S = np.zeros((A.shape[0], M.shape[1]), np.float32)
    for k in range(A.shape[1]):
        S = (A[:, k:k + 1] * M[k]) + S
    return S


def operands(b, n, m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (b, n)).astype(np.float32), rng.uniform(-1, 1, (n, m)).astype(np.float32)


@pytest.mark.parametrize("n,m", SHAPES)
def test_rowwise_times_is_the_chain_of_fused_multiply_adds(n, m):
    A, M = operands(13, n, m, seed=n * 1000 + m)  # 13 rows: two tiles of 6 and one row
    out = np.zeros((13, m), np.float32)
    _core._run_kernel("rowwise_times", out, A, False, M, False, 1.0, 0.0)
    assert out.tobytes() == (fma_chain(A, M) if FUSED else plain_chain(A, M)).tobytes()


@pytest.mark.skipif(not TILES, reason="this build has no register tiles (short_batch.cpp: AVX-512, or AVX2 with FMA)")
@pytest.mark.parametrize("n,m", [s for s in SHAPES if s[1] >= 16])
def test_the_register_tiles_compute_the_same_chains(n, m):
    A, M = operands(21, n, m, seed=m)
    tiles = np.zeros((21, m), np.float32)
    _core._run_kernel("short_times", tiles, A, False, M, False, 1.0, 0.0)
    assert tiles.tobytes() == fma_chain(A, M).tobytes()


def test_row_independent_products_take_the_chains():
    for m, n, k in [(1, 4, 3), (1000, 15, 784), (5, 16, 784), (512, 1000, 784), (100000, 1000, 1000)]:
        expected = "short_times" if TILES and n >= 16 else "rowwise_times"
        assert _core._choose_kernel(m, n, k, False, False, 1.0, 0.0, 0, True) == expected
    # Only C = A B has a row-independent form: the rest is a mistake inside the core.
    with pytest.raises(_core.CoreError, match="C = A B"):
        _core._choose_kernel(10, 20, 30, False, True, 1.0, 0.0, 0, True)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("n,m", [(784, 1000), (50, 10), (40, 33)])
def test_a_row_gets_the_same_bits_alone_or_in_any_batch(threads, n, m):
    A, M = operands(300, n, m, seed=3)
    whole = np.zeros((300, m), np.float32)
    _core._gemm(whole, A, False, M, False, 1.0, 0.0, threads, 0, True)
    np.testing.assert_allclose(whole, A.astype(np.float64) @ M, rtol=1e-5, atol=1e-5 * n)
    for start, stop in [(0, 1), (299, 300), (7, 8), (5, 13), (1, 129), (17, 300)]:
        part = np.zeros((stop - start, m), np.float32)
        _core._gemm(part, A[start:stop], False, M, False, 1.0, 0.0, threads, 0, True)
        assert part.tobytes() == whole[start:stop].tobytes(), (start, stop)


CHAINS = {
    "softmax over 10 classes": ([(77, 53, "sigmoid"), (53, 10, "sigmoid")], "softmax_nll"),
    "an unrolled autoencoder": ([(30, 20, "sigmoid"), (20, 7, "tanh"), (7, 20, "relu"), (20, 30, "sigmoid")],
                                "squared_error"),
}


@pytest.mark.parametrize("name", CHAINS)
@pytest.mark.parametrize("threads", [1, 2])
def test_the_chain_gives_a_row_the_same_bits_in_any_block(name, threads):
    """stack_forward (encode, denoise, predict, score): rows cut into blocks of every kind,
    including past its panels of 512 rows, give the bits of the whole and of each row alone."""
    layers, loss = CHAINS[name]
    spec = _core.StackSpec([(i, o, getattr(_core.Activation, a)) for i, o, a in layers],
                           getattr(_core.OutputLoss, loss))
    theta = np.random.default_rng(1).normal(0, 0.5, spec.size).astype(np.float32)
    X = np.random.default_rng(2).random((1100, layers[0][0]), dtype=np.float32)
    whole = np.zeros((1100, spec.n_out), np.float32)
    _core.stack_forward(spec, theta, X, whole, threads)
    rng = np.random.default_rng(threads)
    cuts = np.unique(np.concatenate([[0, 1, 2, 513, 1100], rng.integers(0, 1100, 20)]))
    for start, stop in zip(cuts[:-1], cuts[1:]):
        part = np.zeros((stop - start, spec.n_out), np.float32)
        _core.stack_forward(spec, theta, X[start:stop], part, threads)
        assert part.tobytes() == whole[start:stop].tobytes(), (start, stop)
    for row in (0, 511, 512, 1099):
        alone = np.zeros((1, spec.n_out), np.float32)
        _core.stack_forward(spec, theta, X[row:row + 1], alone, 1)
        assert alone.tobytes() == whole[row:row + 1].tobytes(), row


def test_a_model_encodes_and_predicts_a_row_as_in_the_whole_set():
    rng = np.random.default_rng(4)
    X = rng.random((400, 12), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    pytest.importorskip("sklearn", reason="the model is trained through the scikit-learn estimator")
    from sdae_cli.sklearn import SDAEClassifier

    model = SDAEClassifier(layers=(9, 5), epochs=1, finetune_epochs=1, n_threads=1).fit(X, y).model_
    codes = model.encode(X, threads=2)
    for row in (0, 1, 200, 399):
        assert model.encode(X[row:row + 1], threads=1).tobytes() == codes[row:row + 1].tobytes()
    proba = model.predict_proba(X, threads=2)
    for start, stop in [(0, 7), (7, 300), (300, 400)]:
        assert model.predict_proba(X[start:stop], threads=1).tobytes() == proba[start:stop].tobytes()
