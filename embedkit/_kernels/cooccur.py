"""Numba kernels for co-occurrence counting: window scan, sort-and-reduce, k-way merge.

Storage convention (shared with :mod:`embedkit.training.cooccur`): the symmetric matrix ``X`` is
kept as its upper triangle, one entry per pair ``i <= j`` keyed ``i * V + j`` (uint64) with a
float32 value.  ``X[i, j]`` sums ``1 / |p - q|`` over every *ordered* pair of corpus positions
``p != q`` in one sentence with ``|p - q| <= window``, ``ids[p] == i`` and ``ids[q] == j`` (so a
word next to itself adds ``2 / d`` to the diagonal, as GloVe's ``cooccur`` does).

Frequent pairs go to a dense table laid out row by row (``row_start[i]`` is where row ``i``
begins, ``row_len[i]`` how many columns ``j = i, i+1, ...`` it holds); the other pairs are
appended to a buffer of uint64 *codes* ``(key << s) | (distance - 1)`` (``s`` bits hold the
distance, :func:`code_shift`) that is later sorted and reduced to strictly increasing keys
with summed values (a *run*).  Sorting splits the codes into buckets of contiguous key ranges
by their top bits (one pass over memory), then sorts each bucket in cache; in memory, threads
take ranges of buckets and write the merged entries straight into the final arrays.

Sums are exact: a pair at distance ``d`` adds the integer weight ``weights[d] = L / d`` with
``L = lcm(1..window)`` (:func:`weight_scale`), so every partial sum is an int64 and the
sum of a key does not depend on the order its terms are met in (threads, spilled runs,
shards, cluster workers).  A key's value is ``float32(float64(total) / L)``, computed once
(:func:`sums_to_values`); the single-machine and the partitioned counts are bit-identical.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST as _OPTS  # noqa: E402


_EXACT_SCALE_MAX = 1 << 28   # lcm(1..22); wider windows use rounded weights
_ROUNDED_SCALE = 1 << 24


def weight_scale(window: int) -> int:
    """``L``: the integer a weight ``1/d`` is scaled by.

    ``lcm(1, ..., window)`` while it is below 2**28 (``window <= 22``), so every weight
    ``L / d`` is an exact integer; beyond that 2**24 with weights rounded to the nearest
    integer (a relative error below ``window / 2**25`` per term).
    """
    import math

    scale = 1
    for d in range(1, int(window) + 1):
        scale = scale * d // math.gcd(scale, d)
        if scale > _EXACT_SCALE_MAX:
            return _ROUNDED_SCALE
    return scale


def weights(window: int) -> np.ndarray:
    """``weights[d] = round(L / d)`` for ``d = 1..window`` (int64; ``weights[0] = 0``)."""
    scale = weight_scale(window)
    w = np.zeros(int(window) + 1, dtype=np.int64)
    for d in range(1, int(window) + 1):
        w[d] = (2 * scale + d) // (2 * d)
    return w


def sums_to_values(sums: np.ndarray, scale: int) -> np.ndarray:
    """Values ``float32(float64(sum) / L)`` of exact integer sums (NumPy, IEEE division: the
    same bits on every machine; no fastmath reciprocal)."""
    return (np.asarray(sums, dtype=np.int64).astype(np.float64) / np.float64(scale)) \
        .astype(np.float32)


def code_shift(window: int) -> int:
    """Bits that hold ``distance - 1`` below the key in a pair code (0 for ``window == 1``)."""
    return int(window - 1).bit_length()


def code_bits(vocab_size: int, window: int) -> int:
    """Width of the pair codes ``(key << code_shift(window)) | (distance - 1)``."""
    return int(vocab_size * vocab_size - 1).bit_length() + code_shift(window)


@njit(**_OPTS)
def scan_window(ids, offsets, sent, pos, sent_end, window, vocab_size, product,
                dense, row_start, buf, fill, hist, shift, wts):
    """Count the pairs of sentences ``sent .. sent_end-1``, starting at token ``pos``.

    A pair ``i <= j`` with ``(i + 1) * (j + 1) <= product`` is dense: its integer weight
    ``wts[d]`` (:func:`weights`) is added to ``dense`` in place; the others are appended as codes ``(key << s) | (d - 1)``
    (``s = code_shift(window)``) to ``buf`` from index ``fill``.  Stops early, before a token
    whose pairs might not fit in ``buf``, so the caller can empty the buffer and call again
    with the returned state.

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
    product : int
        ``P`` of the dense layout (:func:`embedkit.training.cooccur.dense_layout`).
    dense, row_start : arrays
        Dense table (int64 exact sums of weights) and where each of its rows starts
        (int64).
    buf : uint64 array
        Code buffer; ``fill`` entries are used.
    hist, shift : int64 array, int
        ``hist[code >> shift] += 1`` for every appended code (the bucket sizes of
        :func:`bucket_split`, counted while the code is at hand).
    wts : int64 array
        :func:`weights` of ``window``.

    Returns
    -------
    (sent, pos, fill) : tuple of int
        Where to resume (``sent == sent_end`` when done) and the new buffer fill.
    """
    cap = buf.shape[0]
    v64 = np.uint64(vocab_size)
    dbits = np.uint64(0)
    while (1 << np.int64(dbits)) < window:
        dbits += np.uint64(1)
    P = np.int64(product)
    sh = np.uint64(shift)
    while sent < sent_end:
        end = offsets[sent + 1]
        if pos < offsets[sent]:
            pos = offsets[sent]
        while pos < end:
            if fill + window > cap:
                return sent, pos, fill
            a = np.int64(ids[pos])
            stop = min(end, pos + window + 1)
            for q in range(pos + 1, stop):
                b = np.int64(ids[q])
                d = q - pos
                i = min(a, b)
                j = max(a, b)
                if (i + 1) * (j + 1) <= P:
                    inc = wts[d]
                    if i == j:
                        inc = inc + inc
                    dense[row_start[i] + (j - i)] += inc
                else:
                    key = np.uint64(i) * v64 + np.uint64(j)
                    code = (key << dbits) | np.uint64(d - 1)
                    buf[fill] = code
                    hist[np.int64(code >> sh)] += 1
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


def bucket_split(bits: int, dbits: int, top: int = 11):
    """``(shift, n_buckets)`` of a most-significant-digit split of ``bits``-bit pair codes.

    Buckets are ``code >> shift``; ``shift >= dbits``, so all codes of one key share a
    bucket and a bucket covers a contiguous range of keys.
    """
    hb = max(0, min(top, bits - dbits))
    return bits - hb, 1 << hb


@njit(**_OPTS)
def bucket_histogram(codes, n, shift, hist):
    """``hist[b] += `` number of ``codes[:n]`` with ``code >> shift == b``."""
    sh = np.uint64(shift)
    for k in range(n):
        hist[np.int64(codes[k] >> sh)] += 1


@njit(**_OPTS)
def bucket_scatter(codes, n, shift, pos, out):
    """Move ``codes[:n]`` to ``out[pos[b]]``, ``pos[b] += 1``, ``b = code >> shift``."""
    sh = np.uint64(shift)
    for k in range(n):
        c = codes[k]
        b = np.int64(c >> sh)
        out[pos[b]] = c
        pos[b] += 1


@njit(**_OPTS)
def bucket_scatter_low(codes, n, shift, pos, out):
    """:func:`bucket_scatter` keeping only the low ``shift`` bits of each code (the bucket
    holds the rest), so ``out`` can be uint32 when ``shift <= 32``: half the memory."""
    sh = np.uint64(shift)
    low = (np.uint64(1) << sh) - np.uint64(1)
    for k in range(n):
        c = codes[k]
        b = np.int64(c >> sh)
        out[pos[b]] = c & low
        pos[b] += 1


@njit(**_OPTS)
def sort_buckets(codes, scratch, bstart, b0, b1, shift, dbits, n_keys):
    """Sort each bucket ``codes[bstart[b]:bstart[b+1]]``, ``b0 <= b < b1``, in place.

    Only the low ``shift`` bits differ within a bucket, so each is a small LSD sort (in
    cache when the bucket is).  ``n_keys[b]`` receives the bucket's number of distinct keys
    (``code >> dbits``).  ``scratch`` must hold the largest bucket.
    """
    db = np.uint64(dbits)
    for b in range(b0, b1):
        lo = bstart[b]
        hi = bstart[b + 1]
        n = hi - lo
        if n == 0:
            n_keys[b] = 0
            continue
        seg = codes[lo:hi]
        radix_sort(seg, scratch, n, shift)
        u = 1
        prev = seg[0] >> db
        for k in range(1, n):
            cur = seg[k] >> db
            if cur != prev:
                u += 1
                prev = cur
        n_keys[b] = u


@njit(**_OPTS)
def sort_codes(a, scratch, n, bits, dbits):
    """Sort pair codes ``a[:n]`` in place: one most-significant-digit pass, then every
    bucket by LSD radix sort while it is in cache.  ``scratch`` holds ``n`` entries."""
    shift = bits
    hb = min(11, bits - dbits)
    if hb < 1 or n < 65536:
        radix_sort(a, scratch, n, bits)
        return
    shift = bits - hb
    nb = 1 << hb
    hist = np.zeros(nb, dtype=np.int64)
    bucket_histogram(a, n, shift, hist)
    bstart = np.zeros(nb + 1, dtype=np.int64)
    for b in range(nb):
        bstart[b + 1] = bstart[b] + hist[b]
    pos = bstart[:nb].copy()
    bucket_scatter(a, n, shift, pos, scratch)
    n_keys = np.empty(nb, dtype=np.int64)
    sort_buckets(scratch, a, bstart, 0, nb, shift, dbits, n_keys)
    for k in range(n):
        a[k] = scratch[k]


@njit(**_OPTS)
def sort_reduce(buf, n, window, vocab_size, bits, out_keys, out_vals, wts):
    """Sort the codes ``buf[:n]`` and reduce them to unique keys with summed weights.

    ``out_keys`` doubles as the sort's scratch space.  Returns the number of entries
    written to ``out_keys`` / ``out_vals`` (strictly increasing keys; ``out_vals`` int64
    exact sums of the :func:`weights` ``wts``).
    """
    dbits = 0
    while (1 << dbits) < window:
        dbits += 1
    sort_codes(buf, out_keys, n, bits, dbits)
    db = np.uint64(dbits)
    dmask = np.uint64((1 << dbits) - 1)
    v64 = np.uint64(vocab_size)
    m = 0
    k = 0
    while k < n:
        key = buf[k] >> db
        acc = np.int64(0)
        while k < n and (buf[k] >> db) == key:
            acc += wts[np.int64(buf[k] & dmask) + 1]
            k += 1
        if key // v64 == key % v64:  # diagonal: both orders of the position pair
            acc *= 2
        out_keys[m] = key
        out_vals[m] = acc
        m += 1
    return m


@njit(**_OPTS)
def dense_bucket_counts(dense, row_start, row_len, vocab_size, dbits, shift, counts):
    """``counts[b] +=`` number of non-zero dense cells whose key falls in bucket ``b``."""
    for i in range(row_start.shape[0]):
        base = row_start[i]
        for t in range(row_len[i]):
            if dense[base + t] != 0:
                key = np.int64(i) * vocab_size + i + t
                counts[(key << dbits) >> shift] += 1


@njit(**_OPTS)
def _dense_next(dense, row_start, row_len, di, dj, vocab_size, khi):
    """First non-zero dense cell at or after ``(di, dj)`` in key order with key < ``khi``:
    ``(di, dj, key)``, key -1 when there is none."""
    n_rows = row_start.shape[0]
    while di < n_rows:
        end = di + row_len[di]
        if end <= di:
            return di, dj, np.int64(-1)  # rows with dense cells form a prefix
        while dj < end:
            key = di * vocab_size + dj
            if key >= khi:
                return di, dj, np.int64(-1)
            if dense[row_start[di] + dj - di] != 0:
                return di, dj, key
            dj += 1
        di += 1
        dj = di
    return di, dj, np.int64(-1)


@njit(**_OPTS)
def reduce_buckets(codes, bstart, b0, b1, shift, window, vocab_size, dense, row_start,
                   row_len, out_start, out_keys, out_vals, wts):
    """Reduce the sorted buckets ``b0 <= b < b1`` and merge in the dense cells of their keys.

    Bucket ``b`` (codes ``codes[bstart[b]:bstart[b+1]]``, sorted by :func:`sort_buckets`,
    holding only the low ``shift`` bits, as :func:`bucket_scatter_low` leaves them) covers
    the keys ``[(b << shift) >> s, ((b + 1) << shift) >> s)`` with
    ``s = code_shift(window)``; its entries (the reduced codes and the non-zero dense cells
    of that key range, which never share a key) are written in key order from
    ``out_start[b]``, with their exact int64 sums of the weights ``wts``.
    """
    dbits = 0
    while (1 << dbits) < window:
        dbits += 1
    db = np.uint64(dbits)
    dmask = np.uint64((1 << dbits) - 1)
    V = np.int64(vocab_size)
    for b in range(b0, b1):
        klo = (np.int64(b) << shift) >> dbits
        khi = (np.int64(b + 1) << shift) >> dbits
        di = klo // V
        dj = klo - di * V
        if dj < di:
            dj = di
        di, dj, dkey = _dense_next(dense, row_start, row_len, di, dj, V, khi)
        top = np.uint64(b) << np.uint64(shift)
        m = out_start[b]
        k = bstart[b]
        hi = bstart[b + 1]
        while k < hi:
            low = np.uint64(codes[k]) >> db
            acc = np.int64(0)
            while k < hi and (np.uint64(codes[k]) >> db) == low:
                acc += wts[np.int64(np.uint64(codes[k]) & dmask) + 1]
                k += 1
            key = (top >> db) | low
            ikey = np.int64(key)
            while dkey >= 0 and dkey < ikey:
                out_keys[m] = np.uint64(dkey)
                out_vals[m] = dense[row_start[di] + dj - di]
                m += 1
                di, dj, dkey = _dense_next(dense, row_start, row_len, di, dj + 1, V, khi)
            i = ikey // V
            if ikey - i * V == i:  # diagonal: both orders of the position pair
                acc *= 2
            out_keys[m] = key
            out_vals[m] = acc
            m += 1
        while dkey >= 0:
            out_keys[m] = np.uint64(dkey)
            out_vals[m] = dense[row_start[di] + dj - di]
            m += 1
            di, dj, dkey = _dense_next(dense, row_start, row_len, di, dj + 1, V, khi)


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
    """Write the non-zero dense cells as (key, sum) in increasing key order."""
    v64 = np.uint64(vocab_size)
    m = 0
    for i in range(row_start.shape[0]):
        base = row_start[i]
        for t in range(row_len[i]):
            x = dense[base + t]
            if x != 0:
                out_keys[m] = np.uint64(i) * v64 + np.uint64(i + t)
                out_vals[m] = x
                m += 1
    return m


@njit(**_OPTS)
def add_into(target, source):
    """``target += source`` for dense tables, releasing the GIL."""
    for k in range(target.shape[0]):
        target[k] += source[k]


@njit(**_OPTS)
def merge_runs_exact(keys, sums, starts, ends, out_keys, out_sums):
    """:func:`merge_runs` for exact int64 sums: equal keys add up in int64, so the result
    does not depend on how the entries were split into runs."""
    n_runs = starts.shape[0]
    head = starts.copy()
    top = np.uint64(0xFFFFFFFFFFFFFFFF)
    m = 0
    if n_runs <= 8:
        while True:
            best = top
            for r in range(n_runs):
                if head[r] < ends[r] and keys[head[r]] < best:
                    best = keys[head[r]]
            if best == top:
                break
            acc = np.int64(0)
            for r in range(n_runs):
                h = head[r]
                if h < ends[r] and keys[h] == best:
                    acc += sums[h]
                    head[r] = h + 1
            out_keys[m] = best
            out_sums[m] = acc
            m += 1
        return m
    heap = np.empty(n_runs, dtype=np.int64)
    size = 0
    for r in range(n_runs):
        if head[r] < ends[r]:
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
    have = False
    cur = np.uint64(0)
    acc = np.int64(0)
    while size > 0:
        r = heap[0]
        key = keys[head[r]]
        if have and key == cur:
            acc += sums[head[r]]
        else:
            if have:
                out_keys[m] = cur
                out_sums[m] = acc
                m += 1
            cur = key
            acc = sums[head[r]]
            have = True
        head[r] += 1
        if head[r] >= ends[r]:
            size -= 1
            heap[0] = heap[size]
        c = 0
        while True:
            left = 2 * c + 1
            if left >= size:
                break
            sm = left
            right = left + 1
            if right < size and keys[head[heap[right]]] < keys[head[heap[left]]]:
                sm = right
            if keys[head[heap[sm]]] < keys[head[heap[c]]]:
                t = heap[sm]
                heap[sm] = heap[c]
                heap[c] = t
                c = sm
            else:
                break
    if have:
        out_keys[m] = cur
        out_sums[m] = acc
        m += 1
    return m
