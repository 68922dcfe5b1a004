"""Numba kernels of the search engine: streaming top-k over word-similarity rows, exact re-ranking.

Every kernel is a plain function over arrays.  Scores are float32; ``-1`` marks an empty slot in
an id array (fewer than ``k`` candidates survived the exclusions) and its score is ``_EMPTY``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# A finite "minus infinity": fastmath lets LLVM assume no infinities, so never compare with -inf.
_EMPTY = np.float32(-3.0e38)

METHOD_3COSADD = 0
METHOD_3COSMUL = 1
_GROUP = 64  # queries per parallel work item (they share one scratch row)


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _insert(best_ids, best_scores, k, idx, score):
    """Insert (idx, score) into the descending top-k arrays if it beats the last entry."""
    j = k - 1
    while j > 0 and best_scores[j - 1] < score:
        best_scores[j] = best_scores[j - 1]
        best_ids[j] = best_ids[j - 1]
        j -= 1
    best_scores[j] = score
    best_ids[j] = idx


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _excluded(row, exclude, q):
    for e in range(exclude.shape[1]):
        if exclude[q, e] == row:
            return True
    return False


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _skip_candidate(x, exclude, q, best_ids):
    """Whether candidate row ``x`` is an empty slot, excluded, or already in the top k."""
    if x < 0 or _excluded(x, exclude, q):
        return True
    for j in range(best_ids.shape[0]):
        if best_ids[j] == x:
            return True
    return False


@njit(nogil=True, fastmath=True, cache=True, parallel=True, error_model="numpy")
def combination_topk(tile, x0, pos, neg, scale, exclude, k, method, epsilon, best_ids,
                     best_scores):
    """Fold one tile of vocabulary columns into the running top-k of signed word combinations.

    The caller computes, for one tile of vocabulary rows ``x0 .. x0 + tile.shape[1]``, the
    cosines of every term word with them (one small GEMM that stays in cache) and calls this
    once per tile; the top-k arrays carry over between tiles.  The full terms x vocabulary
    matrix is never stored, so each query reads its few rows of the tile from cache.

    Parameters
    ----------
    tile : float32 (t, c)
        Cosines of the ``t`` term words (or query vectors) with the tile's ``c`` rows.
    x0 : int
        Vocabulary row of the tile's first column.
    pos, neg : int32 (q, p), (q, m)
        Per query, the rows of ``tile`` added / subtracted, ``-1`` padded.
    scale : float32 (q,)
        3CosAdd: ``1 / ||sum of signed unit vectors||`` so scores are cosines with the
        normalized query; ignored by 3CosMul.
    exclude : int64 (q, e)
        Vocabulary rows never to return, ``-1`` padded.
    k : int
        Results per query.
    method : int
        ``METHOD_3COSADD`` (sum of signed cosines) or ``METHOD_3COSMUL`` (Levy & Goldberg's
        product of the positives' ``(1 + cos) / 2`` divided by the negatives' plus ``epsilon``).
    epsilon : float32
        3CosMul's guard against division by zero (Levy & Goldberg: 1e-3; gensim: 1e-6).
    best_ids : int64 (q, k), best_scores : float32 (q, k)
        The running top-k, best first (start with ``-1`` / ``_EMPTY``); updated in place.
    """
    c = tile.shape[1]
    nq = pos.shape[0]
    half = np.float32(0.5)
    one = np.float32(1.0)
    eps = np.float32(epsilon)
    n_groups = (nq + _GROUP - 1) // _GROUP
    for g in prange(n_groups):
        buf = np.empty(c, dtype=np.float32)  # one scratch row per group of queries
        den = np.empty(c, dtype=np.float32)
        for q in range(g * _GROUP, min(nq, (g + 1) * _GROUP)):
            # score the tile with branch-free loops (they vectorize), then scan it
            if method == METHOD_3COSADD:
                for i in range(c):
                    buf[i] = np.float32(0.0)
                for j in range(pos.shape[1]):
                    r = pos[q, j]
                    if r >= 0:
                        for i in range(c):
                            buf[i] += tile[r, i]
                for j in range(neg.shape[1]):
                    r = neg[q, j]
                    if r >= 0:
                        for i in range(c):
                            buf[i] -= tile[r, i]
                sc = scale[q]
                for i in range(c):
                    buf[i] *= sc
            else:
                for i in range(c):
                    buf[i] = one
                    den[i] = one
                for j in range(pos.shape[1]):
                    r = pos[q, j]
                    if r >= 0:
                        for i in range(c):
                            buf[i] *= (one + tile[r, i]) * half
                for j in range(neg.shape[1]):
                    r = neg[q, j]
                    if r >= 0:
                        for i in range(c):
                            den[i] *= (one + tile[r, i]) * half
                for i in range(c):  # no negatives: den = 1 (an empty product)
                    buf[i] = buf[i] / (den[i] + eps)
            ids = best_ids[q]
            scores = best_scores[q]
            threshold = scores[k - 1]
            for i in range(c):
                s = buf[i]
                if s > threshold:
                    if _excluded(x0 + i, exclude, q):
                        continue
                    _insert(ids, scores, k, x0 + i, s)
                    threshold = scores[k - 1]


@njit(nogil=True, fastmath=True, cache=True, parallel=True)
def rerank_exact(normalized, queries, candidates, exclude, k, out_ids, out_scores):
    """Exact inner products of each query with its candidate rows; keep the best ``k``.

    Parameters
    ----------
    normalized : float32 (n, dim)
        Unit rows of the vocabulary.
    queries : float32 (q, dim)
        Unit query vectors.
    candidates : int64 (q, c)
        Candidate row ids from an approximate index, ``-1`` for an empty slot.
    exclude : int64 (q, e)
        Row ids never to return, ``-1`` padded.
    k : int
        Results per query.
    out_ids : int64 (q, k), out_scores : float32 (q, k)
        Filled best first; ``-1`` / ``_EMPTY`` where fewer than ``k`` candidates remain.
    """
    nq = candidates.shape[0]
    dim = normalized.shape[1]
    for q in prange(nq):
        best_ids = np.full(k, -1, dtype=np.int64)
        best_scores = np.full(k, _EMPTY, dtype=np.float32)
        for c in range(candidates.shape[1]):
            x = candidates[q, c]
            if _skip_candidate(x, exclude, q, best_ids):
                continue
            s = np.float32(0.0)
            for d in range(dim):
                s += normalized[x, d] * queries[q, d]
            if s > best_scores[k - 1]:
                _insert(best_ids, best_scores, k, x, s)
        for j in range(k):
            out_ids[q, j] = best_ids[j]
            out_scores[q, j] = best_scores[j]


@njit(nogil=True, fastmath=True, cache=True, parallel=True)
def filter_sorted(candidates, scores, exclude, k, out_ids, out_scores):
    """Drop excluded ids from candidate lists already sorted best first; keep the first ``k``."""
    nq = candidates.shape[0]
    for q in prange(nq):
        j = 0
        for c in range(candidates.shape[1]):
            if j == k:
                break
            x = candidates[q, c]
            if x < 0 or _excluded(x, exclude, q):
                continue
            out_ids[q, j] = x
            out_scores[q, j] = scores[q, c]
            j += 1
        while j < k:
            out_ids[q, j] = -1
            out_scores[q, j] = _EMPTY
            j += 1


@njit(nogil=True, fastmath=True, cache=True, inline="always")
def _dot(a, i, b, j):
    s = np.float32(0.0)
    for d in range(a.shape[1]):
        s += a[i, d] * b[j, d]
    return s


@njit(nogil=True, fastmath=True, cache=True, parallel=True, error_model="numpy")
def rescore_candidates(normalized, pos, neg, scale, candidates, exclude, k, method, epsilon,
                       out_ids, out_scores):
    """Score candidate rows of word-combination queries exactly (3CosAdd or 3CosMul).

    Parameters
    ----------
    normalized : float32 (n, dim)
        Unit rows of the vocabulary.
    pos, neg : int32 (q, p), (q, m)
        Per query, the vocabulary rows added / subtracted, ``-1`` padded.
    scale : float32 (q,)
        ``1 / ||sum of signed unit vectors||`` (3CosAdd).
    candidates : int64 (q, c)
        Candidate rows, ``-1`` for an empty slot.
    exclude : int64 (q, e)
        Rows never to return, ``-1`` padded.
    k, method, epsilon, out_ids, out_scores
        As :func:`combination_topk`.
    """
    nq = candidates.shape[0]
    half = np.float32(0.5)
    one = np.float32(1.0)
    eps = np.float32(epsilon)
    for q in prange(nq):
        best_ids = np.full(k, -1, dtype=np.int64)
        best_scores = np.full(k, _EMPTY, dtype=np.float32)
        for c in range(candidates.shape[1]):
            x = candidates[q, c]
            if _skip_candidate(x, exclude, q, best_ids):
                continue
            if method == METHOD_3COSADD:
                s = np.float32(0.0)
                for j in range(pos.shape[1]):
                    if pos[q, j] >= 0:
                        s += _dot(normalized, x, normalized, pos[q, j])
                for j in range(neg.shape[1]):
                    if neg[q, j] >= 0:
                        s -= _dot(normalized, x, normalized, neg[q, j])
                s *= scale[q]
            else:
                num = one
                for j in range(pos.shape[1]):
                    if pos[q, j] >= 0:
                        num *= (one + _dot(normalized, x, normalized, pos[q, j])) * half
                den = one
                for j in range(neg.shape[1]):
                    if neg[q, j] >= 0:
                        den *= (one + _dot(normalized, x, normalized, neg[q, j])) * half
                s = num / (den + eps)
            if s > best_scores[k - 1]:
                _insert(best_ids, best_scores, k, x, s)
        for j in range(k):
            out_ids[q, j] = best_ids[j]
            out_scores[q, j] = best_scores[j]
