"""Numba kernels of multi-head scaled dot-product attention with a key padding mask.

For sequence ``b`` and head ``h``::

    S = Q_bh K_bh^T / sqrt(d_k)      (Tq x Tk; keys at t >= lengths[b] masked out)
    P = softmax(S) over the keys
    C_bh = P V_bh

The projected queries, keys and values are read in place from row-major 2D arrays:
``Q`` is ``(B * Tq, ldq)`` with sequence ``b``'s queries in rows ``b * Tq ...`` and head
``h`` in columns ``qc + h * d_k ...`` (likewise ``K``/``V`` with ``Tk`` rows per sequence), so a
fused ``[Q | K | V]`` projection is used without copies.  Every product is a BLAS GEMM on
such a block (:func:`embedkit._kernels.gru._mm`); only the first ``lengths[b]`` keys are
multiplied at all.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST as _JIT
from embedkit._kernels.gru import _mm


@njit(**_JIT)
def sdpa_forward(Q, qc, Tq, K, kc, V, vc, Tk, lengths, heads, dk, P, C, ib, fb):
    """Attention of every sequence and head.

    Parameters
    ----------
    Q : (B * Tq, ldq); qc : first column of head 0's queries.
    K, V : (B * Tk, ldk), (B * Tk, ldv); kc, vc : first columns of head 0's keys / values.
    lengths : (B,) int, real keys per sequence (>= 1).
    heads, dk : number of heads and their width.
    P : (B, heads, Tq, Tk) out, the attention weights (0 on masked keys).
    C : (B * Tq, heads * dk) out, the heads' outputs side by side.
    ib : int32 (8,), fb : (2,) BLAS scratch.
    """
    B = lengths.shape[0]
    ldq = Q.shape[1]
    ldk = K.shape[1]
    ldv = V.shape[1]
    ldc = C.shape[1]
    scale = 1.0 / np.sqrt(dk)
    pf = P.reshape(P.size)
    for b in range(B):
        L = lengths[b]
        for h in range(heads):
            po = ((b * heads + h) * Tq) * Tk
            _mm(False, True, Tq, L, dk, Q, b * Tq * ldq + qc + h * dk, ldq,
                K, b * Tk * ldk + kc + h * dk, ldk, 0, P, po, Tk, ib, fb)
            for i in range(Tq):
                r = po + i * Tk
                m = pf[r]
                for j in range(1, L):
                    m = max(m, pf[r + j])
                tot = pf[r] * 0
                for j in range(L):
                    e = np.exp((pf[r + j] - m) * scale)
                    pf[r + j] = e
                    tot += e
                inv = 1 / tot
                for j in range(L):
                    pf[r + j] *= inv
                for j in range(L, Tk):
                    pf[r + j] = 0
            _mm(False, False, Tq, dk, L, P, po, Tk, V, b * Tk * ldv + vc + h * dk, ldv,
                0, C, b * Tq * ldc + h * dk, ldc, ib, fb)


@njit(**_JIT)
def sdpa_backward(dC, Q, qc, Tq, K, kc, V, vc, Tk, lengths, heads, dk, P, dS,
                  dQ, dqc, dK, dkc, dV, dvc, ib, fb):
    """Gradients of :func:`sdpa_forward` wrt its queries, keys and values.

    ``dC`` (B * Tq, heads * dk) is the gradient wrt ``C``; writes (overwrites) the head
    blocks of ``dQ`` (B * Tq, lddq) from column ``dqc``, of ``dK`` (B * Tk, lddk) from
    ``dkc`` and of ``dV`` (B * Tk, lddv) from ``dvc``; rows of masked keys get zeros.
    ``dS`` is a (Tq * Tk,) workspace.
    """
    B = lengths.shape[0]
    ldq = Q.shape[1]
    ldk = K.shape[1]
    ldv = V.shape[1]
    ldc = dC.shape[1]
    lddq = dQ.shape[1]
    lddk = dK.shape[1]
    lddv = dV.shape[1]
    scale = 1.0 / np.sqrt(dk)
    pf = P.reshape(P.size)
    for b in range(B):
        L = lengths[b]
        for h in range(heads):
            po = ((b * heads + h) * Tq) * Tk
            co = b * Tq * ldc + h * dk
            # dP = dC_bh V_bh^T (Tq x L, leading dimension Tk)
            _mm(False, True, Tq, L, dk, dC, co, ldc, V, b * Tk * ldv + vc + h * dk, ldv,
                0, dS, 0, Tk, ib, fb)
            # dV_bh = P^T dC_bh
            _mm(True, False, L, dk, Tq, P, po, Tk, dC, co, ldc, 0, dV,
                b * Tk * lddv + dvc + h * dk, lddv, ib, fb)
            for i in range(Tq):
                r = po + i * Tk
                s = i * Tk
                acc = dS[s] * 0
                for j in range(L):
                    acc += dS[s + j] * pf[r + j]
                for j in range(L):
                    dS[s + j] = pf[r + j] * (dS[s + j] - acc) * scale
            _mm(False, False, Tq, dk, L, dS, 0, Tk, K, b * Tk * ldk + kc + h * dk, ldk, 0, dQ,
                b * Tq * lddq + dqc + h * dk, lddq, ib, fb)
            _mm(True, False, L, dk, Tq, dS, 0, Tk, Q, b * Tq * ldq + qc + h * dk, ldq, 0, dK,
                b * Tk * lddk + dkc + h * dk, lddk, ib, fb)
            for t in range(L, Tk):
                for j in range(dk):
                    dK[b * Tk + t, dkc + h * dk + j] = 0
                    dV[b * Tk + t, dvc + h * dk + j] = 0
