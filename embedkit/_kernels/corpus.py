"""Kernels of the corpus pipeline: id remapping and sentence offsets."""

import numba
import numpy as np


def _remap_chunk(raw, remap, line_lens, kept_per_line, state, out):
    """Map provisional ids to final ids, dropping the unmapped (-1), and count per line.

    ``raw[t]`` is a provisional id or -1; ``remap[raw[t]]`` the final id or -1.  Tokens
    are attributed to lines by ``line_lens``; ``state = [line, remaining]`` carries the
    position across chunks (start with ``[-1, 0]``).  Returns how many ids were written
    to ``out``.
    """
    line = state[0]
    remaining = state[1]
    n_out = 0
    for t in range(raw.shape[0]):
        while remaining == 0:
            line += 1
            remaining = line_lens[line]
        remaining -= 1
        r = raw[t]
        if r >= 0:
            v = remap[r]
            if v >= 0:
                out[n_out] = v
                n_out += 1
                kept_per_line[line] += 1
    state[0] = line
    state[1] = remaining
    return n_out


def _sentence_offsets(kept_per_line, max_len):
    """Offsets of sentences: each line's kept tokens cut into pieces of at most ``max_len``."""
    n = 0
    for k in kept_per_line:
        n += (k + max_len - 1) // max_len
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    j = 0
    pos = 0
    for k in kept_per_line:
        while k > 0:
            take = min(k, max_len)
            pos += take
            k -= take
            j += 1
            offsets[j] = pos
    return offsets


remap_chunk = numba.njit(_remap_chunk, nogil=True, cache=True)
sentence_offsets = numba.njit(_sentence_offsets, nogil=True, cache=True)


# -- byte-level tokenizer and word table ------------------------------------------------------
MODE_WHITESPACE = 0   # tokens are runs of non-whitespace bytes
MODE_WORDS = 1        # tokens are runs of ASCII letters/digits with internal apostrophes

_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


_leaf = numba.njit(nogil=True, cache=True, inline="always")


@_leaf
def _is_space(b):
    return b == 32 or (9 <= b <= 13) or (28 <= b <= 31)


@_leaf
def _is_word(b):
    return (97 <= b <= 122) or (65 <= b <= 90) or (48 <= b <= 57)


_HI = np.uint64(0xFFFFFFFF00000000)
_LO = np.uint64(0x00000000FFFFFFFF)


@numba.njit(nogil=True, cache=True, inline="always")
def _lookup_or_add(data, start, end, h, table, wstart, wlen, arena, state):
    """Id of the token ``data[start:end]`` (FNV-1a hash ``h``), adding it if new; -1 when
    the table is full.

    Open addressing with linear probing.  A slot packs the hash's high 32 bits with
    ``id + 1`` (0 = empty), so a probe reads one word and most never touch the word
    arrays.  Full means: as many words as ``wstart`` has room for, the table half full, or
    no arena room for the token.
    """
    mask = table.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    hi = h & _HI
    n = end - start
    while True:
        v = table[slot]
        if v == 0:
            break
        if (v & _HI) == hi:
            wid = np.int64(v & _LO) - 1
            if wlen[wid] == n:
                s = wstart[wid]
                same = True
                for k in range(n):
                    if arena[s + k] != data[start + k]:
                        same = False
                        break
                if same:
                    return wid
        slot = (slot + 1) & mask
    wid = state[0]
    pos = state[1]
    if wid >= wstart.shape[0] or 2 * (wid + 1) > table.shape[0] or pos + n > arena.shape[0]:
        return -1
    state[0] = wid + 1
    table[slot] = hi | np.uint64(wid + 1)
    wstart[wid] = pos
    wlen[wid] = n
    for k in range(n):
        arena[pos + k] = data[start + k]
    state[1] = pos + n
    return wid


def _scan_block(data, start, mode, table, wstart, wlen, arena, state, out_ids, out_lens,
                counts):
    """Tokenize bytes from ``start`` into word ids, ending a line at each newline.

    ``state = [n_words, arena_used, tokens_in_open_line, n_ids, n_lines]``: ids and line
    lengths are appended to ``out_ids`` and ``out_lens`` at ``state[3]`` and ``state[4]``.
    ``\r\n`` and a lone ``\r`` end a line as ``\n`` does.  Returns the position where
    it stopped: ``len(data)`` when done, or the start of a token that did not fit in the
    table (grow it and call again from there).
    """
    n = data.shape[0]
    n_ids = state[3]
    n_lines = state[4]
    line_len = state[2]
    i = start
    while i < n:
        b = data[i]
        if b == 10 or (b == 13 and (i + 1 >= n or data[i + 1] != 10)):
            out_lens[n_lines] = line_len
            n_lines += 1
            line_len = 0
            i += 1
            continue
        h = _FNV_OFFSET
        if mode == 0:
            if _is_space(b):
                i += 1
                continue
            j = i
            while j < n:
                c = data[j]
                if _is_space(c):
                    break
                h = (h ^ np.uint64(c)) * _FNV_PRIME
                j += 1
        else:
            if not _is_word(b):
                i += 1
                continue
            j = i
            while j < n:
                c = data[j]
                if _is_word(c):
                    h = (h ^ np.uint64(c)) * _FNV_PRIME
                    j += 1
                elif c == 39 and j + 1 < n and _is_word(data[j + 1]):
                    h = (h ^ np.uint64(c)) * _FNV_PRIME
                    j += 1
                else:
                    break
        wid = _lookup_or_add(data, i, j, h, table, wstart, wlen, arena, state)
        if wid < 0:
            break
        out_ids[n_ids] = wid
        counts[wid] += 1
        n_ids += 1
        line_len += 1
        i = j
    state[2] = line_len
    state[3] = n_ids
    state[4] = n_lines
    return i


def _rebuild_table(keep, wstart, wlen, arena, table, new_wstart, new_wlen, new_arena):
    """Re-insert the words with ``keep[wid]`` into an empty table, renumbered in order,
    compacting the arena.  Returns ``(n_words, arena_used)``."""
    table[:] = 0
    mask = table.shape[0] - 1
    n = 0
    pos = 0
    for wid in range(keep.shape[0]):
        if not keep[wid]:
            continue
        s = wstart[wid]
        ln = wlen[wid]
        h = _FNV_OFFSET
        for k in range(ln):
            h = (h ^ np.uint64(arena[s + k])) * _FNV_PRIME
        slot = np.int64(h & np.uint64(mask))
        while table[slot] != 0:
            slot = (slot + 1) & mask
        table[slot] = (h & _HI) | np.uint64(n + 1)
        new_wstart[n] = pos
        new_wlen[n] = ln
        for k in range(ln):
            new_arena[pos + k] = arena[s + k]
        pos += ln
        n += 1
    return n, pos


scan_block = numba.njit(_scan_block, nogil=True, cache=True)
rebuild_table = numba.njit(_rebuild_table, nogil=True, cache=True)
