"""gensim ``KeyedVectors`` compatibility, part 1: keys and vectors by gensim's names
(``get_index``, ``get_vector``, ``v[key]``, ``index_to_key``, norms).

A key is a word (``str``) or a row number (``int``): a word is looked up first, and an
integer that is not a word is a row, as in gensim.  Composed into
:class:`~embedkit.vectors.keyed.KeyedVectorsMixin`.
"""

from __future__ import annotations

import numpy as np

from embedkit.errors import UnknownWordError

_KEY_TYPES = (str, int, np.integer)


class KeyAccessMixin:
    """gensim's key and vector accessors for :class:`~embedkit.vectors.core.Vectors`."""

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


def _unit(vec) -> np.ndarray:
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec

