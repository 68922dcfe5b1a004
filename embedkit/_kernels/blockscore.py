"""Numba kernels for querying a stored matrix a block of rows at a time.

The caller computes, for one block of stored rows, the raw dot products of the queries with
the rows (one GEMM on a block that stays in cache); these kernels fold a block into each
query's running top k after scaling it into cosines, and quantise float32 rows into int8
codes.  Every kernel is a plain function over arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# A finite "minus infinity": fastmath lets LLVM assume no infinities (as in _kernels/search.py).
EMPTY = np.float32(-3.0e38)
_GROUP = 16  # queries per parallel work item


def _fold_topk(dots, factor, x0, exclude, k, best_ids, best_scores):
    """Fold ``dots[q, i] * factor[i]`` (the cosine of query ``q`` with row ``x0 + i``) into
    the running top-k of every query, skipping the rows in ``exclude[q]`` (``-1`` padded).

    ``best_ids`` (int64, ``-1`` for empty) and ``best_scores`` (float32, :data:`EMPTY` for
    empty) hold each query's best ``k`` so far, best first; ties keep the lower row.
    """
    nq, c = dots.shape
    n_groups = (nq + _GROUP - 1) // _GROUP
    for g in prange(n_groups):
        for q in range(g * _GROUP, min(nq, (g + 1) * _GROUP)):
            ids = best_ids[q]
            scores = best_scores[q]
            threshold = scores[k - 1]
            row = dots[q]
            for i in range(c):
                s = row[i] * factor[i]
                if s > threshold:
                    x = x0 + i
                    skip = False
                    for e in range(exclude.shape[1]):
                        if exclude[q, e] == x:
                            skip = True
                    if skip:
                        continue
                    j = k - 1
                    while j > 0 and scores[j - 1] < s:
                        scores[j] = scores[j - 1]
                        ids[j] = ids[j - 1]
                        j -= 1
                    scores[j] = s
                    ids[j] = x
                    threshold = scores[k - 1]


fold_topk = njit(_fold_topk, nogil=True, fastmath=True, cache=True, parallel=True)
fold_topk_serial = njit(_fold_topk, nogil=True, fastmath=True, cache=True)


@njit(nogil=True, fastmath=True, cache=True)
def quantize_rows(block, codes, scales):
    """Per-row int8 codes: ``scale_r = max |x_r| / 127``, ``code = round(x / scale_r)``.

    An all-zero row gets scale 1 (and zero codes), so no stored scale is ever zero.
    """
    n, dim = block.shape
    for r in range(n):
        m = np.float32(0.0)
        for d in range(dim):
            a = abs(block[r, d])
            if a > m:
                m = a
        s = m / np.float32(127.0) if m > 0 else np.float32(1.0)
        scales[r] = s
        inv = np.float32(1.0) / s
        for d in range(dim):
            v = np.rint(block[r, d] * inv)
            if v > 127:
                v = 127
            elif v < -127:
                v = -127
            codes[r, d] = np.int8(v)


@njit(nogil=True, fastmath=True, cache=True)
def abs_max_columns(block, out):
    """``out[d] = max(out[d], max_r |block[r, d]|)`` (the per-dimension range, streamed)."""
    n, dim = block.shape
    for r in range(n):
        for d in range(dim):
            a = abs(block[r, d])
            if a > out[d]:
                out[d] = a


@njit(nogil=True, fastmath=True, cache=True)
def quantize_columns(block, scales, codes):
    """Per-dimension int8 codes: ``code = round(x / scales[d])`` clipped to [-127, 127]."""
    n, dim = block.shape
    for r in range(n):
        for d in range(dim):
            v = np.rint(block[r, d] / scales[d])
            if v > 127:
                v = 127
            elif v < -127:
                v = -127
            codes[r, d] = np.int8(v)



@njit(nogil=True, fastmath=True, cache=True)
def widen_half(bits, table, out):
    """float16 rows (as their uint16 bit patterns) to float32: ``out = table[bits]``.

    ``table`` holds the float32 value of each of the 65,536 patterns (256 KB, stays in
    cache), so the conversion is exact and branch-free; NumPy converts float16 in software,
    element by element (about 3x slower), and Numba has no float16 type.
    """
    n, dim = bits.shape
    for r in range(n):
        for d in range(dim):
            out[r, d] = table[bits[r, d]]


def _dots(block, queries, out):
    """``out[j, i] = sum_d block[i, d] * queries[j, d]`` for a few queries (float32 sums).

    ``block`` is float32 or int8 (codes, widened on the fly).  Used instead of BLAS for one
    to a few queries: a threaded BLAS call per block stalls for whole scheduler time slices
    when the machine is busy, and the fused int8 widening needs no buffer.
    """
    c, dim = block.shape
    nq = queries.shape[0]
    for i in range(c):
        for j in range(nq):
            s = np.float32(0.0)
            for d in range(dim):
                s += np.float32(block[i, d]) * queries[j, d]
            out[j, i] = s


def _dots_half(bits, table, queries, out):
    """:func:`dots` for float16 rows given as bit patterns, widened through ``table``."""
    c, dim = bits.shape
    nq = queries.shape[0]
    for i in range(c):
        for j in range(nq):
            s = np.float32(0.0)
            for d in range(dim):
                s += table[bits[i, d]] * queries[j, d]
            out[j, i] = s


dots = njit(_dots, nogil=True, fastmath=True, cache=True)
dots_half = njit(_dots_half, nogil=True, fastmath=True, cache=True)


def _insert(ids, scores, k, s, x):
    """Insert row ``x`` scoring ``s`` into one running top-k (best first; ties keep the
    row inserted first, i.e. the lower row when rows arrive in order)."""
    j = k - 1
    while j > 0 and scores[j - 1] < s:
        scores[j] = scores[j - 1]
        ids[j] = ids[j - 1]
        j -= 1
    scores[j] = s
    ids[j] = x


def _excluded(exclude, q, x):
    for e in range(exclude.shape[1]):
        if exclude[q, e] == x:
            return True
    return False


def _scan_topk(data, queries, factor, x0, x1, exclude, ids, scores):
    """Top k of a few queries over rows ``x0:x1`` read straight from ``data``, fused.

    For each row: its dot products with the queries (float32 sums over the row as stored,
    float32 or int8 codes), times ``factor[row]`` (the cosine), folded into a running top
    k.  ``ids`` / ``scores`` are ``(n_chunks, n_queries, k)`` (``-1`` / :data:`EMPTY`
    when empty): the rows are split into ``n_chunks`` consecutive ranges scanned in
    parallel, each with its own top k (merged by the caller: chunk order is row order).
    One pass over the rows, nothing written but the top k: the scan runs at memory speed
    (a matrix-vector product through BLAS writes and re-reads a dot product per row).
    """
    n_chunks, nq, k = ids.shape
    dim = data.shape[1]
    step = (x1 - x0 + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        a = x0 + c * step
        b = min(x1, a + step)
        for i in range(a, b):
            f = factor[i]
            for q in range(nq):
                s = np.float32(0.0)
                for d in range(dim):
                    s += np.float32(data[i, d]) * queries[q, d]
                s *= f
                if s > scores[c, q, k - 1] and not _excluded(exclude, q, i):
                    _insert(ids[c, q], scores[c, q], k, s, i)


def _scan_topk_half(bits, table, queries, factor, x0, x1, exclude, ids, scores):
    """:func:`scan_topk` for float16 rows given as bit patterns, widened through ``table``."""
    n_chunks, nq, k = ids.shape
    dim = bits.shape[1]
    step = (x1 - x0 + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        a = x0 + c * step
        b = min(x1, a + step)
        for i in range(a, b):
            f = factor[i]
            for q in range(nq):
                s = np.float32(0.0)
                for d in range(dim):
                    s += table[bits[i, d]] * queries[q, d]
                s *= f
                if s > scores[c, q, k - 1] and not _excluded(exclude, q, i):
                    _insert(ids[c, q], scores[c, q], k, s, i)


_insert = njit(_insert, nogil=True, fastmath=True, cache=True)
_excluded = njit(_excluded, nogil=True, fastmath=True, cache=True)
scan_topk = njit(_scan_topk, nogil=True, fastmath=True, cache=True, parallel=True)
scan_topk_half = njit(_scan_topk_half, nogil=True, fastmath=True, cache=True, parallel=True)
