"""Count and encode a corpus shard by shard, on a Dask cluster or in this process.

The plan (one task per box, Dask schedules them and re-runs the lost ones)::

    count_shard(0)  count_shard(1) ... count_shard(S-1)     map: tokenize, count, write raw ids
          \\            |                  /
          merge_count_tables (fan-in 8, a tree)               reduce: word counts
                        |
         vocabulary (min_count, max_vocab_size, max_final_vocab once, on the client)
          /             |                  \\
    encode_shard(0) encode_shard(1) ... encode_shard(S-1)  map: ids + offsets per shard

then ``vocab.json`` and, last, ``manifest.json``.  Without a client the same functions run
one after the other in this process.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import shutil
import time

import numpy as np

from embedkit._progress import progress_bar
from embedkit._version import __version__
from embedkit.corpus import locations as L
from embedkit.corpus.pipeline import fixed_vocabulary
from embedkit.corpus import sharded as S
from embedkit.errors import CorpusError, ParameterError

log = logging.getLogger(__name__)

FAN_IN = 8


def _reduce_vocab(words, counts, max_vocab_size):
    """word2vec.c's ReduceVocab applied once to merged counts: drop words seen at most
    ``r`` times, ``r = 1, 2, ...``, until at most ``max_vocab_size`` words are left."""
    min_reduce = 1
    if max_vocab_size is None or len(words) <= max_vocab_size:
        return words, counts, 0
    while True:
        keep = counts > min_reduce
        min_reduce += 1
        if int(keep.sum()) <= max_vocab_size:
            break
    idx = np.flatnonzero(keep)
    log.warning("merged vocabulary of %d words passed max_vocab_size=%d: pruned %d words "
                "seen <= %d times, once, on the merged counts (a single-machine prepare "
                "prunes while it reads, so its vocabulary can differ; raise max_vocab_size "
                "or use max_final_vocab for identical results)", len(words), max_vocab_size,
                len(words) - idx.shape[0], min_reduce - 1)
    return [words[i] for i in idx.tolist()], counts[idx], min_reduce - 1


class _Serial:
    """The subset of ``distributed.Client`` the plan uses, run in this process."""

    class _Done:
        def __init__(self, value):
            self._value = value

        def result(self):
            return self._value

    def submit(self, fn, *args, **kwargs):
        kwargs.pop("key", None)
        kwargs.pop("pure", None)
        args = [a._value if isinstance(a, _Serial._Done) else a for a in args]
        return _Serial._Done(fn(*args))

    def scatter(self, value, broadcast=False):
        return _Serial._Done(value)

    def gather(self, futures):
        return [f.result() for f in futures]


def _prepare_out(out) -> tuple[bool, bool]:
    """Make ``out`` ready for a new preparation; returns ``(local, created)``.

    A directory that exists must be empty or ours (the marker file); our previous files
    in it are removed first (the manifest before anything else, so it never looks
    complete).
    """
    if L.is_url(out):
        fs, p = L.filesystem(out)
        if fs.exists(L.join(p, S.MANIFEST)) or fs.exists(L.join(p, S.MARKER)):
            for name in (S.MANIFEST, "vocab.json"):
                if fs.exists(L.join(p, name)):
                    fs.rm(L.join(p, name))
            for name in ("shards", S.WORK):
                if fs.exists(L.join(p, name)):
                    fs.rm(L.join(p, name), recursive=True)
        elif fs.exists(p) and fs.ls(p):
            raise CorpusError(f"output {out} exists and is not an embedkit encoded corpus: give "
                              "a new or empty location")
        fs.makedirs(p, exist_ok=True)
        L.write_bytes(L.join(out, S.MARKER), b"embedkit sharded corpus\n")
        return False, False
    path = pathlib.Path(out)
    created = not path.exists()
    if path.exists():
        if not path.is_dir():
            raise CorpusError(f"output {out} is a file: give a directory")
        if (path / S.MARKER).exists():
            (path / S.MANIFEST).unlink(missing_ok=True)
            (path / "vocab.json").unlink(missing_ok=True)
            for name in ("shards", S.WORK):
                shutil.rmtree(path / name, ignore_errors=True)
        elif any(path.iterdir()):
            raise CorpusError(f"output directory {out} is not empty and not an embedkit encoded "
                              "corpus: give a new or empty directory")
    try:
        (path / "shards").mkdir(parents=True, exist_ok=True)
        (path / S.WORK).mkdir(exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the output directory {out}: "
                          f"{exc.strerror or exc}") from None
    L.write_bytes(path / S.MARKER, b"embedkit sharded corpus\n")
    return True, created


def _cleanup(out, local: bool, created: bool, keep_marker: bool) -> None:
    """Remove what this preparation wrote (never anything else)."""
    if local:
        path = pathlib.Path(out)
        if created and not keep_marker:
            shutil.rmtree(path, ignore_errors=True)
            return
        shutil.rmtree(path / S.WORK, ignore_errors=True)
        for tmp in (path / "shards").glob(".*.part"):  # left by tasks of a lost worker
            tmp.unlink(missing_ok=True)
        if not keep_marker:
            shutil.rmtree(path / "shards", ignore_errors=True)
            (path / "vocab.json").unlink(missing_ok=True)
        return
    fs, p = L.filesystem(out)
    for name in ([S.WORK] if keep_marker else [S.WORK, "shards", "vocab.json"]):
        try:
            if fs.exists(L.join(p, name)):
                fs.rm(L.join(p, name), recursive=True)
        except OSError:  # pragma: no cover - best effort
            pass


def prepare_sharded(sources, out, *, client=None, min_count: int = 5,
                    tokenizer: str = "default", lowercase: bool = True,
                    max_vocab_size: int | None = None, max_final_vocab: int | None = None,
                    progress: bool | None = None):
    """Count and encode ``sources`` shard by shard into the directory ``out``.

    Parameters
    ----------
    sources : path, URL or list of them
        Shard files, directories, glob patterns or fsspec URLs (see
        :func:`embedkit.corpus.sharded.resolve_sources`); each file is one shard.
    out : path or URL
        The encoded directory (every worker must be able to write it).  It must be new,
        empty, or a directory this function wrote before (then it is replaced).
    client : distributed.Client, optional
        Run the tasks on this Dask cluster; ``None`` runs them in this process.
    min_count, tokenizer, lowercase, max_vocab_size, max_final_vocab
        As for :func:`embedkit.corpus.prepare`.  They apply once, to the merged counts
        (``max_vocab_size`` prunes as word2vec.c's ReduceVocab would, but once, at the end).

    Returns
    -------
    ShardedCorpus
        The directory opened (memory-mapped) when ``out`` is local; ``None`` for a URL.

    Raises
    ------
    MissingFileError, CorpusError, FormatError, ParameterError
        Each naming the shard or location at fault.  On any error the output holds no
        manifest, so it never looks complete.
    """
    from embedkit.corpus.encode import MAX_SENTENCE_LENGTH, _validate

    _validate(min_count, max_vocab_size, max_final_vocab, tokenizer)
    if out is None:
        raise ParameterError("out is required for a sharded preparation: give a directory")
    files = S.resolve_sources(sources)
    options = {"min_count": int(min_count), "tokenizer": tokenizer, "lowercase": bool(lowercase),
               "max_vocab_size": max_vocab_size, "max_final_vocab": max_final_vocab}
    out = os.fspath(out)
    local, created = _prepare_out(out)
    ex = client if client is not None else _Serial()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    counts = encs = []
    try:
        counts = [ex.submit(S.count_shard, k, src, out, tokenizer, bool(lowercase),
                            key=f"embedkit-count-{k}-{os.path.basename(src)}-{t0}", pure=False)
                  for k, src in enumerate(files)]
        _wait(counts, "counting shards", progress)
        timings["count"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        level = counts
        depth = 0
        while len(level) > 1:
            depth += 1
            level = [ex.submit(S.merge_count_tables, *level[g:g + FAN_IN],
                               key=f"embedkit-merge-{depth}-{g}-{t0}", pure=False)
                     if len(level[g:g + FAN_IN]) > 1 else level[g]
                     for g in range(0, len(level), FAN_IN)]
        merged = level[0].result()
        timings["merge"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        if merged.raw_tokens == 0:
            raise CorpusError(f"the corpus of {len(files)} shards ({files[0]} ...) is empty: it "
                              "has no tokens")
        words, wcounts, pruned = _reduce_vocab(merged.word_list(), merged.counts, max_vocab_size)
        vocab = fixed_vocabulary(words, wcounts, min_count, max_final_vocab,
                                 f"the {len(files)} shards")
        del words, wcounts
        digest = S.vocab_digest(vocab.words)
        blob = ex.scatter("\n".join(vocab.words).encode("utf-8"), broadcast=True)
        timings["vocab"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        encs = [ex.submit(S.encode_shard, k, src, counts[k], blob, digest, out, options,
                          MAX_SENTENCE_LENGTH, key=f"embedkit-encode-{k}-{t0}", pure=False)
                for k, src in enumerate(files)]
        _wait(encs, "encoding shards", progress)
        metas = ex.gather(encs)
        timings["encode"] = time.perf_counter() - t1
        L.write_bytes(L.join(out, "vocab.json"),
                      json.dumps(vocab.to_json(), ensure_ascii=False).encode("utf-8"))
        manifest = {"format": S.FORMAT, "format_version": S.FORMAT_VERSION,
                    "embedkit_version": __version__, "options": options,
                    "vocab_size": len(vocab), "vocab_digest": digest,
                    "tokens": int(sum(m["tokens"] for m in metas)),
                    "raw_tokens": int(merged.raw_tokens), "lines": int(merged.lines),
                    "replaced_bytes": int(merged.replaced_bytes),
                    "distinct_words": int(merged.counts.shape[0]), "pruned_min_reduce": pruned,
                    "shards": [{"shard": m["shard"], "source": m["source"],
                                "tokens": m["tokens"], "sentences": m["sentences"]}
                               for m in metas],
                    "seconds": {k: round(v, 4) for k, v in timings.items()}}
        _cleanup(out, local, created, keep_marker=True)
        L.write_bytes(L.join(out, S.MANIFEST), json.dumps(manifest, indent=1).encode("utf-8"))
    except BaseException:
        if client is not None:  # stop the tasks still running before removing their files
            client.cancel(list(counts) + list(encs))
        _cleanup(out, local, created, keep_marker=False)
        raise
    log.info("prepared %d shards into %s: %d tokens, %d words (%.1f s)", len(files), out,
             manifest["tokens"], len(vocab), time.perf_counter() - t0)
    return S.ShardedCorpus.open(out) if local else None


def _wait(futures, desc: str, progress) -> None:
    """Wait for ``futures`` with a progress bar (errors surface at ``result()``)."""
    if not futures or not hasattr(futures[0], "done") or not hasattr(futures[0], "status"):
        return
    from distributed import as_completed

    with progress_bar(total=len(futures), desc=desc, unit="shard",
                      disable=None if progress is not False else True) as bar:
        for f in as_completed(futures):
            bar.update(1)
            if f.status == "error":
                f.result()  # raises the task's error (naming the shard)
