"""Numba kernels of a GRU layer (one direction) and of a hashed character-n-gram bag.

Inputs ``X`` are time-major ``(T, B, D)`` and the layer output ``(T, B, C)`` (a direction
fills ``H`` of its columns).  Sequences are padded at the end; ``lengths[b]`` is the number
of real steps of sequence ``b``; past its length a sequence's output is zero and it receives
no gradient.  A backward (right-to-left) direction is the same kernels run on the inputs
reversed within each length (see :func:`reverse_index`).

Inside the kernels the data are in *step order* and feature-major: column ``s * B + b`` of a
``(rows, T * B)`` array is step ``s`` of sequence ``b``.  Then the input projection of all
steps, the input gradient and the weight gradients are each one BLAS GEMM over contiguous
blocks, the recurrent product of a step is one GEMM on a column block (``h_{s-1}`` is read
in place through the leading dimension), and the gate loops run over ``B`` contiguous
values.

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
from llvmlite import binding as _llvm
from numba import njit, types
from numba.extending import get_cython_function_address

# The kernels call SciPy's OpenBLAS.  threadpoolctl can only pin a BLAS library that is
# already loaded, so load it at import: otherwise the first kernel call inside
# ``single_threaded_blas()`` loads it with its default thread count and the two GRU
# directions fight over its multi-threaded GEMM (a 10-100x slowdown).

from embedkit._kernels._options import FAST as _JIT  # noqa: E402

# BLAS: SciPy's sgemm/dgemm, called straight from the kernels (no copies, leading dimensions
# and beta), registered under our own symbol names so cached kernels link to them at load.
_llvm.add_symbol("embedkit_sgemm", get_cython_function_address("scipy.linalg.cython_blas",
                                                               "sgemm"))
_llvm.add_symbol("embedkit_dgemm", get_cython_function_address("scipy.linalg.cython_blas",
                                                               "dgemm"))
_SIG = types.void(*([types.intp] * 13))  # Fortran calling convention: every argument a pointer
_sgemm = types.ExternalFunction("embedkit_sgemm", _SIG)
_dgemm = types.ExternalFunction("embedkit_dgemm", _SIG)

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
_u = np.uint64
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
def _mm(ta, tb, M, N, K, A, a_off, lda, Bm, b_off, ldb, beta, C, c_off, ldc, ib, fb):
    """Row-major ``C = op(A) @ op(B) + beta * C`` on sub-blocks, through BLAS ``?gemm``.

    ``A``, ``Bm``, ``C`` are arrays of one float dtype; a block starts at flat offset
    ``*_off`` with leading dimension ``ld*`` (row stride in elements); ``ta``/``tb`` transpose
    (the stored block is then ``K x M`` / ``N x K``).  ``ib`` (int32, 8) and ``fb`` (the data
    dtype, 2) are scratch for the by-reference arguments.
    """
    if M == 0 or N == 0:
        return
    if K == 0:
        flat = C.reshape(C.size)
        for i in range(M):
            for j in range(N):
                flat[c_off + i * ldc + j] *= beta
        return
    # column-major BLAS computes C^T = op(B)^T op(A)^T
    ib[0] = 84 if tb else 78  # 'T' / 'N'
    ib[1] = 84 if ta else 78
    ib[2] = N
    ib[3] = M
    ib[4] = K
    ib[5] = ldb
    ib[6] = lda
    ib[7] = ldc
    fb[0] = 1
    fb[1] = beta
    p = ib.ctypes.data
    f = fb.ctypes.data
    s = A.itemsize
    if s == 4:
        _sgemm(p, p + 4, p + 8, p + 12, p + 16, f, Bm.ctypes.data + b_off * s, p + 20,
               A.ctypes.data + a_off * s, p + 24, f + s, C.ctypes.data + c_off * s, p + 28)
    else:
        _dgemm(p, p + 4, p + 8, p + 12, p + 16, f, Bm.ctypes.data + b_off * s, p + 20,
               A.ctypes.data + a_off * s, p + 24, f + s, C.ctypes.data + c_off * s, p + 28)


# OpenBLAS (0.3.16+, AVX-512 targets) runs a GEMM of at most 100^3 multiply-adds with its
# small-matrix kernels, which skip packing the operands; a larger product with the weights
# as one operand repacks them on every call.  Measured on this project's machine (Zen 4,
# SciPy's OpenBLAS 0.3.30, one thread): the LSTM's per-step 512x32x128 product in four
# 128-row blocks 38 us instead of 46 us, the 1280x100x512 input gradient in blocks of 128
# along K 1.38 ms instead of 1.81 ms.  Products with a transposed B (the input projection,
# dWh) are not split: the small kernel for that case only takes tiny outputs.
_SMALL_MNK = 1_000_000
_SMALL_K = 128


@njit(inline="always", **_JIT)
def _even_split(n, cap):
    """Size of the parts of ``n`` cut into the fewest equal parts of at most ``cap``."""
    p = (n + cap - 1) // cap
    return (n + p - 1) // p


@njit(**_JIT)
def _mm_blocks(ta, M, N, K, A, a_off, lda, Bm, b_off, ldb, beta, C, c_off, ldc, ib, fb):
    """:func:`_mm` with ``B`` untransposed, cut into blocks of at most ``_SMALL_MNK``
    multiply-adds (``K`` in parts of at most ``_SMALL_K``, accumulated with ``beta = 1``) so
    each block runs on OpenBLAS's small-matrix kernels.  Same result up to rounding."""
    if M == 0 or N == 0 or K == 0:
        _mm(ta, False, M, N, K, A, a_off, lda, Bm, b_off, ldb, beta, C, c_off, ldc, ib, fb)
        return
    kt = _even_split(K, _SMALL_K)
    nt = _even_split(N, 128)
    mt = _even_split(M, max(1, _SMALL_MNK // (nt * kt)))
    for i0 in range(0, M, mt):
        m = min(mt, M - i0)
        for j0 in range(0, N, nt):
            n = min(nt, N - j0)
            for k0 in range(0, K, kt):
                a = a_off + (k0 * lda + i0 if ta else i0 * lda + k0)
                _mm(ta, False, m, n, min(kt, K - k0), A, a, lda, Bm, b_off + k0 * ldb + j0,
                    ldb, beta if k0 == 0 else 1, C, c_off + i0 * ldc + j0, ldc, ib, fb)


@njit(**_JIT)
def step_mask(lengths, T, mask):
    """``mask[s * B + b] = 1`` where step ``s`` is real for sequence ``b``, else 0."""
    B = lengths.shape[0]
    for s in range(T):
        for b in range(B):
            mask[s * B + b] = 1 if s < lengths[b] else 0


@njit(**_JIT)
def gru_forward(X, rev, reverse, Wi, bi, WhT, bhn, mask, exact, out, col,
                Xs, XP, Hs, R, Z, N, HN, Whh, hp, ib, fb):
    """Forward pass of one GRU direction over a padded, masked batch.

    Buffers are in step order (see the module docstring); for the reverse direction step
    ``s`` of sequence ``b`` is position ``rev[s, b]``.  Past a sequence's length its state
    is reset to zero (nothing downstream reads it).

    Parameters
    ----------
    X : (T, B, D) inputs (C-contiguous).
    rev : (T, B) int, :func:`reverse_index`; reverse : bool, run right to left.
    Wi : (3H, D) input weights; bi : (3H,) input biases with ``b_hr, b_hz`` folded in.
    WhT : (H, 3H) transposed recurrent weights; bhn : (H,) recurrent bias of ``n``.
    mask : (T * B,) from :func:`step_mask`.
    exact : bool, use ``np.tanh`` (float64 checks) instead of the rational tanh.
    out : (T, B, C) output; receives the hidden states in columns ``col:col + H`` (zero
        past each length).
    Xs : (T * B, D) workspace (the reversed inputs; unused going forward).
    XP : (3H, T * B) workspace, the input projections.
    Hs : (H, (T + 1) * B) hidden states, column block 0 the zero initial state.
    R, Z, N, HN : (T, H, B) saved gates ``r, z, n`` and ``W_hn h + b_hn``.
    Whh : (3H, H), hp : (3H, B) workspaces; ib : int32 (8,), fb : (2,) BLAS scratch.
    """
    T, B, D = X.shape
    H = WhT.shape[0]
    TB = T * B
    if reverse:
        for s in range(T):
            for b in range(B):
                Xs[s * B + b, :] = X[rev[s, b], b]
        src = Xs
    else:
        src = X.reshape(TB, D)
    for j in range(H):
        for k in range(3 * H):
            Whh[k, j] = WhT[j, k]
    _mm(False, True, 3 * H, TB, D, Wi, 0, D, src, 0, D, 0, XP, 0, TB, ib, fb)
    Hs[:, :B] = 0
    hp[:] = 0
    xpf = XP.reshape(XP.size)
    hpf = hp.reshape(hp.size)
    hsf = Hs.reshape(Hs.size)
    rf = R.reshape(R.size)
    zf = Z.reshape(Z.size)
    nf = N.reshape(N.size)
    hnf = HN.reshape(HN.size)
    HB = H * B
    Bu = _u(B)
    for s in range(T):
        c = s * B
        if s > 0:
            _mm(False, False, 3 * H, B, H, Whh, 0, H, Hs, c, TB + B, 0, hp, 0, B, ib, fb)
        for j in range(H):
            bir = bi[j]
            biz = bi[H + j]
            bin_ = bi[2 * H + j]
            bn = bhn[j]
            # unsigned offsets: Numba then skips the negative-index wraparound, which
            # would otherwise stop these loops from vectorising
            x0 = _u(j * TB + c)  # gate rows r, z, n of XP at step s
            x1 = x0 + _u(H * TB)
            x2 = x1 + _u(H * TB)
            h0 = _u(j * B)  # and of hp
            h1 = h0 + _u(HB)
            h2 = h1 + _u(HB)
            q = _u(j * (TB + B) + c)  # h_{s-1} in Hs; h_s at q + Bu
            o = _u(s * HB + j * B)  # saved gates
            cu = _u(c)
            # one short loop per output array: few pointers per loop, so each vectorises
            if exact:
                for b in range(Bu):
                    rf[o + b] = _HALF + _HALF * np.tanh(_HALF * (xpf[x0 + b] + hpf[h0 + b] + bir))
                for b in range(Bu):
                    zf[o + b] = _HALF + _HALF * np.tanh(_HALF * (xpf[x1 + b] + hpf[h1 + b] + biz))
                for b in range(Bu):
                    hnf[o + b] = hpf[h2 + b] + bn
                for b in range(Bu):
                    nf[o + b] = np.tanh(xpf[x2 + b] + bin_ + rf[o + b] * hnf[o + b])
            else:
                for b in range(Bu):
                    rf[o + b] = _HALF + _HALF * fast_tanh(_HALF * (xpf[x0 + b] + hpf[h0 + b] + bir))
                for b in range(Bu):
                    zf[o + b] = _HALF + _HALF * fast_tanh(_HALF * (xpf[x1 + b] + hpf[h1 + b] + biz))
                for b in range(Bu):
                    hnf[o + b] = hpf[h2 + b] + bn
                for b in range(Bu):
                    nf[o + b] = fast_tanh(xpf[x2 + b] + bin_ + rf[o + b] * hnf[o + b])
            for b in range(Bu):
                z = zf[o + b]
                hsf[q + Bu + b] = mask[cu + b] * ((_ONE - z) * nf[o + b] + z * hsf[q + b])
    for s in range(T):
        for b in range(B):
            p = rev[s, b] if reverse else s
            o = out[p, b]
            for j in range(H):
                o[col + j] = Hs[j, (s + 1) * B + b]


@njit(**_JIT)
def gru_backward(dOut, col, X, rev, reverse, Wi, WhT, mask, Xs, Hs, R, Z, N, HN,
                 dHs, G, WhTp, dh, dXs, dWi, dbi, dWhT, dbhn, ib, fb):
    """Backward pass (backprop through time) of one GRU direction.

    ``dOut`` (T, B, C) holds the gradient of the loss with respect to ``out`` of
    :func:`gru_forward`; this direction reads columns ``col:col + H``.  Writes the input
    gradient in step order to ``dXs`` (T * B, D) (for the reverse direction, position
    ``rev[s, b]`` of row ``s * B + b``) and the parameter gradients ``dWi`` (3H, D),
    ``dbi`` (3H,), ``dWhT`` (H, 3H), ``dbhn`` (H,) (overwritten, not accumulated).
    ``Xs, Hs, R, Z, N, HN`` are as left by :func:`gru_forward`.  Workspaces: ``dHs``
    (T, H, B); ``G`` (4H, T * B) the gate gradients per step, rows ``[dn * r; dr; dz; dn]``
    (rows 0:3H are the gradient of ``W_h h`` in gate order n, r, z, rows H:4H that of the
    input projection in order r, z, n); ``WhTp`` (H, 3H); ``dh`` (H, B).  The gradients of
    the folded biases ``b_hr, b_hz`` equal the first 2H entries of ``dbi``.
    """
    T, B, D = X.shape
    H = WhT.shape[0]
    TB = T * B
    src = Xs if reverse else X.reshape(TB, D)
    for s in range(T):
        for b in range(B):
            p = rev[s, b] if reverse else s
            g = dOut[p, b]
            for j in range(H):
                dHs[s, j, b] = g[col + j]
    for j in range(H):
        for k in range(H):
            WhTp[j, k] = WhT[j, 2 * H + k]
        for k in range(2 * H):
            WhTp[j, H + k] = WhT[j, k]
    dh[:] = 0
    rf = R.reshape(R.size)
    zf = Z.reshape(Z.size)
    nf = N.reshape(N.size)
    hnf = HN.reshape(HN.size)
    hsf = Hs.reshape(Hs.size)
    dyf = dHs.reshape(dHs.size)
    gf = G.reshape(G.size)
    dhf = dh.reshape(dh.size)
    HB = H * B
    Bu = _u(B)
    for s in range(T - 1, -1, -1):
        c = s * B
        for j in range(H):
            o = _u(s * HB + j * B)  # saved gates and dHs
            q = _u(j * (TB + B) + c)  # h_{s-1}
            e = _u(j * B)  # dh
            gnr = _u(j * TB + c)  # rows of G: dn * r, dr, dz, dn
            gr = gnr + _u(H * TB)
            gz = gr + _u(H * TB)
            gn = gz + _u(H * TB)
            cu = _u(c)
            for b in range(Bu):  # dh <- g, the gradient wrt h_s
                dhf[e + b] = mask[cu + b] * (dhf[e + b] + dyf[o + b])
            for b in range(Bu):
                n = nf[o + b]
                gf[gn + b] = dhf[e + b] * (_ONE - zf[o + b]) * (_ONE - n * n)
            for b in range(Bu):
                gf[gnr + b] = gf[gn + b] * rf[o + b]
            for b in range(Bu):
                r = rf[o + b]
                gf[gr + b] = gf[gn + b] * hnf[o + b] * r * (_ONE - r)
            for b in range(Bu):
                z = zf[o + b]
                gf[gz + b] = dhf[e + b] * (hsf[q + b] - nf[o + b]) * z * (_ONE - z)
            for b in range(Bu):
                dhf[e + b] *= zf[o + b]
        if s > 0:
            _mm(False, False, H, B, 3 * H, WhTp, 0, 3 * H, G, c, TB, 1, dh, 0, B, ib, fb)
    # input gradient and input weights: rows H:4H of G are d(input projection), order r, z, n
    _mm(True, False, TB, D, 3 * H, G, H * TB, TB, Wi, 0, D, 0, dXs, 0, D, ib, fb)
    _mm(False, False, 3 * H, D, TB, G, H * TB, TB, src, 0, D, 0, dWi, 0, D, ib, fb)
    # recurrent weights: h_{s-1} against the step-s gradients, steps 1..T-1
    K = (T - 1) * B
    _mm(False, True, H, 2 * H, K, Hs, B, TB + B, G, H * TB + B, TB, 0, dWhT, 0, 3 * H, ib, fb)
    _mm(False, True, H, H, K, Hs, B, TB + B, G, B, TB, 0, dWhT, 2 * H, 3 * H, ib, fb)
    for k in range(3 * H):
        row = G[H + k]
        acc = row[0] * 0
        for i in range(TB):
            acc += row[i]
        dbi[k] = acc
    for k in range(H):
        row = G[k]
        acc = row[0] * 0
        for i in range(TB):
            acc += row[i]
        dbhn[k] = acc


@njit(**_JIT)
def add_unreversed(dX, dXs, rev):
    """``dX[rev[s, b], b] += dXs[s * B + b]``: adds a reverse direction's input gradient."""
    T, B = rev.shape
    for s in range(T):
        for b in range(B):
            dX[rev[s, b], b, :] += dXs[s * B + b]


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
