"""The vector row intrinsics against NumPy in float64, at row lengths around the 16-float blocks."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from embedkit._kernels.simd_rows import (row_add_combination, row_copy, row_dot, row_dots,
                                         rows_add_combination)

DIMS = [1, 7, 15, 16, 17, 63, 64, 65, 100, 131, 300]


@njit
def _dot(A, i, B, j):
    return row_dot(A, i, B, j)


@njit
def _combine(D, r, C, q, S, m):
    row_add_combination(D, r, C, q, S, m)


@pytest.mark.parametrize("dim", DIMS)
def test_row_dot_equals_the_float64_dot(dim):
    rng = np.random.default_rng(dim)
    A = rng.standard_normal((4, dim)).astype(np.float32)
    B = rng.standard_normal((5, dim)).astype(np.float32)
    for i, j in [(0, 0), (3, 4), (2, 1)]:
        ref = A[i].astype(np.float64) @ B[j].astype(np.float64)
        assert _dot(A, i, B, j) == pytest.approx(ref, rel=1e-5, abs=1e-5 * np.sqrt(dim))


@pytest.mark.parametrize("dim", DIMS)
def test_row_add_combination_updates_only_its_row(dim):
    rng = np.random.default_rng(100 + dim)
    D = rng.standard_normal((6, dim)).astype(np.float32)
    S = rng.standard_normal((5, dim)).astype(np.float32)
    C = rng.standard_normal((2, 5)).astype(np.float32)
    before = D.copy()
    _combine(D, 4, C, 1, S, 3)  # only the first 3 rows of S take part
    ref = before[4].astype(np.float64) + C[1, :3].astype(np.float64) @ S[:3].astype(np.float64)
    np.testing.assert_allclose(D[4], ref, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.delete(D, 4, axis=0), np.delete(before, 4, axis=0))


def test_row_add_combination_of_no_rows_leaves_the_row():
    D = np.arange(40, dtype=np.float32).reshape(2, 20)
    before = D.copy()
    _combine(D, 1, np.ones((1, 3), np.float32), 0, np.ones((3, 20), np.float32), 0)
    np.testing.assert_array_equal(D, before)


def test_row_dot_refuses_a_non_contiguous_matrix():
    A = np.ones((4, 32), np.float32)
    with pytest.raises(TypingError, match="C-contiguous float32"):
        _dot(A[:, ::2], 0, A, 0)


@njit
def _copy(D, r, S, k):
    row_copy(D, r, S, k)


@pytest.mark.parametrize("dim", DIMS)
def test_row_copy_copies_one_row_exactly(dim):
    rng = np.random.default_rng(200 + dim)
    D = rng.standard_normal((3, dim)).astype(np.float32)
    S = rng.standard_normal((4, dim)).astype(np.float32)
    before = D.copy()
    _copy(D, 2, S, 1)
    np.testing.assert_array_equal(D[2], S[1])
    np.testing.assert_array_equal(D[:2], before[:2])


@njit
def _dots(A, i, B, m, OUT, q):
    row_dots(A, i, B, m, OUT, q)


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("m", [1, 2, 3, 5, 6, 7, 8, 9, 15, 17])
def test_row_dots_equal_the_float64_dots(dim, m):
    rng = np.random.default_rng(300 + dim + m)
    A = rng.standard_normal((3, dim)).astype(np.float32)
    B = rng.standard_normal((m, dim)).astype(np.float32)
    out = np.full((2, m + 1), np.nan, np.float32)
    _dots(A, 2, B, m, out, 1)
    ref = B.astype(np.float64) @ A[2].astype(np.float64)
    np.testing.assert_allclose(out[1, :m], ref, rtol=1e-5, atol=1e-5 * np.sqrt(dim))
    assert np.isnan(out[0]).all() and np.isnan(out[1, m])  # nothing past the m products


@njit
def _combine_rows(D, R, t0, k, C, S, m):
    rows_add_combination(D, R, t0, k, C, S, m)


@pytest.mark.parametrize("dim", [5, 64, 100])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rows_add_combination_equals_one_row_at_a_time(dim, k):
    rng = np.random.default_rng(400 + dim + k)
    D = rng.standard_normal((7, dim)).astype(np.float32)
    S = rng.standard_normal((4, dim)).astype(np.float32)
    C = rng.standard_normal((5, 4)).astype(np.float32)
    R = np.array([6, 0, 4, 2, 5], np.int64)
    ref = D.copy()
    for t in range(1, 1 + k):
        _combine(ref, R[t], C, t, S, 4)
    _combine_rows(D, R, 1, k, C, S, 4)
    np.testing.assert_array_equal(D, ref)
