"""Word -> row lookups for a large vocabulary without a Python dict.

A ``dict`` of 3,000,000 words costs about 250 MB (its table plus one Python ``int`` per row
above 256) and several seconds to build; for a memory-mapped 3.6 GB matrix that is most of
the memory a query adds.  :class:`WordIndex` keeps two arrays instead: the words' hashes,
sorted, and the row of each (12 bytes a word, 36 MB for 3 M words).  A lookup is a binary
search on the hash, then a comparison with the word itself, so collisions are harmless.

The hashes are Python's ``hash(str)``, which differs between processes: they live only in
memory, are never saved, and nothing seeded depends on them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class WordIndex:
    """Row of each word of ``words`` (a list of unique strings, kept by reference).

    Parameters
    ----------
    words : list of str
        The vocabulary in row order; :meth:`first_duplicate` finds repeated words.

    Examples
    --------
    >>> ix = WordIndex(["a", "b", "c"])
    >>> ix.get("c"), ix.get("z")
    (2, None)
    """

    __slots__ = ("_words", "_hashes", "_rows")

    def __init__(self, words: Sequence[str]):
        n = len(words)
        hashes = np.fromiter(map(hash, words), dtype=np.int64, count=n)
        order = np.argsort(hashes, kind="stable")  # equal hashes keep row order
        self._words = words
        self._hashes = hashes[order]
        self._rows = order.astype(np.int32) if n < 2 ** 31 else order

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        """Bytes of the two arrays (the words themselves are not counted)."""
        return int(self._hashes.nbytes + self._rows.nbytes)

    def get(self, word, default=None):
        """Row of ``word``, or ``default``; raises ``TypeError`` for an unhashable key (as a
        ``dict`` lookup does)."""
        h = hash(word)
        hashes = self._hashes
        i = int(np.searchsorted(hashes, h))
        n = len(hashes)
        while i < n and hashes[i] == h:
            row = int(self._rows[i])
            if self._words[row] == word:
                return row
            i += 1
        return default

    def __contains__(self, word) -> bool:
        try:
            return self.get(word) is not None
        except TypeError:
            return False

    def first_duplicate(self) -> tuple[int, int] | None:
        """``(first, later)`` rows of the repeated word whose repeat comes first, or None."""
        hashes, rows, words = self._hashes, self._rows, self._words
        starts = np.flatnonzero(hashes[1:] == hashes[:-1])
        best = None
        seen_run = -2
        for s in starts:  # each run of equal hashes (rows ascending within a run)
            if s == seen_run + 1:
                seen_run = s
                continue
            seen_run = s
            e = s + 1
            while e + 1 < len(hashes) and hashes[e + 1] == hashes[s]:
                e += 1
            first: dict[str, int] = {}
            for r in rows[s:e + 1]:
                r = int(r)
                j = first.setdefault(words[r], r)
                if j != r and (best is None or r < best[1]):
                    best = (j, r)
                    break
        return best
