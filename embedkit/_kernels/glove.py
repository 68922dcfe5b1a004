"""Numba kernels for GloVe: weighted least squares on log co-occurrences with AdaGrad.

For an entry ``(i, j, x)`` the model predicts ``log x`` as ``w_i . c_j + b_i + b~_j`` and the
loss is ``0.5 * f(x) * diff**2`` with ``f(x) = min(1, (x / x_max) ** power)`` and
``diff = w_i . c_j + b_i + b~_j - log x`` (Pennington et al. 2014).  Each parameter ``p``
with gradient ``g`` takes the AdaGrad step of the reference implementation (``glove.c``):
``u = alpha * g; p -= u / sqrt(G_p); G_p += u**2``, the accumulators ``G`` starting at 1 and
summing the *scaled* steps ``u**2`` (not ``g**2``), so the step only starts to shrink once
``sum (alpha g)**2`` is comparable to 1.  The steps of the vectors are clipped to
``[-grad_clip, grad_clip]``.

Parameters live in two float32 *state* matrices of shape ``(V, 2 * dim + 2)``, one for
words and one for contexts, a row holding everything one update touches, contiguously
(fewer cache misses than four separate matrices)::

    row = [ vector (dim) | bias | AdaGrad sums of the vector (dim) | AdaGrad sum of the bias ]

Entries are stored as the upper triangle (keys ``i * V + j``, ``i <= j``); an off-diagonal
entry stands for both ``(i, j)`` and ``(j, i)`` and is trained in both directions.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from embedkit._kernels._options import FAST as _OPTS  # noqa: E402
_BATCH = 64        # entries gathered at a time (their loads overlap instead of stalling one by one)
_AHEAD = 4         # entries whose parameter rows are prefetched ahead of the one being trained


@intrinsic
def _prefetch(typingctx, arr, i, k):
    """Hint the CPU to load the cache line of ``arr[i, k]`` for writing (LLVM prefetch)."""
    sig = types.void(arr, i, k)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = [context.cast(builder, args[n], signature.args[n], types.intp) for n in (1, 2)]
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, idx, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 1), ir.Constant(i32, 3),
                          ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@njit(**_OPTS)
def prefetch_row(S, i):
    """Prefetch row ``i`` of a state matrix, one 64-byte line at a time."""
    for k in range(0, S.shape[1], 16):
        _prefetch(S, i, k)


@njit(**_OPTS)
def weight(x, x_max, power):
    """GloVe's weighting ``f(x) = min(1, (x / x_max) ** power)`` (float32)."""
    if x >= x_max:
        return np.float32(1.0)
    return np.float32((x / x_max) ** power)


@njit(**_OPTS)
def update_pair(WS, CS, i, j, logx, f, alpha, grad_clip):
    """One AdaGrad step on the entry (word ``i``, context ``j``); returns its loss.

    ``WS`` and ``CS`` are the word and context state matrices (see the module docstring).
    The loss ``0.5 * f * diff**2`` is measured before the step.  As in the reference
    implementation, a parameter with gradient ``g`` moves by ``u / sqrt(G)`` where
    ``u = alpha * g`` (clipped to ``[-grad_clip, grad_clip]``) and ``G`` is its sum *before*
    this step, which then grows by ``u**2`` (the sums hold scaled steps, not raw gradients).
    """
    dim = (WS.shape[1] - 2) // 2
    w = WS[i]
    c = CS[j]
    dot = np.float32(0.0)
    for k in range(dim):
        dot += w[k] * c[k]
    diff = dot + w[dim] + c[dim] - logx
    fdiff = f * diff
    step = alpha * fdiff
    g0 = dim + 1
    for k in range(dim):
        wi = w[k]
        cj = c[k]
        u1 = min(max(step * cj, -grad_clip), grad_clip)
        u2 = min(max(step * wi, -grad_clip), grad_clip)
        s1 = w[g0 + k]
        s2 = c[g0 + k]
        w[k] = wi - u1 / np.sqrt(s1)
        c[k] = cj - u2 / np.sqrt(s2)
        w[g0 + k] = s1 + u1 * u1
        c[g0 + k] = s2 + u2 * u2
    gb = g0 + dim
    sb = w[gb]
    w[dim] -= step / np.sqrt(sb)
    w[gb] = sb + step * step
    sc = c[gb]
    c[dim] -= step / np.sqrt(sc)
    c[gb] = sc + step * step
    return np.float32(0.5) * fdiff * diff


@njit(**_OPTS)
def _round(right, key, out_bits):
    z = (right ^ key) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    return z >> np.uint64(64 - out_bits)


@njit(**_OPTS)
def permuted_index(t, n, bits, round_keys):
    """Image of ``t`` under a seeded permutation of ``0 .. n-1``.

    A Feistel network on ``bits`` bits (``2**bits >= n``; halves of ``bits // 2`` and
    ``bits - bits // 2`` bits that swap widths every round, four rounds) is a bijection of
    ``[0, 2**bits)``; cycle-walking (re-applying it until the value falls below ``n``,
    fewer than two times on average) restricts it to a bijection of ``[0, n)``.  The round
    keys (uint64) select the permutation, so an epoch's shuffle needs no memory and any
    slice of it can be computed by any thread.
    """
    nn = np.uint64(n)
    x = np.uint64(t)
    while True:
        la = bits // 2
        lb = bits - la
        left = x >> np.uint64(lb)
        right = x & ((np.uint64(1) << np.uint64(lb)) - np.uint64(1))
        for r in range(round_keys.shape[0]):
            nxt = left ^ _round(right, round_keys[r], la)
            left = right
            right = nxt
            tmp = la
            la = lb
            lb = tmp
        x = (left << np.uint64(lb)) | right
        if x < nn:
            return np.int64(x)


@njit(**_OPTS)
def train_range(WS, CS, keys, vals, start, end, bits, round_keys, vocab_size, x_max, power,
                alpha, grad_clip):
    """Train on the entries at shuffled positions ``start .. end-1`` of one epoch.

    Position ``t`` maps to entry ``permuted_index(t, len(keys), bits, round_keys)``, so the
    slices of an epoch together visit every entry once, in a seeded random order.

    Parameters
    ----------
    WS, CS : float32 arrays (V, 2 * dim + 2)
        Word and context state matrices, updated in place (Hogwild: threads share them).
    keys, vals : arrays
        Upper-triangle entries (uint64 keys ``i * V + j``, float32 values).
    start, end : int
        Slice of the epoch's shuffled positions.
    bits : int
        Width of the permutation (:func:`permutation_bits`).
    round_keys : uint64 array
        This epoch's permutation keys.
    vocab_size : int
        ``V``.
    x_max, power, alpha, grad_clip : float32
        Weighting cut-off and exponent, learning rate, gradient clip.

    Returns
    -------
    (loss, n) : (float, int)
        Summed loss and number of (word, context) updates.
    """
    v64 = np.uint64(vocab_size)
    n_entries = keys.shape[0]
    bi = np.empty(_BATCH, dtype=np.int64)
    bj = np.empty(_BATCH, dtype=np.int64)
    bx = np.empty(_BATCH, dtype=np.float32)
    loss = 0.0
    n = 0
    for base in range(start, end, _BATCH):
        m = min(_BATCH, end - base)
        for u in range(m):  # gather: independent loads, so their cache misses overlap
            e = permuted_index(base + u, n_entries, bits, round_keys)
            key = keys[e]
            bi[u] = np.int64(key // v64)
            bj[u] = np.int64(key % v64)
            bx[u] = vals[e]
        for u in range(min(_AHEAD, m)):
            prefetch_row(WS, bi[u])
            prefetch_row(CS, bj[u])
        for u in range(m):
            if u + _AHEAD < m:
                a = bi[u + _AHEAD]
                b = bj[u + _AHEAD]
                prefetch_row(WS, a)
                prefetch_row(CS, b)
                if a != b:
                    prefetch_row(WS, b)
                    prefetch_row(CS, a)
            i = bi[u]
            j = bj[u]
            x = bx[u]
            logx = np.float32(np.log(x))
            f = weight(x, x_max, power)
            loss += update_pair(WS, CS, i, j, logx, f, alpha, grad_clip)
            n += 1
            if i != j:
                loss += update_pair(WS, CS, j, i, logx, f, alpha, grad_clip)
                n += 1
    return loss, n


def permutation_bits(n: int) -> int:
    """Width of the shuffle's Feistel network for ``n`` entries: ``2**bits >= n``, >= 2."""
    return max(2, int(n - 1).bit_length())
