"""Numba kernels of the full softmax over a large vocabulary (the language model's exact
evaluation).

The logits ``L = h @ W.T`` come from one BLAS GEMM into a reused buffer; the kernel then
adds the bias and reduces each row in two passes over it (the row stays in cache): the
maximum, then the sum of exponentials.  NumPy would make five passes over the whole
``(rows, V)`` block with a temporary each; this makes two per row and allocates nothing.
``softmax_nll_rows_parallel`` is the same source with the rows split over Numba's threads.
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
