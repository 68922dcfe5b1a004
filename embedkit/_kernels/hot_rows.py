"""Thread-private copies of the most frequent words' rows for the Hogwild word2vec kernels.

Under Hogwild both worker threads write the rows of the most frequent words (as context
words, targets and negatives) many times a millisecond, and each write takes the row's cache
lines from the other core.  On a 2-core Xeon, CBOW with 2 threads ran only 1.36x faster
than with one, while two 1-thread processes on private matrices each kept their full speed
(issue 20).  So each thread works on its own copy of the ``hot`` rows of the lowest ids (the
vocabulary is ordered by count), loaded once before training (:func:`hot_load`), and adds
what it changed to the shared rows (:func:`hot_sync`, which also reloads the copy): the
most frequent words' rows often, all of them at the end of each job.

The trainer uses them only when asked (``Word2Vec(private_rows=N)``): a thread sees the
other's changes to those rows late, and on a 5 M-token corpus that cost CBOW about 0.4
analogy points, measured on paired seeds (``docs/design/word2vec.md``).

The copies live in the weight matrices themselves, below the vocabulary's ``V`` rows: thread
``t`` owns rows ``base = V + 2 hot t`` to ``base + hot`` (its working copy) and
``base + hot`` to ``base + 2 hot`` (the shared rows as it last read them).  The kernels map a
hot word's id ``w`` to ``base + w`` when they read the corpus and draw negatives
(:func:`hot_id`), so the row operations need no change; with ``hot = 0`` nothing is mapped
and the kernels are plain Hogwild.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import WORD2VEC as _OPTS
from embedkit._kernels.simd_rows import row_copy


@njit(inline="always", **_OPTS)
def hot_block_base(n_words, hot, thread):
    """First row of ``thread``'s block in matrices of ``n_words + 2 * hot * threads`` rows."""
    return n_words + 2 * hot * thread


@njit(inline="always", **_OPTS)
def hot_id(w, hot, base):
    """The row of word ``w`` for this thread: ``base + w`` for a hot word, else ``w``."""
    return w + (w < hot) * base


@njit(**_OPTS)
def hot_load(W, hot, base):
    """Copy the shared rows ``:hot`` into the thread's working copy and its snapshot."""
    for r in range(hot):
        row_copy(W, base + r, W, r)
        row_copy(W, base + hot + r, W, r)


@njit(**_OPTS)
def hot_sync(W, rows, hot, base):
    """Add the working copy's change since the snapshot to the shared rows ``:rows``
    (``rows <= hot``), then start again from the sum (working copy and snapshot both set to
    it), in one pass."""
    dim = W.shape[1]
    for r in range(rows):
        for d in range(dim):
            v = W[r, d] + (W[base + r, d] - W[base + hot + r, d])
            W[r, d] = v
            W[base + r, d] = v
            W[base + hot + r, d] = v


@njit(inline="always", **_OPTS)
def hot_window_done(w_in, w_out, since, rows, every, hot, base):
    """Count a finished window; at every ``every``-th since the last sync, :func:`hot_sync`
    the ``rows`` hottest copies of both matrices.  Returns the new count."""
    since += 1
    if since == every:
        hot_sync(w_in, rows, hot, base)
        hot_sync(w_out, rows, hot, base)
        since = 0
    return since
