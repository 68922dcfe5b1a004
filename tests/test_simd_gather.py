"""The gathered-row intrinsics of the CBOW kernel against plain loops, around the 16-float blocks."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from embedkit._kernels.simd_gather import (row_error_update, rows_add_row, rows_error_update,
                                           rows_mean)

DIMS = [1, 7, 15, 16, 17, 63, 64, 65, 100, 131, 300]
IDX = np.array([3, 7, 3, 11, 0], np.int64)  # row 3 listed twice


@njit
def _mean(H, r, A, idx, m):
    rows_mean(H, r, A, idx, m)


@njit
def _add(A, idx, m, E, r):
    rows_add_row(A, idx, m, E, r)


@njit
def _error_update(E, r, W, j, H, q, g):
    row_error_update(E, r, W, j, H, q, g)


@njit
def _errors_update(E, r, W, idx, m, H, q, G):
    rows_error_update(E, r, W, idx, m, H, q, G)


def _rows(dim, n, seed):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


@pytest.mark.parametrize("dim", DIMS)
def test_rows_mean_equals_the_plain_loop_bit_for_bit(dim):
    A = _rows(dim, 12, dim)
    H = np.full((2, dim), 7.0, np.float32)
    _mean(H, 1, A, IDX, 4)  # the first 4 indices only
    ref = np.zeros(dim, np.float32)
    for i in IDX[:4]:
        ref += A[i]
    ref *= np.float32(1.0) / np.float32(4)
    np.testing.assert_array_equal(H[1], ref)
    np.testing.assert_array_equal(H[0], np.full(dim, 7.0, np.float32))


@pytest.mark.parametrize("dim", DIMS)
def test_rows_add_row_adds_to_each_listed_row_once_per_listing(dim):
    A = _rows(dim, 12, 100 + dim)
    E = _rows(dim, 2, 200 + dim)
    before = A.copy()
    _add(A, IDX, 4, E, 1)
    ref = before.copy()
    for i in IDX[:4]:
        ref[i] += E[1]
    np.testing.assert_array_equal(A, ref)


@pytest.mark.parametrize("dim", DIMS)
def test_row_error_update_uses_the_row_before_its_update(dim):
    E = _rows(dim, 2, 300 + dim)
    W = _rows(dim, 5, 400 + dim)
    H = _rows(dim, 3, 500 + dim)
    E0, W0, g = E.astype(np.float64), W.astype(np.float64), 0.3
    _error_update(E, 1, W, 2, H, 0, np.float32(g))
    np.testing.assert_allclose(E[1], E0[1] + g * W0[2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(W[2], W0[2] + g * H[0].astype(np.float64), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.delete(W, 2, axis=0), np.delete(W0, 2, axis=0))
    np.testing.assert_array_equal(E[0], E0[0])


@pytest.mark.parametrize("dim", DIMS)
def test_rows_error_update_equals_one_row_error_update_per_listed_row(dim):
    # the fused pass against the one-row intrinsic called in order on a zeroed error row,
    # a row listed twice included (its second term sees its first update)
    E = _rows(dim, 2, 600 + dim)
    W = _rows(dim, 12, 700 + dim)
    H = _rows(dim, 3, 800 + dim)
    G = np.array([0.3, -0.2, 0.1, -0.05, 0.4], np.float32)
    E_ref, W_ref = E.copy(), W.copy()
    E_ref[1] = 0.0
    for j in range(4):
        _error_update(E_ref, 1, W_ref, IDX[j], H, 2, G[j])
    _errors_update(E, 1, W, IDX, 4, H, 2, G)
    np.testing.assert_array_equal(E, E_ref)
    np.testing.assert_array_equal(W, W_ref)


def test_rows_mean_refuses_int32_indices():
    A = np.ones((4, 32), np.float32)
    with pytest.raises(TypingError, match="C-contiguous int64"):
        _mean(np.empty((1, 32), np.float32), 0, A, np.zeros(2, np.int32), 2)
