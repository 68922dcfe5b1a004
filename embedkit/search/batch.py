"""Batched word-arithmetic queries (``king - man + woman``) with 3CosAdd or 3CosMul.

Many analogy questions share their words (the 19,544 Google questions use 905 distinct
words), so the exact engine computes each distinct word's cosines with the vocabulary once
and scores every query from those rows.  It works through the vocabulary a tile of rows at a
time: one matrix product gives the distinct words' cosines with the tile (a block sized to
stay in cache), every query folds the tile into its running top k, and the next tile
follows, so the words x vocabulary matrix is never stored.  3CosAdd is the sum of signed
cosines scaled by ``1 / ||query||`` -- exactly the cosine with the normalized query vector
that gensim's ``most_similar`` computes -- and 3CosMul needs those cosines anyway.  With an
approximate index, query vectors go through :meth:`Index.search` and the candidates are
scored exactly.
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from embedkit._kernels import search as kernels
from embedkit.errors import ParameterError
from embedkit.search.results import (_RESCORE_QUERIES, _check_int, compact_rows,
                                     exclusion_matrix, ids_to_words)

log = logging.getLogger(__name__)

METHODS = {"3cosadd": kernels.METHOD_3COSADD, "3cosmul": kernels.METHOD_3COSMUL}
#: Bounds the distinct words (or query vectors) handled together: their cosines with a tile
#: of ``_MIN_TILE`` vocabulary rows take at most this much memory.
DEFAULT_BLOCK_BYTES = 256 << 20
#: The cosines of the distinct words with one tile of the vocabulary are computed at a time,
#: sized to stay in the CPU's last-level cache, and never stored for the whole vocabulary.
_TILE_BYTES = 8 << 20
_MIN_TILE = 256


def _rows(vectors, terms) -> list[int]:
    out = []
    for t in terms:
        if isinstance(t, (int, np.integer)) and not isinstance(t, bool):
            if not 0 <= t < len(vectors):
                raise ParameterError(f"row id {t} is out of range for {len(vectors)} words")
            out.append(int(t))
        else:
            out.append(vectors.index(t))
    return out


def combination_search(vectors, positive: Sequence[Sequence], negative: Sequence[Sequence] | None = None,
                       k: int = 10, method: str = "3cosadd", index=None,
                       restrict_vocab: int | None = None,
                       block_bytes: int = DEFAULT_BLOCK_BYTES, cosmul_epsilon: float = 1e-3):
    """Answer many ``sum(positive) - sum(negative)`` queries at once, query words excluded.

    Parameters
    ----------
    vectors : Vectors
    positive, negative : list of lists of str or int
        Per query, the words (or row ids) added and subtracted.  ``man:king::woman:?`` is
        ``positive=[["king", "woman"]], negative=[["man"]]``.
    k : int, default 10
        Results per query.
    method : {"3cosadd", "3cosmul"}
        3CosAdd ranks by the cosine with the normalized sum of signed unit vectors (gensim's
        ``most_similar``); 3CosMul by ``prod (1 + cos(x, p)) / 2 / (prod (1 + cos(x, n)) / 2
        + cosmul_epsilon)`` (Levy & Goldberg 2014; gensim's ``most_similar_cosmul``).
    index : Index, optional
        An approximate index (HNSW, IVF-PQ) supplies candidates that are then scored exactly;
        an exact index or none uses the exact engine.
    restrict_vocab : int, optional
        Only the first ``restrict_vocab`` rows are candidates (exact engine).
    block_bytes : int
        Bounds how many distinct words are handled together (their cosines with a tile of
        at least 256 vocabulary rows take at most this much memory).
    cosmul_epsilon : float, default 1e-3
        3CosMul's denominator guard: 1e-3 as Levy & Goldberg and ``Vectors.analogy``;
        gensim's ``most_similar_cosmul`` uses 1e-6.

    Returns
    -------
    ids : int64 ndarray (n_queries, k)
        Row ids best first (``-1`` where fewer than ``k`` rows remain).
    scores : float32 ndarray (n_queries, k)
    """
    if method not in METHODS:
        raise ParameterError(f"method must be 3cosadd or 3cosmul, got {method!r}")
    if not cosmul_epsilon > 0:
        raise ParameterError(f"cosmul_epsilon must be > 0, got {cosmul_epsilon!r}")
    eps = np.float32(cosmul_epsilon)
    k = _check_int("k", k, 1)
    positive = list(positive)
    negative = list(negative) if negative is not None else [[] for _ in positive]
    if len(negative) != len(positive):
        raise ParameterError(f"{len(positive)} positive lists but {len(negative)} negative "
                             "lists: give both per query")
    pos = [_rows(vectors, p) for p in positive]
    neg = [_rows(vectors, m) for m in negative]
    for i, (p, m) in enumerate(zip(pos, neg)):
        if not p and not m:
            raise ParameterError(f"query {i + 1} has no words: give at least one word")
    n_rows = len(vectors)
    if restrict_vocab is not None:
        n_rows = _check_int("restrict_vocab", restrict_vocab, 1)
        n_rows = min(n_rows, len(vectors))
    out_ids = np.empty((len(pos), k), dtype=np.int64)
    out_scores = np.empty((len(pos), k), dtype=np.float32)
    if not pos:
        return out_ids, out_scores
    use_index = (index is not None and index.approximate and n_rows == len(vectors))
    if use_index:
        _indexed(vectors, index, pos, neg, k, METHODS[method], eps, out_ids, out_scores)
    else:
        _exact(vectors, pos, neg, k, METHODS[method], eps, n_rows, block_bytes, out_ids,
               out_scores)
    out_scores[out_ids < 0] = -np.inf
    return out_ids, out_scores


def combination_words(vectors, positive, negative=None, k: int = 10, method: str = "3cosadd",
                      index=None, restrict_vocab: int | None = None, **kwargs):
    """:func:`combination_search` as lists of ``(word, score)`` pairs, best first."""
    ids, scores = combination_search(vectors, positive, negative, k, method, index,
                                     restrict_vocab, **kwargs)
    return ids_to_words(vectors, ids, scores)


def _padded(lists, width=None) -> np.ndarray:
    width = max((len(x) for x in lists), default=0) if width is None else width
    out = np.full((len(lists), width), -1, dtype=np.int32)
    for i, x in enumerate(lists):
        out[i, :len(x)] = x
    return out


def _gather(unit, rows):
    """Unit rows ``rows`` of ``unit``: a matrix of unit rows, or a stored matrix."""
    if hasattr(unit, "unit_rows"):
        return unit.unit_rows(rows)
    return unit[rows]


def _query_vectors(unit, pos, neg):
    """Per query, the sum of its signed unit vectors and ``1 / ||sum||`` (1 for a zero sum).

    ``unit`` is a matrix of unit rows or a :class:`~embedkit.vectors.storage.StoredMatrix`.
    Built a term column at a time (one gather per column), not a query at a time.
    """
    q = np.zeros((len(pos), unit.shape[1]), dtype=np.float32)
    for terms, sign in ((_padded(pos), 1), (_padded(neg), -1)):
        for j in range(terms.shape[1]):
            rows = terms[:, j]
            if rows.min(initial=0) >= 0:  # every query has a j-th term: no scatter needed
                part, where = _gather(unit, rows), slice(None)
            else:
                where = np.flatnonzero(rows >= 0)
                part = _gather(unit, rows[where])
            if sign > 0:
                q[where] += part
            else:
                q[where] -= part
    norms = np.linalg.norm(q, axis=1)
    norms[norms == 0] = 1.0
    return q, (1.0 / norms).astype(np.float32)


def _blocks(pos, neg, rows_per_block):
    """Consecutive query ranges whose distinct words fit in ``rows_per_block`` rows."""
    start = 0
    while start < len(pos):
        seen = set()
        end = start
        while end < len(pos) and end - start < rows_per_block:
            words = set(pos[end]) | set(neg[end])
            if end > start and len(seen | words) > rows_per_block:
                break
            seen |= words
            end += 1
        yield start, end, sorted(seen)
        start = end


def _tile_columns(n_terms: int, n_rows: int) -> int:
    """Vocabulary rows per tile: the terms x tile cosine block stays near ``_TILE_BYTES``."""
    return int(max(_MIN_TILE, min(n_rows, _TILE_BYTES // (4 * max(n_terms, 1)))))


def _exact(vectors, pos, neg, k, method, eps, n_rows, block_bytes, out_ids, out_scores):
    unit = vectors.storage
    words_per_block = max(1, int(block_bytes) // (4 * _MIN_TILE))
    for start, end, words in _blocks(pos, neg, words_per_block):
        bpos, bneg = pos[start:end], neg[start:end]
        excl = exclusion_matrix([p + m for p, m in zip(bpos, bneg)], end - start)
        if method == kernels.METHOD_3COSADD and len(words) >= end - start:
            # as many distinct words as queries: one cosine row per query vector is cheaper
            terms, scale = _query_vectors(unit, bpos, bneg)
            bp = np.arange(end - start, dtype=np.int32)[:, None]
            bn = np.full((end - start, 0), -1, dtype=np.int32)
        else:
            slot = {w: i for i, w in enumerate(words)}
            terms = unit.unit_rows(words)
            bp = _padded([[slot[w] for w in p] for p in bpos])
            bn = _padded([[slot[w] for w in m] for m in bneg])
            if method == kernels.METHOD_3COSADD:
                _, scale = _query_vectors(unit, bpos, bneg)
            else:  # 3CosMul does not use the query norm
                scale = np.ones(end - start, dtype=np.float32)
        terms = np.ascontiguousarray(terms, dtype=np.float32)
        ids = out_ids[start:end]
        scores = out_scores[start:end]
        ids.fill(-1)
        scores.fill(kernels._EMPTY)
        # the terms' cosines with one tile of the vocabulary (a GEMM on stored rows that
        # fit in cache, divided by the row norms), folded into the running top-k before the
        # next tile is computed
        step = min(_tile_columns(len(terms), n_rows), unit.block_rows(len(terms)))
        unit.combination_search(terms, bp, bn, scale, excl, k, method, eps, n_rows=n_rows,
                                rows=step, ids=ids, scores=scores)


def _indexed(vectors, index, pos, neg, k, method, eps, out_ids, out_scores):
    unit = vectors.storage
    qv, scale = _query_vectors(unit, pos, neg)
    excl = exclusion_matrix([p + m for p, m in zip(pos, neg)], len(pos))
    if method == kernels.METHOD_3COSADD:
        ids, scores = index.search(qv, k, exclude=excl)
        out_ids[:] = ids
        out_scores[:] = scores
        return
    # 3CosMul: the 3CosAdd neighbourhood holds the 3CosMul answers; score candidates exactly.
    fetch = min(len(vectors), max(8 * k, 64))
    cand, _ = index.search(qv, fetch, exclude=excl)
    # the candidates' and query words' unit rows only, gathered a chunk of queries at a time
    bp, bn = _padded(pos), _padded(neg)
    for s in range(0, len(pos), _RESCORE_QUERIES):
        e = min(len(pos), s + _RESCORE_QUERIES)
        rows, (c, p, m, x) = compact_rows([cand[s:e], bp[s:e], bn[s:e]], [excl[s:e]])
        kernels.rescore_candidates(unit.unit_rows(rows), p.astype(np.int32), m.astype(np.int32),
                                   scale[s:e], c, x, k, method, eps, out_ids[s:e],
                                   out_scores[s:e])
        valid = out_ids[s:e] >= 0
        out_ids[s:e][valid] = rows[out_ids[s:e][valid]]
