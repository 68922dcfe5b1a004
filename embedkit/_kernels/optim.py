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
def adam_rows(P, M, Vs, rows, G, gscale, b1, b2, lr_t, eps):
    """The dense Adam step on table ``P`` (n, d) whose gradient is ``G[k]`` on row
    ``rows[k]`` (strictly increasing) and zero on every other row; ``M``, ``Vs`` its moments."""
    n, d = P.shape
    c1 = 1 - b1
    c2 = 1 - b2
    k = 0
    nk = rows.shape[0]
    for r in range(n):
        pr = P[r]
        mr = M[r]
        vr = Vs[r]
        if k < nk and rows[k] == r:
            gr = G[k]
            for j in range(d):
                gj = gr[j] * gscale
                mj = b1 * mr[j] + c1 * gj
                vj = b2 * vr[j] + c2 * gj * gj
                mr[j] = mj
                vr[j] = vj
                pr[j] -= lr_t * mj / (math.sqrt(vj) + eps)
            k += 1
        else:
            for j in range(d):
                mj = b1 * mr[j]
                vj = b2 * vr[j]
                mr[j] = mj
                vr[j] = vj
                pr[j] -= lr_t * mj / (math.sqrt(vj) + eps)


def _adam_dense_par(p, m, v, g, gscale, b1, b2, lr_t, eps):
    """:func:`adam_dense` with the elements split over Numba's threads (the same update)."""
    c1 = 1 - b1
    c2 = 1 - b2
    for i in prange(p.shape[0]):
        gi = g[i] * gscale
        mi = b1 * m[i] + c1 * gi
        vi = b2 * v[i] + c2 * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (math.sqrt(vi) + eps)


def _adam_rows_par(P, M, Vs, rows, G, gscale, b1, b2, lr_t, eps):
    """:func:`adam_rows` with the rows split over Numba's threads (the same update): each row
    finds its gradient row through a position table instead of the sequential merge."""
    n, d = P.shape
    c1 = 1 - b1
    c2 = 1 - b2
    pos = np.full(n, -1, np.int64)
    for k in range(rows.shape[0]):
        pos[rows[k]] = k
    for r in prange(n):
        pr = P[r]
        mr = M[r]
        vr = Vs[r]
        k = pos[r]
        if k >= 0:
            gr = G[k]
            for j in range(d):
                gj = gr[j] * gscale
                mj = b1 * mr[j] + c1 * gj
                vj = b2 * vr[j] + c2 * gj * gj
                mr[j] = mj
                vr[j] = vj
                pr[j] -= lr_t * mj / (math.sqrt(vj) + eps)
        else:
            for j in range(d):
                mj = b1 * mr[j]
                vj = b2 * vr[j]
                mr[j] = mj
                vr[j] = vj
                pr[j] -= lr_t * mj / (math.sqrt(vj) + eps)


adam_dense_parallel = njit(_adam_dense_par, parallel=True, **_JIT)
adam_rows_parallel = njit(_adam_rows_par, parallel=True, **_JIT)
