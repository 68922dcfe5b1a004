"""GloVe co-occurrence counting on a Dask cluster: map over shards, reduce over partitions.

The tasks are those of :mod:`embedkit.training.cooccur_partitioned`; a map task opens
its shard of the encoded directory itself (memory-mapped, on shared storage), so only
small statistics travel through Dask.  Every reduce task depends on every map task (the
all-to-all exchange goes through files on shared storage, not through Dask); tasks write
with atomic renames, so a task Dask re-runs after losing a worker writes the same bytes.
"""

from __future__ import annotations

import time

from embedkit.training import cooccur_partitioned as P


def _map(k: int, corpus_dir: str, vocab_size: int, window: int, rows, out: str, memory,
         workers: int) -> dict:
    from embedkit.corpus.sharded_store import load_shard

    ids, offsets = load_shard(corpus_dir, k, vocab_size)
    return P.count_shard_runs(k, ids, offsets, vocab_size, window, rows, out, memory, workers)


def _reduce(p: int, n_shards: int, rows, vocab_size: int, scale: int, out: str, memory,
            *maps) -> dict:
    return P.reduce_partition(p, n_shards, rows, vocab_size, scale, out, memory)


def run_plan(client, corpus, rows, vocab_size: int, window: int, scale: int, out: str, memory,
             workers: int = 1):
    """Submit the map and reduce tasks; returns their statistics ``(maps, parts)``."""
    t0 = time.time()
    S = len(corpus.shards)
    corpus_dir = str(corpus.path)
    rows = [int(r) for r in rows]
    maps = [client.submit(_map, k, corpus_dir, vocab_size, window, rows, out, memory, workers,
                          key=f"embedkit-cooc-map-{k}-{t0}", pure=False) for k in range(S)]
    parts = [client.submit(_reduce, p, S, rows, vocab_size, scale, out, memory, *maps,
                           key=f"embedkit-cooc-reduce-{p}-{t0}", pure=False)
             for p in range(len(rows) - 1)]
    try:
        return client.gather(maps), client.gather(parts)
    except BaseException:
        client.cancel(maps + parts)
        raise
