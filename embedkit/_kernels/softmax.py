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

# exp(x) for float32 x <= 0 (Cody-Waite reduction by ln 2 split in two constants, a
# degree-7 polynomial on |r| <= ln2/2, and 2**k put in the exponent bits; relative error
# about 6e-8, measured in tests/test_softmax_kernel.py).  Written out so that LLVM
# vectorises it: ``math.exp`` is a scalar library call per element.
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)
# below this exp underflows float32's normal range; clamping there adds at most
# V * 1.6e-38 to a sum that is at least 1 (the row's maximum contributes exp(0))
_EXP_FLOOR = np.float32(-87.0)
_CHUNK = 1024


def _sum_exp_f32(row, b, m, frac, bits):
    """``sum_j exp(row[j] + b[j] - m)`` in float64 for float32 ``row``/``b`` and
    ``m >= max(row + b)``; ``frac`` (float32) and ``bits`` (int32) are scratch of
    ``_CHUNK`` elements.  Each chunk is summed in float32 (at most ``_CHUNK`` terms in
    [0, 1]) and the chunks in float64."""
    V = row.shape[0]
    scale = bits.view(np.float32)
    total = 0.0
    for a in range(0, V, _CHUNK):
        e = min(V, a + _CHUNK)
        n = e - a
        for j in range(n):
            x = max(row[a + j] + b[a + j] - m, _EXP_FLOOR)
            k = math.floor(x * _LOG2E + np.float32(0.5))
            r = x - k * _LN2_HI - k * _LN2_LO
            p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
            frac[j] = p * r * r + r + np.float32(1.0)
            bits[j] = (np.int32(k) + np.int32(127)) << 23
        s = np.float32(0.0)
        for j in range(n):
            s += frac[j] * scale[j]
        total += np.float64(s)
    return total


def _softmax_nll_rows_f32(L, b, tgt, out):
    """:func:`softmax_nll_rows` for float32 ``L``/``b`` with a vectorised exponential
    (:func:`_sum_exp_f32`); agrees with the float64 ``math.exp`` sum to about 1e-7
    relative, which moves a perplexity by the same relative amount."""
    n, V = L.shape
    for i in prange(n):
        frac = np.empty(_CHUNK, np.float32)
        bits = np.empty(_CHUNK, np.int32)
        row = L[i]
        m = row[0] + b[0]
        for j in range(V):
            m = max(m, row[j] + b[j])  # max(), not a branch: vectorised
        s = _sum_exp_f32(row, b, m, frac, bits)
        t = tgt[i]
        out[i] = math.log(s) + np.float64(m) - np.float64(row[t] + b[t])


_sum_exp_f32 = njit(_sum_exp_f32, **_JIT)
softmax_nll_rows_f32 = njit(_softmax_nll_rows_f32, **_JIT)
softmax_nll_rows_f32_parallel = njit(_softmax_nll_rows_f32, parallel=True, **_JIT)


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
