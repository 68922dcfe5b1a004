"""The vocabulary: words in a stable order, their counts, and the sampling tables."""

from __future__ import annotations

import json

import numpy as np

from embedkit._atomic import atomic_file
from embedkit._params import check_non_negative
from embedkit.errors import FormatError, ParameterError


class Vocab:
    """Words ordered by count (descending), ties by word, with their corpus counts.

    Parameters
    ----------
    words : list of str
        Unique words, already in order.
    counts : array-like of int
        Count of each word in the corpus.

    Attributes
    ----------
    words : list of str
    counts : ndarray of int64
    index : dict
        word -> id (its position in ``words``).
    total : int
        Sum of counts: the number of in-vocabulary tokens in the corpus.
    """

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(self.words),):
            raise ParameterError(f"{len(self.words)} words but {self.counts.shape} counts: "
                                 "give one count per word")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ParameterError("vocabulary words must be unique")
        self.total = int(self.counts.sum())

    @classmethod
    def from_counts(cls, words, counts, min_count: int = 1, max_final_vocab: int | None = None):
        """Build a vocabulary from unordered ``(words, counts)``.

        Keeps words with ``count >= min_count``, orders them by count descending then
        by word (so the order never depends on the corpus order or on hashing), and keeps
        the first ``max_final_vocab`` of them when given.
        """
        counts = np.asarray(counts, dtype=np.int64)
        as_list = counts.tolist()
        keep = np.flatnonzero(counts >= min_count).tolist()
        keep.sort(key=lambda i: (-as_list[i], words[i]))
        if max_final_vocab is not None:
            keep = keep[:max_final_vocab]
        return cls([words[i] for i in keep], counts[np.asarray(keep, dtype=np.int64)])

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"Vocab({len(self)} words, {self.total} tokens)"

    def keep_probabilities(self, sample: float) -> np.ndarray:
        """Probability of keeping each word under frequent-word subsampling (float32).

        word2vec.c's formula, with ``T = self.total`` and ``s = sample``::

            p(w) = min(1, (sqrt(c(w) / (s T)) + 1) * s T / c(w))

        ``sample = 0`` keeps every token.
        """
        check_non_negative("sample", sample, hint=" (0 disables subsampling)")
        if sample == 0 or len(self) == 0:
            return np.ones(len(self), dtype=np.float32)
        threshold = sample * self.total
        c = self.counts.astype(np.float64)
        p = (np.sqrt(c / threshold) + 1.0) * threshold / c
        return np.minimum(p, 1.0).astype(np.float32)

    def noise_cdf(self, power: float = 0.75) -> np.ndarray:
        """Cumulative distribution of ``count ** power`` (float64, last entry 1.0).

        Negative samples are drawn by a binary search of a uniform number in it.
        """
        weights = self.counts.astype(np.float64) ** power
        cdf = np.cumsum(weights)
        cdf /= cdf[-1]
        cdf[-1] = 1.0
        return cdf

    # -- persistence (JSON; no pickle) --------------------------------------------------------
    def to_json(self) -> dict:
        return {"words": self.words, "counts": self.counts.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Vocab":
        try:
            return cls(data["words"], data["counts"])
        except (KeyError, TypeError) as exc:
            raise FormatError(f"not a vocabulary JSON object (needs 'words' and 'counts'): {exc}")

    def save(self, path) -> None:
        """Write the vocabulary as JSON (atomically)."""
        with atomic_file(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_json(), ensure_ascii=False))

    @classmethod
    def load(cls, path, fix: str = "") -> "Vocab":
        """Read a vocabulary written by :meth:`save`, checked: unique string words, one count
        (an integer >= 0) each; anything else is a :class:`FormatError` naming the file."""
        from embedkit import _validate as V

        data = V.read_json(path, fix=fix)
        words = V.string_list(V.field(data, "words", list, file=path, fix=fix), file=path,
                              name="words", fix=fix)
        counts = V.count_list(V.field(data, "counts", list, file=path, fix=fix), len(words),
                              file=path, name="counts", fix=fix)
        try:
            return cls(words, counts)
        except ParameterError as exc:
            raise FormatError(f"{path}: {exc}" + (f"; {fix}" if fix else "")) from None
