"""Numba kernels for co-occurrence counting: window scan, sort-and-reduce, k-way merge.

Storage convention (shared with :mod:`embedkit.train.cooccur`): the symmetric matrix ``X`` is
kept as its upper triangle, one entry per pair ``i <= j`` keyed ``i * V + j`` (uint64) with a
float32 value.  ``X[i, j]`` sums ``1 / |p - q|`` over every *ordered* pair of corpus positions
``p != q`` in one sentence with ``|p - q| <= window``, ``ids[p] == i`` and ``ids[q] == j`` (so a
word next to itself adds ``2 / d`` to the diagonal, as GloVe's ``cooccur`` does).

Frequent pairs go to a dense table laid out row by row (``row_start[i]`` is where row ``i``
begins, ``row_len[i]`` how many columns ``j = i, i+1, ...`` it holds); the other pairs are
appended to a buffer of uint64 *codes* ``key * window + (distance - 1)`` that is later sorted
and reduced to strictly increasing keys with summed values (a *run*).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OPTS = dict(nogil=True, fastmath=True, cache=True, error_model="numpy")


@njit(**_OPTS)
def scan_window(ids, offsets, sent, pos, sent_end, window, vocab_size,
                dense, row_start, row_len, buf, fill):
    """Count the pairs of sentences ``sent .. sent_end-1``, starting at token ``pos``.

    Dense pairs are added to ``dense`` in place; the others are appended as codes to
    ``buf`` from index ``fill``.  Stops early, before a token whose pairs might not fit in
    ``buf``, so the caller can empty the buffer and call again with the returned state.

    Parameters
    ----------
    ids : int32 array
        Encoded corpus.
    offsets : int64 array
        Sentence boundaries (``n_sentences + 1`` entries).
    sent, pos : int
        Sentence to start in and absolute token index to start at (``offsets[sent] <= pos``).
    sent_end : int
        One past the last sentence to count.
    window : int
        Maximum distance between two counted tokens.
    vocab_size : int
        ``V``; keys are ``i * V + j``.
    dense, row_start, row_len : arrays
        Dense table (float64: frequent pairs sum millions of terms) and its row layout
        (int64).
    buf : uint64 array
        Code buffer; ``fill`` entries are used.

    Returns
    -------
    (sent, pos, fill) : tuple of int
        Where to resume (``sent == sent_end`` when done) and the new buffer fill.
    """
    cap = buf.shape[0]
    w64 = np.uint64(window)
    v64 = np.uint64(vocab_size)
    while sent < sent_end:
        end = offsets[sent + 1]
        if pos < offsets[sent]:
            pos = offsets[sent]
        while pos < end:
            if fill + window > cap:
                return sent, pos, fill
            a = ids[pos]
            stop = min(end, pos + window + 1)
            for q in range(pos + 1, stop):
                b = ids[q]
                d = q - pos
                if a <= b:
                    i = a
                    j = b
                else:
                    i = b
                    j = a
                if j - i < row_len[i]:
                    inc = 1.0 / d
                    if i == j:
                        inc = inc + inc
                    dense[row_start[i] + (j - i)] += inc
                else:
                    key = np.uint64(i) * v64 + np.uint64(j)
                    buf[fill] = key * w64 + np.uint64(d - 1)
                    fill += 1
            pos += 1
        sent += 1
    return sent, pos, fill


@njit(**_OPTS)
def radix_sort(a, scratch, n, bits):
    """Sort ``a[:n]`` (uint64 below ``2**bits``) in place: LSD radix sort, <= 12 bits a pass.

    ``scratch`` must hold at least ``n`` entries; its contents are overwritten.
    """
    if n < 2 or bits <= 0:
        return
    passes = (bits + 11) // 12
    width = (bits + passes - 1) // passes
    mask = np.uint64((1 << width) - 1)
    src = a
    dst = scratch
    count = np.empty((1 << width) + 1, dtype=np.int64)
    for p in range(passes):
        shift = np.uint64(p * width)
        count[:] = 0
        for k in range(n):
            count[np.int64((src[k] >> shift) & mask) + 1] += 1
        for b in range(1, count.shape[0]):
            count[b] += count[b - 1]
        for k in range(n):
            dgt = np.int64((src[k] >> shift) & mask)
            dst[count[dgt]] = src[k]
            count[dgt] += 1
        t = src
        src = dst
        dst = t
    if passes % 2 == 1:
        for k in range(n):
            a[k] = scratch[k]


@njit(**_OPTS)
def sort_reduce(buf, n, window, vocab_size, bits, out_keys, out_vals):
    """Sort the codes ``buf[:n]`` and reduce them to unique keys with summed values.

    ``out_keys`` doubles as the radix sort's scratch space.  Returns the number of entries
    written to ``out_keys`` / ``out_vals`` (strictly increasing keys).  Sums are
    accumulated in float64 and stored as float32.
    """
    radix_sort(buf, out_keys, n, bits)
    codes = buf
    w64 = np.uint64(window)
    v64 = np.uint64(vocab_size)
    m = 0
    k = 0
    while k < n:
        key = codes[k] // w64
        acc = 0.0
        while k < n and codes[k] // w64 == key:
            acc += 1.0 / (float(codes[k] % w64) + 1.0)
            k += 1
        if key // v64 == key % v64:  # diagonal: both orders of the position pair
            acc *= 2.0
        out_keys[m] = key
        out_vals[m] = np.float32(acc)
        m += 1
    return m


@njit(**_OPTS)
def _merge_few(keys, vals, starts, ends, out_keys, out_vals):
    """:func:`merge_runs` for a handful of runs: a linear scan of the heads beats a heap."""
    n_runs = starts.shape[0]
    head = starts.copy()
    top = np.uint64(0xFFFFFFFFFFFFFFFF)
    m = 0
    while True:
        best = top
        for r in range(n_runs):
            if head[r] < ends[r] and keys[head[r]] < best:
                best = keys[head[r]]
        if best == top:
            # no run has data left (a genuine key of 2**64 - 1 is impossible: V*V < 2**64)
            break
        acc = 0.0
        for r in range(n_runs):
            h = head[r]
            if h < ends[r] and keys[h] == best:
                acc += vals[h]
                head[r] = h + 1
        out_keys[m] = best
        out_vals[m] = np.float32(acc)
        m += 1
    return m


@njit(**_OPTS)
def merge_runs(keys, vals, starts, ends, out_keys, out_vals):
    """K-way merge of sorted segments ``keys[starts[r]:ends[r]]``, summing equal keys.

    Each segment must have strictly increasing keys.  A binary min-heap over the segment
    heads keeps the work at ``O(n log K)``.  Returns the number of entries written.
    """
    n_runs = starts.shape[0]
    if n_runs <= 8:
        return _merge_few(keys, vals, starts, ends, out_keys, out_vals)
    heap = np.empty(n_runs, dtype=np.int64)  # run ids, ordered by their head key
    head = starts.copy()
    size = 0
    for r in range(n_runs):
        if head[r] < ends[r]:
            # sift up
            c = size
            heap[c] = r
            size += 1
            while c > 0:
                p = (c - 1) // 2
                if keys[head[heap[p]]] > keys[head[heap[c]]]:
                    t = heap[p]
                    heap[p] = heap[c]
                    heap[c] = t
                    c = p
                else:
                    break
    m = 0
    have = False
    cur = np.uint64(0)
    acc = 0.0
    while size > 0:
        r = heap[0]
        key = keys[head[r]]
        if have and key == cur:
            acc += vals[head[r]]
        else:
            if have:
                out_keys[m] = cur
                out_vals[m] = np.float32(acc)
                m += 1
            cur = key
            acc = float(vals[head[r]])
            have = True
        head[r] += 1
        if head[r] >= ends[r]:
            size -= 1
            heap[0] = heap[size]
        # sift down
        c = 0
        while True:
            left = 2 * c + 1
            if left >= size:
                break
            s = left
            right = left + 1
            if right < size and keys[head[heap[right]]] < keys[head[heap[left]]]:
                s = right
            if keys[head[heap[s]]] < keys[head[heap[c]]]:
                t = heap[s]
                heap[s] = heap[c]
                heap[c] = t
                c = s
            else:
                break
    if have:
        out_keys[m] = cur
        out_vals[m] = np.float32(acc)
        m += 1
    return m


@njit(**_OPTS)
def dense_nonzero_count(dense):
    """Number of non-zero cells of the dense table."""
    n = 0
    for k in range(dense.shape[0]):
        if dense[k] != 0:
            n += 1
    return n


@njit(**_OPTS)
def dense_to_entries(dense, row_start, row_len, vocab_size, out_keys, out_vals):
    """Write the non-zero dense cells as (key, value) in increasing key order."""
    v64 = np.uint64(vocab_size)
    m = 0
    for i in range(row_start.shape[0]):
        base = row_start[i]
        for t in range(row_len[i]):
            x = dense[base + t]
            if x != 0:
                out_keys[m] = np.uint64(i) * v64 + np.uint64(i + t)
                out_vals[m] = np.float32(x)
                m += 1
    return m


@njit(**_OPTS)
def add_into(target, source):
    """``target += source`` for dense tables, releasing the GIL."""
    for k in range(target.shape[0]):
        target[k] += source[k]
