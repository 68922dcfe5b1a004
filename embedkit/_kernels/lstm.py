"""Numba kernels of an LSTM layer (one direction), laid out as the GRU kernels are.

Inputs ``X`` are time-major ``(T, B, D)``, padded at the end, ``lengths[b]`` real steps per
sequence; the output ``(T, B, C)`` receives this direction's ``H`` columns (zero past each
length).  The backward direction runs the same kernels over the inputs reversed within each
length (:func:`embedkit._kernels.gru.reverse_index`).  Buffers are in *step order* and
feature-major (column ``s * B + b`` is step ``s`` of sequence ``b``), so the input
projection of all steps, the input gradient and the weight gradients are one BLAS GEMM
each, and a step's recurrent product is one GEMM on a column block read in place.

Gates follow ``torch.nn.LSTM`` (order ``i, f, g, o``; no peepholes)::

    i = sigmoid(W_ii x + W_hi h + b_i)        (update gate)
    f = sigmoid(W_if x + W_hf h + b_f)        (forget gate)
    g = tanh(W_ig x + W_hg h + b_g)           (candidate cell c~)
    o = sigmoid(W_io x + W_ho h + b_o)        (output gate)
    c' = i * g + f * c
    h' = o * tanh(c')

``b`` is the sum of torch's ``b_ih`` and ``b_hh``.  Weights: ``Wi`` (4H, D), ``Wh`` (4H, H)
(row-major, torch's ``weight_ih`` and ``weight_hh``), ``b`` (4H,).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST as _JIT
from embedkit._kernels.gru import _HALF, _ONE, _mm, _mm_blocks, _u, fast_tanh


@njit(**_JIT)
def lstm_forward(X, rev, reverse, Wi, b, Wh, mask, exact, out, col, Xs, XP, Hs, Cs, TC, ib, fb):
    """Forward pass of one LSTM direction over a padded, masked batch.

    Parameters
    ----------
    X : (T, B, D) inputs (C-contiguous).
    rev : (T, B) int, the reversal map; reverse : bool, run right to left.
    Wi : (4H, D); b : (4H,); Wh : (4H, H).
    mask : (T * B,) 1 where a step is real (:func:`embedkit._kernels.gru.step_mask`).
    exact : bool, ``np.tanh`` (float64 checks) instead of the rational tanh.
    out : (T, B, C), receives the states in columns ``col:col + H``.
    Xs : (T * B, D) workspace (reversed inputs).
    XP : (4H, T * B) the input projections of all steps; a step's recurrent product is
        added into its column block, then its gate pre-activations are replaced by the gate
        values (rows ``i, f, g, o``), which :func:`lstm_backward` reads.  One buffer instead
        of a projection, a product and four gate arrays: a smaller cache footprint.
    Hs, Cs : (H, (T + 1) * B) hidden and cell states, column block 0 the zero initial state;
        past a sequence's length both are reset to zero.
    TC : (T, H, B) saved ``tanh(c)``.
    ib : int32 (8,), fb : (2,) BLAS scratch.
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
    _mm(False, True, 4 * H, TB, D, Wi, 0, D, src, 0, D, 0, XP, 0, TB, ib, fb)
    Hs[:, :B] = 0
    Cs[:, :B] = 0
    xpf = XP.reshape(XP.size)
    hsf = Hs.reshape(Hs.size)
    csf = Cs.reshape(Cs.size)
    tcf = TC.reshape(TC.size)
    HB = H * B
    Bu = _u(B)
    for s in range(T):
        c = s * B
        if s > 0:  # XP[:, step s] += Wh h_{s-1}
            _mm_blocks(False, 4 * H, B, H, Wh, 0, H, Hs, c, TB + B, 1, XP, c, TB, ib, fb)
        for j in range(H):
            bi_ = b[j]
            bf_ = b[H + j]
            bg_ = b[2 * H + j]
            bo_ = b[3 * H + j]
            x0 = _u(j * TB + c)  # gate rows i, f, g, o of XP at step s
            x1 = x0 + _u(H * TB)
            x2 = x1 + _u(H * TB)
            x3 = x2 + _u(H * TB)
            q = _u(j * (TB + B) + c)  # state s-1 in Hs / Cs; state s at q + Bu
            o = _u(s * HB + j * B)
            cu = _u(c)
            if exact:
                for k in range(Bu):
                    xpf[x0 + k] = _HALF + _HALF * np.tanh(_HALF * (xpf[x0 + k] + bi_))
                for k in range(Bu):
                    xpf[x1 + k] = _HALF + _HALF * np.tanh(_HALF * (xpf[x1 + k] + bf_))
                for k in range(Bu):
                    xpf[x2 + k] = np.tanh(xpf[x2 + k] + bg_)
                for k in range(Bu):
                    xpf[x3 + k] = _HALF + _HALF * np.tanh(_HALF * (xpf[x3 + k] + bo_))
                for k in range(Bu):
                    csf[q + Bu + k] = mask[cu + k] * (xpf[x0 + k] * xpf[x2 + k]
                                                      + xpf[x1 + k] * csf[q + k])
                for k in range(Bu):
                    tcf[o + k] = np.tanh(csf[q + Bu + k])
            else:
                for k in range(Bu):
                    xpf[x0 + k] = _HALF + _HALF * fast_tanh(_HALF * (xpf[x0 + k] + bi_))
                for k in range(Bu):
                    xpf[x1 + k] = _HALF + _HALF * fast_tanh(_HALF * (xpf[x1 + k] + bf_))
                for k in range(Bu):
                    xpf[x2 + k] = fast_tanh(xpf[x2 + k] + bg_)
                for k in range(Bu):
                    xpf[x3 + k] = _HALF + _HALF * fast_tanh(_HALF * (xpf[x3 + k] + bo_))
                for k in range(Bu):
                    csf[q + Bu + k] = mask[cu + k] * (xpf[x0 + k] * xpf[x2 + k]
                                                      + xpf[x1 + k] * csf[q + k])
                for k in range(Bu):
                    tcf[o + k] = fast_tanh(csf[q + Bu + k])
            for k in range(Bu):
                hsf[q + Bu + k] = mask[cu + k] * xpf[x3 + k] * tcf[o + k]
        for bb in range(B):  # the step's states to the output while they are in cache
            ob = out[rev[s, bb] if reverse else s, bb]
            for j in range(H):
                ob[col + j] = hsf[j * (TB + B) + c + B + bb]


@njit(**_JIT)
def lstm_backward(dOut, col, X, rev, reverse, Wi, Wh, mask, Xs, XP, Hs, Cs, TC, dy, WhT,
                  dh, dc, dXs, dWi, db, dWh, ib, fb):
    """Backward pass (backprop through time) of one LSTM direction.

    ``dOut`` (T, B, C): gradient wrt the output of :func:`lstm_forward`, columns
    ``col:col + H``.  Writes the input gradient in step order to ``dXs`` (T * B, D) and
    overwrites ``dWi`` (4H, D), ``db`` (4H,), ``dWh`` (4H, H).  ``XP`` holds the gate values
    :func:`lstm_forward` left; each step's are replaced by the gradients of its gate
    pre-activations (order i, f, g, o), which the input and weight gradients then read as
    one GEMM each.  Workspaces: ``dy`` (H, B) a step's output gradient; ``WhT`` (H, 4H)
    the transpose of ``Wh``, so that the recurrent product of a step, ``Wh^T`` times the
    step's gate gradients, is a GEMM on untransposed operands (as ``WhTp`` in
    :func:`embedkit._kernels.gru.gru_backward`; OpenBLAS runs this shape about 25% faster
    than with a transposed ``A``); ``dh``, ``dc`` (H, B) the carried state gradients.
    Call it once per :func:`lstm_forward`: the gate values are consumed.
    """
    T, B, D = X.shape
    H = Wh.shape[1]
    TB = T * B
    src = Xs if reverse else X.reshape(TB, D)
    for j in range(H):
        for k in range(4 * H):
            WhT[j, k] = Wh[k, j]
    dh[:] = 0
    dc[:] = 0
    tcf = TC.reshape(TC.size)
    csf = Cs.reshape(Cs.size)
    dyf = dy.reshape(dy.size)
    xpf = XP.reshape(XP.size)
    dhf = dh.reshape(dh.size)
    dcf = dc.reshape(dc.size)
    HB = H * B
    Bu = _u(B)
    for s in range(T - 1, -1, -1):
        c = s * B
        for bb in range(B):  # this step's output gradient, feature-major
            g = dOut[rev[s, bb] if reverse else s, bb]
            for j in range(H):
                dy[j, bb] = g[col + j]
        for j in range(H):
            o = _u(s * HB + j * B)
            q = _u(j * (TB + B) + c)  # c_{s-1}
            e = _u(j * B)
            x0 = _u(j * TB + c)  # gates i, f, g, o at step s, replaced by their gradients
            x1 = x0 + _u(H * TB)
            x2 = x1 + _u(H * TB)
            x3 = x2 + _u(H * TB)
            cu = _u(c)
            for k in range(Bu):  # gradient wrt h_s
                dhf[e + k] = mask[cu + k] * (dhf[e + k] + dyf[e + k])
            for k in range(Bu):  # gradient wrt c_s
                t = tcf[o + k]
                dcf[e + k] = mask[cu + k] * (dcf[e + k] + dhf[e + k] * xpf[x3 + k] * (_ONE - t * t))
            for k in range(Bu):
                og = xpf[x3 + k]
                xpf[x3 + k] = dhf[e + k] * tcf[o + k] * og * (_ONE - og)
            for k in range(Bu):
                ig = xpf[x0 + k]
                gg_ = xpf[x2 + k]
                xpf[x0 + k] = dcf[e + k] * gg_ * ig * (_ONE - ig)
                xpf[x2 + k] = dcf[e + k] * ig * (_ONE - gg_ * gg_)
            for k in range(Bu):
                fg = xpf[x1 + k]
                xpf[x1 + k] = dcf[e + k] * csf[q + k] * fg * (_ONE - fg)
                dcf[e + k] *= fg
        if s > 0:
            _mm_blocks(False, H, B, 4 * H, WhT, 0, 4 * H, XP, c, TB, 0, dh, 0, B, ib, fb)
    _mm_blocks(True, TB, D, 4 * H, XP, 0, TB, Wi, 0, D, 0, dXs, 0, D, ib, fb)
    _mm_blocks(False, 4 * H, D, TB, XP, 0, TB, src, 0, D, 0, dWi, 0, D, ib, fb)
    # h_{s-1} (column block s of Hs) against the step-s gradients, steps 1..T-1
    _mm(False, True, 4 * H, H, (T - 1) * B, XP, B, TB, Hs, B, TB + B, 0, dWh, 0, H, ib, fb)
    for k in range(4 * H):
        row = XP[k]
        acc = row[0] * 0
        for i in range(TB):
            acc += row[i]
        db[k] = acc
