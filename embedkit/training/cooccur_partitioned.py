"""Co-occurrence counting as a map over shards and a reduce over key-range partitions.

A corpus prepared shard by shard (:class:`embedkit.corpus.sharded_store.ShardedCorpus`) is
counted in two steps, each a set of independent tasks (run one after the other here, or
on a Dask cluster by :func:`embedkit.distributed.cooccur.run_plan`):

* **map** (:func:`count_shard_runs`): count one shard with
  :func:`~embedkit.training.cooccur.count_cooccurrences` (exact int64 sums) and cut the
  sorted result into ``P`` key ranges, one run file per partition
  (``map/s{shard}-p{part}.npy``);
* **reduce** (:func:`reduce_partition`): merge the ``S`` runs of one partition k ways
  (streamed, a block of each at a time), turn the exact sums into float32 values once,
  and write ``part-{part}.npy`` (records ``(key uint64, val float32)``, keys strictly
  increasing).

The partitions are rows ``[r_p, r_{p+1})`` of the matrix, so the concatenated partitions
are the single-machine :class:`~embedkit.training.cooccur.Cooccurrence` bit for bit:
sums are exact integers whatever the split, and each value is computed from its total in
one place.  ``cooccur.json`` (written last) lists the partitions.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pathlib
import tempfile
import time
from dataclasses import dataclass, field

import numpy as np

from embedkit.corpus.locations import filesystem as _fs
from embedkit.corpus.locations import is_local_fs as _local_fs
from embedkit.corpus.locations import is_url, join, local_copy, read_bytes, write_bytes
from embedkit.errors import CorpusError, FormatError, MissingFileError, ParameterError
from embedkit.training.cooccur import Cooccurrence, count_cooccurrences, parse_memory
from embedkit.training.cooccur_merge import RUN_DTYPE, _FileRun, _merge, _RunWriter

log = logging.getLogger(__name__)

PART_DTYPE = np.dtype([("key", "<u8"), ("val", "<f4")])
MANIFEST = "cooccur.json"
FORMAT = "embedkit-partitioned-cooccurrence"


def partition_rows(counts, n_parts: int) -> np.ndarray:
    """Row boundaries ``r_0 = 0 < ... <= r_P = V`` splitting the matrix into ``n_parts``
    key ranges of about equal expected size (a row's size grows with its word's count)."""
    counts = np.asarray(counts, dtype=np.float64)
    V = counts.shape[0]
    n_parts = max(1, min(int(n_parts), V))
    cum = np.cumsum(counts)
    targets = cum[-1] * np.arange(1, n_parts) / n_parts
    cuts = np.searchsorted(cum, targets, side="left") + 1
    bounds = np.concatenate([[0], cuts, [V]]).astype(np.int64)
    return np.unique(np.minimum(np.maximum.accumulate(bounds), V))


def _map_path(work, shard: int, part: int) -> str:
    return join(work, "map", f"s{shard:05d}-p{part:05d}.npy")


def _part_path(out, part: int) -> str:
    return join(out, f"part-{part:05d}.npy")


def _remote(path) -> bool:
    """Whether ``path`` is a URL of a non-local file system (an object store)."""
    if not is_url(path):
        return False
    fs, _ = _fs(path)
    return not _local_fs(fs)


def _local_path(path) -> str:
    """The local file path of ``path`` (a path or a ``file://`` URL)."""
    return _fs(path)[1] if is_url(path) else os.fspath(path)


class _UploadRun(_RunWriter):
    """A run written to a local temporary file and uploaded whole to ``url`` on close
    (an object store has no rename; one upload is all or nothing)."""

    def __init__(self, url: str, dtype=RUN_DTYPE):
        fd, tmp = tempfile.mkstemp(suffix=".npy", prefix="embedkit-run-")
        os.close(fd)
        super().__init__(tmp, dtype)
        self.url = url

    def close(self):
        local = super().close()
        fs, p = _fs(self.url)
        try:
            fs.put_file(local, p)
        except OSError as exc:
            raise CorpusError(f"cannot write {self.url}: {exc}; give an output location every "
                              "worker can write") from None
        finally:
            os.unlink(local)
        return self.url

    def abort(self):
        super().abort()
        if os.path.exists(self.path):
            os.unlink(self.path)


def _run_writer(path, dtype=RUN_DTYPE) -> _RunWriter:
    return _UploadRun(path, dtype) if _remote(path) else _RunWriter(_local_path(path), dtype)


class _PartitionRuns:
    """Writes a stream of sorted ``(key, sum)`` chunks as one run per partition, opening the
    partitions' run files one after the other (keys arrive in increasing order), so only
    one file and one chunk are ever open."""

    def __init__(self, out, shard: int, key_bounds):
        self._out, self._shard, self._bounds = out, shard, key_bounds
        self._p = 0
        self._w = _run_writer(_map_path(out, shard, 0))
        self.sizes: list[int] = []

    def _next(self):
        self.sizes.append(self._w.n)
        self._w.close()
        self._p += 1
        self._w = _run_writer(_map_path(self._out, self._shard, self._p))

    def __call__(self, keys, vals):
        P = len(self._bounds) - 1
        start = 0
        while start < keys.shape[0]:
            while self._p < P - 1 and keys[start] >= self._bounds[self._p + 1]:
                self._next()
            if self._p < P - 1:
                end = start + int(np.searchsorted(keys[start:], self._bounds[self._p + 1]))
            else:
                end = keys.shape[0]
            self._w.write(keys[start:end], vals[start:end])
            start = end

    def close(self) -> list[int]:
        while self._p < len(self._bounds) - 2:
            self._next()
        self.sizes.append(self._w.n)
        self._w.close()
        return self.sizes

    def abort(self):
        self._w.abort()


def count_shard_runs(shard: int, ids, offsets, vocab_size: int, window: int, rows, out,
                     memory="1G", workers: int = 1) -> dict:
    """Map task: count shard ``shard`` and write one sorted run of exact sums per partition.

    The count's entries stream from its final merge straight into the partitions' runs,
    so the task holds ``memory`` of counting tables and buffers, never the shard's whole
    result.  Returns statistics (entries per partition, seconds).
    """
    t0 = time.perf_counter()
    bounds = np.asarray(rows, dtype=np.uint64) * np.uint64(vocab_size)
    runs = _PartitionRuns(out, shard, bounds)
    try:
        co = count_cooccurrences(ids, offsets, vocab_size, window=window, memory=memory,
                                 workers=workers, progress=False, sums=True,
                                 tmp_dir=None if _remote(out) else
                                 os.path.join(_local_path(out), "map"), emit=runs)
        sizes = runs.close()
    except BaseException:
        runs.abort()
        raise
    return {"shard": shard, "entries": sizes, "tokens": int(co.info["tokens"]),
            "seconds": time.perf_counter() - t0, "count_info": co.info}


def _open_run(path: str, lo: int, hi: int, name=None) -> _FileRun:
    """Open a map run (the local file ``path``; ``name`` in messages), checking it is ours
    and holds keys of ``[lo, hi)`` only."""
    name = name or path
    if not os.path.exists(path):
        raise MissingFileError(f"map output {name} is missing: count the co-occurrences again")
    try:
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            body = os.path.getsize(path) - f.tell()
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{name} is not a co-occurrence run ({exc}): count again") from None
    if dtype != RUN_DTYPE or len(shape) != 1 or body != shape[0] * RUN_DTYPE.itemsize:
        raise FormatError(f"{name} is not a complete co-occurrence run: count again")
    if shape[0]:
        arr = np.load(path, mmap_mode="r")
        keys = arr["key"]
        if int(keys[0]) < lo or int(keys[-1]) >= hi or np.any(keys[1:] <= keys[:-1]):
            raise FormatError(f"{name}: keys outside the partition or not increasing: count "
                              "again")
    return _FileRun(path)


def reduce_partition(part: int, n_shards: int, rows, vocab_size: int, scale: int, out,
                     memory="1G") -> dict:
    """Reduce task: merge the runs of partition ``part`` from every shard into
    ``part-{part}.npy`` with float32 values (streamed in blocks); returns its statistics."""
    from embedkit._kernels.cooccur import sums_to_values

    t0 = time.perf_counter()
    lo, hi = int(rows[part]) * vocab_size, int(rows[part + 1]) * vocab_size
    block = max(1024, parse_memory(memory) // (3 * 24 * (n_shards + 1)))
    with contextlib.ExitStack() as stack:
        srcs = []
        for s in range(n_shards):
            name = _map_path(out, s, part)
            srcs.append(_open_run(stack.enter_context(
                local_copy(name, fix="count the co-occurrences again")), lo, hi, name))
            stack.callback(srcs[-1].close)
        w = _run_writer(_part_path(out, part), dtype=PART_DTYPE)
        try:
            _merge(srcs, block, lambda k, v: w.write(k, sums_to_values(v, scale)))
            n = w.n
            w.close()
        except BaseException:
            w.abort()
            raise
    return {"part": part, "entries": int(n), "seconds": time.perf_counter() - t0}


def write_manifest(out, vocab_size: int, window: int, scale: int, rows, parts: list[dict],
                   maps: list[dict], vocab_digest=None) -> None:
    """Write ``cooccur.json`` (last: the directory is complete only with it) and remove the
    map runs."""
    manifest = {"format": FORMAT, "vocab_size": int(vocab_size), "vocab_digest": vocab_digest,
                "window": int(window),
                "weight_scale": int(scale), "rows": [int(r) for r in rows],
                "partitions": [{"part": p["part"], "entries": p["entries"]} for p in parts],
                "entries": int(sum(p["entries"] for p in parts)),
                "tokens": int(sum(m["tokens"] for m in maps)),
                "spilled_runs": [int(m["count_info"]["spilled_runs"]) for m in maps],
                "seconds": {"map": [round(m["seconds"], 4) for m in maps],
                            "reduce": [round(p["seconds"], 4) for p in parts]}}
    write_bytes(join(out, MANIFEST), json.dumps(manifest, indent=1).encode("utf-8"))
    if _remote(out):
        fs, p = _fs(join(out, "map"))
        for f in fs.glob(f"{p}/s*-p*.npy"):
            fs.rm(f)
        return
    mapdir = pathlib.Path(_local_path(out)) / "map"
    for p in [*mapdir.glob("s*-p*.npy"), *mapdir.glob("s*-p*.npy.*.part")]:
        p.unlink(missing_ok=True)  # the runs, and what tasks lost with a worker left


@dataclass
class PartitionedCooccurrence:
    """Co-occurrences on disk as key-range partitions (see the module docstring).

    Attributes
    ----------
    path : pathlib.Path or str
        The directory (a ``str`` for an fsspec URL).
    vocab_size, window : int
    partitions : list of (path, entries)
    info : dict
        The manifest.
    """

    path: pathlib.Path
    vocab_size: int
    window: int
    partitions: list = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(sum(n for _, n in self.partitions))

    @property
    def nbytes(self) -> int:
        return len(self) * PART_DTYPE.itemsize

    def partition(self, p: int) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)`` of partition ``p`` (read into memory, validated)."""
        path, n = self.partitions[p]
        from embedkit import _validate as V

        fix = "count the co-occurrences again"
        if _remote(path):  # an object store: the partition's bytes, read whole
            try:
                arr = np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - whatever numpy's header parser meets
                raise V.corrupt(path, exc, fix=fix) from None
        else:
            arr = V.read_npy(_local_path(path), mmap=True, fix=fix)
        if arr.dtype != PART_DTYPE or arr.shape != (n,):
            raise FormatError(f"{path}: expected {n} (key, val) records, found {arr.shape} "
                              f"{arr.dtype}; count again")
        keys = np.ascontiguousarray(arr["key"])
        vals = np.ascontiguousarray(arr["val"])
        rows = self.info["rows"]
        lo, hi = rows[p] * self.vocab_size, rows[p + 1] * self.vocab_size
        if n and (int(keys[0]) < lo or int(keys[-1]) >= hi or np.any(keys[1:] <= keys[:-1])):
            raise FormatError(f"{path}: keys outside the partition or not increasing; count "
                              "again")
        bad = V.first_nonfinite_row(vals)
        if bad is not None or (n and float(vals.min()) <= 0):
            raise FormatError(f"{path}: a co-occurrence value is NaN, infinite or not positive; "
                              "count again")
        return keys, vals

    def load(self) -> Cooccurrence:
        """Every partition joined in memory: the single-machine :class:`Cooccurrence`."""
        ks, vs = zip(*(self.partition(p) for p in range(len(self.partitions)))) \
            if self.partitions else ((np.empty(0, np.uint64),), (np.empty(0, np.float32),))
        return Cooccurrence(keys=np.concatenate(ks), values=np.concatenate(vs),
                            vocab_size=self.vocab_size, window=self.window, info=self.info)

    @classmethod
    def open(cls, path) -> "PartitionedCooccurrence":
        """Open the directory (or fsspec URL) ``path`` written by :func:`count_sharded`.

        Every manifest field is checked (types, partition rows from 0 to the vocabulary
        size); a damaged manifest is a :class:`FormatError` naming it.
        """
        from embedkit import _validate as V

        path = os.fspath(path) if is_url(path) else pathlib.Path(path)
        man = join(path, MANIFEST)
        fix = "count the co-occurrences again"
        try:
            raw = read_bytes(man)
        except FileNotFoundError:
            raise FormatError(f"{path}: no {MANIFEST} (the counting did not finish); {fix}") \
                from None
        except OSError as exc:
            raise V.corrupt(man, exc, fix=fix) from None
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise V.corrupt(man, exc, fix=fix) from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise FormatError(f"{man} is not a partitioned co-occurrence manifest; {fix}")
        vocab_size = V.field(info, "vocab_size", int, file=man, fix=fix)
        window = V.field(info, "window", int, file=man, fix=fix)
        entries = V.field(info, "partitions", list, file=man, fix=fix)
        rows = V.field(info, "rows", list, file=man, fix=fix)
        if vocab_size < 0 or vocab_size >= 1 << 32 or window < 1:
            raise FormatError(f"{man}: vocab_size {vocab_size} or window {window} is out of "
                              f"range; {fix}")
        if (len(rows) != len(entries) + 1 or not all(isinstance(r, int) for r in rows)
                or (rows and (rows[0] != 0 or rows[-1] != vocab_size))
                or any(b < a for a, b in zip(rows, rows[1:]))):
            raise FormatError(f"{man}: 'rows' must be {len(entries) + 1} increasing row numbers "
                              f"from 0 to {vocab_size}; {fix}")
        parts = []
        for p, e in enumerate(entries):
            if V.field(e, "part", int, file=man, fix=fix) != p:
                raise FormatError(f"{man}: partition {p} is listed out of order; {fix}")
            n = V.field(e, "entries", int, file=man, fix=fix)
            if n < 0:
                raise FormatError(f"{man}: partition {p} has {n} entries; {fix}")
            parts.append((_part_path(path, p), n))
        return cls(path=path, vocab_size=vocab_size, window=window, partitions=parts, info=info)


def count_sharded(corpus, out, *, window: int = 10, memory="1G", n_partitions=None,
                  workers: int = 1, client=None) -> PartitionedCooccurrence:
    """Count the co-occurrences of a sharded corpus into partitions under ``out``.

    Parameters
    ----------
    corpus : ShardedCorpus or path
        An encoded directory written by ``prepare(..., out=DIR)``.
    out : path or URL
        Directory for the partitions (created): shared storage, or an fsspec URL
        (``s3://...``) every worker can write; a run or partition is uploaded whole.
    window : int
    memory : str or int
        Budget of one map task's counting (and of a reduce task's read blocks).
    n_partitions : int, optional
        Key-range partitions (default: about one per 256 MB of expected runs, at least the
        number of shards).
    workers : int
        Counting threads per map task.
    client : distributed.Client, optional
        Run the tasks on a Dask cluster (see :mod:`embedkit.distributed.cooccur`).
    """
    from embedkit._kernels.cooccur import weight_scale
    from embedkit.corpus.sharded_store import ShardedCorpus

    if not hasattr(corpus, "shards"):
        corpus = ShardedCorpus.open(corpus)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ParameterError(f"window must be an integer >= 1, got {window!r}")
    parse_memory(memory)
    V = len(corpus.vocab)
    S = len(corpus.shards)
    if n_partitions is None:
        expected = 2 * corpus.n_tokens * 16  # typical: ~1-2 entries per token, 16 B each
        n_partitions = max(S, min(4096, expected // (256 << 20) + 1))
    rows = partition_rows(corpus.vocab.counts, n_partitions)
    scale = weight_scale(window)
    out = os.fspath(out)
    if _remote(out):
        fs, p = _fs(out)
        fs.makedirs(join(p, "map"), exist_ok=True)
        if fs.exists(join(p, MANIFEST)):
            fs.rm(join(p, MANIFEST))
    else:
        local = pathlib.Path(_local_path(out))
        try:
            (local / "map").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CorpusError(f"cannot create the output directory {out}: "
                              f"{exc.strerror or exc}") from None
        (local / MANIFEST).unlink(missing_ok=True)
    if client is None:
        maps = [count_shard_runs(k, ids, off, V, window, rows, out, memory, workers)
                for k, (ids, off) in enumerate(corpus.shards)]
        parts = [reduce_partition(p, S, rows, V, scale, out, memory)
                 for p in range(len(rows) - 1)]
    else:
        from embedkit.distributed.cooccur import run_plan

        maps, parts = run_plan(client, corpus, rows, V, window, scale, out, memory, workers)
    write_manifest(out, V, window, scale, rows, parts, maps,
                   vocab_digest=corpus.info.get("vocab_digest"))
    return PartitionedCooccurrence.open(out)
