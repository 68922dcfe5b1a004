"""gensim ``KeyedVectors`` compatibility: the methods a gensim user calls, with gensim's names,
semantics and defaults (gensim 4.4), mixed into :class:`~embedkit.vectors.core.Vectors`.

A key is a word (``str``) or a row number (``int``): a word is looked up first, and an
integer that is not a word is a row, as in gensim.  Every error a caller can cause is an
:class:`~embedkit.errors.EmbedkitError` (``UnknownWordError`` is also a ``KeyError`` and
``ParameterError`` a ``ValueError``, so gensim-style ``except`` clauses keep working).

The query methods only turn gensim-style inputs into a query vector; the scoring against
the matrix goes through :meth:`Vectors._search` (the one nearest-neighbour routine, which
also answers from an attached index) or, where every row's score is needed
(``topn=None``, ``most_similar_cosmul``, ``distances``), one product with the unit rows.
"""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np

from embedkit.errors import ParameterError, UnknownAttributeError, UnknownWordError

log = logging.getLogger(__name__)

_KEY_TYPES = (str, int, np.integer)
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


class KeyedVectorsMixin:
    """gensim ``KeyedVectors`` methods for :class:`~embedkit.vectors.core.Vectors`."""

    # -- names gensim uses for embedkit's attributes ------------------------------------
    @property
    def index_to_key(self) -> list[str]:
        """The vocabulary in row order (gensim's name for :attr:`words`)."""
        return self.words

    @property
    def vector_size(self) -> int:
        """Number of dimensions (gensim's name for :attr:`dim`)."""
        return self.dim

    # -- keys -----------------------------------------------------------------------------
    def get_index(self, key, default=None) -> int:
        """Row number of ``key``: a word, or an ``int`` row number that is not a word.

        Parameters
        ----------
        key : str or int
        default : int, optional
            Returned instead of raising when ``key`` is unknown.

        Raises
        ------
        UnknownWordError
            ``key`` is neither a word nor a row number in range, and no ``default``.
        """
        if isinstance(key, str):
            try:
                return self.index(key)
            except UnknownWordError:
                if default is not None:
                    return default
                raise
        if isinstance(key, (int, np.integer)):
            if 0 <= key < len(self):
                return int(key)
            if default is not None:
                return default
            raise UnknownWordError(f"row {int(key)} is out of range: there are {len(self)} rows "
                                   f"(0 to {len(self) - 1})")
        if default is not None:
            return default
        raise UnknownWordError(f"a key is a word (str) or a row number (int), got "
                               f"{type(key).__name__} {key!r}")

    def has_index_for(self, key) -> bool:
        """Whether ``key`` (a word, or an ``int`` row number) has a row."""
        return self.get_index(key, -1) >= 0

    def _known(self, key) -> bool:
        """gensim's ``key in kv``: a known word, any word when the vectors carry fastText
        :attr:`subwords` (its vector is built from character n-grams, as gensim's
        ``FastTextKeyedVectors`` does), or a row number in range."""
        if isinstance(key, str):
            return key in self or getattr(self, "subwords", None) is not None
        return self.has_index_for(key)

    def get_vector(self, key, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (read-only view); ``norm=True`` gives it unit length.

        A zero vector stays zero under ``norm`` (gensim would divide by zero).  With
        fastText :attr:`subwords`, an unseen word's vector is built from its n-grams.
        """
        if isinstance(key, str) and getattr(self, "subwords", None) is not None:
            row, vec = self._word_vector(key)
            if row is None:
                result = np.array(self._unit(vec) if norm else vec, dtype=np.float32)
                result.setflags(write=False)
                return result
        row = self.get_index(key)
        if norm:
            result = self._unit_row(row)
        elif self._vectors is None:  # float16 / int8 storage: decode this row only
            result = self.storage.rows([row])[0]
        else:
            result = self._vectors[row].view()
        result.setflags(write=False)
        return result

    def __getitem__(self, key_or_keys):
        """``v["word"]``, ``v[5]`` (row 5), or ``v[["a", 5]]`` (a 2-D array, one row each)."""
        if isinstance(key_or_keys, _KEY_TYPES):
            return self.get_vector(key_or_keys)
        try:
            keys = list(key_or_keys)
        except TypeError:
            raise UnknownWordError(f"a key is a word (str), a row number (int) or a list of "
                                   f"them, got {type(key_or_keys).__name__}") from None
        if getattr(self, "subwords", None) is not None:  # unseen words from their n-grams
            return np.stack([self.get_vector(k) for k in keys]) if keys else \
                np.zeros((0, self.dim), dtype=np.float32)
        rows = np.fromiter((self.get_index(k) for k in keys), dtype=np.int64, count=len(keys))
        return self.storage.rows(rows) if self._vectors is None else self._vectors[rows]

    def get_normed_vectors(self) -> np.ndarray:
        """Every vector scaled to unit length, as a ``(len(self), dim)`` array (a full-size
        copy, kept: see :attr:`normalized`)."""
        return self.normalized

    def fill_norms(self, force: bool = False) -> None:
        """Compute the row norms now (queries divide by them); ``force`` recomputes them."""
        if force:
            self._normalized = None
            self._storage = None
        self.storage.norms  # noqa: B018 - computes and caches them

    def unit_normalize_all(self) -> None:
        """Scale every vector to unit length, in place of the originals (zero rows stay zero).

        A memory-mapped matrix is not written: the vectors become an in-memory copy.
        """
        unit = np.array(self.normalized, dtype=np.float32, order="C")
        self._vectors = unit
        self._storage = None
        self._normalized = None

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

    # -- similarities between given keys ------------------------------------------------------
    def similarity(self, w1, w2) -> float:
        """Cosine similarity of two keys (words or row numbers)."""
        return float(np.dot(self.get_vector(w1, norm=True), self.get_vector(w2, norm=True)))

    def distance(self, w1, w2) -> float:
        """Cosine distance ``1 - similarity(w1, w2)``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2) -> float:
        """Cosine similarity of the means of two sets of keys (unknown keys are skipped,
        as in gensim)."""
        if not (len(ws1) and len(ws2)):
            raise ParameterError("n_similarity needs two non-empty lists of words")
        mean1 = self.get_mean_vector(ws1, pre_normalize=False)
        mean2 = self.get_mean_vector(ws2, pre_normalize=False)
        return float(np.dot(_unit(mean1), _unit(mean2)))

    @staticmethod
    def cosine_similarities(vector_1, vectors_all) -> np.ndarray:
        """Cosine of ``vector_1`` (shape ``(dim,)``) with each row of ``vectors_all``."""
        vector_1 = np.asarray(vector_1)
        vectors_all = np.asarray(vectors_all)
        if vectors_all.ndim != 2 or vector_1.shape != (vectors_all.shape[1],):
            raise ParameterError(f"cosine_similarities needs a vector of shape (dim,) and a "
                                 f"matrix (n, dim), got {vector_1.shape} and {vectors_all.shape}")
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        return vectors_all @ vector_1 / (norm * all_norms)

    def distances(self, word_or_vector, other_words=()) -> np.ndarray:
        """Cosine distances from a key or vector to ``other_words`` (default: every row)."""
        if isinstance(word_or_vector, _KEY_TYPES):
            query = self.get_vector(word_or_vector, norm=True)
        else:
            query = np.asarray(word_or_vector, dtype=np.float32)
            if query.shape != (self.dim,):
                raise ParameterError(f"vector must have shape ({self.dim},), got {query.shape}")
            query = _unit(query)
        if other_words is None or len(other_words) == 0:
            return 1 - self._all_scores(query, 0, len(self))
        rows = [self.get_index(w) for w in other_words]
        return 1 - self.storage.unit_rows(rows) @ query

    def closer_than(self, key1, key2) -> list[str]:
        """Every word closer to ``key1`` than ``key2`` is (``key1`` itself excluded)."""
        all_distances = self.distances(key1)
        e1 = self.get_index(key1)
        e2 = self.get_index(key2)
        closer = np.flatnonzero(all_distances < all_distances[e2])
        return [self._words[i] for i in closer if i != e1]

    def words_closer_than(self, word1, word2) -> list[str]:
        """Alias of :meth:`closer_than`."""
        return self.closer_than(word1, word2)

    def rank(self, key1, key2) -> int:
        """Rank of ``key2`` among the neighbours of ``key1`` (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1, keys_list):
        """The key in ``keys_list`` most similar to ``key1``."""
        if len(keys_list) == 0:
            raise ParameterError("most_similar_to_given needs a non-empty list of keys")
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def relative_cosine_similarity(self, wa, wb, topn=10) -> float:
        """``similarity(wa, wb)`` over the sum of ``wa``'s ``topn`` nearest similarities
        (Leeuwenberg et al., 2016)."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise ParameterError("relative_cosine_similarity needs at least one similar word "
                                 "(topn >= 1 and more than one word)")
        return float(self.similarity(wa, wb)) / sum(s for _, s in sims)

    def rank_by_centrality(self, words, use_norm: bool = True) -> list[tuple[float, str]]:
        """``(similarity, word)`` pairs, most similar to the centroid first.

        Unknown words are dropped with a logged warning, as gensim does.
        """
        used = [w for w in words if self._known(w)]
        if len(used) != len(words):
            log.warning("vectors for words %s are not present in the model, ignoring these words",
                        set(words) - set(used))
        if not used:
            raise ParameterError("none of the words is in the vocabulary")
        vectors = np.vstack([self.get_vector(w, norm=use_norm) for w in used]).astype(np.float32)
        mean = self.get_mean_vector(vectors, post_normalize=True)
        dists = vectors @ mean
        return sorted(zip((float(d) for d in dists), used), reverse=True)

    def doesnt_match(self, words):
        """The word farthest from the centroid of ``words`` (unknown words are dropped with
        a logged warning, as gensim does)."""
        return self.rank_by_centrality(list(words))[-1][1]

    # -- building and changing ------------------------------------------------------------------
    def vectors_for_all(self, keys, allow_inference: bool = True, copy_vecattrs: bool = False):
        """A new :class:`Vectors` with the known ``keys`` (duplicates and unknown keys dropped,
        first-seen order kept).

        ``copy_vecattrs`` carries the counts over; otherwise the result has none (gensim
        invents descending dummy counts instead).  ``allow_inference`` lets a subclass that
        builds vectors for unseen words (fastText) include them.
        """
        from embedkit.vectors.core import Vectors

        vocab, seen = [], set()
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if not isinstance(key, str):
                continue
            if self._known(key) if allow_inference else (self._row_of(key) is not None):
                vocab.append(key)
        if vocab:
            matrix = np.stack([self.get_vector(k) for k in vocab]).astype(np.float32)
        else:
            matrix = np.zeros((0, self.dim), dtype=np.float32)
        counts = None
        if copy_vecattrs and self.counts is not None and all(self._row_of(k) is not None
                                                             for k in vocab):
            counts = self.counts[[self._row_of(k) for k in vocab]]
        return Vectors(vocab, matrix, counts=counts, metadata=self.metadata)

    def _writable_matrix(self) -> np.ndarray:
        """The matrix, copied into memory first if it is memory-mapped, read-only or a view
        of another array (so a write never reaches a file or another object)."""
        m = self.vectors  # float16 / int8 storage is decoded
        if isinstance(m, np.memmap) or not m.flags.writeable or not m.flags.owndata:
            self._vectors = np.array(m, dtype=np.float32, order="C")
        return self._vectors

    def _changed(self) -> None:
        """Drop caches after the matrix or the vocabulary changed."""
        self._normalized = None
        self._folded = None
        self._storage = None  # its row norms are stale; rebuilt from the new matrix
        if self.search_index is not None:
            log.warning("the vectors changed: the attached search index was detached; "
                        "build a new one (embedkit.Index) to search with an index again")
            self.search_index = None

    def add_vectors(self, keys, weights, extras=None, replace: bool = False) -> None:
        """Append words and their vectors; a word already present keeps its vector unless
        ``replace``.

        Parameters
        ----------
        keys : str or list of str
        weights : ndarray of shape (dim,) or (len(keys), dim), or a list of vectors
        extras : dict, optional
            ``{"count": counts}``, one count per key (the only per-word attribute embedkit
            keeps).
        replace : bool
            Overwrite the vectors (and counts) of words already present.

        Notes
        -----
        A memory-mapped matrix is copied into memory on the first write (the file is never
        changed); an attached search index is detached (rebuild it).  New words get count 0
        when the vectors have counts.
        """
        if isinstance(keys, _KEY_TYPES):
            keys = [keys]
            weights = np.asarray(weights, dtype=np.float32).reshape(1, -1)
        else:
            keys = list(keys)
            weights = np.asarray(weights, dtype=np.float32)
        for k in keys:
            if not isinstance(k, str):
                raise ParameterError(f"keys are words (str), got {type(k).__name__} {k!r}")
        if weights.shape != (len(keys), self.dim):
            raise ParameterError(f"weights must have shape ({len(keys)}, {self.dim}) for "
                                 f"{len(keys)} keys, got {weights.shape}")
        if len(set(keys)) != len(keys):
            raise ParameterError("add_vectors: the keys have duplicates; give each word once")
        extra_counts = None
        if extras:
            if set(extras) != {"count"}:
                raise ParameterError(f"extras: embedkit keeps one per-word attribute, 'count'; "
                                     f"got {sorted(extras)}")
            extra_counts = np.asarray(extras["count"], dtype=np.int64)
            if extra_counts.shape != (len(keys),):
                raise ParameterError(f"extras['count'] needs one count per key ({len(keys)}), "
                                     f"got shape {extra_counts.shape}")
        index = self.key_to_index
        in_vocab = np.array([k in index for k in keys], dtype=bool)
        new = np.flatnonzero(~in_vocab)
        if replace and in_vocab.any():
            rows = [index[keys[i]] for i in np.flatnonzero(in_vocab)]
            self._writable_matrix()[rows] = weights[in_vocab]
            if extra_counts is not None:
                self._writable_counts()[rows] = extra_counts[in_vocab]
        if len(new):
            n = len(self)
            self._vectors = np.vstack([self.vectors, weights[new]])
            self._words = self._words + [keys[i] for i in new]
            for j, i in enumerate(new):
                index[keys[i]] = n + j
            if self.counts is not None or extra_counts is not None:
                old = self.counts if self.counts is not None else np.zeros(n, dtype=np.int64)
                add = extra_counts[new] if extra_counts is not None \
                    else np.zeros(len(new), dtype=np.int64)
                self.counts = np.concatenate([old, add])
        if len(new) or replace:
            self._changed()

    def add_vector(self, key, vector) -> int:
        """Append one word and its vector; returns its row (an existing word's row, its
        vector unchanged, when it is already present)."""
        if isinstance(key, str) and key in self.key_to_index:
            return self.key_to_index[key]
        self.add_vectors([key], np.asarray(vector, dtype=np.float32).reshape(1, -1))
        return len(self) - 1

    def __setitem__(self, keys, weights) -> None:
        """``v["word"] = vec`` adds or replaces; ``v[5] = vec`` replaces row 5; a list of
        words with a 2-D array does several at once (``add_vectors(..., replace=True)``)."""
        if isinstance(keys, (int, np.integer)):
            row = self.get_index(keys)
            vec = np.asarray(weights, dtype=np.float32)
            if vec.shape != (self.dim,):
                raise ParameterError(f"vector must have shape ({self.dim},), got {vec.shape}")
            self._writable_matrix()[row] = vec
            self._changed()
            return
        if not isinstance(keys, list):
            keys = [keys]
            weights = np.asarray(weights, dtype=np.float32).reshape(1, -1)
        self.add_vectors(keys, weights, replace=True)

    def _writable_counts(self) -> np.ndarray:
        if self.counts is None:
            self.counts = np.zeros(len(self), dtype=np.int64)
        elif not self.counts.flags.writeable or not self.counts.flags.owndata:
            self.counts = np.array(self.counts, dtype=np.int64)
        return self.counts

    def sort_by_descending_frequency(self) -> None:
        """Reorder the rows by decreasing count, as gensim does (equal counts: the later row
        first).  Needs counts; an attached search index is detached."""
        if not len(self):
            return
        if self.counts is None:
            raise ParameterError("sort_by_descending_frequency needs counts; these vectors have "
                                 "none (load with fvocab=, or set them with set_vecattr)")
        counts = np.asarray(self.counts, dtype=np.int64)
        indices = np.arange(len(counts))
        order = np.lexsort((-indices, -counts))
        self._words = [self._words[i] for i in order]
        self._vectors = np.ascontiguousarray(self.vectors[order])
        self.counts = counts[order]
        self._index = None
        self._word_index = None
        self._changed()

    def get_vecattr(self, key, attr):
        """A per-word attribute; embedkit keeps one, ``"count"``."""
        if attr != "count":
            raise UnknownAttributeError(f"embedkit keeps one per-word attribute, 'count'; "
                                        f"got {attr!r}")
        if self.counts is None:
            raise UnknownAttributeError("these vectors have no counts (load with fvocab=, or "
                                        "set them with set_vecattr)")
        return int(self.counts[self.get_index(key)])

    def set_vecattr(self, key, attr, val) -> None:
        """Set a per-word attribute (``"count"``); other words get count 0 when the vectors
        had no counts."""
        if attr != "count":
            raise UnknownAttributeError(f"embedkit keeps one per-word attribute, 'count'; "
                                        f"got {attr!r}")
        if isinstance(val, bool) or not isinstance(val, Integral):
            raise ParameterError(f"a count is an integer, got {val!r}")
        row = self.get_index(key)
        self._writable_counts()[row] = int(val)

    # -- Word Mover's Distance --------------------------------------------------------------------
    def wmdistance(self, document1, document2, norm: bool = True) -> float:
        """Word Mover's Distance between two documents (Kusner et al., 2015), as gensim
        computes it.

        Parameters
        ----------
        document1, document2 : list of str
            Tokens; unknown ones are dropped.
        norm : bool
            Use unit-length word vectors (default, as gensim).

        Returns
        -------
        float
            The minimum cost of moving one document's normalised bag of words onto the
            other's, the cost of a unit being the Euclidean distance of the two words'
            vectors.  ``inf`` when a document has no known word (or every distance is
            zero), ``0.0`` when both consist of one and the same word.

        Notes
        -----
        Solved exactly with POT's network simplex when POT is installed
        (``pip install 'embedkit[wmd]'``), otherwise with SciPy's HiGHS linear programming
        solver.
        """
        from embedkit.vectors.wmd import wmdistance

        return wmdistance(self, document1, document2, norm=norm)

    # -- gensim's file methods ---------------------------------------------------------------------
    @classmethod
    def load_word2vec_format(cls, fname, fvocab=None, binary=False, encoding="utf8",
                             unicode_errors="strict", limit=None, datatype=np.float32,
                             no_header=False):
        """gensim's reader call: :func:`embedkit.load` with the format given explicitly."""
        from embedkit.vectors.loader import load

        fmt = "word2vec-binary" if binary else ("glove" if no_header else "word2vec-text")
        if binary and no_header:
            raise ParameterError("no_header is for text files only (as in gensim)")
        return load(fname, format=fmt, limit=limit, unicode_errors=unicode_errors,
                    fvocab=fvocab, encoding=encoding, datatype=datatype)

    def save_word2vec_format(self, fname, fvocab=None, binary=False, total_vec=None,
                             write_header=True, prefix="", append=False, sort_attr="count"):
        """gensim's writer call, with gensim's row order: by decreasing count when the
        vectors have counts (stable), otherwise row order.

        ``total_vec`` and ``append`` are not supported (embedkit writes whole files
        atomically); :func:`embedkit.save` writes in row order.
        """
        from embedkit.vectors.loader import save

        if total_vec is not None or append:
            raise ParameterError("save_word2vec_format: total_vec and append are not supported; "
                                 "write one file per Vectors")
        if sort_attr != "count":
            raise ParameterError("sort_attr: embedkit keeps one per-word attribute, 'count'")
        out = self
        if self.counts is not None or prefix:
            from embedkit.vectors.core import Vectors

            order = np.arange(len(self))
            if self.counts is not None:
                order = np.argsort(-np.asarray(self.counts, dtype=np.int64), kind="stable")
            words = [prefix + self._words[i] for i in order]
            out = Vectors(words, self.vectors[order],
                          counts=None if self.counts is None else self.counts[order])
        elif fvocab is not None:
            raise ParameterError("cannot write fvocab: these vectors have no counts")
        save(out, fname, format="word2vec-binary" if binary else "word2vec-text",
             fvocab=fvocab, write_header=write_header)


def _unit(vec) -> np.ndarray:
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


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
