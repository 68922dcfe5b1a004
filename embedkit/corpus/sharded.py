"""A corpus encoded shard by shard: the on-disk format, its reader and the shard tasks.

:func:`embedkit.corpus.prepare` with ``out=DIR`` (and, for a cluster, ``client=``) writes
an encoded directory::

    DIR/.embedkit-sharded       marker: the directory is ours (written first)
    DIR/vocab.json              the vocabulary (words by count, then word)
    DIR/shards/00000.ids.npy    int32 token ids of shard 0, in corpus order
    DIR/shards/00000.offsets.npy  int64 sentence offsets of shard 0 (first 0, last = tokens)
    DIR/shards/00000.json       shard metadata: source, tokens, sentences, tokenizer
                                settings and the vocabulary digest it was encoded with
    DIR/manifest.json           written last: the directory is complete only with it

The tasks here are plain functions of a shard (no Dask import): :func:`count_shard`
tokenizes one shard with the same Numba tokenizer and word table as the single-machine
path and returns a compact count table; :func:`merge_count_tables` merges such tables;
:func:`encode_shard` maps the shard's provisional ids to the final vocabulary and writes
its ids and offsets.  Each task writes with an atomic rename, so running it twice (Dask
re-runs the tasks of a lost worker) writes the same bytes again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import lzma
import os
import pathlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from embedkit import _validate as V
from embedkit._kernels.corpus import remap_chunk, sentence_offsets
from embedkit.corpus import readers
from embedkit.corpus.table import ByteTable
from embedkit.corpus.vocab import Vocab
from embedkit._io import open_compressed, wrap_compressed
from embedkit.errors import CorpusError, FormatError, MissingFileError

log = logging.getLogger(__name__)

FORMAT = "embedkit-sharded-corpus"
FORMAT_VERSION = 1
MARKER = ".embedkit-sharded"
MANIFEST = "manifest.json"
WORK = ".work"
_CHUNK = 1 << 24


from embedkit.corpus.locations import NpyStream, is_url, join, write_bytes
from embedkit.corpus.locations import filesystem as _fs
from embedkit.corpus.locations import local_copy as _local_copy
from embedkit.corpus.locations import open_npy as _open_npy
from embedkit.corpus.locations import worker_name as _worker_name

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
    try:
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
        raw_w.close()
        lines_w.close()
    except BaseException:
        raw_w.abort()
        lines_w.abort()
        raise
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


def vocab_digest(words: list[str]) -> str:
    """SHA-256 (24 hex digits) of the vocabulary words in order."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:24]


_INDEX_CACHE: dict[str, dict[str, int]] = {}


def _vocab_index(blob: bytes, digest: str) -> dict[str, int]:
    index = _INDEX_CACHE.get(digest)
    if index is None:
        _INDEX_CACHE.clear()  # one vocabulary at a time per process
        words = blob.decode("utf-8").split("\n")
        index = _INDEX_CACHE[digest] = {w: i for i, w in enumerate(words)}
    return index


def shard_name(k: int) -> str:
    return f"{k:05d}"


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
        try:
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
            ids_w.close()
            off_w.close()
        except BaseException:
            ids_w.abort()
            off_w.abort()
            raise
    meta = {"shard": k, "source": source, "tokens": int(n_keep),
            "sentences": int(n_sentences), "raw_tokens": int(table.raw_tokens),
            "tokenizer": options["tokenizer"], "lowercase": options["lowercase"],
            "vocab_digest": digest}
    write_bytes(join(out, "shards", f"{name}.json"), json.dumps(meta).encode("utf-8"))
    return meta


# -- reading ----------------------------------------------------------------------------------

@dataclass
class ShardedCorpus:
    """An encoded directory written by ``prepare(..., out=DIR)``: shards memory-mapped.

    Attributes
    ----------
    shards : list of (ids, offsets)
        Each shard's int32 ids (memory-mapped) and int64 sentence offsets (from 0).
    vocab : Vocab
    info : dict
        The manifest (sources, options, per-shard token counts).
    path : pathlib.Path
    """

    shards: list
    vocab: Vocab
    info: dict = field(default_factory=dict)
    path: pathlib.Path | None = None
    _joined: tuple | None = field(default=None, repr=False)

    @property
    def n_tokens(self) -> int:
        return int(sum(ids.shape[0] for ids, _ in self.shards))

    @property
    def n_sentences(self) -> int:
        return int(sum(off.shape[0] - 1 for _, off in self.shards))

    def __len__(self) -> int:
        return self.n_sentences

    def _join(self):
        if self._joined is None:
            log.info("%s: joining %d shards in memory (%d tokens)", self.path,
                     len(self.shards), self.n_tokens)
            ids = np.concatenate([s[0] for s in self.shards]) if self.shards else \
                np.zeros(0, np.int32)
            offs = [np.zeros(1, np.int64)]
            base = 0
            for s_ids, s_off in self.shards:
                offs.append(s_off[1:] + base)
                base += s_ids.shape[0]
            self._joined = (ids, np.concatenate(offs))
        return self._joined

    @property
    def ids(self) -> np.ndarray:
        """All ids joined in one array (reads every shard into memory; trainers that know
        shards use :attr:`shards` instead)."""
        return self._join()[0]

    @property
    def offsets(self) -> np.ndarray:
        """Sentence offsets over the joined ids (see :attr:`ids`)."""
        return self._join()[1]

    def sentences(self) -> Iterator[np.ndarray]:
        for ids, off in self.shards:
            for i in range(off.shape[0] - 1):
                yield ids[off[i]:off[i + 1]]

    def ids_crc32(self) -> int:
        """CRC-32 of all ids in order (the same as over the joined array)."""
        import zlib

        crc = 0
        for ids, _ in self.shards:
            for start in range(0, ids.shape[0], _CHUNK):
                crc = zlib.crc32(memoryview(np.ascontiguousarray(ids[start:start + _CHUNK]))
                                 .cast("B"), crc)
        return crc

    @classmethod
    def open(cls, path) -> "ShardedCorpus":
        """Open and validate an encoded directory (every shard's ids memory-mapped).

        Raises
        ------
        FormatError
            Naming the file: no manifest (an incomplete directory), a shard whose ids,
            offsets or settings do not match the manifest, ids out of range.
        """
        path = pathlib.Path(path)
        man_path = path / MANIFEST
        if not man_path.exists():
            what = "an unfinished preparation" if (path / MARKER).exists() else \
                "not an encoded corpus directory"
            raise FormatError(f"{path}: no {MANIFEST} ({what}); run `embedkit corpus prepare` "
                              "again")
        fix = "run `embedkit corpus prepare` again"
        info = V.read_json(man_path, fix=fix)
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise FormatError(f"{man_path}: not an embedkit sharded-corpus manifest; {fix}")
        entries = V.field(info, "shards", list, file=man_path, fix=fix)
        version = V.field(info, "format_version", int, file=man_path, default=0, fix=fix)
        if version > FORMAT_VERSION:
            raise FormatError(f"{path} was written by a newer embedkit (format "
                              f"{version}): upgrade embedkit")
        opts = V.field(info, "options", dict, file=man_path, fix=fix)
        vocab = Vocab.load(path / "vocab.json", fix=fix)
        n_words = len(vocab)
        digest = vocab_digest(vocab.words)
        if digest != info.get("vocab_digest"):
            raise FormatError(f"{path / 'vocab.json'} does not match {man_path}: prepare again")
        shards = []
        for entry in entries:
            k = V.field(entry, "shard", int, file=man_path, fix=fix)
            if not 0 <= k < 10 ** 9:
                raise FormatError(f"{man_path}: shard number {k} is out of range; {fix}")
            name = shard_name(k)
            base = path / "shards" / name
            meta = V.read_json(f"{base}.json", fix=fix)
            if not isinstance(meta, dict):
                raise FormatError(f"{base}.json: not a shard description (a JSON object); {fix}")
            for key in ("tokenizer", "lowercase"):
                if meta.get(key) != opts.get(key):
                    raise FormatError(
                        f"shard {meta.get('source', name)!s} ({base}.json) was encoded with "
                        f"{key}={meta.get(key)!r} but the corpus with {key}={opts.get(key)!r}: "
                        "prepare every shard with the same tokenizer settings")
            if meta.get("vocab_digest") != digest:
                raise FormatError(f"shard {meta.get('source', name)!s} ({base}.json) was encoded "
                                  "with another vocabulary: prepare the corpus again")
            shards.append(_read_shard(base, meta, n_words, fix))
        return cls(shards=shards, vocab=vocab, info=info, path=path)


def is_sharded_dir(path) -> bool:
    """Whether ``path`` is a directory written by ``prepare(..., out=...)``."""
    if not isinstance(path, (str, os.PathLike)) or is_url(path):
        return False
    p = pathlib.Path(path)
    return p.is_dir() and ((p / MANIFEST).exists() or (p / MARKER).exists())


def load_shard(path, k: int, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Shard ``k`` of the encoded directory ``path``: ``(ids, offsets)``, ids memory-mapped,
    both checked against the shard's metadata and ``vocab_size`` (a task on a worker reads
    only its shard)."""
    base = pathlib.Path(path) / "shards" / shard_name(k)
    fix = "prepare the corpus again"
    try:
        meta = V.read_json(f"{base}.json", fix=fix)
    except MissingFileError as exc:
        raise MissingFileError(f"{exc}{_worker_name()}: every worker must reach the encoded "
                               "directory") from None
    if not isinstance(meta, dict):
        raise FormatError(f"{base}.json: not a shard description (a JSON object); {fix}")
    return _read_shard(base, meta, vocab_size, fix)


def _read_shard(base: pathlib.Path, meta: dict, vocab_size: int, fix: str):
    """Shard ``base``'s ``(ids, offsets)``, ids memory-mapped, checked against its metadata
    ``meta`` (the number of tokens) and the vocabulary size before any kernel sees them."""
    n = V.field(meta, "tokens", int, file=f"{base}.json", fix=fix)
    ids_file, off_file = pathlib.Path(f"{base}.ids.npy"), pathlib.Path(f"{base}.offsets.npy")
    try:
        ids = V.read_npy(ids_file, mmap=True, fix=fix)
        off = V.read_npy(off_file, fix=fix)
    except MissingFileError as exc:
        raise MissingFileError(f"{exc}{_worker_name()}: every worker must reach the encoded "
                               "directory") from None
    V.check_array(ids, file=ids_file, name="ids", shape=(n,), kind="i", fix=fix)
    if ids.dtype != np.int32:
        raise FormatError(f"{ids_file}: expected int32 ids, found {ids.dtype}; {fix}")
    V.check_offsets(off, file=off_file, name="offsets", total=n, fix=fix)
    if off.dtype != np.int64:
        raise FormatError(f"{off_file}: expected int64 offsets, found {off.dtype}; {fix}")
    V.check_ids(ids, file=ids_file, name="ids", high=vocab_size, fix=fix)
    return ids, off
