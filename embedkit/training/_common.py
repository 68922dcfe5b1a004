"""Seeding and job splitting shared by the trainers: :func:`rng_states` (one uint64
xorshift state per thread, from a seed), :func:`split_jobs`, :func:`encoded_corpus`.

The rest of the training machinery has a module each: parameter checks in
:mod:`embedkit._params`, the driver in :mod:`embedkit.training.driver`, checkpoints and
resuming in :mod:`embedkit.training.checkpoint`, the output and the end of ``fit`` in
:mod:`embedkit.training.output`.
"""

from __future__ import annotations

import numpy as np

from embedkit._params import check_non_negative


# ---------------------------------------------------------------------------------------
# seeding and jobs
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x, z ^ (z >> 31)


def rng_states(seed: int, n: int) -> np.ndarray:
    """``n`` independent, non-zero uint64 RNG states derived from ``seed`` (SplitMix64).

    Each worker thread owns one state (``states[thread]``) and its kernel advances it in
    place, so runs with the same seed and one worker are identical.
    """
    if seed is None:
        seed = 0
    check_non_negative("seed", seed, integer=True)
    x = int(seed) & _MASK64
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        x, z = _splitmix64(x)
        out[i] = z or 0x9E3779B97F4A7C15
    return out


def split_jobs(offsets: np.ndarray, words_per_job: int = 10000) -> np.ndarray:
    """Split sentences into jobs of about ``words_per_job`` words.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n_items + 1,)
        Item boundaries (``offsets[i]:offsets[i+1]`` is item ``i``).
    words_per_job : int
        Target job size; a job is never empty and never splits an item.

    Returns
    -------
    ndarray of int64, shape (n_jobs + 1,)
        Item-index boundaries: job ``j`` covers items ``bounds[j]:bounds[j+1]``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_items = len(offsets) - 1
    if n_items <= 0:
        return np.zeros(1, dtype=np.int64)
    total = int(offsets[-1] - offsets[0])
    marks = offsets[0] + np.arange(0, max(total, 1), max(1, int(words_per_job)), dtype=np.int64)
    bounds = np.searchsorted(offsets, marks, side="left")
    bounds = np.unique(np.concatenate([[0], bounds, [n_items]])).astype(np.int64)
    return bounds


def encoded_corpus(corpus, **options):
    """``corpus`` itself when it is already encoded (has ``ids``, ``offsets`` and ``vocab``),
    else :func:`embedkit.corpus.prepare` of it with ``options``."""
    if all(hasattr(corpus, a) for a in ("ids", "offsets", "vocab")):
        return corpus
    from embedkit.corpus.sharded_store import ShardedCorpus, is_sharded_dir

    if is_sharded_dir(corpus):  # written by prepare(..., out=DIR): memory-mapped shards
        return ShardedCorpus.open(corpus)
    from embedkit.corpus import prepare

    return prepare(corpus, **options)
