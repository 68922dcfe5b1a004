"""gensim ``KeyedVectors`` compatibility, part 2: nearest-neighbour queries
(``get_mean_vector``, ``most_similar``, ``similar_by_*``, ``most_similar_cosmul``).

The query methods only turn gensim-style inputs into a query vector; the scoring against
the matrix goes through :meth:`Vectors._search` (the one nearest-neighbour routine, which
also answers from an attached index) or, where every row's score is needed
(``topn=None``, ``most_similar_cosmul``), one product with the unit rows.  Composed into
:class:`~embedkit.vectors.keyed.KeyedVectorsMixin`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from embedkit.errors import ParameterError
from embedkit.vectors.keyed_access import _KEY_TYPES

_EPSILON_COSMUL = 1e-6


def _ensure_list(value) -> list:
    """gensim's convention: a single key or a 1-D vector becomes a one-item list, the rows
    of a 2-D array become items, ``None`` nothing."""
    if value is None:
        return []
    if isinstance(value, _KEY_TYPES):
        return [value]
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return [value]
        if value.ndim == 2:
            return list(value)
        raise ParameterError(f"an array of vectors must be 1-D or 2-D, got shape {value.shape}")
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], _KEY_TYPES) \
            and isinstance(value[1], Real) and not isinstance(value[1], bool):
        raise ParameterError(f"a (key, weight) pair must be inside a list: write [{value!r}]")
    try:
        return list(value)
    except TypeError:
        raise ParameterError(f"expected a word, a row number, a vector or a list of them, "
                             f"got {type(value).__name__}") from None


def _is_pair(item) -> bool:
    return (isinstance(item, (tuple, list)) and len(item) == 2
            and isinstance(item[0], (str, int, np.integer, np.ndarray))
            and isinstance(item[1], Real) and not isinstance(item[1], bool))


class QueryMixin:
    """gensim's nearest-neighbour queries for :class:`~embedkit.vectors.core.Vectors`."""

    # -- the query vector -------------------------------------------------------------------
    def get_mean_vector(self, keys, weights=None, pre_normalize: bool = True,
                        post_normalize: bool = False, ignore_missing: bool = True) -> np.ndarray:
        """Weighted mean of the vectors of ``keys`` (words, row numbers or raw vectors).

        Parameters
        ----------
        keys : list of str, int or ndarray, or a 2-D array (its rows)
        weights : list or ndarray, optional
            One weight per key (default 1).  The sum is divided by the sum of ``|weight|``
            of the keys used.
        pre_normalize : bool
            Use each word's unit vector (raw vectors are always used as given).
        post_normalize : bool
            Scale the mean to unit length.
        ignore_missing : bool
            Skip unknown keys (default) or raise :class:`UnknownWordError`.

        Returns
        -------
        ndarray of shape (dim,)
        """
        if len(keys) == 0:
            raise ParameterError("get_mean_vector needs at least one key (cannot compute the "
                                 "mean of nothing)")
        if isinstance(weights, (list, tuple)):
            weights = np.array(weights, dtype=np.float32)
        if weights is None:
            weights = np.ones(len(keys), dtype=np.float32)
        weights = np.asarray(weights)
        if weights.ndim != 1 or len(keys) != weights.shape[0]:
            raise ParameterError(f"keys and weights must have the same length, got {len(keys)} "
                                 f"keys and weights of shape {weights.shape}")
        mean = np.zeros(self.dim, dtype=np.float32)
        total_weight = 0
        for idx, key in enumerate(keys):
            if isinstance(key, np.ndarray):
                if key.shape != (self.dim,):
                    raise ParameterError(f"a vector must have shape ({self.dim},), got "
                                         f"{key.shape}")
                mean += weights[idx] * key
                total_weight += abs(weights[idx])
            elif isinstance(key, _KEY_TYPES) and self._known(key):
                mean += weights[idx] * self.get_vector(key, norm=pre_normalize)
                total_weight += abs(weights[idx])
            elif not ignore_missing:
                if isinstance(key, _KEY_TYPES):
                    self.get_index(key)  # raises, naming the closest spellings
                raise ParameterError(f"a key is a word, a row number or a vector, got "
                                     f"{type(key).__name__}")
        if total_weight > 0:
            mean = mean / total_weight
        if post_normalize:
            norm = np.linalg.norm(mean)
            mean = (mean / norm if norm > 0 else mean).astype(np.float32)
        return mean

    def _gensim_query(self, positive, negative):
        """The unit query vector and the rows to leave out, from gensim-style inputs.

        Items are words, row numbers, vectors (used as given), or ``(item, weight)`` pairs;
        positives weigh 1 and negatives -1 unless a pair says otherwise (as in gensim, a
        pair's weight is used as given, also among the negatives).
        """
        row = self._row_of(positive) if isinstance(positive, str) and negative is None else None
        if row is not None:
            # the common one-word query: its unit vector (the mean of one unit vector)
            return self._unit_row(row), [row]
        items = _ensure_list(positive) + _ensure_list(negative)
        n_pos = len(_ensure_list(positive))
        weight = np.concatenate((np.ones(n_pos), -1.0 * np.ones(len(items) - n_pos)))
        keys = []
        for idx, item in enumerate(items):
            if isinstance(item, (str, int, np.integer, np.ndarray)):
                keys.append(item)
            elif _is_pair(item):
                keys.append(item[0])
                weight[idx] = item[1]
            else:
                vec = np.asarray(item, dtype=np.float32) if isinstance(item, (list, tuple)) \
                    else None
                if vec is None or vec.shape != (self.dim,):
                    raise ParameterError(
                        f"each item is a word, a row number, a vector of {self.dim} numbers or a "
                        f"(key, weight) pair; got {item!r:.80}")
                keys.append(vec)
        if not keys:
            raise ParameterError("give at least one positive or negative word (or vector)")
        for k in keys:
            if isinstance(k, np.ndarray) and k.shape != (self.dim,):
                raise ParameterError(f"a vector must have shape ({self.dim},), got {k.shape}")
        mean = self.get_mean_vector(keys, weight, pre_normalize=True, post_normalize=True,
                                    ignore_missing=False)
        exclude = [self.get_index(k) for k in keys
                   if isinstance(k, _KEY_TYPES) and self.has_index_for(k)]
        return mean, exclude

    def _all_scores(self, query, start, end) -> np.ndarray:
        """Cosine of every row in ``[start, end)`` with the unit ``query`` (float32)."""
        return self.storage.cosines(np.asarray(query, dtype=np.float32)[None, :], start, end)[0]

    # -- most similar -------------------------------------------------------------------------
    def most_similar(self, positive=None, negative=None, topn=10, clip_start=0, clip_end=None,
                     restrict_vocab=None, indexer=None):
        """Words closest (cosine) to the weighted mean of ``positive`` minus ``negative``.

        Parameters
        ----------
        positive, negative : key, vector or list of them
            Words, row numbers, 1-D vectors, a 2-D array (its rows), or ``(item, weight)``
            pairs, mixed freely.  Words contribute their unit vectors, raw vectors are used
            as given; the weighted mean (weight 1 for positives, -1 for negatives, or the
            pair's weight) is normalised, as in gensim.
        topn : int or None
            How many results; ``None`` returns the score of every row in the clip range as
            an array, and ``0`` an empty list.
        clip_start, clip_end : int
            Search only rows ``clip_start`` to ``clip_end``.
        restrict_vocab : int, optional
            Search only the first ``restrict_vocab`` rows (overrides the clip range).
        indexer : object, optional
            gensim's hook: an object with ``most_similar(vector, topn)`` answers instead.
            (embedkit's own: :meth:`attach_index`.)

        Returns
        -------
        list of (str, float), or ndarray when ``topn`` is None
            ``(word, cosine)`` by decreasing similarity; the query's words and rows never
            appear.

        Examples
        --------
        >>> v.most_similar(positive=["king", "woman"], negative=["man"])   # doctest: +SKIP
        >>> v.most_similar([("king", 1.0), ("queen", 0.5)], topn=3)        # doctest: +SKIP
        """
        if isinstance(topn, Integral) and not isinstance(topn, bool) and topn < 1:
            return []
        query, exclude = self._gensim_query(positive, negative)
        n = len(self)
        start, end = _clip(clip_start, clip_end, restrict_vocab, n)
        if indexer is not None and isinstance(topn, Integral):
            if not callable(getattr(indexer, "most_similar", None)):
                raise ParameterError("indexer needs a most_similar(vector, topn) method; "
                                     "embedkit's own index is attached with attach_index")
            return indexer.most_similar(query, int(topn))
        if topn is None:
            return self._all_scores(query, start, end)
        if isinstance(topn, bool) or not isinstance(topn, Integral):
            raise ParameterError(f"topn must be a positive integer or None, got {topn!r}")
        if start >= end:
            return []
        if start > 0:
            exclude = np.concatenate([np.asarray(exclude, dtype=np.int64),
                                      np.arange(start, dtype=np.int64)])
        ids, scores = self._search(query[None, :], int(topn), exclude=[exclude],
                                   restrict_vocab=None if end >= n else end)
        return self._results(ids[0], scores[0])

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        """Words closest to ``key`` (``most_similar(positive=[key], ...)``)."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_word(self, word, topn=10, restrict_vocab=None):
        """Alias of :meth:`similar_by_key`."""
        return self.similar_by_key(word, topn, restrict_vocab)

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        """Words closest to a raw ``vector`` (nothing is left out)."""
        vec = np.asarray(vector, dtype=np.float32)
        if vec.shape != (self.dim,):
            raise ParameterError(f"vector must have shape ({self.dim},), got {vec.shape}")
        return self.most_similar(positive=[vec], topn=topn, restrict_vocab=restrict_vocab)

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """Multiplicative combination (Levy & Goldberg 2014, "3CosMul"), as gensim computes it.

        Each row scores ``prod_p (1 + cos(x, p)) / 2 / (prod_n (1 + cos(x, n)) / 2 + 1e-6)``
        over the positive terms ``p`` and negative terms ``n``; a word term uses its unit
        vector, a raw vector is used as given (as in gensim).

        Parameters
        ----------
        positive, negative : key, vector or list of them
            At least one positive.
        topn : int or None
            ``None`` returns every row's score as an array; ``0`` an empty list.
        restrict_vocab : int, optional
            Score only the first ``restrict_vocab`` rows.  (gensim 4.4 documents this
            parameter but ignores it; embedkit applies it.)

        Returns
        -------
        list of (str, float), or ndarray when ``topn`` is None
        """
        if isinstance(topn, Integral) and not isinstance(topn, bool) and topn < 1:
            return []
        positive, negative = _ensure_list(positive), _ensure_list(negative)
        if not positive:
            raise ParameterError("most_similar_cosmul needs at least one positive word")
        exclude, terms = [], []
        for item in positive + negative:
            if isinstance(item, np.ndarray):
                if item.shape != (self.dim,):
                    raise ParameterError(f"a vector must have shape ({self.dim},), got "
                                         f"{item.shape}")
                terms.append(item.astype(np.float32, copy=False))
            elif isinstance(item, _KEY_TYPES):
                if self.has_index_for(item) or not self._known(item):
                    exclude.append(self.get_index(item))
                terms.append(self.get_vector(item, norm=True))
            else:
                raise ParameterError(f"most_similar_cosmul takes words, row numbers or vectors, "
                                     f"got {item!r:.80}")
        _, end = _clip(0, None, restrict_vocab, len(self))
        # row . term / |row| for every term (a raw term is not normalised, as in gensim)
        cos = self.storage.cosines(np.stack(terms), 0, end).T
        sims = (1 + cos) / 2
        pos = np.prod(sims[:, :len(positive)], axis=1)
        neg = np.prod(sims[:, len(positive):], axis=1)
        dists = pos / (neg + np.float32(_EPSILON_COSMUL))
        if topn is None:
            return dists
        if isinstance(topn, bool) or not isinstance(topn, Integral):
            raise ParameterError(f"topn must be a positive integer or None, got {topn!r}")
        dists_ex = dists.copy()
        ex = np.asarray([r for r in exclude if r < end], dtype=np.int64)
        dists_ex[ex] = -np.inf
        k = min(int(topn), end)
        top = np.argpartition(-dists_ex, k - 1)[:k] if k < end else np.arange(end)
        top = top[np.argsort(-dists_ex[top], kind="stable")]
        return [(self._words[i], float(dists[i])) for i in top if np.isfinite(dists_ex[i])]


def _clip(clip_start, clip_end, restrict_vocab, n):
    """gensim's row range: ``restrict_vocab`` overrides ``clip_start``/``clip_end``."""
    for name, val in (("clip_start", clip_start), ("clip_end", clip_end),
                      ("restrict_vocab", restrict_vocab)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, Integral)
                                or val < 0):
            raise ParameterError(f"{name} must be a non-negative integer, got {val!r}")
    start, end = int(clip_start or 0), int(clip_end or n)
    if restrict_vocab:
        start, end = 0, int(restrict_vocab)
    return min(start, n), min(end, n)
