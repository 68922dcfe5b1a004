"""A corpus encoded shard by shard: the shard tasks that write the encoded directory.

:func:`embedkit.corpus.prepare` with ``out=DIR`` (and, for a cluster, ``client=``) writes
an encoded directory, whose layout, reader (:class:`ShardedCorpus`, :func:`load_shard`) and
checks are :mod:`embedkit.corpus.sharded_store`; their names are importable from here too.

The tasks here are plain functions of a shard (no Dask import): :func:`count_shard`
tokenizes one shard with the same Numba tokenizer and word table as the single-machine
path and returns a compact count table; :func:`merge_count_tables` merges such tables;
:func:`encode_shard` maps the shard's provisional ids to the final vocabulary and writes
its ids and offsets.  Each task writes with an atomic rename, so running it twice (Dask
re-runs the tasks of a lost worker) writes the same bytes again.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
import pathlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from embedkit._io import open_compressed, wrap_compressed
from embedkit._kernels.corpus import remap_chunk, sentence_offsets
from embedkit.corpus import readers
from embedkit.corpus.locations import NpyStream, all_or_none, is_url, join, write_bytes
from embedkit.corpus.locations import filesystem as _fs
from embedkit.corpus.locations import local_copy as _local_copy
from embedkit.corpus.locations import open_npy as _open_npy
from embedkit.corpus.locations import worker_name as _worker_name
from embedkit.corpus.sharded_store import (  # noqa: F401 - the format's names, public here too
    FORMAT, FORMAT_VERSION, MANIFEST, MARKER, WORK, ShardedCorpus, is_sharded_dir, load_shard,
    shard_name, vocab_digest)
from embedkit.corpus.table import ByteTable
from embedkit.errors import CorpusError, FormatError, MissingFileError

_ENCODE_CHUNK = 1 << 22  # tokens remapped at a time by encode_shard
_ENCODE_LINES = 1 << 20  # lines of a shard handled at a time by encode_shard


# -- sources ----------------------------------------------------------------------------------

def resolve_sources(sources) -> list[str]:
    """The shard files that ``sources`` stand for, in order.

    ``sources`` is one item or a list of items; an item is a file, a directory (its text
    files, sorted as the single-machine reader sorts them), a glob pattern, or an fsspec
    URL of any of these.  Raises :class:`MissingFileError` naming the first that matches
    nothing.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    files: list[str] = []
    for src in sources:
        src = os.fspath(src)
        if is_url(src):
            fs, p = _fs(src)
            proto = src.split("://", 1)[0]
            if any(c in p for c in "*?["):
                found = sorted(fs.glob(p))
            elif fs.isdir(p):
                found = sorted(f for f in fs.find(p)
                               if not any(part.startswith(".")
                                          for part in f[len(p.rstrip("/")) + 1:].split("/"))
                               and pathlib.PurePosixPath(f).suffix.lower()
                               in readers.TEXT_SUFFIXES)
            elif fs.exists(p):
                found = [p]
            else:
                found = []
            if not found:
                raise MissingFileError(f"shard {src!r} does not exist (or matches no text "
                                       "file): check the URL and the credentials")
            files += [f"{proto}://{f}" if not f.startswith(f"{proto}://") else f
                      for f in found]
        elif any(c in src for c in "*?["):
            import glob

            found = sorted(glob.glob(os.path.expanduser(src), recursive=True))
            found = [f for f in found if os.path.isfile(f)]
            if not found:
                raise MissingFileError(f"shard pattern {src!r} matches no file")
            files += found
        else:
            files += [str(p) for p in readers.resolve_files(src)]
    if not files:
        raise CorpusError("no shards given: pass files, a directory, a glob or URLs")
    return files


def _open_shard(source: str):
    """Open a shard for reading, decompressing by magic bytes (like the local reader)."""
    if not is_url(source):
        return open_compressed(source)
    fs, p = _fs(source)
    return wrap_compressed(fs.open(p, "rb"))


def _shard_blocks(source: str) -> Iterator[tuple[bytes, bool]]:
    try:
        stream, raw = _open_shard(source)
    except FileNotFoundError:
        raise MissingFileError(f"shard {source} is missing{_worker_name()}: every worker must "
                               "reach the shards (shared storage or URLs)") from None
    except PermissionError as exc:
        raise CorpusError(f"shard {source} cannot be read{_worker_name()}: {exc.strerror}") \
            from None
    with stream, raw:
        try:
            yield from readers._blocks(stream, source, readers.BLOCK_BYTES)
        except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError) as exc:
            if type(exc) is OSError and exc.errno is not None:
                raise CorpusError(f"shard {source} cannot be read{_worker_name()}: {exc}") \
                    from None
            raise CorpusError(f"shard {source} is corrupt or truncated{_worker_name()} ({exc}): "
                              "download or compress it again") from None


# -- shard tasks ------------------------------------------------------------------------------

@dataclass
class CountTable:
    """Words (joined by newlines: a token never holds whitespace) and their counts."""

    words: bytes
    counts: np.ndarray
    raw_tokens: int = 0
    lines: int = 0
    replaced_bytes: int = 0

    def word_list(self) -> list[str]:
        return self.words.decode("utf-8").split("\n") if self.counts.shape[0] else []


def _work_paths(out, k: int) -> tuple[str, str]:
    return join(out, WORK, f"{k:05d}.raw.npy"), join(out, WORK, f"{k:05d}.lines.npy")


def count_shard(k: int, source: str, out, tokenizer: str, lowercase: bool) -> CountTable:
    """Tokenize shard ``k`` and count its words.

    The shard's provisional ids and line lengths go to ``OUT/.work`` (for
    :func:`encode_shard`); the returned table lists the shard's words in provisional-id
    order with their counts.
    """
    from embedkit.corpus.pipeline import block_bytes as _block_bytes

    stats = readers.ReadStats()
    table = ByteTable()
    raw_path, lines_path = _work_paths(out, k)
    raw_w, lines_w = NpyStream(raw_path, np.int32), NpyStream(lines_path, np.int64)
    with all_or_none(raw_w, lines_w):
        carry = 0
        for block, _cont in _shard_blocks(source):  # streamed: one block in memory at a time
            ids, lens = table.add(*_block_bytes(block, tokenizer, lowercase, stats))
            open_len = table.take_open()
            if lens.shape[0]:
                lens = lens.copy()
                lens[0] += carry
                carry = open_len
            else:
                carry += open_len
            raw_w.write(ids)
            lines_w.write(lens)
        if carry:
            lines_w.write(np.array([carry], dtype=np.int64))
        n_raw, n_lines = raw_w.n, lines_w.n
    words = table.words()
    return CountTable("\n".join(words).encode("utf-8"),
                      table.counts[:len(words)].astype(np.int64), int(n_raw), int(n_lines),
                      int(stats.replaced_bytes))


def merge_count_tables(*tables: CountTable) -> CountTable:
    """One table with every word of ``tables`` and the summed counts (order: first seen).

    Words are matched with pandas' hash factorization (C speed); counts add up in int64.
    """
    import pandas as pd

    lists = [t.word_list() for t in tables]
    allw = np.empty(sum(len(w) for w in lists), dtype=object)
    pos = 0
    for ws in lists:
        allw[pos:pos + len(ws)] = ws
        pos += len(ws)
    codes, uniques = pd.factorize(allw)
    weights = np.concatenate([t.counts for t in tables]).astype(np.float64)
    if weights.shape[0] and weights.sum() >= 2.0 ** 53:  # pragma: no cover - 9e15 tokens
        raise CorpusError("word counts too large to merge exactly")
    counts = np.rint(np.bincount(codes, weights=weights, minlength=len(uniques))) \
        .astype(np.int64)  # float64 sums of integers below 2**53 are exact
    return CountTable("\n".join(uniques.tolist()).encode("utf-8"), counts,
                      sum(t.raw_tokens for t in tables), sum(t.lines for t in tables),
                      sum(t.replaced_bytes for t in tables))



_INDEX_CACHE: dict[str, dict[str, int]] = {}


def _vocab_index(blob: bytes, digest: str) -> dict[str, int]:
    index = _INDEX_CACHE.get(digest)
    if index is None:
        _INDEX_CACHE.clear()  # one vocabulary at a time per process
        words = blob.decode("utf-8").split("\n")
        index = _INDEX_CACHE[digest] = {w: i for i, w in enumerate(words)}
    return index



def encode_shard(k: int, source: str, table: CountTable, vocab_blob: bytes, digest: str,
                 out, options: dict, max_sentence_length: int) -> dict:
    """Write shard ``k``'s final ids and offsets (and its metadata, last); returns the
    metadata.  ``vocab_blob`` is the vocabulary's words joined by newlines."""
    index = _vocab_index(vocab_blob, digest)
    shard_words = table.word_list()
    remap = np.fromiter((index.get(w, -1) for w in shard_words), dtype=np.int32,
                        count=len(shard_words))
    remap = np.append(remap, np.int32(-1))
    raw_path, lines_path = _work_paths(out, k)
    n_keep = int(table.counts[remap[:-1] >= 0].sum()) if len(shard_words) else 0
    name = shard_name(k)

    def bad(what):
        return FormatError(f"{raw_path}: the intermediate ids of shard {source} {what}; "
                           "prepare the corpus again")

    with _local_copy(raw_path) as raw_local, _local_copy(lines_path) as lines_local:
        raw = _open_npy(raw_local, raw_path)
        line_lens = _open_npy(lines_local, lines_path)
        if raw.dtype != np.int32 or raw.ndim != 1 or line_lens.dtype != np.int64 or \
                line_lens.ndim != 1 or raw.shape[0] != table.raw_tokens or \
                line_lens.shape[0] != table.lines:
            raise bad("do not match its word table")
        ids_w = NpyStream(join(out, "shards", f"{name}.ids.npy"), np.int32)
        off_w = NpyStream(join(out, "shards", f"{name}.offsets.npy"), np.int64)
        with all_or_none(ids_w, off_w):
            off_w.write(np.zeros(1, dtype=np.int64))
            buf = np.empty(min(max(raw.shape[0], 1), _ENCODE_CHUNK), dtype=np.int32)
            tok = written = 0
            for a in range(0, line_lens.shape[0], _ENCODE_LINES):  # lines in slices
                lens = np.ascontiguousarray(line_lens[a:a + _ENCODE_LINES])
                t = int(lens.sum())
                if int(lens.min()) < 0 or tok + t > raw.shape[0]:
                    raise bad("do not match its line lengths")
                kept = np.zeros(lens.shape[0], dtype=np.int64)
                state = np.array([-1, 0], dtype=np.int64)
                base = written
                for start in range(tok, tok + t, _ENCODE_CHUNK):  # a long line in pieces
                    part = np.ascontiguousarray(raw[start:min(tok + t, start + _ENCODE_CHUNK)])
                    if int(part.min()) < 0 or int(part.max()) >= len(shard_words):
                        raise bad("do not match its word table")
                    m = remap_chunk(part, remap, lens, kept, state, buf)
                    ids_w.write(buf[:m])
                    written += m
                off_w.write(sentence_offsets(kept, max_sentence_length)[1:] + base)
                tok += t
            if tok != raw.shape[0]:
                raise bad("do not match its line lengths")
            if written != n_keep:  # pragma: no cover - an internal invariant
                raise RuntimeError(f"shard {source}: encoded {written} tokens, expected "
                                   f"{n_keep}")
            n_sentences = off_w.n - 1
            del raw, line_lens
    meta = {"shard": k, "source": source, "tokens": int(n_keep),
            "sentences": int(n_sentences), "raw_tokens": int(table.raw_tokens),
            "tokenizer": options["tokenizer"], "lowercase": options["lowercase"],
            "vocab_digest": digest}
    write_bytes(join(out, "shards", f"{name}.json"), json.dumps(meta).encode("utf-8"))
    return meta
