"""Numba kernels of a GRU layer (one direction) and of a hashed character-n-gram bag.

Layout is time-major: inputs ``X`` have shape ``(T, B, D)``, hidden states ``(T, B, H)``.
Sequences are padded at the end; ``lengths[b]`` is the number of real steps of sequence
``b``.  Past its length a sequence keeps its state, its output is zero and it receives no
gradient.  A backward (right-to-left) direction is the same kernel run on inputs reversed
within each length (see :func:`reverse_index`).

Gates follow ``torch.nn.GRU`` (order ``r, z, n``)::

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    h' = (1 - z) * n + z * h

The kernels are dtype-generic: float32 in training (with a vectorisable rational tanh),
float64 with the exact ``np.tanh`` for the finite-difference gradient checks (``exact=True``).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (load SciPy's BLAS now, see below)
from numba import njit

# ``np.dot`` inside these kernels calls SciPy's OpenBLAS.  threadpoolctl can only pin a
# BLAS library that is already loaded, so load it at import: otherwise the first kernel
# call inside ``single_threaded_blas()`` loads it with its default thread count and the two
# GRU directions fight over its multi-threaded GEMM (a 10-100x slowdown).

_JIT = dict(nogil=True, fastmath=True, cache=True, error_model="numpy")

# Rational minimax approximation of tanh on [-7.905, 7.905] (odd degree-13 numerator,
# even degree-6 denominator); absolute error < 3e-8, so float32 rounding dominates.
_A1 = np.float32(4.89352455891786e-03)
_A3 = np.float32(6.37261928875436e-04)
_A5 = np.float32(1.48572235717979e-05)
_A7 = np.float32(5.12229709037114e-08)
_A9 = np.float32(-8.60467152213735e-11)
_A11 = np.float32(2.00018790482477e-13)
_A13 = np.float32(-2.76076847742355e-16)
_B0 = np.float32(4.89352518554385e-03)
_B2 = np.float32(2.26843463243900e-03)
_B4 = np.float32(1.18534705686654e-04)
_B6 = np.float32(1.19825839466702e-06)
_CLAMP = np.float32(7.90531110763549805)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)


@njit(inline="always", **_JIT)
def fast_tanh(x):
    """tanh by a rational function: branch-free, so loops over it vectorise."""
    x = min(max(x, -_CLAMP), _CLAMP)
    x2 = x * x
    p = x2 * _A13 + _A11
    p = x2 * p + _A9
    p = x2 * p + _A7
    p = x2 * p + _A5
    p = x2 * p + _A3
    p = x2 * p + _A1
    p = x * p
    q = x2 * _B6 + _B4
    q = x2 * q + _B2
    q = x2 * q + _B0
    return p / q


@njit(**_JIT)
def _gates_forward(xp, hp, bhn, h, r_out, z_out, n_out, hn_out, h_out, H, exact):
    """Gate math of one sequence at one step: ``xp``, ``hp`` are length-3H rows."""
    if exact:
        for j in range(H):
            r = _HALF + _HALF * np.tanh(_HALF * (xp[j] + hp[j]))
            z = _HALF + _HALF * np.tanh(_HALF * (xp[H + j] + hp[H + j]))
            hn = hp[2 * H + j] + bhn[j]
            n = np.tanh(xp[2 * H + j] + r * hn)
            r_out[j] = r
            z_out[j] = z
            n_out[j] = n
            hn_out[j] = hn
            h_out[j] = (_ONE - z) * n + z * h[j]
    else:
        for j in range(H):
            r = _HALF + _HALF * fast_tanh(_HALF * (xp[j] + hp[j]))
            z = _HALF + _HALF * fast_tanh(_HALF * (xp[H + j] + hp[H + j]))
            hn = hp[2 * H + j] + bhn[j]
            n = fast_tanh(xp[2 * H + j] + r * hn)
            r_out[j] = r
            z_out[j] = z
            n_out[j] = n
            hn_out[j] = hn
            h_out[j] = (_ONE - z) * n + z * h[j]


@njit(**_JIT)
def gru_forward(X, Wi, bi, WhT, bhn, lengths, exact, XP, Hs, R, Z, N, HN, h, hp):
    """Forward pass of one GRU direction over a padded, masked batch.

    Parameters
    ----------
    X : (T, B, D) inputs (C-contiguous).
    Wi : (3H, D) input weights; bi : (3H,) input biases with ``b_hr, b_hz`` folded in.
    WhT : (H, 3H) transposed recurrent weights; bhn : (H,) recurrent bias of ``n``.
    lengths : (B,) int, real steps per sequence.
    exact : bool, use ``np.tanh`` (float64 checks) instead of the rational tanh.
    XP : (T, B, 3H) workspace, receives the input projections.
    Hs, R, Z, N, HN : (T, B, H) outputs: hidden states (zero past a length) and the
        saved gates ``r, z, n`` and ``W_hn h + b_hn`` for the backward pass.
    h : (B, H), hp : (B, 3H) workspaces.
    """
    T, B, D = X.shape
    H = WhT.shape[0]
    # all input projections (biases folded in) as one matrix product
    xp2 = XP.reshape(T * B, 3 * H)
    np.dot(X.reshape(T * B, D), Wi.T, xp2)
    for i in range(T * B):
        for k in range(3 * H):
            xp2[i, k] += bi[k]
    h[:] = _ZERO
    for t in range(T):
        np.dot(h, WhT, hp)
        for b in range(B):
            if t < lengths[b]:
                _gates_forward(XP[t, b], hp[b], bhn, h[b], R[t, b], Z[t, b], N[t, b],
                               HN[t, b], Hs[t, b], H, exact)
                h[b, :] = Hs[t, b]
            else:
                Hs[t, b, :] = _ZERO
                R[t, b, :] = _ZERO
                Z[t, b, :] = _ZERO
                N[t, b, :] = _ZERO
                HN[t, b, :] = _ZERO


@njit(**_JIT)
def gru_backward(dHs, X, Wi, WhT, lengths, Hs, R, Z, N, HN, dXP, dHP, dh, dX,
                 dWi, dbi, dWhT, dbhn):
    """Backward pass (backprop through time) of one GRU direction.

    ``dHs`` (T, B, H) is the gradient of the loss with respect to the outputs ``Hs`` of
    :func:`gru_forward` (zero past each length).  Writes the input gradient ``dX``
    (T, B, D) and the parameter gradients ``dWi`` (3H, D), ``dbi`` (3H,), ``dWhT``
    (H, 3H), ``dbhn`` (H,) (overwritten, not accumulated).  ``dXP``, ``dHP`` (T, B, 3H)
    and ``dh`` (B, H) are workspaces.  The gradients of the folded biases ``b_hr, b_hz``
    equal the first 2H entries of ``dbi``.
    """
    T, B, D = X.shape
    H = WhT.shape[0]
    dh[:] = _ZERO
    tmp = np.empty_like(dh)
    Wh = np.ascontiguousarray(WhT.T)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            if t < lengths[b]:
                for j in range(H):
                    g = dh[b, j] + dHs[t, b, j]
                    hprev = Hs[t - 1, b, j] if t > 0 else _ZERO
                    r = R[t, b, j]
                    z = Z[t, b, j]
                    n = N[t, b, j]
                    dn = g * (_ONE - z) * (_ONE - n * n)
                    dz = g * (hprev - n) * z * (_ONE - z)
                    dr = dn * HN[t, b, j] * r * (_ONE - r)
                    dXP[t, b, j] = dr
                    dXP[t, b, H + j] = dz
                    dXP[t, b, 2 * H + j] = dn
                    dHP[t, b, j] = dr
                    dHP[t, b, H + j] = dz
                    dHP[t, b, 2 * H + j] = dn * r
                    dh[b, j] = g * z
            else:
                for j in range(H):
                    dh[b, j] += dHs[t, b, j]
                dXP[t, b, :] = _ZERO
                dHP[t, b, :] = _ZERO
        np.dot(dHP[t], Wh, tmp)
        dh += tmp
    xf = X.reshape(T * B, D)
    dxp = dXP.reshape(T * B, 3 * H)
    np.dot(dxp, Wi, dX.reshape(T * B, D))
    np.dot(dxp.T, xf, dWi)
    dbi[:] = _ZERO
    dbhn[:] = _ZERO
    for i in range(T * B):
        for k in range(3 * H):
            dbi[k] += dxp[i, k]
    dhp = dHP.reshape(T * B, 3 * H)
    for i in range(T * B):
        for k in range(H):
            dbhn[k] += dhp[i, 2 * H + k]
    dWhT[:] = _ZERO
    if T > 1:
        np.dot(Hs[:T - 1].reshape((T - 1) * B, H).T, dHP[1:].reshape((T - 1) * B, 3 * H), dWhT)


@njit(**_JIT)
def reverse_index(lengths, T):
    """``idx[t, b]``: the time step that lands at ``t`` when sequence ``b`` is reversed.

    ``idx[t, b] = lengths[b] - 1 - t`` for ``t < lengths[b]`` and ``t`` beyond (padding
    stays in place).  The map is its own inverse.
    """
    B = lengths.shape[0]
    idx = np.empty((T, B), dtype=np.int64)
    for b in range(B):
        L = lengths[b]
        for t in range(T):
            idx[t, b] = L - 1 - t if t < L else t
    return idx


@njit(**_JIT)
def gather_time(A, idx, out):
    """``out[t, b] = A[idx[t, b], b]`` for a (T, B, K) array."""
    T, B = idx.shape
    for t in range(T):
        for b in range(B):
            out[t, b, :] = A[idx[t, b], b]


@njit(**_JIT)
def bag_forward(table, offsets, ids, out):
    """Mean of ``table`` rows per item: item ``i`` averages rows ``ids[offsets[i]:offsets[i+1]]``.

    ``out`` has shape (n_items, dim); an item with no rows gets zeros.
    """
    n = offsets.shape[0] - 1
    for i in range(n):
        out[i, :] = 0
        a = offsets[i]
        e = offsets[i + 1]
        if e > a:
            for k in range(a, e):
                out[i, :] += table[ids[k]]
            out[i, :] /= e - a


@njit(**_JIT)
def bag_backward(grad_out, offsets, ids, grad_table):
    """Accumulate the gradient of :func:`bag_forward` into ``grad_table`` (not zeroed)."""
    n = offsets.shape[0] - 1
    for i in range(n):
        a = offsets[i]
        e = offsets[i + 1]
        if e > a:
            w = grad_out[i] / (e - a)
            for k in range(a, e):
                grad_table[ids[k]] += w


@njit(**_JIT)
def scatter_rows(grad, ids, out):
    """``out[ids[i]] += grad[i]`` (an unbuffered ``np.add.at`` over rows)."""
    for i in range(ids.shape[0]):
        out[ids[i]] += grad[i]
