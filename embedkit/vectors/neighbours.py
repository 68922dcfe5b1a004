"""embedkit's own nearest-neighbour queries on :class:`~embedkit.vectors.core.Vectors`:
:meth:`~NeighboursMixin._search`, the one routine every query goes through (brute force over
the stored rows, or an attached index), and :meth:`~NeighboursMixin.analogy`.

gensim's query methods (:mod:`~embedkit.vectors.keyed_query`) turn their inputs into query
vectors and call ``_search`` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from embedkit._params import check_count
from embedkit.errors import ParameterError

if TYPE_CHECKING:  # annotations only
    from embedkit.vectors.core import Vectors


class NeighboursMixin:
    """Nearest-neighbour search and analogies for :class:`~embedkit.vectors.core.Vectors`."""

    def attach_index(self, index) -> "Vectors":
        """Route every nearest-neighbour query through ``index`` (``None`` detaches).

        ``index`` needs a method ``search(queries, k, exclude=None) -> (ids, scores)`` with
        the contract of :meth:`_search`.  Returns ``self``.
        """
        if index is not None and not callable(getattr(index, "search", None)):
            raise ParameterError(f"an index needs a search(queries, k, exclude=None) method; "
                                 f"{type(index).__name__} has none")
        self.search_index = index
        return self

    def _search(self, queries, k, exclude=None, restrict_vocab=None):
        """The one nearest-neighbour routine every query goes through.

        Parameters
        ----------
        queries : ndarray of float32, shape (n, dim)
            Unit-length query rows.
        k : int
            Neighbours per query.
        exclude : sequence of sequences of int, optional
            Per query, row ids never to return (e.g. the query words).
        restrict_vocab : int, optional
            Search only the first ``restrict_vocab`` rows.

        Returns
        -------
        ids : ndarray of int64, shape (n, k)
            Row ids by decreasing cosine similarity; ``-1`` where fewer than ``k``
            candidates remain.
        scores : ndarray of float32, shape (n, k)
            Cosine similarities; ``-inf`` where ``ids`` is ``-1``.

        Notes
        -----
        Brute force unless an index is attached with :meth:`attach_index` (then the index
        answers, except for a ``restrict_vocab`` smaller than the vocabulary): the queries'
        dot products with one block of stored rows at a time, divided by the row norms and
        folded into each query's running top k (:meth:`StoredMatrix.search
        <embedkit.vectors.storage.StoredMatrix.search>`); no normalised copy of the matrix
        is made.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        n = queries.shape[0]
        if queries.ndim != 2 or queries.shape[1] != self.dim:
            raise ParameterError(f"queries must have shape (n, {self.dim}), got {queries.shape}")
        check_count("k (topn)", k)
        if exclude is not None and len(exclude) != n:
            raise ParameterError(f"exclude must hold one list per query ({n}), got {len(exclude)}")
        rows = len(self)
        if restrict_vocab is not None:
            if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)) \
                    or restrict_vocab < 1:
                raise ParameterError("restrict_vocab must be a positive integer (search the "
                                     f"first N words), got {restrict_vocab!r}")
            rows = min(rows, int(restrict_vocab))
        if self.search_index is not None and rows == len(self):
            ids, scores = self.search_index.search(queries, int(k), exclude=exclude)
            return np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float32)
        excl = None
        if exclude is not None:
            width = max((len(e) for e in exclude if e is not None), default=0)
            excl = np.full((n, width), -1, dtype=np.int64)
            for i, ex in enumerate(exclude):
                if ex is not None and len(ex):
                    excl[i, :len(ex)] = np.asarray(ex, dtype=np.int64)
        ids, scores = self.storage.search(queries, int(k), excl, n_rows=rows)
        return ids, scores

    def _results(self, ids, scores):
        return [(self._words[i], float(sc)) for i, sc in zip(ids, scores) if i >= 0]

    @staticmethod
    def _unit(vec):
        norm = np.linalg.norm(vec)
        return (vec / norm if norm > 0 else vec).astype(np.float32)

    def analogy(self, a: str, b: str, c: str, topn: int = 1, method: str = "3cosadd",
                restrict_vocab=None):
        """Solve "``a`` is to ``b`` as ``c`` is to ?".

        Parameters
        ----------
        a, b, c : str
            ``v.analogy("man", "king", "woman")`` -> ``[("queen", ...)]``.
        topn : int
            How many answers.
        method : {"3cosadd", "3cosmul"}
            3CosAdd: nearest to ``b - a + c``.  3CosMul (Levy & Goldberg 2014): maximise
            ``cos'(x, b) * cos'(x, c) / (cos'(x, a) + 0.001)`` with ``cos' = (cos + 1) / 2``.
        restrict_vocab : int, optional
            Only consider the first ``restrict_vocab`` words.

        Returns
        -------
        list of (str, float)
            Answers with their scores; ``a``, ``b`` and ``c`` never appear.
        """
        if method not in ("3cosadd", "3cosmul"):
            raise ParameterError(f"method must be '3cosadd' or '3cosmul', got {method!r}")
        ia, ib, ic = self.index(a), self.index(b), self.index(c)
        na, nb, nc = self.storage.unit_rows([ia, ib, ic])
        query = self._unit(nb - na + nc)
        exclude = [[ia, ib, ic]]
        if method == "3cosadd":
            ids, scores = self._search(query[None, :], topn, exclude=exclude,
                                       restrict_vocab=restrict_vocab)
            return self._results(ids[0], scores[0])
        check_count("topn", topn)
        rows = len(self) if restrict_vocab is None else min(len(self), int(restrict_vocab))
        terms = np.stack([na, nb, nc])
        if self.search_index is None or rows < len(self):
            # exact: the three cosines of each block of rows, folded into the top k
            from embedkit._kernels.search import METHOD_3COSMUL

            ids, scores = self.storage.combination_search(
                terms, np.array([[1, 2]], dtype=np.int32), np.array([[0]], dtype=np.int32),
                np.ones(1, dtype=np.float32), np.array(exclude, dtype=np.int64), int(topn),
                METHOD_3COSMUL, np.float32(1e-3), n_rows=rows)
            return self._results(ids[0], scores[0])
        # with an index: rerank a candidate pool, the 1000 (or 50 * topn) nearest to
        # b - a + c and to b + c
        pool = min(rows, max(1000, 50 * int(topn)))
        cand, _ = self._search(np.stack([query, self._unit(nb + nc)]), pool,
                               exclude=exclude * 2, restrict_vocab=restrict_vocab)
        cand = np.unique(cand[cand >= 0])
        if cand.size == 0:
            return []
        sims = (self.storage.unit_rows(cand) @ terms.T + 1.0) / 2.0
        score = sims[:, 1] * sims[:, 2] / (sims[:, 0] + np.float32(1e-3))
        order = np.argsort(-score, kind="stable")[: int(topn)]
        return [(self._words[i], float(sc)) for i, sc in zip(cand[order], score[order])]
