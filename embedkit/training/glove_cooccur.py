"""The co-occurrences a :class:`~embedkit.training.glove.GloVe` trains on, and the order it
visits them in when they stay on disk.

A sharded corpus is counted into key-range partitions (:func:`count_for_training`); counts
given to ``fit(cooccurrence=...)`` are checked against the corpus and the window
(:func:`given_cooccurrence`).  Either way the entries are joined in memory when they fit
the ``memory`` budget, and otherwise streamed from disk: each epoch visits the partitions
in a seeded shuffled order (:func:`_epoch_jobs`), each partition's jobs together, through
a small cache of the partitions last read (:class:`_PartitionCache`).
"""

from __future__ import annotations

import logging

import numpy as np

from embedkit._io import format_bytes
from embedkit.errors import ParameterError
from embedkit.training.cooccur_budget import parse_memory

log = logging.getLogger(__name__)


def count_for_training(trainer, enc):
    """Count a sharded corpus into partitions under a temporary directory (removed
    with the returned object); ``(Cooccurrence, None)`` when the entries fit the
    memory budget, else ``(None, PartitionedCooccurrence)`` to stream from disk.

    ``trainer`` is the :class:`~embedkit.training.glove.GloVe` (its ``window``, ``memory``,
    ``workers`` and ``tmp_dir``); ``enc`` the sharded corpus.
    """
    import shutil
    import tempfile
    import weakref

    from embedkit.training.cooccur_partitioned import count_sharded

    budget = parse_memory(trainer.memory)
    estimate = 2 * trainer.window * enc.n_tokens * 12  # an upper bound on the entry bytes
    n_parts = max(len(enc.shards), min(4096, -(-estimate * (trainer.workers + 2) // budget)))
    tmp = tempfile.mkdtemp(prefix="embedkit-cooc-", dir=trainer.tmp_dir)
    try:
        pc = count_sharded(enc, tmp, window=trainer.window, memory=trainer.memory,
                           workers=trainer.workers, n_partitions=n_parts)
        if pc.nbytes <= budget:
            co = pc.load()
            shutil.rmtree(tmp, ignore_errors=True)
            return co, None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    weakref.finalize(pc, shutil.rmtree, tmp, True)
    log.info("glove: %s of co-occurrences exceed --memory %s: training streams %d "
             "partitions from %s in a seeded shuffled order", format_bytes(pc.nbytes),
             trainer.memory, len(pc.partitions), tmp)
    return None, pc


def given_cooccurrence(trainer, enc, co):
    """``(Cooccurrence, None)`` or ``(None, PartitionedCooccurrence)`` (to stream from
    disk) from the ``cooccurrence`` given to :meth:`GloVe.fit
    <embedkit.training.glove.GloVe.fit>`: counts in memory, partitions, or their directory
    / URL, checked against the corpus ``enc`` (vocabulary size and digest) and the
    trainer's ``window``."""
    if isinstance(co, (str, bytes)) or hasattr(co, "__fspath__"):
        from embedkit.training.cooccur_partitioned import PartitionedCooccurrence

        co = PartitionedCooccurrence.open(co)
    if co.vocab_size != len(enc.vocab) or co.window != trainer.window:
        raise ParameterError(
            f"cooccurrence was counted for {co.vocab_size} words with window "
            f"{co.window}, not {len(enc.vocab)} words with window {trainer.window}: "
            "count it with the same corpus and window")
    if hasattr(co, "partitions"):  # counted into partitions (perhaps on a cluster)
        digest = co.info.get("vocab_digest")
        if digest and digest != getattr(enc, "info", {}).get("vocab_digest", digest):
            raise ParameterError(f"the co-occurrences in {co.path} were counted for "
                                 "another vocabulary: count them for this corpus")
        if co.nbytes > parse_memory(trainer.memory):
            log.info("glove: %s of co-occurrences exceed --memory %s: training "
                     "streams %d partitions from %s", format_bytes(co.nbytes),
                     trainer.memory, len(co.partitions), co.path)
            return None, co
        co = co.load()
    return co, None


def _partition_jobs(parts, per_job: int):
    """Jobs ``(partition, start, end)`` over shuffled positions of each partition, in
    partition order, and their sizes."""
    jobs = []
    for p, (_, n) in enumerate(parts.partitions):
        for lo in range(0, n, per_job):
            jobs.append((p, lo, min(n, lo + per_job)))
    return jobs, np.array([hi - lo for _, lo, hi in jobs], dtype=np.int64)


def _epoch_jobs(jobs, seed: int, epoch: int):
    """The jobs of one epoch: partitions in a seeded shuffled order (seed and epoch only),
    each partition's jobs together, so a partition is read once per epoch."""
    n_parts = jobs[-1][0] + 1 if jobs else 0
    order = np.random.default_rng([int(seed), int(epoch), 7]).permutation(n_parts)
    rank = np.empty(n_parts, dtype=np.int64)
    rank[order] = np.arange(n_parts)
    return sorted(jobs, key=lambda j: (int(rank[j[0]]), j[1]))


class _PartitionCache:
    """The last ``size`` partitions read, shared by the training threads."""

    def __init__(self, parts, size: int):
        import threading
        from collections import OrderedDict

        from embedkit._kernels.glove import permutation_bits

        self._parts, self._size, self._bits = parts, max(2, size), permutation_bits
        self._lock = threading.Lock()
        self._cache: OrderedDict = OrderedDict()

    def __call__(self, p: int):
        with self._lock:
            got = self._cache.get(p)
            if got is None:
                keys, vals = self._parts.partition(p)
                got = self._cache[p] = (keys, vals, self._bits(max(len(keys), 1)))
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(p)
            return got
