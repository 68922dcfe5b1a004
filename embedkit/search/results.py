"""From raw search output to answers, shared by :class:`~embedkit.search.index.Index` and
the batched queries of :mod:`embedkit.search.batch`: exclusion masks, exact re-scoring of
candidates over only the rows they use, row ids to ``(word, score)`` lists."""

from __future__ import annotations

import numpy as np

from embedkit._kernels import search as kernels
from embedkit.errors import ParameterError


def _check_int(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ParameterError(f"{name} must be >= {low}, got {value}")
    return int(value)


#: queries whose candidate rows are gathered together for exact re-scoring
_RESCORE_QUERIES = 512


def compact_rows(id_arrays, mapped=()):
    """The distinct rows used by ``id_arrays`` (``-1`` = none) and the arrays renumbered
    into them (positions in that list), then the ``mapped`` arrays renumbered the same way
    (ids that are not among the rows become ``-1``).

    Scoring a few gathered unit rows replaces indexing the whole (unit) matrix.
    """
    flat = np.concatenate([np.asarray(a, dtype=np.int64).ravel() for a in id_arrays])
    rows = np.unique(flat[flat >= 0])
    out = []
    for a in list(id_arrays) + list(mapped):
        a = np.asarray(a, dtype=np.int64)
        pos = np.minimum(np.searchsorted(rows, np.maximum(a, 0)), max(len(rows) - 1, 0))
        hit = (a >= 0) & (len(rows) > 0)
        if len(rows):
            hit &= rows[pos] == a
        out.append(np.where(hit, pos, -1))
    return rows, out


def _rerank(storage, q, cand, excl, k, out_ids, out_scores):
    """Exact cosines of each query with its candidates, from the gathered unit rows only."""
    for s in range(0, len(q), _RESCORE_QUERIES):
        e = min(len(q), s + _RESCORE_QUERIES)
        rows, (c, x) = compact_rows([cand[s:e]], [excl[s:e]])
        kernels.rerank_exact(storage.unit_rows(rows), q[s:e], c, x, k, out_ids[s:e],
                             out_scores[s:e])
        valid = out_ids[s:e] >= 0
        out_ids[s:e][valid] = rows[out_ids[s:e][valid]]


def _empty_to_neg_inf(ids, scores):
    scores[ids < 0] = -np.inf
    return scores


def exclusion_matrix(exclude, n_queries: int) -> np.ndarray:
    """Per-query excluded row ids as an int64 matrix padded with ``-1``."""
    if exclude is None:
        return np.full((n_queries, 0), -1, dtype=np.int64)
    if isinstance(exclude, np.ndarray) and exclude.ndim == 2:
        if exclude.shape[0] != n_queries:
            raise ParameterError(f"exclude has {exclude.shape[0]} rows for {n_queries} queries: "
                                 "give one list of excluded ids per query")
        return np.ascontiguousarray(exclude, dtype=np.int64)
    rows = [list(e) if e is not None else [] for e in exclude]
    if len(rows) != n_queries:
        raise ParameterError(f"exclude has {len(rows)} entries for {n_queries} queries: "
                             "give one list of excluded ids per query")
    width = max((len(r) for r in rows), default=0)
    out = np.full((n_queries, width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def ids_to_words(vectors, ids, scores) -> list[list[tuple[str, float]]]:
    """Turn id/score matrices into lists of ``(word, score)``, skipping empty slots."""
    words = vectors.words
    return [[(words[i], float(s)) for i, s in zip(row_ids, row_scores) if i >= 0]
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist())]
