"""A corpus encoded shard by shard: the on-disk format and its reader (:class:`ShardedCorpus`).

:func:`embedkit.corpus.prepare` with ``out=DIR`` (and, for a cluster, ``client=``) writes
an encoded directory::

    DIR/.embedkit-sharded       marker: the directory is ours (written first)
    DIR/vocab.json              the vocabulary (words by count, then word)
    DIR/shards/00000.ids.npy    int32 token ids of shard 0, in corpus order
    DIR/shards/00000.offsets.npy  int64 sentence offsets of shard 0 (first 0, last = tokens)
    DIR/shards/00000.json       shard metadata: source, tokens, sentences, tokenizer
                                settings and the vocabulary digest it was encoded with
    DIR/manifest.json           written last: the directory is complete only with it

Every file is validated before a kernel sees it: the manifest, each shard's metadata (its
tokenizer settings and the digest of the vocabulary it was encoded with), and each shard's
ids and offsets (shapes, dtypes, ids below the vocabulary size).  The tasks that write the
directory are :mod:`embedkit.corpus.sharded`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from embedkit import _validate as V
from embedkit.corpus.locations import is_url
from embedkit.corpus.locations import worker_name as _worker_name
from embedkit.corpus.vocab import Vocab
from embedkit.errors import FormatError, MissingFileError

log = logging.getLogger(__name__)

FORMAT = "embedkit-sharded-corpus"
FORMAT_VERSION = 1
MARKER = ".embedkit-sharded"
MANIFEST = "manifest.json"
WORK = ".work"
_CHUNK = 1 << 24


def vocab_digest(words: list[str]) -> str:
    """SHA-256 (24 hex digits) of the vocabulary words in order."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:24]


def shard_name(k: int) -> str:
    return f"{k:05d}"


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
