"""Numba kernels for fastText's character n-grams: hashing, scanning a model's dictionary,
and composing word vectors from n-gram rows.

A word is handled as its bytes wrapped in ``<`` and ``>`` (``b"<where>"``).  Its n-grams are
the runs of ``minn`` to ``maxn`` UTF-8 characters (a character is a lead byte and its
continuation bytes ``10xxxxxx``), except the two one-character runs ``<`` and ``>``.  Each
n-gram is hashed with 32-bit FNV-1a in which every byte is first sign-extended from 8 bits
(fastText's ``uint32_t(int8_t(c))``), and lands in bucket ``hash % bucket``.
"""

from __future__ import annotations

import numba
import numpy as np

# exact float32 sums in fastText's order: fastmath stays off (it could reassociate them)
_JIT = dict(nogil=True, fastmath=False, cache=True, error_model="numpy")

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
_MASK32 = 0xFFFFFFFF

# statuses of scan_dictionary
SCAN_OK = 0
SCAN_TRUNCATED = 1     # a = entry index that runs past the end of the buffer
SCAN_BAD_TYPE = 2      # a = entry index whose type byte is neither 0 (word) nor 1 (label)


@numba.njit(inline="always", **_JIT)
def _fnv_step(h, byte):
    """One FNV-1a step over a byte sign-extended to 32 bits: ``(h ^ int8(byte)) * prime``."""
    x = np.uint64(byte)
    if byte >= 128:
        x = x | np.uint64(0xFFFFFF00)
    return ((h ^ x) * np.uint64(FNV_PRIME)) & np.uint64(_MASK32)


@numba.njit(**_JIT)
def ft_hash(buf, start, end):
    """fastText's 32-bit FNV-1a hash of ``buf[start:end]`` (bytes sign-extended first)."""
    h = np.uint64(FNV_OFFSET)
    for i in range(start, end):
        h = _fnv_step(h, buf[i])
    return h


@numba.njit(**_JIT)
def ngram_buckets(buf, start, end, minn, maxn, bucket, remap, out):
    """Write the rows of the n-grams of the wrapped word ``buf[start:end]`` into ``out``.

    Row ``r = hash % bucket``, or ``remap[r]`` when ``remap`` is not empty (a pruned model;
    ``-1`` drops the n-gram).  Returns how many rows were written; ``out`` must hold at
    least ``(end - start) * maxn`` entries.
    """
    count = 0
    if bucket <= 0 or maxn <= 0:
        return 0
    for i in range(start, end):
        if (buf[i] & 0xC0) == 0x80:
            continue
        h = np.uint64(FNV_OFFSET)
        j = i
        n = 1
        while j < end and n <= maxn:
            h = _fnv_step(h, buf[j])
            j += 1
            while j < end and (buf[j] & 0xC0) == 0x80:
                h = _fnv_step(h, buf[j])
                j += 1
            if n >= minn and not (n == 1 and (i == start or j == end)):
                r = np.int64(h % np.uint64(bucket))
                if remap.shape[0] > 0:
                    r = np.int64(remap[r])
                if r >= 0:
                    out[count] = r
                    count += 1
            n += 1
    return count


@numba.njit(**_JIT)
def compose_vectors(buf, offsets, own_rows, words_matrix, ngrams, minn, maxn, bucket, remap,
                    out, counts):
    """Word vectors as fastText's ``getWordVector`` builds them.

    Word ``k`` is ``buf[offsets[k]:offsets[k + 1]]`` (wrapped in ``<``/``>``).  Its vector is
    the mean of ``words_matrix[own_rows[k]]`` (when ``own_rows[k] >= 0``) and of the rows of
    ``ngrams`` its n-grams hash to, summed in float32 in that order and scaled by
    ``float32(1 / count)``; a word with nothing to average gets zeros.  ``counts[k]``
    receives the number of rows averaged.
    """
    dim = out.shape[1]
    longest = 0
    for k in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[k + 1] - offsets[k])
    rows = np.empty(max(longest * max(maxn, 1), 1), dtype=np.int64)
    acc = np.empty(dim, dtype=np.float32)
    for k in range(offsets.shape[0] - 1):
        for d in range(dim):
            acc[d] = np.float32(0.0)
        cnt = 0
        own = own_rows[k]
        if own >= 0:
            for d in range(dim):
                acc[d] += words_matrix[own, d]
            cnt = 1
        m = ngram_buckets(buf, offsets[k], offsets[k + 1], minn, maxn, bucket, remap, rows)
        for t in range(m):
            r = rows[t]
            for d in range(dim):
                acc[d] += ngrams[r, d]
        cnt += m
        counts[k] = cnt
        if cnt > 0:
            scale = np.float32(1.0 / cnt)
            for d in range(dim):
                out[k, d] = acc[d] * scale
        else:
            for d in range(dim):
                out[k, d] = np.float32(0.0)


@numba.njit(**_JIT)
def scan_dictionary(buf, pos, entries, starts, ends, counts, types):
    """Parse ``entries`` dictionary records of a fastText model from ``buf[pos:]``.

    A record is the word's bytes, a NUL, an int64 count and an int8 type (0 word, 1 label),
    little-endian.  Fills ``starts``/``ends`` (word byte range), ``counts`` and ``types``.
    Returns ``(status, a, pos)``: status ``SCAN_OK`` and the offset after the last record,
    or an error status and the index of the offending record.
    """
    n = buf.shape[0]
    for k in range(entries):
        s = pos
        while pos < n and buf[pos] != 0:
            pos += 1
        if pos + 10 > n:
            return SCAN_TRUNCATED, k, pos
        starts[k] = s
        ends[k] = pos
        c = np.int64(0)
        for b in range(8):
            c |= np.int64(buf[pos + 1 + b]) << np.int64(8 * b)
        counts[k] = c
        t = buf[pos + 9]
        if t > 1:
            return SCAN_BAD_TYPE, k, pos
        types[k] = t
        pos += 10
    return SCAN_OK, 0, pos


@numba.njit(**_JIT)
def gather_words(buf, starts, ends, sep, out):
    """Copy each word ``buf[starts[k]:ends[k]]`` into ``out``, each followed by ``sep``.

    Returns the number of bytes written (``out`` must be large enough).
    """
    p = 0
    for k in range(starts.shape[0]):
        for i in range(starts[k], ends[k]):
            out[p] = buf[i]
            p += 1
        out[p] = sep
        p += 1
    return p


@numba.njit(**_JIT)
def wrap_words(buf, starts, ends, out, offsets):
    """Write each word ``buf[starts[k]:ends[k]]`` as ``<word>`` into ``out``; ``offsets``
    (length ``len(starts) + 1``) receives where each wrapped word starts.  Returns its end."""
    p = 0
    for k in range(starts.shape[0]):
        offsets[k] = p
        out[p] = 60  # '<'
        p += 1
        for i in range(starts[k], ends[k]):
            out[p] = buf[i]
            p += 1
        out[p] = 62  # '>'
        p += 1
    offsets[starts.shape[0]] = p
    return p
