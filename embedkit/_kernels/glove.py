"""Numba kernels for GloVe: weighted least squares on log co-occurrences with AdaGrad.

For an entry ``(i, j, x)`` the model predicts ``log x`` as ``w_i . c_j + b_i + b~_j`` and the
loss is ``0.5 * f(x) * diff**2`` with ``f(x) = min(1, (x / x_max) ** power)`` and
``diff = w_i . c_j + b_i + b~_j - log x`` (Pennington et al. 2014).  Each parameter ``p``
with gradient ``g`` takes the AdaGrad step ``G_p += g**2; p -= alpha * g / sqrt(G_p)``, the
accumulators ``G`` starting at 1 as in the reference implementation.  Gradients of the
vectors are clipped to ``[-grad_clip, grad_clip]``.

Entries are stored as the upper triangle (keys ``i * V + j``, ``i <= j``); an off-diagonal
entry stands for both ``(i, j)`` and ``(j, i)`` and is trained in both directions.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTS = dict(nogil=True, fastmath=True, cache=True, error_model="numpy")


@njit(**_OPTS)
def weight(x, x_max, power):
    """GloVe's weighting ``f(x) = min(1, (x / x_max) ** power)`` (float32)."""
    if x >= x_max:
        return np.float32(1.0)
    return np.float32((x / x_max) ** power)


@njit(**_OPTS)
def update_pair(W, C, bw, bc, gW, gC, gbw, gbc, i, j, logx, f, alpha, grad_clip):
    """One AdaGrad step on the entry (word ``i``, context ``j``); returns its loss.

    The loss ``0.5 * f * diff**2`` is measured before the step.
    """
    dim = W.shape[1]
    dot = np.float32(0.0)
    for k in range(dim):
        dot += W[i, k] * C[j, k]
    diff = dot + bw[i] + bc[j] - logx
    fdiff = f * diff
    for k in range(dim):
        wi = W[i, k]
        cj = C[j, k]
        g1 = fdiff * cj
        g2 = fdiff * wi
        if g1 > grad_clip:
            g1 = grad_clip
        elif g1 < -grad_clip:
            g1 = -grad_clip
        if g2 > grad_clip:
            g2 = grad_clip
        elif g2 < -grad_clip:
            g2 = -grad_clip
        s1 = gW[i, k] + g1 * g1
        s2 = gC[j, k] + g2 * g2
        gW[i, k] = s1
        gC[j, k] = s2
        W[i, k] = wi - alpha * g1 / np.sqrt(s1)
        C[j, k] = cj - alpha * g2 / np.sqrt(s2)
    sb = gbw[i] + fdiff * fdiff
    gbw[i] = sb
    bw[i] -= alpha * fdiff / np.sqrt(sb)
    sc = gbc[j] + fdiff * fdiff
    gbc[j] = sc
    bc[j] -= alpha * fdiff / np.sqrt(sc)
    return np.float32(0.5) * fdiff * diff


@njit(**_OPTS)
def _mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**_OPTS)
def permuted_index(t, n, half_bits, round_keys):
    """Image of ``t`` under a seeded permutation of ``0 .. n-1``.

    A four-round balanced Feistel network on ``2 * half_bits`` bits (``4**half_bits >= n``)
    is a bijection of ``[0, 4**half_bits)``; cycle-walking (re-applying it until the value
    falls below ``n``) restricts it to a bijection of ``[0, n)``.  The round keys
    (uint64) select the permutation, so an epoch's shuffle needs no memory and any slice
    of it can be computed by any thread.
    """
    hb = np.uint64(half_bits)
    mask = (np.uint64(1) << hb) - np.uint64(1)
    x = np.uint64(t)
    nn = np.uint64(n)
    while True:
        left = x >> hb
        right = x & mask
        for r in range(round_keys.shape[0]):
            f = _mix64(right ^ round_keys[r]) & mask
            nxt = left ^ f
            left = right
            right = nxt
        x = (left << hb) | right
        if x < nn:
            return np.int64(x)


@njit(**_OPTS)
def train_range(W, C, bw, bc, gW, gC, gbw, gbc, keys, vals, start, end, half_bits, round_keys,
                vocab_size, x_max, power, alpha, grad_clip):
    """Train on the entries at shuffled positions ``start .. end-1`` of one epoch.

    Position ``t`` maps to entry ``permuted_index(t, len(keys), half_bits, round_keys)``,
    so the slices of an epoch together visit every entry once, in a seeded random order.

    Parameters
    ----------
    W, C : float32 arrays (V, dim)
        Word and context vectors, updated in place (Hogwild: threads share them).
    bw, bc : float32 arrays (V,)
        Word and context biases.
    gW, gC, gbw, gbc : float32 arrays
        AdaGrad accumulators matching ``W, C, bw, bc``.
    keys, vals : arrays
        Upper-triangle entries (uint64 keys ``i * V + j``, float32 values).
    start, end : int
        Slice of the epoch's shuffled positions.
    half_bits : int
        Half the Feistel width (see :func:`permuted_index`).
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
    loss = 0.0
    n = 0
    for t in range(start, end):
        e = permuted_index(t, n_entries, half_bits, round_keys)
        key = keys[e]
        i = np.int64(key // v64)
        j = np.int64(key % v64)
        x = vals[e]
        logx = np.float32(np.log(x))
        f = weight(x, x_max, power)
        loss += update_pair(W, C, bw, bc, gW, gC, gbw, gbc, i, j, logx, f, alpha, grad_clip)
        n += 1
        if i != j:
            loss += update_pair(W, C, bw, bc, gW, gC, gbw, gbc, j, i, logx, f, alpha, grad_clip)
            n += 1
    return loss, n


def half_bits_for(n: int) -> int:
    """Feistel half width for ``n`` entries: the smallest ``h >= 1`` with ``4**h >= n``."""
    h = 1
    while (1 << (2 * h)) < n:
        h += 1
    return h
