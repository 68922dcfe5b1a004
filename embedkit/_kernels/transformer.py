"""Numba kernels of a pre-layer-norm Transformer encoder layer over a slab of sequences.

Data are batch-major and row-major: row ``b * T + t`` of an ``(N, E)`` array (``N = nb * T``)
is position ``t`` of sequence ``b``.  One layer (``torch.nn.TransformerEncoderLayer`` with
``norm_first=True``, ReLU)::

    A  = LN1(X)
    X1 = X + drop(MHA(A) W_o + b_o)           MHA: softmax(Q K^T / sqrt(d_k)) V per head,
    B  = LN2(X1)                                   [Q | K | V] = A W_qkv + b_qkv
    Y  = X1 + drop(relu(B W_1 + b_1) W_2 + b_2)

Keys past a sequence's length are masked; positions past it compute values nobody reads and
receive no gradient.  Weights are row-major ``(in, out)``: ``x @ W``.  Matrix products are
BLAS GEMMs on whole slabs (:func:`embedkit._kernels.gru._mm`); the attention itself is
:mod:`embedkit._kernels.attention`.  Weight-gradient outputs are overwritten, so two threads
running two slabs each write their own and the caller adds them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels.attention import sdpa_backward, sdpa_forward
from embedkit._kernels._options import FAST as _JIT
from embedkit._kernels.gru import _mm

LN_EPS = 1e-5


@njit(**_JIT)
def layer_norm(X, g, b, Xh, R, Y):
    """``Y = g * Xh + b`` with ``Xh = (X - mean) * R``, ``R = 1 / sqrt(var + eps)`` per row."""
    N, E = X.shape
    for n in range(N):
        x = X[n]
        m = x[0] * 0
        for j in range(E):
            m += x[j]
        m /= E
        v = x[0] * 0
        for j in range(E):
            d = x[j] - m
            v += d * d
        r = 1 / np.sqrt(v / E + LN_EPS)
        R[n] = r
        xh = Xh[n]
        y = Y[n]
        for j in range(E):
            xh[j] = (x[j] - m) * r
            y[j] = g[j] * xh[j] + b[j]


@njit(**_JIT)
def layer_norm_backward(dY, g, Xh, R, dX, dg, db, accumulate):
    """Backward of :func:`layer_norm`: ``dX`` (``+=`` if ``accumulate``), ``dg``, ``db`` (overwritten)."""
    N, E = dY.shape
    dg[:] = 0
    db[:] = 0
    for n in range(N):
        dy = dY[n]
        xh = Xh[n]
        s1 = dy[0] * 0
        s2 = dy[0] * 0
        for j in range(E):
            dxh = dy[j] * g[j]
            s1 += dxh
            s2 += dxh * xh[j]
            dg[j] += dy[j] * xh[j]
            db[j] += dy[j]
        s1 /= E
        s2 /= E
        r = R[n]
        dx = dX[n]
        if accumulate:
            for j in range(E):
                dx[j] += r * (dy[j] * g[j] - s1 - xh[j] * s2)
        else:
            for j in range(E):
                dx[j] = r * (dy[j] * g[j] - s1 - xh[j] * s2)


@njit(**_JIT)
def _linear(X, W, b, Y, ib, fb):
    """``Y = X @ W + b`` (row-major, BLAS)."""
    N, K = X.shape
    M = W.shape[1]
    _mm(False, False, N, M, K, X, 0, K, W, 0, M, 0, Y, 0, M, ib, fb)
    for n in range(N):
        y = Y[n]
        for j in range(M):
            y[j] += b[j]


@njit(**_JIT)
def _linear_backward(dY, X, W, dW, db, dX, ib, fb):
    """``dW = X^T dY``, ``db = sum_n dY``, ``dX = dY W^T`` (all overwritten)."""
    N, K = X.shape
    M = W.shape[1]
    _mm(True, False, K, M, N, X, 0, K, dY, 0, M, 0, dW, 0, M, ib, fb)
    db[:] = 0
    for n in range(N):
        d = dY[n]
        for j in range(M):
            db[j] += d[j]
    _mm(False, True, N, K, M, dY, 0, M, W, 0, M, 0, dX, 0, K, ib, fb)


@njit(**_JIT)
def input_forward(Xin, W, b, PE, T, M0, use_drop, X0, ib, fb):
    """``X0 = drop((Xin W + b) + PE[t])``: the input projection plus sinusoidal positions."""
    _linear(Xin, W, b, X0, ib, fb)
    N, E = X0.shape
    for n in range(N):
        t = n % T
        x = X0[n]
        for j in range(E):
            x[j] += PE[t, j]
        if use_drop:
            m = M0[n]
            for j in range(E):
                x[j] *= m[j]


@njit(**_JIT)
def input_backward(dX0, Xin, W, M0, use_drop, dW, db, dXin, ib, fb):
    """Backward of :func:`input_forward` (``dX0`` is scaled by the mask in place)."""
    if use_drop:
        dX0 *= M0
    _linear_backward(dX0, Xin, W, dW, db, dXin, ib, fb)


@njit(**_JIT)
def output_forward(X, g, b, lengths, T, Xh, R, Y):
    """Final layer norm, zero at positions past each length."""
    layer_norm(X, g, b, Xh, R, Y)
    N, E = Y.shape
    for n in range(N):
        if n % T >= lengths[n // T]:
            Y[n, :] = 0


@njit(**_JIT)
def output_backward(dY, g, Xh, R, lengths, T, dX, dg, db):
    """Backward of :func:`output_forward` (``dY`` rows past each length are zeroed in place)."""
    N, E = dY.shape
    for n in range(N):
        if n % T >= lengths[n // T]:
            dY[n, :] = 0
    layer_norm_backward(dY, g, Xh, R, dX, dg, db, False)


@njit(**_JIT)
def layer_forward(X, lengths, T, heads, g1, be1, Wqkv, bqkv, Wo, bo, g2, be2, W1, b1, W2, b2,
                  use_drop, M1, M2, Xh1, R1, A1, QKV, P, Ctx, X1, Xh2, R2, A2, Hf, Y, ib, fb):
    """One pre-LN encoder layer over the slab ``X`` (N, E) -> ``Y`` (N, E).

    Saved for the backward pass: ``Xh1, R1, A1`` (LN1), ``QKV`` (N, 3E), ``P``
    (nb, heads, T, T), ``Ctx`` (N, E), ``X1``, ``Xh2, R2, A2`` (LN2), ``Hf`` (N, F) (after
    ReLU).  ``M1``, ``M2`` (N, E) are inverted-dropout masks, used when ``use_drop``.
    """
    N, E = X.shape
    dk = E // heads
    layer_norm(X, g1, be1, Xh1, R1, A1)
    _linear(A1, Wqkv, bqkv, QKV, ib, fb)
    sdpa_forward(QKV, 0, T, QKV, E, QKV, 2 * E, T, lengths, heads, dk, P, Ctx, ib, fb)
    _linear(Ctx, Wo, bo, X1, ib, fb)
    for n in range(N):
        x1 = X1[n]
        x = X[n]
        if use_drop:
            m = M1[n]
            for j in range(E):
                x1[j] = x[j] + x1[j] * m[j]
        else:
            for j in range(E):
                x1[j] += x[j]
    layer_norm(X1, g2, be2, Xh2, R2, A2)
    _linear(A2, W1, b1, Hf, ib, fb)
    F = Hf.shape[1]
    for n in range(N):
        h = Hf[n]
        for j in range(F):
            h[j] = max(h[j], 0)
    _linear(Hf, W2, b2, Y, ib, fb)
    for n in range(N):
        y = Y[n]
        x1 = X1[n]
        if use_drop:
            m = M2[n]
            for j in range(E):
                y[j] = x1[j] + y[j] * m[j]
        else:
            for j in range(E):
                y[j] += x1[j]


@njit(**_JIT)
def layer_backward(dY, X, lengths, T, heads, g1, Wqkv, Wo, g2, W1, W2, use_drop, M1, M2,
                   Xh1, R1, A1, QKV, P, Ctx, Xh2, R2, A2, Hf,
                   dT, dHf, dA, dQKV, dS, dX1, dX,
                   dg1, dbe1, dWqkv, dbqkv, dWo, dbo, dg2, dbe2, dW1, db1, dW2, db2, ib, fb):
    """Backward of :func:`layer_forward`: ``dX`` (N, E) from ``dY``; overwrites every
    parameter gradient.  Workspaces: ``dT``, ``dA``, ``dX1`` (N, E); ``dHf`` (N, F);
    ``dQKV`` (N, 3E); ``dS`` (T * T,)."""
    N, E = dY.shape
    F = Hf.shape[1]
    dk = E // heads
    # feed-forward branch
    if use_drop:
        for n in range(N):
            for j in range(E):
                dT[n, j] = dY[n, j] * M2[n, j]
    else:
        dT[:] = dY
    _linear_backward(dT, Hf, W2, dW2, db2, dHf, ib, fb)
    for n in range(N):
        h = Hf[n]
        d = dHf[n]
        for j in range(F):
            if h[j] <= 0:
                d[j] = 0
    _linear_backward(dHf, A2, W1, dW1, db1, dA, ib, fb)
    dX1[:] = dY
    layer_norm_backward(dA, g2, Xh2, R2, dX1, dg2, dbe2, True)
    # attention branch
    if use_drop:
        for n in range(N):
            for j in range(E):
                dT[n, j] = dX1[n, j] * M1[n, j]
    else:
        dT[:] = dX1
    _linear_backward(dT, Ctx, Wo, dWo, dbo, dA, ib, fb)  # dA <- dCtx
    sdpa_backward(dA, QKV, 0, T, QKV, E, QKV, 2 * E, T, lengths, heads, dk, P, dS,
                  dQKV, 0, dQKV, E, dQKV, 2 * E, ib, fb)
    _linear_backward(dQKV, A1, Wqkv, dWqkv, dbqkv, dA, ib, fb)
    dX[:] = dX1
    layer_norm_backward(dA, g1, Xh1, R1, dX, dg1, dbe1, True)
