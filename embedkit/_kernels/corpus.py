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
