"""The :class:`Vectors` container: words, a float32 matrix, optional counts and metadata."""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence

import numpy as np

from embedkit.errors import ParameterError, UnknownWordError


class Vectors:
    """Word vectors: ``len(words)`` rows of a float32 matrix, one per word.

    Parameters
    ----------
    words : sequence of str
        The vocabulary, in row order (usually most frequent first).  Must be unique.
    vectors : ndarray of shape (len(words), dim)
        The embedding matrix.  Kept as is when already float32 and C-contiguous (so a
        memory-mapped array stays memory-mapped), otherwise converted.
    counts : ndarray of shape (len(words),), optional
        Corpus frequency of each word, when known.
    metadata : dict, optional
        Free-form JSON-serialisable information (training parameters, corpus, version).

    Examples
    --------
    >>> import numpy as np
    >>> v = Vectors(["a", "b"], np.eye(2, dtype=np.float32))
    >>> v["b"]
    array([0., 1.], dtype=float32)
    """

    def __init__(self, words: Sequence[str], vectors, counts=None, metadata: dict | None = None):
        words = list(words)
        vectors = np.asanyarray(vectors)
        if vectors.ndim != 2:
            raise ParameterError(f"vectors must be a 2-D matrix, got shape {vectors.shape}")
        if vectors.shape[0] != len(words):
            raise ParameterError(
                f"{len(words)} words but {vectors.shape[0]} vector rows: give one row per word")
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index = {}
        for i, w in enumerate(words):
            if not isinstance(w, str):
                raise ParameterError(f"words must be strings, got {type(w).__name__} at row {i}")
            index.setdefault(w, i)
        if len(index) != len(words):
            raise ParameterError(
                f"{len(words) - len(index)} duplicate words: words must be unique "
                "(embedkit.load keeps the first of duplicates when reading a file)")
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(words),):
                raise ParameterError(f"counts must have one entry per word ({len(words)}), "
                                     f"got shape {counts.shape}")
        self._words = words
        self._index = index
        self._vectors = vectors
        self.counts = counts
        self.metadata = dict(metadata or {})
        self._normalized = None

    @classmethod
    def _trusted(cls, words, vectors, *, index=None, counts=None, metadata=None) -> "Vectors":
        """Wrap already-validated data without copying or re-checking (used by loaders).

        ``words`` must be unique strings and ``vectors`` a float32 C-order matrix with one
        row per word; ``index`` (word -> row) is built lazily when omitted.
        """
        self = cls.__new__(cls)
        self._words = words if isinstance(words, list) else list(words)
        self._index = index
        self._vectors = vectors
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.metadata = dict(metadata or {})
        self._normalized = None
        return self

    # -- container protocol -------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        """The vocabulary in row order."""
        return self._words

    @property
    def key_to_index(self) -> dict[str, int]:
        """Mapping word -> row number."""
        if self._index is None:
            self._index = dict(zip(self._words, range(len(self._words))))
        return self._index

    @property
    def vectors(self) -> np.ndarray:
        """The float32 matrix of shape ``(len(self), dim)``."""
        return self._vectors

    @property
    def dim(self) -> int:
        """Number of dimensions."""
        return int(self._vectors.shape[1])

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word) -> bool:
        try:
            return word in self.key_to_index
        except TypeError:
            return False

    def __iter__(self):
        return iter(self._words)

    def __repr__(self) -> str:
        return f"Vectors({len(self)} words, dim {self.dim})"

    def index(self, word: str) -> int:
        """Row number of ``word``; :class:`~embedkit.errors.UnknownWordError` if absent."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise UnknownWordError(self._unknown_message(word)) from None
        except TypeError:
            raise UnknownWordError(f"words are strings, got {type(word).__name__}") from None

    def indices(self, words: Iterable[str]) -> np.ndarray:
        """Row numbers of several words (int64); raises on the first unknown one."""
        return np.array([self.index(w) for w in words], dtype=np.int64)

    def __getitem__(self, word):
        if isinstance(word, str):
            return self._vectors[self.index(word)]
        return self._vectors[self.indices(word)]

    def _unknown_message(self, word: str) -> str:
        close = difflib.get_close_matches(word, self._words[:50000], n=5, cutoff=0.7)
        hint = f"; closest spellings: {', '.join(close)}" if close else ""
        return f"word {word!r} is not in the vocabulary ({len(self)} words){hint}"

    # -- files --------------------------------------------------------------------------
    def save(self, path, format=None, precision=None) -> None:
        """Write the vectors; the format follows the extension (see :func:`embedkit.save`).

        ``.ekv`` native directory, ``.bin`` word2vec binary, ``.txt``/``.vec`` word2vec
        text (``.gz``/``.bz2``/``.xz`` compress); ``format="glove"`` etc. overrides it.
        """
        from embedkit.vectors.load import save

        save(self, path, format=format, precision=precision)

    # -- derived data -----------------------------------------------------------------------
    @property
    def normalized(self) -> np.ndarray:
        """Unit-length rows (float32), computed once and cached; zero rows stay zero."""
        if self._normalized is None:
            norms = np.linalg.norm(self._vectors, axis=1, keepdims=True)
            norms[norms == 0] = 1.0
            self._normalized = (self._vectors / norms).astype(np.float32, copy=False)
        return self._normalized
