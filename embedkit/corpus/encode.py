"""Encode a corpus once into int32 token ids plus sentence offsets, with a cache.

:func:`prepare` checks the options, looks the corpus up in the cache (a key made of the
inputs' paths, sizes, mtimes and content fingerprints and every option; see
:mod:`embedkit._cache` for the cache's size bound), runs the encoding pipeline of
:mod:`embedkit.corpus.pipeline` into a work directory on a miss, and opens the result as
an :class:`EncodedCorpus` of memory-mapped ``.npy`` files.  ``prepare(..., out=DIR)``
writes a sharded corpus instead (:mod:`embedkit.corpus.sharded`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from embedkit import _cache
from embedkit._cache import user_cache_dir
from embedkit.corpus import readers
from embedkit.corpus.tokenize import get_tokenizer
from embedkit.corpus.pipeline import MAX_SENTENCE_LENGTH, encode_into  # noqa: F401 - re-exported
from embedkit.corpus.vocab import Vocab
from embedkit.errors import FormatError, ParameterError

log = logging.getLogger(__name__)

CACHE_FORMAT = 2             # bump when the cached files change meaning


def cache_root(cache_dir=None) -> pathlib.Path:
    """Where encoded corpora are cached: ``encoded/`` under ``cache_dir`` or, by default,
    under the user cache directory (:func:`embedkit._cache.user_cache_dir`)."""
    base = pathlib.Path(cache_dir).expanduser() if cache_dir is not None else user_cache_dir()
    return base / "encoded"


@dataclass
class EncodedCorpus:
    """A corpus as token ids: ``ids[offsets[i]:offsets[i + 1]]`` is sentence ``i``.

    Attributes
    ----------
    ids : ndarray of int32
        Every in-vocabulary token in corpus order (memory-mapped when read from disk).
    offsets : ndarray of int64
        ``n_sentences + 1`` sentence boundaries; no sentence is longer than 1000 tokens.
    vocab : Vocab
    info : dict
        The source, the options and what reading met (raw token count, repaired bytes).
    path : pathlib.Path or None
        The directory holding the files.
    """

    ids: np.ndarray
    offsets: np.ndarray
    vocab: Vocab
    info: dict = field(default_factory=dict)
    path: pathlib.Path | None = None

    @property
    def n_sentences(self) -> int:
        return int(self.offsets.shape[0] - 1)

    @property
    def n_tokens(self) -> int:
        return int(self.ids.shape[0])

    def __len__(self) -> int:
        return self.n_sentences

    def sentences(self) -> Iterator[np.ndarray]:
        """Yield each sentence's ids (views, no copy)."""
        for i in range(self.n_sentences):
            yield self.ids[self.offsets[i]:self.offsets[i + 1]]

    def words(self, i: int) -> list[str]:
        """Sentence ``i`` as words."""
        words = self.vocab.words
        return [words[t] for t in self.ids[self.offsets[i]:self.offsets[i + 1]]]

    @classmethod
    def open(cls, path) -> "EncodedCorpus":
        """Open a directory written by :func:`prepare` (memory-maps the ids).

        Every file is checked before use (the ids lie in the vocabulary, the offsets run
        from 0 to the number of ids without decreasing); a damaged directory is a
        :class:`~embedkit.errors.FormatError` naming the file.
        """
        from embedkit import _validate as V

        path = pathlib.Path(path)
        fix = "delete this cache entry (embedkit cache clear) and prepare the corpus again"
        info = V.read_json(path / "info.json", fix=fix)
        if not isinstance(info, dict):
            raise FormatError(f"{path / 'info.json'}: not a JSON object; {fix}")
        vocab = _load_vocab(path / "vocab.json", fix)
        ids = V.read_npy(path / "ids.npy", mmap=True, fix=fix)
        V.check_array(ids, file=path / "ids.npy", name="ids", ndim=1, kind="iu", fix=fix)
        if ids.shape[0] != vocab.total:
            raise FormatError(f"{path / 'ids.npy'}: {ids.shape[0]} ids but the vocabulary "
                              f"counts {vocab.total} tokens; {fix}")
        V.check_ids(ids, file=path / "ids.npy", name="ids", high=len(vocab), fix=fix)
        if ids.dtype != np.int32:
            ids = np.ascontiguousarray(ids, dtype=np.int32)
        if not np.array_equal(np.bincount(ids, minlength=len(vocab)), vocab.counts):
            raise FormatError(f"{path / 'ids.npy'}: the ids do not occur as often as "
                              f"{path / 'vocab.json'} counts; {fix}")
        offsets = V.read_npy(path / "offsets.npy", fix=fix)
        V.check_offsets(offsets, file=path / "offsets.npy", name="offsets",
                        total=ids.shape[0], fix=fix)
        return cls(ids=ids, offsets=np.ascontiguousarray(offsets, dtype=np.int64),
                   vocab=vocab, info=info, path=path)


def _load_vocab(path: pathlib.Path, fix: str) -> Vocab:
    """A cached ``vocab.json``: unique string words, one count >= 1 each."""
    from embedkit import _validate as V

    data = V.read_json(path, fix=fix)
    words = V.string_list(V.field(data, "words", list, file=path, fix=fix), file=path,
                          name="words", fix=fix)
    counts = V.count_list(V.field(data, "counts", list, file=path, fix=fix), len(words),
                          file=path, name="counts", fix=fix)
    if counts.size and int(counts.min()) < 1:
        raise FormatError(f"{path}: a word has count 0; every cached word occurs; {fix}")
    try:
        return Vocab(words, counts)
    except ParameterError as exc:
        raise FormatError(f"{path}: {exc}; {fix}") from None


def _validate(min_count, max_vocab_size, max_final_vocab, tokenizer):
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ParameterError(f"min_count must be an integer >= 1, got {min_count!r}")
    if max_vocab_size is not None and (not isinstance(max_vocab_size, (int, np.integer))
                                       or max_vocab_size < 1):
        raise ParameterError(f"max_vocab_size must be an integer >= 1 or None, "
                             f"got {max_vocab_size!r}")
    if max_final_vocab is not None and (not isinstance(max_final_vocab, (int, np.integer))
                                        or max_final_vocab < 1):
        raise ParameterError(f"max_final_vocab must be an integer >= 1 or None, "
                             f"got {max_final_vocab!r}")
    get_tokenizer(tokenizer)  # raises on an unknown name


def iter_sentences(source, tokenizer: str = "default", lowercase: bool = True) -> Iterator[list[str]]:
    """Stream a path source as token lists, one per line (huge lines in pieces).

    This is the token stream :func:`prepare` encodes; benchmarks feed the same lists to
    gensim so both see identical input.
    """
    tokenize = get_tokenizer(tokenizer, lowercase)
    pending: list[str] = []
    for lines, cont in readers.iter_lines(source):
        token_lists = [tokenize(line) for line in lines]
        if pending and token_lists:
            token_lists[0] = pending + token_lists[0]
            pending = []
        if cont:
            pending = token_lists.pop()
        yield from token_lists
    if pending:
        yield pending


#: files up to this size are hashed whole for the cache key; bigger ones are sampled
FINGERPRINT_FULL_BYTES = 64 << 20
FINGERPRINT_SAMPLES = 64
FINGERPRINT_SAMPLE_BYTES = 1 << 20


def content_fingerprint(path) -> str:
    """A cheap fingerprint of a file's content: BLAKE2b of its size and of the whole file
    (up to 64 MiB) or of 64 evenly spaced 1 MiB blocks (first and last included).

    An edit that keeps the size and restores the mtime still changes the key, unless it
    falls entirely between the sampled blocks of a file over 64 MiB.
    """
    h = hashlib.blake2b(digest_size=16)
    size = os.path.getsize(path)
    h.update(str(size).encode())
    with open(path, "rb") as f:
        if size <= FINGERPRINT_FULL_BYTES:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        else:
            last = size - FINGERPRINT_SAMPLE_BYTES
            for k in range(FINGERPRINT_SAMPLES):
                f.seek(last * k // (FINGERPRINT_SAMPLES - 1))
                h.update(f.read(FINGERPRINT_SAMPLE_BYTES))
    return h.hexdigest()


def _source_key(source, options: dict) -> str | None:
    """Cache key for a path source, or None when it cannot be cached (stdin, iterables).

    The key covers every file's resolved path, size, mtime and content fingerprint, and
    every option."""
    if not isinstance(source, (str, os.PathLike)) or str(source) == "-":
        return None
    files = []
    for p in readers.resolve_files(source):
        st = p.stat()
        files.append([str(p.resolve()), st.st_size, st.st_mtime_ns, content_fingerprint(p)])
    blob = json.dumps({"files": files, "options": options, "format": CACHE_FORMAT},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def prepare(source=None, *, min_count: int = 5, tokenizer: str = "default",
            lowercase: bool = True, max_vocab_size: int | None = None,
            max_final_vocab: int | None = None, cache: bool = True,
            cache_dir=None, out=None, client=None) -> EncodedCorpus:
    """Read, count and encode a corpus (or open its cached encoding).

    Parameters
    ----------
    source : None, str, path-like or iterable of list of str
        ``None`` for the built-in corpus; a text file (plain, ``.gz``, ``.bz2``, ``.xz``),
        a directory of them, ``"-"`` for standard input; or token lists from Python.
    min_count : int
        Words seen fewer times are dropped.
    tokenizer : {"default", "whitespace"}
        See :mod:`embedkit.corpus.tokenize`.  Ignored for token lists.
    lowercase : bool
        Lowercase before tokenizing (``--keep-case`` turns it off).
    max_vocab_size : int, optional
        Bound on the word table while counting: when it grows past this, words seen
        rarely so far are pruned, as word2vec.c does (logged).  None = unbounded.
    max_final_vocab : int, optional
        Keep only this many of the most frequent words.
    cache : bool
        Reuse and store the encoding under :func:`cache_root`.  Stdin and token lists are
        never cached.
    cache_dir : path, optional
        Another cache root (encodings go in its ``encoded/`` folder).
    out : path or URL, optional
        Encode shard by shard into this directory instead of the cache: ``source`` is then
        a file, directory, glob, fsspec URL or a list of them, one shard per file, and the
        result is a :class:`~embedkit.corpus.sharded_store.ShardedCorpus` (see
        :func:`embedkit.distributed.prepare.prepare_sharded`).
    client : distributed.Client, optional
        Run the sharded preparation on this Dask cluster (requires ``out``).

    Returns
    -------
    EncodedCorpus (ShardedCorpus with ``out``)

    Raises
    ------
    MissingFileError, CorpusError, ParameterError

    Examples
    --------
    >>> enc = prepare([["a", "b", "a"], ["b", "a"]], min_count=1)
    >>> enc.vocab.words, enc.ids.tolist(), enc.offsets.tolist()
    (['a', 'b'], [0, 1, 0, 1, 0], [0, 3, 5])
    """
    _validate(min_count, max_vocab_size, max_final_vocab, tokenizer)
    if out is not None or client is not None:
        from embedkit.distributed.prepare import prepare_sharded

        if out is None:
            raise ParameterError("client= needs out=: the directory every worker writes its "
                                 "shards to")
        return prepare_sharded(source, out, client=client, min_count=min_count,
                               tokenizer=tokenizer, lowercase=lowercase,
                               max_vocab_size=max_vocab_size, max_final_vocab=max_final_vocab)
    if source is None:
        from embedkit.corpora import default_corpus_path

        source = default_corpus_path()
    is_path = isinstance(source, (str, os.PathLike))
    options = {"min_count": int(min_count), "tokenizer": tokenizer, "lowercase": bool(lowercase),
               "max_vocab_size": max_vocab_size, "max_final_vocab": max_final_vocab}
    key = _source_key(source, options) if cache else None
    if key is not None:
        final = cache_root(cache_dir) / key
        if (final / "info.json").exists():
            try:
                enc = EncodedCorpus.open(final)
            except FormatError as exc:
                log.warning("the cached encoding of %s is damaged (%s); encoding it again",
                            source, exc)
                if _cache.is_entry(final):
                    shutil.rmtree(final, ignore_errors=True)
            else:
                log.info("using the cached encoding of %s (%s)", source, final)
                _cache.touch(final)
                return enc
        final.parent.mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}-"))
    else:
        final = None
        work = pathlib.Path(tempfile.mkdtemp(prefix="embedkit-corpus-"))
    try:
        encode_into(source, options, work, is_path)
        if final is None:
            enc = EncodedCorpus.open(work)
            weakref.finalize(enc, shutil.rmtree, work, True)
            return enc
        try:
            os.replace(work, final)
        except OSError:  # another process finished the same encoding first
            shutil.rmtree(work, ignore_errors=True)
        log.info("cached the encoding in %s", final)
        _cache.evict(final.parent, keep=final)
        return EncodedCorpus.open(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


