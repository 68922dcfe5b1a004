"""Word-word co-occurrence counting in a memory budget.

The symmetric co-occurrence matrix is kept as its upper triangle: one entry per pair
``i <= j``, keyed ``i * V + j`` (uint64), with a float32 value (see
:mod:`embedkit._kernels.cooccur` for the exact definition, which matches GloVe's
``cooccur`` with ``symmetric=1``).  Every sum is kept exact (int64 multiples of
``1 / lcm(1..window)``) until the end, so the values do not depend on the number of
threads, on spilling, or on how a corpus is split into shards and partitions
(:mod:`embedkit.training.cooccur_partitioned` gives bit-identical values).

Counting runs in Numba worker threads, each over a share of the sentences.  A worker adds
frequent pairs (``(i + 1) * (j + 1) <= P``, with ``P`` as large as the budget allows) to a
dense table and appends the others to a buffer; a full buffer is sorted, reduced and
spilled to disk as a *run* (a ``.npy`` file of ``(key, val)`` records).  Runs are merged
k ways with at most ``max_open_files`` files open at once, in several passes when there
are more runs than that, so a big corpus never hits the "too many open files" limit.

When nothing spilled (the common case), no merge happens at all: the workers' codes are
scattered into buckets of contiguous key ranges (their top bits, counted during the scan),
and threads sort and reduce ranges of buckets, merging in the dense cells of the same keys,
straight into the final arrays (:func:`~embedkit.training.cooccur_merge._finish_in_memory`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time

import numpy as np

from embedkit._progress import progress_bar
from embedkit._params import check_positive, check_workers
from embedkit.errors import ParameterError
from embedkit.training.cooccur_budget import (  # noqa: F401 - the budget's public names here too
    _BYTES_PER_CODE, _check_spill_space, _plan, check_memory_budget, dense_layout, parse_memory,
    physical_memory)
from embedkit.training.cooccur_merge import (_FileRun, _finish_in_memory, _MemoryRun, _merge,
                                             _run_threads, _RunWriter)

log = logging.getLogger(__name__)

_CHUNK_TOKENS = 1 << 20      # progress granularity of a worker


@dataclasses.dataclass
class Cooccurrence:
    """A symmetric co-occurrence matrix stored as its upper triangle.

    Attributes
    ----------
    keys : uint64 array
        ``i * vocab_size + j`` with ``i <= j``, strictly increasing.
    values : float32 array
        ``X[i, j]`` for each key.
    vocab_size : int
        ``V``.
    window : int
        The context window used.
    info : dict
        Counting statistics (tokens, seconds, spilled runs, merge passes, ...).
    """

    keys: np.ndarray
    values: np.ndarray
    vocab_size: int
    window: int
    info: dict = dataclasses.field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    @property
    def rows(self) -> np.ndarray:
        """Row index ``i`` of each entry (int64)."""
        return (self.keys // np.uint64(self.vocab_size)).astype(np.int64)

    @property
    def cols(self) -> np.ndarray:
        """Column index ``j >= i`` of each entry (int64)."""
        return (self.keys % np.uint64(self.vocab_size)).astype(np.int64)

    def to_scipy(self, symmetric: bool = True):
        """The matrix as ``scipy.sparse.csr_matrix`` (both triangles when ``symmetric``)."""
        import scipy.sparse as sp

        r, c, v = self.rows, self.cols, self.values
        if symmetric:
            off = r != c
            r, c, v = np.concatenate([r, c[off]]), np.concatenate([c, r[off]]), np.concatenate([v, v[off]])
        V = self.vocab_size
        return sp.csr_matrix((v, (r, c)), shape=(V, V), dtype=np.float32)



# -- counting ---------------------------------------------------------------------------------

def count_cooccurrences(ids, offsets, vocab_size: int, *, window: int = 10, memory="4G",
                        workers: int | None = None, tmp_dir=None, max_open_files: int = 32,
                        dense_fraction: float = 0.5, progress: bool = True,
                        sums: bool = False, emit=None) -> Cooccurrence:
    """Count weighted word-word co-occurrences over an encoded corpus.

    Every pair of tokens of one sentence at distance ``d <= window`` adds ``1/d`` (both
    orders, so ``X`` is symmetric).  Counting happens in memory while it fits ``memory``;
    otherwise sorted runs are spilled under ``tmp_dir`` and merged with at most
    ``max_open_files`` files open at once.

    Parameters
    ----------
    ids : int array
        Encoded corpus (``EncodedCorpus.ids``); values in ``[0, vocab_size)``.
    offsets : int64 array
        Sentence boundaries, ``n_sentences + 1`` entries.
    vocab_size : int
        Number of words ``V``.
    window : int, default 10
        Maximum distance between counted tokens.
    memory : str or int, default "4G"
        Budget for the dense tables and pair buffers of all workers.
    workers : int, optional
        Counting threads (default: the number of CPUs).
    tmp_dir : path, optional
        Where runs are spilled (default: the system temporary directory).
    max_open_files : int, default 32
        Most run files open at once while merging (at least 2).
    dense_fraction : float, default 0.5
        Largest share of the budget given to the dense table of frequent pairs (0 to 0.9);
        the table is capped at 4 MB per worker, where it stays in cache.
    progress : bool, default True
        Show a progress bar (when progress bars are enabled).
    sums : bool, default False
        Return the exact int64 sums as ``values`` instead of float32 values (the values
        are ``float32(float64(sum) / info["weight_scale"])``, see
        :func:`embedkit._kernels.cooccur.sums_to_values`); for merging counts of parts.
    emit : callable, optional
        ``emit(keys, values)`` receives the entries in consecutive chunks of increasing
        keys instead of the result holding them, so a count that spills never holds all
        its entries in memory (a partitioned count writes them straight to its runs); the
        returned ``Cooccurrence`` then has no entries, only ``info``.

    Returns
    -------
    Cooccurrence
    """
    from embedkit._kernels import cooccur as K

    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ParameterError(f"window must be an integer >= 1, got {window!r}")
    window = int(window)
    budget = parse_memory(memory)
    if not (0.0 <= dense_fraction <= 0.9):
        raise ParameterError(f"dense_fraction must be in [0, 0.9], got {dense_fraction!r}")
    if max_open_files < 2:
        raise ParameterError(f"max_open_files must be >= 2, got {max_open_files}")
    V = int(check_positive("vocab_size", vocab_size, integer=True))
    if K.code_bits(V, window) > 64:
        raise ParameterError(
            f"vocabulary of {V} words with window {window} is too large to key pairs in 64 "
            "bits: raise min_count or cap the vocabulary (max_final_vocab)")
    ids = np.asarray(ids)
    offsets = np.ascontiguousarray(np.asarray(offsets), dtype=np.int64)
    if ids.dtype != np.int32:
        ids = ids.astype(np.int32)
    n_sent = offsets.shape[0] - 1
    n_tokens = int(offsets[-1] - offsets[0]) if n_sent >= 0 else 0
    if n_sent < 0:
        raise ParameterError("offsets must have at least one entry")
    if n_tokens and (int(ids.min()) < 0 or int(ids.max()) >= V):
        raise ParameterError(f"ids must lie in [0, {V}); got values outside that range")
    workers = check_workers(workers)
    workers = max(1, min(workers, n_sent, max(1, n_tokens // 10000)))
    wts = K.weights(window)
    scale = K.weight_scale(window)
    if n_tokens * 2 * float(wts.sum()) >= 2.0 ** 63:
        raise ParameterError(f"{n_tokens} tokens with window {window} could overflow the exact "
                             "64-bit sums: count the corpus in parts (shards) of fewer tokens")

    row_start, row_len, product, capacity = _plan(budget, workers, dense_fraction, V, window,
                                                  memory)
    n_cells = int(row_len.sum())
    bits = K.code_bits(V, window)
    dbits = K.code_shift(window)
    shift, n_buckets = K.bucket_split(bits, dbits)
    t0 = time.perf_counter()

    # sentence shares of about equal token counts, cut into chunks for progress and Ctrl-C
    targets = offsets[0] + (np.arange(1, workers) * n_tokens) // workers
    cuts = np.concatenate([[0], np.searchsorted(offsets, targets), [n_sent]]).astype(np.int64)
    cuts = np.maximum.accumulate(cuts)
    _check_spill_space(tmp_dir, n_tokens, window, budget)
    spill_dir = tempfile.mkdtemp(prefix="embedkit-cooccur-", dir=tmp_dir)
    done = np.zeros(workers, dtype=np.int64)
    stop = threading.Event()
    errors: list[BaseException] = []
    spilled: list[str] = []
    in_memory: list = []
    dense_tables: list[np.ndarray | None] = [None] * workers
    leftovers: list = [None] * workers   # (buffer, fill, out_k, out_v) when a worker is done
    scan_seconds = np.zeros(workers)
    lock = threading.Lock()

    def work(t: int) -> None:
        try:
            t_start = time.perf_counter()
            s0, s1 = int(cuts[t]), int(cuts[t + 1])
            dense = np.zeros(n_cells, dtype=np.int64)
            dense_tables[t] = dense
            buf = np.empty(capacity, dtype=np.uint64)
            out_k = np.empty(capacity, dtype=np.uint64)
            out_v = np.empty(capacity, dtype=np.int64)
            hist = np.zeros(n_buckets, dtype=np.int64)
            sent, pos, fill = s0, int(offsets[s0]), 0
            base = int(offsets[s0])
            n_run = 0
            while sent < s1 and not stop.is_set():
                limit = int(np.searchsorted(offsets, offsets[sent] + _CHUNK_TOKENS, side="right"))
                chunk_end = min(s1, max(sent + 1, limit - 1))
                while sent < chunk_end:
                    sent, pos, fill = K.scan_window(ids, offsets, sent, pos, chunk_end, window, V,
                                                    product, dense, row_start, buf, fill,
                                                    hist, shift, wts)
                    if sent < chunk_end:  # buffer full: sort, reduce, spill
                        m = K.sort_reduce(buf, fill, window, V, bits, out_k, out_v, wts)
                        w = _RunWriter(os.path.join(spill_dir, f"run-w{t}-{n_run:06d}.npy"))
                        w.write(out_k[:m], out_v[:m])
                        with lock:
                            spilled.append(w.close())
                        n_run += 1
                        fill = 0
                        hist[:] = 0
                    done[t] = pos - base
            leftovers[t] = (buf, fill, out_k, out_v, hist)
            scan_seconds[t] = time.perf_counter() - t_start
        except BaseException as exc:  # pragma: no cover - surfaced in the main thread
            stop.set()
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,), daemon=True, name=f"cooccur-{t}")
               for t in range(workers)]
    try:
        with progress_bar(total=n_tokens, desc="co-occurrences", unit="tok",
                          disable=None if progress else True) as bar:
            for th in threads:
                th.start()
            while any(th.is_alive() for th in threads):
                time.sleep(0.1)
                bar.update(int(done.sum()) - bar.n)
            bar.update(int(done.sum()) - bar.n)
        if errors:
            raise errors[0]
        count_seconds = time.perf_counter() - t0
        phases = {"scan": float(scan_seconds.max())}

        # sum the workers' dense tables
        t1 = time.perf_counter()
        total = dense_tables[0]
        for t in range(1, workers):
            K.add_into(total, dense_tables[t])
            dense_tables[t] = None
        dense_tables[0] = None
        phases["dense_sum"] = time.perf_counter() - t1

        if not spilled:
            # everything in memory: bucket the codes of all workers by key range, then each
            # thread sorts and reduces a range of buckets straight into the final arrays
            keys, vals = _finish_in_memory(leftovers, total, row_start, row_len, V, window,
                                           bits, dbits, workers, phases, wts)
            leftovers = total = None
            passes = 0
            n_entries = int(keys.shape[0])
            if emit is not None:
                emit(keys, vals if sums else K.sums_to_values(vals, scale))
                keys, vals = np.empty(0, np.uint64), np.empty(0, np.int64)
        else:
            t1 = time.perf_counter()

            def reduce_leftover(t):
                buf, fill, out_k, out_v, _ = leftovers[t]
                leftovers[t] = None
                if fill:
                    m = K.sort_reduce(buf, fill, window, V, bits, out_k, out_v, wts)
                    del buf  # views, not copies: the budget holds the output arrays once
                    in_memory[t] = _MemoryRun(out_k[:m], out_v[:m])

            in_memory[:] = [None] * workers
            _run_threads(reduce_leftover, workers)
            in_memory[:] = [r for r in in_memory if r is not None]
            nnz = K.dense_nonzero_count(total)
            dk = np.empty(nnz, dtype=np.uint64)
            dv = np.empty(nnz, dtype=np.int64)
            K.dense_to_entries(total, row_start, row_len, V, dk, dv)
            total = None
            phases["sort_reduce"] = time.perf_counter() - t1
            # merge passes over the spilled runs, never more than max_open_files open at once
            block = max(1024, budget // (3 * _BYTES_PER_CODE * (max_open_files + 1)))
            runs = sorted(spilled)
            passes = 0
            while len(runs) > max_open_files:
                passes += 1
                fan_in = max_open_files - 1  # one more file is the output
                merged = []
                for g in range(0, len(runs), fan_in):
                    group = runs[g:g + fan_in]
                    if len(group) == 1:
                        merged.append(group[0])
                        continue
                    name = f"merge-{passes}-{g // fan_in:06d}.npy"
                    out = _RunWriter(os.path.join(spill_dir, name))
                    srcs = [_FileRun(p) for p in group]
                    try:
                        _merge(srcs, block, out.write)
                    finally:
                        for s in srcs:
                            s.close()
                    merged.append(out.close())
                    for p in group:
                        os.remove(p)
                runs = merged
                log.debug("merge pass %d: %d runs left", passes, len(runs))

            chunks_k: list[np.ndarray] = []
            chunks_v: list[np.ndarray] = []
            n_out = [0]

            def collect(k, v):
                n_out[0] += k.shape[0]
                if emit is not None:  # streamed to the caller, never held here
                    emit(k, v if sums else K.sums_to_values(v, scale))
                    return
                chunks_k.append(k.copy())
                chunks_v.append(v.copy())

            srcs = [_FileRun(p) for p in runs]
            try:
                _merge(srcs + in_memory + [_MemoryRun(dk, dv)], block, collect)
            finally:
                for s in srcs:
                    s.close()
            keys = np.concatenate(chunks_k) if chunks_k else np.empty(0, np.uint64)
            vals = np.concatenate(chunks_v) if chunks_v else np.empty(0, np.int64)
            n_entries = n_out[0]
            phases["merge"] = time.perf_counter() - t1 - phases["sort_reduce"]
    except KeyboardInterrupt:
        stop.set()
        for th in threads:
            th.join()
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)

    if not sums:
        vals = K.sums_to_values(vals, scale)  # (empty when the entries went to emit)
    seconds = time.perf_counter() - t0
    info = {"tokens": n_tokens, "window": window, "workers": workers, "memory": budget,
            "weight_scale": scale,
            "dense_product": int(product), "dense_cells": n_cells, "spilled_runs": len(spilled),
            "merge_passes": passes, "entries": n_entries,
            "count_seconds": count_seconds, "seconds": seconds,
            "phase_seconds": {k: round(v, 4) for k, v in phases.items()}}
    log.info("co-occurrences: %d tokens in %.1f s (%.2f M tokens/s), %d entries, %d runs spilled",
             n_tokens, seconds, n_tokens / max(seconds, 1e-9) / 1e6, n_entries, len(spilled))
    return Cooccurrence(keys=keys, values=vals, vocab_size=V, window=window, info=info)
