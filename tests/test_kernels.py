"""Each product kernel of the core (src/cpp/sdae/gemm.hpp) against NumPy at its edge shapes, run
directly through the private _core hooks; and the dispatcher's choice of kernel, shape by shape."""
import itertools

import numpy as np
import pytest

from sdae_cli import _core

LIMITS = _core._kernel_limits
TILES = LIMITS["short_tiles"]
BLAS = _core.gemm_backend == "openblas"
needs_tiles = pytest.mark.skipif(
    not TILES, reason="this build has no register tiles (short_batch.cpp: AVX-512, or AVX2 with FMA)")
needs_blas = pytest.mark.skipif(not BLAS, reason="this build found no OpenBLAS")


def operands(m, n, k, ta, tb, seed=0, zeros=0.0):
    """C (m, n), A stored as op(A)'s transpose when ta, B likewise; uniform in [-1, 1), with a
    fraction `zeros` of A set to 0 (masked inputs, which the streaming loops skip)."""
    rng = np.random.default_rng(seed)
    A = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
    A[rng.random(A.shape) < zeros] = 0.0
    B = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
    C = rng.uniform(-1, 1, (m, n)).astype(np.float32)
    return C, A, B


def reference(C, A, ta, B, tb, alpha, beta):
    """alpha op(A) op(B) + beta C in float64."""
    a = A.astype(np.float64).T if ta else A.astype(np.float64)
    b = B.astype(np.float64).T if tb else B.astype(np.float64)
    return alpha * (a @ b) + beta * C.astype(np.float64)


def check_kernel(kernel, m, n, k, ta, tb, alpha, beta, zeros=0.0):
    C, A, B = operands(m, n, k, ta, tb, seed=m * 1000 + n * 10 + k, zeros=zeros)
    expected = reference(C, A, ta, B, tb, alpha, beta)
    # C as a window of a larger array: any row stride, and nothing written outside it.
    big = np.full((m + 2, n + 5), 7.0, np.float32)
    big[1:m + 1, 2:n + 2] = C
    _core._run_kernel(kernel, big, A, ta, B, tb, alpha, beta, (1, 2))
    np.testing.assert_allclose(big[1:m + 1, 2:n + 2], expected, rtol=1e-5, atol=2e-6 * (k + 1),
                               err_msg=f"{kernel} at m={m} n={n} k={k}")
    outside = np.ones(big.shape, bool)
    outside[1:m + 1, 2:n + 2] = False
    assert np.all(big[outside] == 7.0), f"{kernel} wrote outside C at m={m} n={n} k={k}"


# The streaming loops: a dA step of 1..kSmallBatch (+1) rows, odd and vector-edge widths.
ROWS_SMALL = range(1, LIMITS["small_batch"] + 2)
WIDTHS = (1, 15, 16, 17, 33)


@pytest.mark.parametrize("b", ROWS_SMALL)
def test_small_times(b):
    for n, k in itertools.product(WIDTHS, (1, 7, 31)):
        check_kernel("small_times", b, n, k, False, False, 1.0, 0.0, zeros=0.3)


@pytest.mark.parametrize("b", ROWS_SMALL)
def test_small_times_transpose(b):
    for n, k in itertools.product((1, 5, 9), WIDTHS):
        check_kernel("small_times_transpose", b, n, k, False, True, 1.0, 0.0)


@pytest.mark.parametrize("k", range(1, 2 * LIMITS["small_batch"] + 2))
def test_small_rank_update(k):
    for m, n in itertools.product((1, 3, 17), WIDTHS):
        check_kernel("small_rank_update", m, n, k, True, False, -0.37, 1.0, zeros=0.3)


# The register tiles: with AVX-512 tiles of 8, 4, 2, 1 rows, blocks of 48, 32, 16 columns with an
# overlapping last block, panels of 240 columns and 32 rows along the vectors; with AVX2 tiles of
# 6, 4, 2, 1 rows, blocks of 16 and 8 columns, panels of 96 and 16 rows along the vectors.
TILE_ROWS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 15, 16, 17, 31, 32, 33, 127, 128)
TILE_COLS = (16, 17, 31, 32, 33, 47, 48, 49, 95, 96, 97, 191, 192, 193, 239, 240, 241, 479, 480, 481)


@needs_tiles
@pytest.mark.parametrize("b", TILE_ROWS)
def test_short_times(b):
    for n in TILE_COLS:
        check_kernel("short_times", b, n, 3 if n > 100 else 17, False, False, 1.0, 0.0)
    check_kernel("short_times", b, 15, 5, False, False, 1.0, 0.0)  # under 16 columns: Eigen inside
    check_kernel("short_times", b, 48, 1, False, False, 1.0, 0.0)


@needs_tiles
@pytest.mark.parametrize("b", (1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 127, 128))
def test_short_times_transpose(b):
    # n: the rows of B (tiles of 8 or 6, then 4, 2, 1); k: the inner size, along the rows of both.
    for n, k in itertools.product((1, 3, 8, 9, 16, 17, 49), (1, 15, 16, 17, 33)):
        check_kernel("short_times_transpose", b, n, k, False, True, 1.0, 0.0)


@needs_tiles
@pytest.mark.parametrize("k", (1, 2, 7, 8, 9, 31, 32, 33, 63, 64))
def test_short_rank_update(k):
    for m, n in itertools.product((1, 3, 8, 9, 17), (15, 16, 17, 47, 48, 49, 100)):
        check_kernel("short_rank_update", m, n, k, True, False, -0.37, 1.0)


@pytest.mark.parametrize("kernel", ["eigen", pytest.param("blas", marks=needs_blas)])
@pytest.mark.parametrize("ta,tb", list(itertools.product((False, True), repeat=2)))
def test_general_kernels(kernel, ta, tb):
    for (m, n, k), (alpha, beta) in itertools.product(
            [(1, 1, 1), (5, 3, 7), (33, 65, 31), (32, 64, 32), (100, 70, 129)],
            [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.25)]):
        check_kernel(kernel, m, n, k, ta, tb, alpha, beta)


def test_kernels_refuse_forms_they_do_not_compute():
    C, A, B = operands(5, 16, 4, False, False)
    with pytest.raises(_core.CoreError, match="does not compute"):
        _core._run_kernel("small_times", C, A, False, B, False, 2.0, 0.0)
    with pytest.raises(_core.CoreError, match="does not compute"):
        _core._run_kernel("small_rank_update", C, A, False, B, False, 1.0, 1.0)
    with pytest.raises(_core.CoreError, match="expected"):
        _core._run_kernel("eigen", C, A, False, B.T.copy(), False, 1.0, 0.0)
    if not TILES:
        with pytest.raises(_core.CoreError, match="not in this build"):
            _core._run_kernel("short_times", C, A, False, B, False, 1.0, 0.0)


def expected_kernel(m, n, k, ta, tb, alpha, beta, step_batch=0):
    """The dispatch rules of gemm.hpp, written out again."""
    times = not ta and alpha == 1.0 and beta == 0.0
    update = ta and not tb and beta == 1.0
    if 0 < step_batch <= LIMITS["small_batch"]:
        if times:
            return "small_times_transpose" if tb else "small_times"
        if update:
            return "small_rank_update"
    if TILES:
        if times and n >= 16 and LIMITS["small_batch"] < m <= LIMITS["times_rows"]:
            return "short_times_transpose" if tb else "short_times"
        if update and k <= LIMITS["update_rows"] and n >= 16:
            return "short_rank_update"
    if BLAS and min(m, k) >= 32 and n >= 64:
        return "blas"
    return "eigen"


def test_choose_kernel_at_the_edges():
    edges = (1, 4, 5, 15, 16, 31, 32, 63, 64, 65, 128, 129, 1000)
    forms = [(False, False, 1.0, 0.0), (False, True, 1.0, 0.0), (True, False, -0.1, 1.0),
             (True, False, 1.0, 0.0), (False, False, 0.5, 1.0), (True, True, 1.0, 0.0)]
    seen = set()
    for (m, n, k), form, step in itertools.product(itertools.product(edges, repeat=3), forms, (0, 1, 4, 5, 32)):
        got = _core._choose_kernel(m, n, k, *form, step)
        assert got == expected_kernel(m, n, k, *form, step), (m, n, k, form, step)
        seen.add(got)
    assert {"eigen", "small_times", "small_times_transpose", "small_rank_update"} <= seen
    assert ("blas" in seen) == BLAS
    assert ("short_times" in seen) == TILES


def test_choose_kernel_named_cases():
    small = LIMITS["small_batch"]
    # A dA step of batch 1..4: the streaming loops, for its products and its SGD update only.
    assert _core._choose_kernel(small, 500, 784, False, False, 1.0, 0.0, small) == "small_times"
    assert _core._choose_kernel(small, 784, 500, False, True, 1.0, 0.0, small) == "small_times_transpose"
    assert _core._choose_kernel(784, 500, 2 * small, True, False, -0.01, 1.0, small) == "small_rank_update"
    assert _core._choose_kernel(784, 500, 2 * small, True, False, 1.0, 0.0, small) != "small_rank_update"
    # The same shapes outside a step (encode, fine-tuning) never take them.
    assert not _core._choose_kernel(small, 500, 784, False, False, 1.0, 0.0).startswith("small")
    # Encoding 100,000 rows on two threads: blocks of 50,000 rows go to the BLAS (or Eigen).
    assert _core._choose_kernel(50000, 1000, 784, False, False, 1.0, 0.0) == ("blas" if BLAS else "eigen")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("m,n,k,ta,tb", [
    (300, 200, 64, False, False),   # tall: split by rows
    (64, 2000, 40, False, True),    # wide: split by columns
    (200, 300, 90, True, False),    # an update's form
    (3, 500, 300, False, False),
])
def test_gemm_entry_against_numpy(threads, m, n, k, ta, tb):
    for alpha, beta in ((1.0, 0.0), (-0.25, 1.0)):
        C, A, B = operands(m, n, k, ta, tb, seed=threads)
        expected = reference(C, A, ta, B, tb, alpha, beta)
        _core._gemm(C, A, ta, B, tb, alpha, beta, threads)
        np.testing.assert_allclose(C, expected, rtol=1e-5, atol=2e-6 * (k + 1))


def test_gemm_entry_runs_the_chosen_kernel():
    """With one thread, gemm gives the bits of the kernel choose_kernel names."""
    for (m, n, k, ta, tb, alpha, beta), step in itertools.product(
            [(3, 40, 20, False, False, 1.0, 0.0), (3, 40, 20, False, True, 1.0, 0.0),
             (40, 50, 6, True, False, -0.1, 1.0), (20, 70, 40, False, False, 1.0, 0.0),
             (70, 90, 40, False, True, 1.0, 0.0), (40, 80, 100, True, False, -0.1, 1.0)], (0, 3, 20)):
        C, A, B = operands(m, n, k, ta, tb)
        direct = C.copy()
        _core._run_kernel(_core._choose_kernel(m, n, k, ta, tb, alpha, beta, step), direct, A, ta, B, tb, alpha, beta)
        _core._gemm(C, A, ta, B, tb, alpha, beta, 1, step)
        assert C.tobytes() == direct.tobytes()
