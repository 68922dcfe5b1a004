"""Word tables that give each new word a provisional id while the corpus streams past.

:class:`ByteTable` tokenizes raw bytes in a Numba kernel with its own hash table (FNV-1a
hashes, never Python's ``hash()``), so counting and encoding run at memory speed.
:class:`DictTable` serves token lists given from Python.  Both expose the same small API:
``add(block) -> (ids, line_lengths)``, ``counts`` (per provisional id), ``prune(keep)``,
``words()`` and ``len()``.
"""

from __future__ import annotations

import numpy as np

from embedkit._kernels.corpus import MODE_WHITESPACE, MODE_WORDS, rebuild_table, scan_block


class DictTable:
    """Provisional ids for token lists given from Python."""

    def __init__(self):
        self._ids: dict[str, int] = {}
        self.counts = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, token_lists) -> tuple[np.ndarray, list[int]]:
        ids = self._ids
        out: list[int] = []
        for tokens in token_lists:
            for t in tokens:
                i = ids.get(t)
                if i is None:
                    i = ids[t] = len(ids)
                out.append(i)
        ids = np.array(out, dtype=np.int32)
        counts = np.bincount(ids, minlength=len(self._ids)).astype(np.int64)
        counts[:self.counts.shape[0]] += self.counts
        self.counts = counts
        return ids, np.array([len(t) for t in token_lists], dtype=np.int64)

    def prune(self, keep: np.ndarray) -> None:
        words = list(self._ids)
        survivors = np.flatnonzero(keep)
        self._ids = {words[i]: n for n, i in enumerate(survivors)}
        self.counts = self.counts[survivors]

    def words(self) -> list[str]:
        return list(self._ids)


class ByteTable:
    """Provisional ids for UTF-8 bytes, tokenized in Numba.

    The word table grows by doubling whenever the kernel reports it full; counts are kept
    per provisional id (``self.counts``).
    """

    def __init__(self, capacity: int = 1 << 15):
        # n_words, arena_used, tokens in the open line, n_ids, n_lines
        self._state = np.zeros(5, dtype=np.int64)
        self._alloc(capacity, 16 * capacity)
        self.counts = np.zeros(capacity, dtype=np.int64)

    def _alloc(self, words: int, arena: int) -> None:
        self._table = np.zeros(_pow2(2 * words), dtype=np.uint64)
        self._wstart = np.zeros(words, dtype=np.int64)
        self._wlen = np.zeros(words, dtype=np.int32)
        self._arena = np.zeros(arena, dtype=np.uint8)

    def __len__(self) -> int:
        return int(self._state[0])

    def _rebuild(self, keep: np.ndarray, words: int, arena: int) -> None:
        wstart, wlen, old_arena = self._wstart, self._wlen, self._arena
        self._alloc(words, arena)
        n, used = rebuild_table(keep, wstart, wlen, old_arena, self._table, self._wstart,
                                self._wlen, self._arena)
        self._state[0], self._state[1] = n, used
        counts = np.zeros(words, dtype=np.int64)
        kept = self.counts[:keep.shape[0]][keep]
        counts[:kept.shape[0]] = kept
        self.counts = counts

    def add(self, data: bytes, mode: int) -> tuple[np.ndarray, np.ndarray]:
        """Tokenize ``data``; returns its ids and the token counts of the lines it ends."""
        buf = np.frombuffer(data, dtype=np.uint8)
        out_ids = np.empty(buf.shape[0] // 2 + 1, dtype=np.int32)
        out_lens = np.empty(buf.shape[0] + 1, dtype=np.int64)
        self._state[3] = self._state[4] = 0
        pos = 0
        mode = MODE_WORDS if mode == MODE_WORDS else MODE_WHITESPACE
        while True:
            pos = scan_block(buf, pos, mode, self._table, self._wstart, self._wlen,
                             self._arena, self._state, out_ids, out_lens, self.counts)
            if pos >= buf.shape[0]:
                break
            n = len(self)  # full: double the table (and the arena if it is the limit)
            self._rebuild(np.ones(n, dtype=np.bool_), 2 * self._wstart.shape[0],
                          max(2 * self._arena.shape[0], int(self._state[1]) + buf.shape[0]))
        return out_ids[:self._state[3]], out_lens[:self._state[4]]

    def take_open(self) -> int:
        """Tokens after the last newline of the data added so far; resets the count."""
        open_len = int(self._state[2])
        self._state[2] = 0
        return open_len

    def prune(self, keep: np.ndarray) -> None:
        self._rebuild(keep, self._wstart.shape[0], self._arena.shape[0])

    def words(self) -> list[str]:
        n = int(self._state[0])
        arena = self._arena.tobytes()
        return [arena[s:s + ln].decode("utf-8", "replace")
                for s, ln in zip(self._wstart[:n].tolist(), self._wlen[:n].tolist())]


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())
