"""Numba kernels of recurrent steps for generation: a GRU cell and layer with an initial
state (a language model carries its state across truncated-BPTT segments), and additive
attention (Bahdanau et al., 2015).

The GRU follows :mod:`embedkit._kernels.gru` (``torch.nn.GRU`` gate order ``r, z, n``), but
works batch-major, one step at a time, from a given state::

    xp = W_i x + b_i            (computed outside, one GEMM over all steps; b_hr, b_hz folded in)
    hp = h W_h^T                (here: ``h @ WhT``, WhT of shape (H, 3H))
    r = sigmoid(xp_r + hp_r)
    z = sigmoid(xp_z + hp_z)
    n = tanh(xp_n + r * (hp_n + b_hn))
    h' = (1 - z) * n + z * h

Additive attention over encoder states ``a_s`` (S of them, ``U a_s + b`` precomputed as
``ua``) for a decoder state ``h``::

    e_s = v . tanh(ua_s + W h),   alpha = softmax_s(e) (over the real positions),
    c = sum_s alpha_s a_s

Every kernel is dtype-generic (float32 in training, float64 in the gradient checks).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")


@njit(**_JIT)
def gru_cell_forward(xp, h, WhT, bhn, r, z, n, hn, out):
    """One GRU step for a batch: ``out = GRU(xp, h)``; saves the gates ``r, z, n`` and
    ``hn = h W_hn^T + b_hn`` (all (B, H)) for :func:`gru_cell_backward`.  ``xp`` is (B, 3H)."""
    B, H = h.shape
    hp = np.dot(h, WhT)
    for b in range(B):
        for j in range(H):
            rr = 1.0 / (1.0 + np.exp(-(xp[b, j] + hp[b, j])))
            zz = 1.0 / (1.0 + np.exp(-(xp[b, H + j] + hp[b, H + j])))
            hh = hp[b, 2 * H + j] + bhn[j]
            nn = np.tanh(xp[b, 2 * H + j] + rr * hh)
            r[b, j] = rr
            z[b, j] = zz
            hn[b, j] = hh
            n[b, j] = nn
            out[b, j] = (1.0 - zz) * nn + zz * h[b, j]


@njit(**_JIT)
def gru_cell_backward(dh, h, r, z, n, hn, WhT, dxp, dWhT, dbhn):
    """Backward of :func:`gru_cell_forward` given ``dh`` = dL/d(out) (B, H).

    Writes dL/d(xp) to ``dxp`` (B, 3H); *adds* to ``dWhT`` (H, 3H) and ``dbhn`` (H,);
    returns dL/dh of the previous state (B, H).
    """
    B, H = h.shape
    dhp = np.empty((B, 3 * H), dtype=h.dtype)
    dprev = np.empty_like(h)
    for b in range(B):
        for j in range(H):
            g = dh[b, j]
            zz = z[b, j]
            nn = n[b, j]
            rr = r[b, j]
            dn = g * (1.0 - zz) * (1.0 - nn * nn)  # through tanh
            dz = g * (h[b, j] - nn) * zz * (1.0 - zz)
            dr = dn * hn[b, j] * rr * (1.0 - rr)
            dxp[b, j] = dr
            dxp[b, H + j] = dz
            dxp[b, 2 * H + j] = dn
            dhp[b, j] = dr
            dhp[b, H + j] = dz
            dhp[b, 2 * H + j] = dn * rr
            dbhn[j] += dn * rr
            dprev[b, j] = g * zz
    dprev += np.dot(dhp, WhT.T)
    dWhT += np.dot(h.T, dhp)
    return dprev


@njit(**_JIT)
def gru_layer_forward(XP, h0, WhT, bhn, Hout, R, Z, N, HN):
    """A GRU layer over ``T`` steps from state ``h0`` (B, H): ``XP`` (T, B, 3H) input
    projections; fills ``Hout`` (T, B, H) and the saved gates ``R, Z, N, HN`` (T, B, H)."""
    T = XP.shape[0]
    h = h0
    for t in range(T):
        gru_cell_forward(XP[t], h, WhT, bhn, R[t], Z[t], N[t], HN[t], Hout[t])
        h = Hout[t]


@njit(**_JIT)
def gru_layer_backward(dH, h0, Hout, R, Z, N, HN, WhT, dXP, dWhT, dbhn):
    """Backprop through time of :func:`gru_layer_forward`: ``dH`` (T, B, H) is dL/dHout
    (read only); writes ``dXP`` (T, B, 3H), adds to ``dWhT`` and ``dbhn``; returns dL/dh0."""
    T = dH.shape[0]
    dh = np.zeros_like(h0)
    for t in range(T - 1, -1, -1):
        g = dh + dH[t]
        prev = h0 if t == 0 else Hout[t - 1]
        dh = gru_cell_backward(g, prev, R[t], Z[t], N[t], HN[t], WhT, dXP[t], dWhT, dbhn)
    return dh


@njit(**_JIT)
def attention_forward(ua, enc, lengths, wh, v, tanh_e, alpha, ctx):
    """Additive attention for one decoder step.

    ``ua`` (B, S, A) = ``enc @ U^T + b_a``; ``enc`` (B, S, E) encoder states; ``lengths``
    (B,) real positions per sequence; ``wh`` (B, A) = ``W h``; ``v`` (A,).  Saves
    ``tanh_e`` (B, S, A) and the weights ``alpha`` (B, S) (zero past a length) and writes
    the context ``ctx`` (B, E).
    """
    B, S, A = ua.shape
    E = enc.shape[2]
    for b in range(B):
        L = lengths[b]
        m = -np.inf
        for s in range(L):
            acc = 0.0
            for k in range(A):
                t = np.tanh(ua[b, s, k] + wh[b, k])
                tanh_e[b, s, k] = t
                acc += v[k] * t
            alpha[b, s] = acc
            if acc > m:
                m = acc
        tot = 0.0
        for s in range(L):
            e = np.exp(alpha[b, s] - m)
            alpha[b, s] = e
            tot += e
        for s in range(L):
            alpha[b, s] /= tot
        for s in range(L, S):
            alpha[b, s] = 0.0
            for k in range(A):
                tanh_e[b, s, k] = 0.0
        for k in range(E):
            acc = 0.0
            for s in range(L):
                acc += alpha[b, s] * enc[b, s, k]
            ctx[b, k] = acc


@njit(**_JIT)
def attention_backward(dctx, enc, lengths, v, tanh_e, alpha, denc, dua, dwh, dv):
    """Backward of :func:`attention_forward` given ``dctx`` (B, E).

    *Adds* to ``denc`` (B, S, E) and ``dv`` (A,); writes ``dua`` (B, S, A) and ``dwh``
    (B, A).
    """
    B, S, A = tanh_e.shape
    E = enc.shape[2]
    dal = np.empty(S, dtype=enc.dtype)
    for b in range(B):
        L = lengths[b]
        # d alpha_s = dctx . a_s ; softmax backward: de_s = alpha_s (dal_s - sum alpha dal)
        dot = 0.0
        for s in range(L):
            acc = 0.0
            for k in range(E):
                acc += dctx[b, k] * enc[b, s, k]
                denc[b, s, k] += alpha[b, s] * dctx[b, k]
            dal[s] = acc
            dot += alpha[b, s] * acc
        for k in range(A):
            dwh[b, k] = 0.0
        for s in range(S):
            if s >= L:
                for k in range(A):
                    dua[b, s, k] = 0.0
                continue
            de = alpha[b, s] * (dal[s] - dot)
            for k in range(A):
                t = tanh_e[b, s, k]
                dv[k] += de * t
                g = de * v[k] * (1.0 - t * t)
                dua[b, s, k] = g
                dwh[b, k] += g


# ---------------------------------------------------------------------------------- LSTM
# ``torch.nn.LSTM`` gates (order i, f, g, o, as embedkit/_kernels/lstm.py), from a given
# state; the state of a layer is one (B, 2H) array ``[h, c]`` so that decoders can reorder
# it like the GRU's::
#
#     xp = W_i x + b                 (outside; b = b_ih + b_hh)
#     i, f, o = sigmoid(xp + h W_h^T)   g = tanh(...)
#     c' = i * g + f * c,   h' = o * tanh(c')


@njit(**_JIT)
def lstm_cell_forward(xp, hc, WhT, I, F, G, O, TC, out):
    """One LSTM step: ``out = [h', c']`` (B, 2H) from ``hc = [h, c]`` and ``xp`` (B, 4H);
    saves the gates ``I, F, G, O`` and ``TC = tanh(c')`` (all (B, H))."""
    B = hc.shape[0]
    H = WhT.shape[0]
    hp = np.dot(np.ascontiguousarray(hc[:, :H]), WhT)
    for b in range(B):
        for j in range(H):
            ii = 1.0 / (1.0 + np.exp(-(xp[b, j] + hp[b, j])))
            ff = 1.0 / (1.0 + np.exp(-(xp[b, H + j] + hp[b, H + j])))
            gg = np.tanh(xp[b, 2 * H + j] + hp[b, 2 * H + j])
            oo = 1.0 / (1.0 + np.exp(-(xp[b, 3 * H + j] + hp[b, 3 * H + j])))
            c = ii * gg + ff * hc[b, H + j]
            tc = np.tanh(c)
            I[b, j] = ii
            F[b, j] = ff
            G[b, j] = gg
            O[b, j] = oo
            TC[b, j] = tc
            out[b, j] = oo * tc
            out[b, H + j] = c


@njit(**_JIT)
def lstm_cell_backward(dhc, hc, I, F, G, O, TC, WhT, dxp, dWhT):
    """Backward of :func:`lstm_cell_forward` given ``dhc`` = dL/d[h', c'] (B, 2H).

    Writes dL/d(xp) (B, 4H) to ``dxp``, *adds* to ``dWhT`` (H, 4H); returns dL/d[h, c].
    """
    B = hc.shape[0]
    H = WhT.shape[0]
    dprev = np.zeros_like(hc)
    for b in range(B):
        for j in range(H):
            tc = TC[b, j]
            oo = O[b, j]
            ii = I[b, j]
            ff = F[b, j]
            gg = G[b, j]
            dh = dhc[b, j]
            dc = dhc[b, H + j] + dh * oo * (1.0 - tc * tc)
            dxp[b, j] = dc * gg * ii * (1.0 - ii)
            dxp[b, H + j] = dc * hc[b, H + j] * ff * (1.0 - ff)
            dxp[b, 2 * H + j] = dc * ii * (1.0 - gg * gg)
            dxp[b, 3 * H + j] = dh * tc * oo * (1.0 - oo)
            dprev[b, H + j] = dc * ff
    h = np.ascontiguousarray(hc[:, :H])
    dprev[:, :H] += np.dot(dxp, WhT.T)
    dWhT += np.dot(h.T, dxp)
    return dprev


@njit(**_JIT)
def lstm_layer_forward(XP, hc0, WhT, Hout, I, F, G, O, TC):
    """An LSTM layer over ``T`` steps from state ``hc0`` (B, 2H): ``XP`` (T, B, 4H);
    fills ``Hout`` (T, B, 2H) with ``[h, c]`` of each step and the saved gates (T, B, H)."""
    T = XP.shape[0]
    hc = hc0
    for t in range(T):
        lstm_cell_forward(XP[t], hc, WhT, I[t], F[t], G[t], O[t], TC[t], Hout[t])
        hc = Hout[t]


@njit(**_JIT)
def lstm_layer_backward(dH, hc0, Hout, I, F, G, O, TC, WhT, dXP, dWhT):
    """Backprop through time of :func:`lstm_layer_forward`: ``dH`` (T, B, H) is dL/dh of
    each step (read only); writes ``dXP`` (T, B, 4H), adds to ``dWhT``; returns dL/d hc0."""
    T, B, H = dH.shape
    g = np.zeros_like(hc0)
    for t in range(T - 1, -1, -1):
        for b in range(B):
            for j in range(H):
                g[b, j] += dH[t, b, j]
        prev = hc0 if t == 0 else Hout[t - 1]
        g = lstm_cell_backward(g, prev, I[t], F[t], G[t], O[t], TC[t], WhT, dXP[t], dWhT)
    return g
