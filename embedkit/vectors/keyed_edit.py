"""gensim ``KeyedVectors`` compatibility, part 4: building and changing the vocabulary
(``vectors_for_all``, ``add_vectors``, ``v[key] = vec``, ``sort_by_descending_frequency``)
and the per-word ``count`` attribute.

A memory-mapped or read-only matrix is copied into memory on the first write (the file is
never changed); a change drops the cached norms and detaches an attached search index.
Composed into :class:`~embedkit.vectors.keyed.KeyedVectorsMixin`.
"""

from __future__ import annotations

import logging
from numbers import Integral

import numpy as np

from embedkit.errors import ParameterError, UnknownAttributeError
from embedkit.vectors.keyed_access import _KEY_TYPES

log = logging.getLogger(__name__)


class EditMixin:
    """gensim's vocabulary editing for :class:`~embedkit.vectors.core.Vectors`."""

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
