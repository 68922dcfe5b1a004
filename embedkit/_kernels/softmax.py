"""Numba kernels of the full softmax over a large vocabulary (the language model's exact
evaluation, and the log-softmax of a generation step).

The logits ``L = h @ W.T`` come from one BLAS GEMM into a reused buffer; the kernel then
adds the bias and reduces each row in two passes over it (the row stays in cache): the
maximum, then the sum of exponentials.  NumPy would make five passes over the whole
``(rows, V)`` block with a temporary each; this makes two per row and allocates nothing.
``softmax_nll_rows_parallel`` is the same source with the rows split over Numba's threads.
``output_log_softmax`` computes the few rows of a decoding step (the hypotheses of a beam)
itself, output matrix included, in one pass over that matrix.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from embedkit._kernels._options import FAST as _JIT


def _softmax_nll_rows(L, b, tgt, out):
    """``out[i] = log sum_j exp(L[i, j] + b[j]) - (L[i, tgt[i]] + b[tgt[i]])``, the negative
    log-likelihood of each row's target under the softmax of its logits (float64 out; the
    sum of exponentials is accumulated in float64 after subtracting the row maximum).

    ``L`` (n, V) and ``b`` (V,) of one float dtype, ``tgt`` (n,) ids in ``[0, V)``,
    ``out`` (n,) float64.
    """
    n, V = L.shape
    for i in prange(n):
        row = L[i]
        m = row[0] + b[0]
        for j in range(V):
            v = row[j] + b[j]
            if v > m:
                m = v
        s = 0.0
        for j in range(V):
            s += np.float64(math.exp(row[j] + b[j] - m))
        t = tgt[i]
        out[i] = math.log(s) + np.float64(m) - np.float64(row[t] + b[t])


softmax_nll_rows = njit(_softmax_nll_rows, **_JIT)
softmax_nll_rows_parallel = njit(_softmax_nll_rows, parallel=True, **_JIT)


def output_log_softmax(x, W, b, out):
    """The output layer and log-softmax of a few rows at once (one decoding step of
    ``K`` hypotheses): ``out[k, v] = x[k] . W[v] + b[v] - log sum_u exp(x[k] . W[u] + b[u])``.

    ``x`` (K, H), ``W`` (V, H) and ``b`` (V,) of one float dtype; ``out`` (K, V) float64.
    ``W`` is read once for all ``K`` rows (each of its rows stays in cache while the ``K``
    dot products use it), which for the small ``K`` of a beam is several times faster than
    BLAS's small-matrix GEMM and needs no temporary; the dot products are accumulated in
    the input dtype, the normalisation in float64 after subtracting each row's maximum.
    """
    K, H = x.shape
    V = W.shape[0]
    mx = np.empty(K, np.float64)
    for k in range(K):
        mx[k] = -np.inf
    for v in range(V):
        w = W[v]
        for k in range(K):
            xk = x[k]
            s = b[v] - b[v]
            for j in range(H):
                s += xk[j] * w[j]
            val = np.float64(s + b[v])
            out[k, v] = val
            if val > mx[k]:
                mx[k] = val
    for k in range(K):
        row = out[k]
        m = mx[k]
        s = 0.0
        for v in range(V):
            s += math.exp(row[v] - m)
        lse = m + math.log(s)
        for v in range(V):
            row[v] -= lse


output_log_softmax = njit(output_log_softmax, **_JIT)
