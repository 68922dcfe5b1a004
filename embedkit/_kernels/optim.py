"""Numba kernels of the Adam update, fused into one pass over a parameter.

NumPy's Adam step makes about ten passes over each parameter with a temporary per
operation; for the language model's output and embedding tables (vocabulary x width) that
is most of a training step.  These kernels read ``p``, ``m``, ``v`` and the gradient once.

``adam_rows`` applies the *dense* Adam step (every row's moments decay and every row moves
by its momentum, as ``torch.optim.Adam`` does) to a table whose gradient is given only on
some rows, without materialising the zero rows.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from embedkit._kernels._options import FAST as _JIT


@njit(**_JIT)
def adam_dense(p, m, v, g, gscale, b1, b2, lr_t, eps):
    """One Adam step on flat arrays: ``m = b1 m + (1 - b1) s g``, ``v = b2 v + (1 - b2)
    (s g)^2``, ``p -= lr_t m / (sqrt(v) + eps)`` with ``s = gscale`` (the clipping factor)."""
    c1 = 1 - b1
    c2 = 1 - b2
    for i in range(p.shape[0]):
        gi = g[i] * gscale
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (math.sqrt(vi) + eps)


@njit(**_JIT)
def _adam_decay(p, m, v, b1, b2, lr_t, eps):
    """The Adam step of elements whose gradient is zero: the moments decay, ``p`` still moves."""
    for i in range(p.shape[0]):
        mi = b1 * m[i]
        vi = b2 * v[i]
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (math.sqrt(vi) + eps)


@njit(**_JIT)
def adam_rows(P, M, Vs, rows, G, gscale, b1, b2, lr_t, eps):
    """The dense Adam step on table ``P`` (n, d) whose gradient is ``G[k]`` on row
    ``rows[k]`` (strictly increasing) and zero on every other row; ``M``, ``Vs`` its moments."""
    k = 0
    nk = rows.shape[0]
    for r in range(P.shape[0]):
        if k < nk and rows[k] == r:
            adam_dense(P[r], M[r], Vs[r], G[k], gscale, b1, b2, lr_t, eps)
            k += 1
        else:
            _adam_decay(P[r], M[r], Vs[r], b1, b2, lr_t, eps)


_CHUNK = 4096


@njit(parallel=True, **_JIT)
def adam_dense_parallel(p, m, v, g, gscale, b1, b2, lr_t, eps):
    """:func:`adam_dense` with the elements split over Numba's threads in chunks (the same
    update)."""
    n = p.shape[0]
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        a = c * _CHUNK
        b = min(a + _CHUNK, n)
        adam_dense(p[a:b], m[a:b], v[a:b], g[a:b], gscale, b1, b2, lr_t, eps)


@njit(parallel=True, **_JIT)
def adam_rows_parallel(P, M, Vs, rows, G, gscale, b1, b2, lr_t, eps):
    """:func:`adam_rows` with the rows split over Numba's threads (the same update): each row
    finds its gradient row through a position table instead of the sequential merge."""
    n = P.shape[0]
    pos = np.full(n, -1, np.int64)
    for k in range(rows.shape[0]):
        pos[rows[k]] = k
    for r in prange(n):
        k = pos[r]
        if k >= 0:
            adam_dense(P[r], M[r], Vs[r], G[k], gscale, b1, b2, lr_t, eps)
        else:
            _adam_decay(P[r], M[r], Vs[r], b1, b2, lr_t, eps)
