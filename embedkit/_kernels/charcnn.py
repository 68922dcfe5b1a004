"""Numba kernels of a character CNN word encoder (Ma & Hovy 2016 style).

Each word is a run of character ids (with begin/end-of-word marks added by the caller);
``offsets[u]:offsets[u + 1]`` delimits word ``u`` in the flat ``chars`` array.  A
convolution of odd width ``K`` (zero padding at both ends, so one output per character)
maps character embeddings ``E[c]`` (``Dc`` wide) to ``F`` filters; the word feature is
``tanh`` of the maximum over positions of each filter::

    conv[p, f] = b[f] + sum_j sum_d E[chars[p - K//2 + j], d] * W[j, d, f]
    out[f] = tanh(max_p conv[p, f])

``W`` has shape ``(K, Dc, F)``.  The kernels are dtype-generic (float32 in training,
float64 for the finite-difference checks).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST as _JIT  # noqa: E402


@njit(**_JIT)
def charcnn_forward(E, W, b, chars, offsets, out, arg):
    """Word features into ``out`` (U, F); ``arg`` (U, F) receives the argmax positions."""
    U = offsets.shape[0] - 1
    K, Dc, F = W.shape
    half = K // 2
    acc = np.empty(F, out.dtype)
    best = np.empty(F, out.dtype)
    for u in range(U):
        a = offsets[u]
        L = offsets[u + 1] - a
        for f in range(F):
            arg[u, f] = 0
        for p in range(L):
            for f in range(F):
                acc[f] = b[f]
            for j in range(K):
                q = p - half + j
                if q < 0 or q >= L:
                    continue
                c = chars[a + q]
                for d in range(Dc):
                    x = E[c, d]
                    for f in range(F):
                        acc[f] += x * W[j, d, f]
            if p == 0:
                for f in range(F):
                    best[f] = acc[f]
            else:
                for f in range(F):
                    if acc[f] > best[f]:
                        best[f] = acc[f]
                        arg[u, f] = p
        if L == 0:
            for f in range(F):
                best[f] = b[f]
        for f in range(F):
            out[u, f] = np.tanh(best[f])


@njit(**_JIT)
def charcnn_backward(dout, out, E, W, chars, offsets, arg, dE, dW, db):
    """Accumulate the gradients of :func:`charcnn_forward` into ``dE``, ``dW``, ``db``
    (not zeroed) given ``dout`` (U, F), the forward ``out`` and ``arg``."""
    U = offsets.shape[0] - 1
    K, Dc, F = W.shape
    half = K // 2
    g = np.empty(F, out.dtype)
    for u in range(U):
        a = offsets[u]
        L = offsets[u + 1] - a
        for f in range(F):
            g[f] = dout[u, f] * (1 - out[u, f] * out[u, f])
            db[f] += g[f]
        if L == 0:
            continue
        for f in range(F):
            gf = g[f]
            p = arg[u, f]
            for j in range(K):
                q = p - half + j
                if q < 0 or q >= L:
                    continue
                c = chars[a + q]
                for d in range(Dc):
                    dW[j, d, f] += gf * E[c, d]
                    dE[c, d] += gf * W[j, d, f]
