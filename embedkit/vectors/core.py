"""The :class:`Vectors` container: words, a float32 matrix, optional counts and metadata."""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence

import numpy as np

from embedkit.errors import ParameterError, UnknownWordError
from embedkit.vectors.keyed import KeyedVectorsMixin
from embedkit.vectors.neighbours import NeighboursMixin


class _UnknownMessage:
    """The message of an unknown-word error, computed only when shown.

    Finding the closest spellings scans the vocabulary; code that probes many words with
    ``try: v[w] except KeyError`` must not pay for that.
    """

    __slots__ = ("_vectors", "_word", "_text")

    def __init__(self, vectors: "Vectors", word: str):
        self._vectors, self._word, self._text = vectors, word, None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._vectors._unknown_message(self._word)
            self._vectors = None
        return self._text

    __repr__ = __str__


class Vectors(KeyedVectorsMixin, NeighboursMixin):
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
    ignore_case : bool, default False
        Case handling for lookups: when true, a word missing in its exact spelling is
        looked up case-insensitively (the first, usually most frequent, row whose
        ``casefold()`` matches).  Exact spellings always win.  Settable later as
        ``v.ignore_case = True``.

    Attributes
    ----------
    subwords : Subwords or None
        Set for vectors read from a fastText model (``.bin``, or a ``.ekv`` converted from
        one): builds a vector for an unseen word from its character n-grams, which
        ``v[word]``, :meth:`most_similar` and :meth:`similarity` then use instead of
        raising.  ``word in v`` and :meth:`index` still only know the vocabulary.

    Examples
    --------
    >>> import numpy as np
    >>> v = Vectors(["a", "b"], np.eye(2, dtype=np.float32))
    >>> v["b"]
    array([0., 1.], dtype=float32)
    """

    def __init__(self, words: Sequence[str], vectors, counts=None, metadata: dict | None = None,
                 ignore_case: bool = False):
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
        self._set(words, vectors, index=index, counts=counts, metadata=metadata,
                  ignore_case=ignore_case)

    @classmethod
    def _trusted(cls, words, vectors, *, index=None, counts=None, metadata=None,
                 storage=None, word_index=None) -> "Vectors":
        """Wrap already-validated data without copying or re-checking (used by loaders).

        ``words`` must be unique strings and ``vectors`` a float32 C-order matrix with one
        row per word; ``index`` (a word -> row ``dict``) or ``word_index`` (a compact
        :class:`~embedkit.vectors.wordindex.WordIndex` over ``words``) is built lazily when
        omitted.  A loader may give ``storage`` (a
        :class:`~embedkit.vectors.storage.StoredMatrix` with stored norms, or float16/int8
        rows) instead of, or along with, ``vectors``.
        """
        if vectors is None and storage is not None and storage.dtype == "float32":
            vectors = storage.data
        self = cls.__new__(cls)
        self._set(words if isinstance(words, list) else list(words), vectors, index=index,
                  word_index=word_index, storage=storage, counts=counts, metadata=metadata)
        return self

    def _set(self, words: list, vectors, *, index=None, word_index=None, storage=None,
             counts=None, metadata=None, ignore_case: bool = False) -> None:
        """Set every attribute of a new instance (``__init__`` and :meth:`_trusted`):
        the given data, no derived caches, no index, no subwords."""
        self._words = words
        self._index = index
        self._word_index = word_index
        self._vectors = vectors
        self._storage = storage
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.metadata = dict(metadata or {})
        self._normalized = None
        self._folded = None
        self.ignore_case = bool(ignore_case)
        self.search_index = None
        self.subwords = None

    # -- container protocol -------------------------------------------------------------
    @property
    def words(self) -> list[str]:
        """The vocabulary in row order."""
        return self._words

    @property
    def key_to_index(self) -> dict[str, int]:
        """Mapping word -> row number (a ``dict``, as in gensim).

        Vectors read from a file look words up in a compact index instead (two arrays, 12
        bytes a word); this ``dict`` is built on first access: about 80 bytes a word (250 MB
        for 3,000,000 words) and a few seconds.  :meth:`index` and ``word in v`` never
        need it.
        """
        if self._index is None:
            self._index = dict(zip(self._words, range(len(self._words))))
            self._word_index = None
        return self._index

    def _row_of(self, word):
        """Row of ``word`` in its exact spelling, or None (``TypeError`` if unhashable)."""
        if self._index is not None:
            return self._index.get(word)
        if self._word_index is None:
            from embedkit.vectors.wordindex import WordIndex

            self._word_index = WordIndex(self._words)
        return self._word_index.get(word)

    @property
    def vectors(self) -> np.ndarray:
        """The float32 matrix of shape ``(len(self), dim)``.

        For float32 storage this is the stored (often memory-mapped) matrix.  Vectors
        stored as float16 or int8 are decoded into a new float32 matrix on first access
        (``4 * len(self) * dim`` bytes, kept); queries never need it: they decode a block
        of rows at a time (see :attr:`storage`).
        """
        if self._vectors is None:
            st = self._storage
            out = np.empty(st.shape, dtype=np.float32)
            step = st.block_rows(1)
            for x0 in range(0, len(st), step):
                st.decode(x0, min(len(st), x0 + step), out[x0:x0 + step])
            self._vectors = out
        return self._vectors

    @property
    def storage(self):
        """The matrix as stored, with its row norms (:class:`~embedkit.vectors.storage.StoredMatrix`).

        Every query scores blocks of rows straight from it: float32 rows from the (mapped)
        matrix, float16 and int8 rows decoded a cache-sized block at a time, divided by the
        row norms (stored in the ``.ekv`` file, or computed once, streamed).
        """
        if self._storage is None:
            from embedkit.vectors.storage import StoredMatrix

            self._storage = StoredMatrix(self._vectors)
        return self._storage

    @property
    def dim(self) -> int:
        """Number of dimensions."""
        m = self._vectors if self._vectors is not None else self._storage.data
        return int(m.shape[1])

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word) -> bool:
        try:
            if self._row_of(word) is not None:
                return True
            return self.ignore_case and word.casefold() in self._folded_index()
        except (TypeError, AttributeError):
            return False

    def __iter__(self):
        return iter(self._words)

    def __repr__(self) -> str:
        return f"Vectors({len(self)} words, dim {self.dim})"

    def index(self, word: str) -> int:
        """Row number of ``word``.

        Raises :class:`~embedkit.errors.UnknownWordError` (a ``KeyError``) naming the word
        and the closest spellings in the vocabulary.  With ``ignore_case`` a word missing
        in its exact spelling matches case-insensitively.
        """
        try:
            row = self._row_of(word)
            if row is not None:
                return row
            if self.ignore_case:
                row = self._folded_index().get(word.casefold())
                if row is not None:
                    return row
            raise UnknownWordError(_UnknownMessage(self, word))
        except (TypeError, AttributeError):
            raise UnknownWordError(f"words are strings, got {type(word).__name__}") from None

    def _folded_index(self) -> dict[str, int]:
        if self._folded is None:
            folded: dict[str, int] = {}
            for i, w in enumerate(self._words):
                folded.setdefault(w.casefold(), i)
            self._folded = folded
        return self._folded

    def indices(self, words: Iterable[str]) -> np.ndarray:
        """Row numbers of several words (int64); raises on the first unknown one."""
        return np.array([self.index(w) for w in words], dtype=np.int64)

    def _row_or_none(self, word):
        """Row of ``word``; None for an unseen word when the vectors carry :attr:`subwords`."""
        try:
            return self.index(word)
        except UnknownWordError:
            if self.subwords is None or not isinstance(word, str):
                raise
            return None

    def _word_vector(self, word):
        """``(row, vector)`` of a vocabulary word; ``(None, vector)`` of an unseen word built
        from its character n-grams when the vectors carry :attr:`subwords` (fastText).

        Raises :class:`~embedkit.errors.UnknownWordError` for an unseen word otherwise.
        """
        row = self._row_or_none(word)
        if row is None:
            return None, self.subwords.vector(word)
        if self._vectors is None:  # float16 / int8 storage: decode only this row
            return row, self.storage.rows([row])[0]
        return row, self._vectors[row]

    def _unknown_message(self, word: str) -> str:
        pool = self._words[:50000]
        close = difflib.get_close_matches(word, pool, n=5, cutoff=0.7)
        if not self.ignore_case:
            lower = word.casefold()
            cased = [w for w in pool if w.casefold() == lower and w not in close][:2]
            close = cased + close[: 5 - len(cased)]
        hint = f"; closest spellings: {', '.join(close)}" if close else ""
        if self.ignore_case is False and close and close[0].casefold() == word.casefold():
            hint += " (set ignore_case=True to match any case)"
        return f"word {word!r} is not in the vocabulary ({len(self)} words){hint}"

    # -- files --------------------------------------------------------------------------
    def save(self, path, format=None, precision=None, dtype=None, scale="row", fvocab=None,
             write_header=True) -> None:
        """Write the vectors; the format follows the extension (see :func:`embedkit.save`).

        ``.ekv`` native directory, ``.bin`` word2vec binary, ``.txt``/``.vec`` word2vec
        text (``.gz``/``.bz2``/``.xz`` compress); ``format="glove"`` etc. overrides it.
        ``.ekv`` only: ``dtype="float16"`` or ``"int8"`` (with per-``"row"`` or per-``"dim"``
        scales) stores the matrix compactly; queries read it directly.  ``fvocab`` also
        writes the counts (``word count`` lines, gensim's ``fvocab``); ``write_header=False``
        leaves out a text file's ``count dim`` line.
        """
        from embedkit.vectors.loader import save

        kwargs = {} if dtype is None else {"dtype": dtype, "scale": scale}
        save(self, path, format=format, precision=precision, fvocab=fvocab,
             write_header=write_header, **kwargs)

    # -- gensim ---------------------------------------------------------------------------
    @classmethod
    def from_gensim(cls, keyed_vectors) -> "Vectors":
        """Wrap a gensim ``KeyedVectors`` (or a model with ``.wv``); counts come along.

        The matrix is shared, not copied, when it is float32 and C-ordered.  The dummy
        counts gensim invents when it reads a file without ``fvocab`` (``n, n - 1, ...``
        in row order) are not taken for real ones: the result then has no counts.
        """
        kv = getattr(keyed_vectors, "wv", keyed_vectors)
        if not hasattr(kv, "index_to_key") or not hasattr(kv, "vectors"):
            raise ParameterError(f"from_gensim needs gensim KeyedVectors, got "
                                 f"{type(keyed_vectors).__name__}")
        words = [str(w) for w in kv.index_to_key]
        from embedkit.vectors.gensim_io import counts_from_gensim

        counts = counts_from_gensim(kv)
        return cls(words, kv.vectors, counts=counts)

    def to_gensim(self):
        """A gensim ``KeyedVectors`` with the same words, vectors (and counts).

        Counts are handed over only when they do not increase down the rows: gensim's
        ``save_word2vec_format`` writes rows by decreasing count, so other counts (e.g.
        after ``restrict([...])``) would reorder the rows; a warning says so, and
        :meth:`sort_by_descending_frequency` first keeps them.  Needs gensim
        (``pip install gensim``); embedkit itself does not depend on it.
        """
        try:
            from gensim.models import KeyedVectors
        except ImportError:
            raise ParameterError("to_gensim needs gensim: pip install gensim") from None
        kv = KeyedVectors(vector_size=self.dim, count=0, dtype=np.float32)
        kv.add_vectors(self._words, np.asarray(self.vectors, dtype=np.float32))
        from embedkit.vectors.gensim_io import counts_for_gensim

        counts = counts_for_gensim(self.counts)
        if counts is not None:
            kv.expandos["count"] = counts
        return kv

    # -- derived data -----------------------------------------------------------------------
    @property
    def normalized(self) -> np.ndarray:
        """Unit-length rows (float32), computed once and cached; zero rows stay zero.

        This builds a full-size copy: ``4 * len(self) * dim`` bytes of memory (3.6 GB for
        3,000,000 x 300), kept as long as the object lives, and a pass over the whole
        matrix.  No query needs it (they score blocks of stored rows and divide by the row
        norms); :meth:`unit` gives the unit vectors of a few words.
        """
        if self._normalized is None:
            st = self.storage
            out = np.empty(st.shape, dtype=np.float32)
            step = st.block_rows(1)
            for x0 in range(0, len(st), step):
                x1 = min(len(st), x0 + step)
                out[x0:x1] = st.unit_rows(np.arange(x0, x1))
            self._normalized = out
        return self._normalized

    def unit(self, words) -> np.ndarray:
        """Unit vectors of a word (``(dim,)``) or of a list of words (``(n, dim)``).

        The same values as the rows of :attr:`normalized`, without building it.
        """
        if isinstance(words, str):
            return self.storage.unit_rows([self.index(words)])[0]
        return self.storage.unit_rows(self.indices(words))

    def _unit_row(self, row: int) -> np.ndarray:
        return self.storage.unit_rows([row])[0]

    # -- subsets ------------------------------------------------------------------------------
    def restrict(self, n_or_words) -> "Vectors":
        """A new :class:`Vectors` with the first ``n`` words, or the given words in order.

        An integer keeps a view of the matrix (memory-mapped stays memory-mapped); a list
        of words copies their rows.  Counts, metadata and ``ignore_case`` carry over.
        """
        if isinstance(n_or_words, (int, np.integer)) and not isinstance(n_or_words, bool):
            n = int(n_or_words)
            if n < 1:
                raise ParameterError(f"restrict needs n >= 1 words, got {n}")
            words = self._words[:n]
            storage = self._storage.head(n) if self._storage is not None else None
            matrix = self._vectors[:n] if self._vectors is not None else None
            counts = None if self.counts is None else self.counts[:n]
            index = None
        else:
            if isinstance(n_or_words, str):
                raise ParameterError("restrict takes a number of words or a list of words, "
                                     f"got the single string {n_or_words!r}")
            rows = self.indices(n_or_words)
            if len(np.unique(rows)) != len(rows):
                raise ParameterError("restrict: the word list has duplicates; give each once")
            words = [self._words[i] for i in rows]
            matrix = np.ascontiguousarray(self[words])
            storage = None
            counts = None if self.counts is None else self.counts[rows]
            index = None
        out = Vectors._trusted(words, matrix, index=index, counts=counts, metadata=self.metadata,
                               storage=storage)
        out.ignore_case = self.ignore_case
        out.subwords = self.subwords
        return out
