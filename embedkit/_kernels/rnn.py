"""Numba kernels of a plain (Elman) RNN layer (one direction), laid out as the GRU kernels.

``a<t> = tanh(W_a [a<t-1>, x<t>] + b_a)``, with ``W_a`` split into ``Wi`` (H, D) for the
input and ``Wh`` (H, H) for the previous state (``torch.nn.RNN``'s ``weight_ih`` and
``weight_hh``; ``b`` is the sum of its two biases).  Shapes, masking, reversal and the
step-order buffers are those of :mod:`embedkit._kernels.lstm`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST as _JIT
from embedkit._kernels.gru import _ONE, _mm, _mm_blocks, _u, fast_tanh


@njit(**_JIT)
def rnn_forward(X, rev, reverse, Wi, b, Wh, mask, exact, out, col, Xs, XP, Hs, hp, ib, fb):
    """Forward pass of one RNN direction over a padded, masked batch.

    ``XP`` (H, T * B) input projections; ``Hs`` (H, (T + 1) * B) states, block 0 zero, reset
    to zero past each length; ``hp`` (H, B) workspace; others as in
    :func:`embedkit._kernels.lstm.lstm_forward`.
    """
    T, B, D = X.shape
    H = Wh.shape[1]
    TB = T * B
    if reverse:
        for s in range(T):
            for bb in range(B):
                Xs[s * B + bb, :] = X[rev[s, bb], bb]
        src = Xs
    else:
        src = X.reshape(TB, D)
    _mm(False, True, H, TB, D, Wi, 0, D, src, 0, D, 0, XP, 0, TB, ib, fb)
    Hs[:, :B] = 0
    hp[:] = 0
    xpf = XP.reshape(XP.size)
    hpf = hp.reshape(hp.size)
    hsf = Hs.reshape(Hs.size)
    Bu = _u(B)
    for s in range(T):
        c = s * B
        if s > 0:
            _mm(False, False, H, B, H, Wh, 0, H, Hs, c, TB + B, 0, hp, 0, B, ib, fb)
        for j in range(H):
            bj = b[j]
            x0 = _u(j * TB + c)
            h0 = _u(j * B)
            q = _u(j * (TB + B) + c) + Bu  # state s
            cu = _u(c)
            if exact:
                for k in range(Bu):
                    hsf[q + k] = mask[cu + k] * np.tanh(xpf[x0 + k] + hpf[h0 + k] + bj)
            else:
                for k in range(Bu):
                    hsf[q + k] = mask[cu + k] * fast_tanh(xpf[x0 + k] + hpf[h0 + k] + bj)
    for s in range(T):
        for bb in range(B):
            p = rev[s, bb] if reverse else s
            ob = out[p, bb]
            for j in range(H):
                ob[col + j] = Hs[j, (s + 1) * B + bb]


@njit(**_JIT)
def rnn_backward(dOut, col, X, rev, reverse, Wi, Wh, mask, Xs, Hs, dHs, GG, dh, dXs, dWi,
                 db, dWh, ib, fb):
    """Backward pass (backprop through time) of one RNN direction.

    Writes ``dXs`` (T * B, D) in step order and overwrites ``dWi`` (H, D), ``db`` (H,),
    ``dWh`` (H, H).  Workspaces: ``dHs`` (T, H, B), ``GG`` (H, T * B) the gradients of the
    pre-activations, ``dh`` (H, B).
    """
    T, B, D = X.shape
    H = Wh.shape[1]
    TB = T * B
    src = Xs if reverse else X.reshape(TB, D)
    for s in range(T):
        for bb in range(B):
            p = rev[s, bb] if reverse else s
            g = dOut[p, bb]
            for j in range(H):
                dHs[s, j, bb] = g[col + j]
    dh[:] = 0
    dyf = dHs.reshape(dHs.size)
    hsf = Hs.reshape(Hs.size)
    gf = GG.reshape(GG.size)
    dhf = dh.reshape(dh.size)
    HB = H * B
    Bu = _u(B)
    for s in range(T - 1, -1, -1):
        c = s * B
        for j in range(H):
            o = _u(s * HB + j * B)
            q = _u(j * (TB + B) + c) + Bu  # state s
            e = _u(j * B)
            g0 = _u(j * TB + c)
            cu = _u(c)
            for k in range(Bu):
                a = hsf[q + k]
                gf[g0 + k] = mask[cu + k] * (dhf[e + k] + dyf[o + k]) * (_ONE - a * a)
        if s > 0:
            _mm(True, False, H, B, H, Wh, 0, H, GG, c, TB, 0, dh, 0, B, ib, fb)
    _mm_blocks(True, TB, D, H, GG, 0, TB, Wi, 0, D, 0, dXs, 0, D, ib, fb)
    _mm_blocks(False, H, D, TB, GG, 0, TB, src, 0, D, 0, dWi, 0, D, ib, fb)
    _mm(False, True, H, H, (T - 1) * B, GG, B, TB, Hs, B, TB + B, 0, dWh, 0, H, ib, fb)
    for k in range(H):
        row = GG[k]
        acc = row[0] * 0
        for i in range(TB):
            acc += row[i]
        db[k] = acc
