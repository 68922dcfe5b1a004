"""Turning the counting workers' output into sorted co-occurrence entries: the sorted
*runs* spilled to disk (``.npy`` files of ``(key, val)`` records, written streaming), their
k-way merge, and, when nothing spilled, the bucketed sort-and-reduce of the workers'
buffers straight into the final arrays.  See :mod:`embedkit.training.cooccur`.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

RUN_DTYPE = np.dtype([("key", "<u8"), ("val", "<i8")])  # val: exact sum of integer weights
_HEADER_BYTES = 128          # fixed-size .npy header, rewritten once the run length is known
_WRITE_SLICE = 1 << 14       # records converted and written at a time (256 KB)


# -- run files ------------------------------------------------------------------------------

def _npy_header(n: int, dtype=RUN_DTYPE) -> bytes:
    descr = np.lib.format.dtype_to_descr(dtype)
    text = repr({"descr": descr, "fortran_order": False, "shape": (int(n),)})
    body_len = _HEADER_BYTES - 10
    text = text.ljust(body_len - 1) + "\n"
    if len(text) != body_len:  # pragma: no cover - would need > 1e40 entries
        raise RuntimeError("run header overflow")
    return b"\x93NUMPY\x01\x00" + body_len.to_bytes(2, "little") + text.encode("latin1")


class _RunWriter:
    """Append sorted (key, val) chunks to a ``.npy`` run whose length is known only at the end."""

    def __init__(self, path: str, dtype=RUN_DTYPE):
        self.path = path
        self.n = 0
        self.dtype = dtype
        # a name of its own: a re-run of the same task may write the same run concurrently
        self._tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.part"
        self._f = open(self._tmp, "wb")
        self._f.write(_npy_header(0, dtype))

    def write(self, keys, vals):
        # in slices: a spilled buffer's records never exist whole beside it (the budget
        # counts the buffer, not a second copy of it)
        for a in range(0, keys.shape[0], _WRITE_SLICE):
            b = min(keys.shape[0], a + _WRITE_SLICE)
            rec = np.empty(b - a, dtype=self.dtype)
            rec["key"] = keys[a:b]
            rec["val"] = vals[a:b]
            self._f.write(memoryview(rec).cast("B"))
        self.n += keys.shape[0]

    def close(self):
        self._f.seek(0)
        self._f.write(_npy_header(self.n, self.dtype))
        self._f.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self):
        """Close and delete the unfinished file."""
        self._f.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


class _FileRun:
    """Reads a run file block by block; holds one open file while active."""

    def __init__(self, path: str):
        self.path = path
        self._f = open(path, "rb")
        np.lib.format.read_magic(self._f)
        shape, _, dtype = np.lib.format.read_array_header_1_0(self._f)
        if dtype != RUN_DTYPE or len(shape) != 1:  # pragma: no cover - our own files
            raise RuntimeError(f"unexpected run file {path}")
        self.left = int(shape[0])

    def read(self, count: int):
        count = min(count, self.left)
        rec = np.fromfile(self._f, dtype=RUN_DTYPE, count=count)
        self.left -= count
        return np.ascontiguousarray(rec["key"]), np.ascontiguousarray(rec["val"])

    def close(self):
        self._f.close()


class _MemoryRun:
    """An in-memory run with the same interface as :class:`_FileRun`."""

    def __init__(self, keys, vals):
        self._keys, self._vals, self._pos = keys, vals, 0  # vals: int64 exact sums
        self.left = int(keys.shape[0])

    def read(self, count: int):
        count = min(count, self.left)
        s = slice(self._pos, self._pos + count)
        self._pos += count
        self.left -= count
        return self._keys[s], self._vals[s]

    def close(self):
        self._keys = self._vals = None


def _merge(sources, block: int, emit) -> None:
    """K-way merge of sorted runs, reading ``block`` entries of each at a time.

    ``emit(keys, vals)`` receives consecutive chunks of the merged, reduced stream.  Each
    round merges everything up to the smallest last-buffered key among the runs that still
    have data left, so every round empties at least one buffer and the output is ordered.
    """
    from embedkit._kernels import cooccur as K

    n = len(sources)
    keys = [np.empty(0, np.uint64)] * n
    vals = [np.empty(0, np.int64)] * n
    pos = [0] * n
    top = np.iinfo(np.uint64).max
    while True:
        for r, src in enumerate(sources):
            if pos[r] >= keys[r].shape[0] and src.left > 0:
                keys[r], vals[r] = src.read(block)
                pos[r] = 0
        active = [r for r in range(n) if pos[r] < keys[r].shape[0]]
        if not active:
            return
        pending = [keys[r][-1] for r in active if sources[r].left > 0]
        limit = np.uint64(min(pending)) if pending else np.uint64(top)
        seg_k, seg_v, cuts = [], [], []
        for r in active:
            cut = pos[r] + int(np.searchsorted(keys[r][pos[r]:], limit, side="right"))
            seg_k.append(keys[r][pos[r]:cut])
            seg_v.append(vals[r][pos[r]:cut])
            cuts.append(cut)
        lens = np.array([s.shape[0] for s in seg_k], dtype=np.int64)
        ends = np.cumsum(lens)
        starts = ends - lens
        ck = np.concatenate(seg_k)
        cv = np.concatenate(seg_v)
        out_k = np.empty(ck.shape[0], np.uint64)
        out_v = np.empty(ck.shape[0], np.int64)
        m = K.merge_runs_exact(ck, cv, starts, ends, out_k, out_v)
        if m:
            emit(out_k[:m], out_v[:m])
        for r, cut in zip(active, cuts):
            pos[r] = cut


def _run_threads(fn, n: int) -> None:
    """Call ``fn(0) .. fn(n - 1)`` in ``n`` threads (``fn(0)`` in this one); re-raise the
    first error once all are done."""
    errors: list[BaseException] = []

    def wrap(t):
        try:
            fn(t)
        except BaseException as exc:  # pragma: no cover - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=wrap, args=(t,), daemon=True) for t in range(1, n)]
    for th in threads:
        th.start()
    wrap(0)
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def _finish_in_memory(leftovers, dense, row_start, row_len, vocab_size: int, window: int,
                      bits: int, dbits: int, workers: int, phases: dict, wts):
    """The entries of a count that spilled nothing, in key order.

    The workers' pair codes are scattered into buckets of contiguous key ranges (the codes'
    top bits, one pass over memory); threads then take ranges of buckets of about equal
    size, sort every bucket in cache, and write its reduced entries, merged with the dense
    cells of the same keys, straight to their place in the final arrays (the size of every
    bucket's output is counted first), so nothing is merged or concatenated afterwards.
    ``leftovers[t]`` is ``(buffer, fill, _, _, histogram)`` of worker ``t`` (the histogram
    of its codes over the buckets of :func:`~embedkit._kernels.cooccur.bucket_split`); the
    buffers are released.
    """
    from embedkit._kernels import cooccur as K

    t1 = time.perf_counter()
    n_buf = len(leftovers)
    shift, nb = K.bucket_split(bits, dbits)
    hists = np.stack([lo[4] for lo in leftovers])
    per_bucket = hists.sum(axis=0)
    bstart = np.zeros(nb + 1, dtype=np.int64)
    np.cumsum(per_bucket, out=bstart[1:])
    n_codes = int(bstart[-1])
    # within a bucket only the low `shift` bits vary: uint32 halves the traffic when they fit
    codes = np.empty(n_codes, dtype=np.uint32 if shift <= 32 else np.uint64)
    pos = bstart[:-1] + np.cumsum(hists, axis=0) - hists  # where worker t's codes of b go

    def scatter(t):
        buf, fill = leftovers[t][0], leftovers[t][1]
        K.bucket_scatter_low(buf, fill, shift, np.ascontiguousarray(pos[t]), codes)
        leftovers[t] = None

    _run_threads(scatter, n_buf)
    phases["bucket"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    targets = (np.arange(1, workers) * n_codes) // workers
    ranges = np.concatenate([[0], np.searchsorted(bstart, targets), [nb]]).astype(np.int64)
    ranges = np.minimum(np.maximum.accumulate(ranges), nb)
    n_keys = np.zeros(nb, dtype=np.int64)

    def sort(t):
        b0, b1 = int(ranges[t]), int(ranges[t + 1])
        big = int(per_bucket[b0:b1].max()) if b1 > b0 else 0
        K.sort_buckets(codes, np.empty(max(1, big), dtype=codes.dtype), bstart, b0, b1, shift,
                       dbits, n_keys)

    _run_threads(sort, workers)
    phases["sort"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    n_dense = np.zeros(nb, dtype=np.int64)
    K.dense_bucket_counts(dense, row_start, row_len, vocab_size, dbits, shift, n_dense)
    out_start = np.zeros(nb + 1, dtype=np.int64)
    np.cumsum(n_keys + n_dense, out=out_start[1:])
    keys = np.empty(int(out_start[-1]), dtype=np.uint64)
    vals = np.empty(int(out_start[-1]), dtype=np.int64)
    _run_threads(lambda t: K.reduce_buckets(codes, bstart, int(ranges[t]), int(ranges[t + 1]),
                                            shift, window, vocab_size, dense, row_start,
                                            row_len, out_start, keys, vals, wts), workers)
    phases["reduce"] = time.perf_counter() - t1
    return keys, vals
