"""Encode a corpus once into int32 token ids plus sentence offsets, with a cache.

One streaming pass tokenizes the corpus, gives each new word a provisional id, writes the
provisional ids to disk and counts them (pruning rare words as word2vec.c does when the
table outgrows ``max_vocab_size``).  The vocabulary is then fixed (``min_count``,
``max_final_vocab``, order by count then word), and a Numba pass maps provisional ids to
final ids, drops out-of-vocabulary tokens and cuts lines longer than
``MAX_SENTENCE_LENGTH`` tokens into chunks.  The result is memory-mapped ``.npy`` files,
cached under a key made of the inputs' paths, sizes, mtimes and content fingerprints
and every option (see :mod:`embedkit._cache` for the cache's size bound).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from embedkit._progress import progress_bar
from embedkit._version import __version__
from embedkit import _cache
from embedkit._cache import user_cache_dir
from embedkit._threads import cpu_count
from embedkit._kernels.corpus import MODE_WHITESPACE, MODE_WORDS, remap_chunk, sentence_offsets
from embedkit.corpus import readers
from embedkit.corpus.table import ByteTable, DictTable
from embedkit.corpus.tokenize import get_tokenizer
from embedkit.corpus.vocab import Vocab
from embedkit.errors import CorpusError, FormatError, ParameterError

log = logging.getLogger(__name__)

MAX_SENTENCE_LENGTH = 1000   # word2vec.c's MAX_SENTENCE_LENGTH
CACHE_FORMAT = 2             # bump when the cached files change meaning
_CHUNK = 1 << 24             # tokens per remapping chunk


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


_UNICODE_SPACE = re.compile(r"[^\S\n]")  # whitespace other than newline


def _block_bytes(block: bytes, tokenizer: str, lowercase: bool, stats) -> tuple[bytes, int]:
    """Bytes for the Numba tokenizer and its mode.

    ASCII blocks go as they are (lowercased in C); other blocks are decoded and tokenized
    with Python's Unicode rules first, then handed on as whitespace-separated words.
    """
    if block.isascii():
        return (block.lower() if lowercase else block,
                MODE_WORDS if tokenizer == "default" else MODE_WHITESPACE)
    text = readers.decode(block, stats).replace("\r\n", "\n").replace("\r", "\n")
    if lowercase:
        text = text.lower()
    if tokenizer == "default":
        tokenize = get_tokenizer("default", lowercase=False)
        text = "\n".join(" ".join(tokenize(line)) for line in text.split("\n"))
    else:
        text = _UNICODE_SPACE.sub(" ", text)
    return text.encode("utf-8"), MODE_WHITESPACE


def _path_id_blocks(source, tokenizer, lowercase, stats, progress, tables):
    """Yield ``(raw_ids, line_lengths)`` for each block of a path source, in order.

    Block ``k`` is tokenized by ``tables[k % T]`` on that table's own thread (the kernel
    releases the GIL), so ``T`` tables work at once; a raw id is ``id * T + table``.
    ``line_lengths`` are the token counts of the lines the block completes (a line that
    runs over several blocks is counted once, where it ends).
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    n_tables = len(tables)

    def run(table, block):
        local = readers.ReadStats()
        ids, lens = table.add(*_block_bytes(block, tokenizer, lowercase, local))
        return ids, lens, table.take_open(), local.replaced_bytes

    carry = 0
    pools = [ThreadPoolExecutor(1, thread_name_prefix="embedkit-tokenizer")
             for _ in tables]
    pending: deque = deque()

    def finish():
        nonlocal carry
        t, future = pending.popleft()
        ids, lens, open_len, replaced = future.result()
        stats.replaced_bytes += replaced
        stats.lines += lens.shape[0]
        if lens.shape[0]:
            lens[0] += carry
            carry = open_len
        else:
            carry += open_len
        if n_tables > 1:
            ids = ids * np.int32(n_tables) + np.int32(t)
        return ids, lens

    try:
        blocks = readers.prefetch(readers.iter_blocks(source, stats, progress))
        for k, (block, _cont) in enumerate(blocks):
            t = k % n_tables
            pending.append((t, pools[t].submit(run, tables[t], block)))
            if len(pending) > 2 * n_tables:
                yield finish()
        while pending:
            yield finish()
        if carry:
            stats.lines += 1
            yield np.zeros(0, dtype=np.int32), np.array([carry], dtype=np.int64)
    finally:
        for pool in pools:
            pool.shutdown(wait=True, cancel_futures=True)


def _list_blocks(source, stats, table):
    """Yield ``(ids, line_lengths)`` for token lists given from Python, 4096 at a time."""
    block = []
    for n, sentence in enumerate(source):
        if isinstance(sentence, str) or not all(isinstance(t, str) for t in sentence):
            raise CorpusError(
                f"sentence {n} of the corpus is not a list of strings: give an iterable of "
                "token lists such as [['the', 'cat'], ['a', 'dog']], or a file path")
        block.append(sentence)
        if len(block) >= 4096:
            ids, lens = table.add(block)
            stats.lines += len(block)
            yield ids, lens
            block = []
    ids, lens = table.add(block)
    stats.lines += len(block)
    yield ids, lens


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
        result is a :class:`~embedkit.corpus.sharded.ShardedCorpus` (see
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
        _encode(source, options, work, is_path)
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


def _encode(source, options, work: pathlib.Path, is_path: bool) -> None:
    stats = readers.ReadStats()
    name = str(source) if is_path else "<token lists>"
    total_bytes = readers.source_size(source) if is_path else None
    # two tables on two threads, unless the table must stay bounded (pruning needs one)
    n_tables = 2 if is_path and options["max_vocab_size"] is None and cpu_count() > 1 else 1
    tables = [ByteTable() for _ in range(n_tables)] if is_path else [DictTable()]
    min_reduce = 1
    n_raw = 0
    raw_path, lens_path = work / "raw.i32", work / "lines.i64"
    bar = progress_bar(total=total_bytes, desc=f"reading {pathlib.Path(name).name}",
                       unit="B" if is_path else "tok", unit_scale=True)
    if is_path:
        blocks = _path_id_blocks(source, options["tokenizer"], options["lowercase"], stats,
                                 bar, tables)
    else:
        blocks = _list_blocks(source, stats, tables[0])
    with open(raw_path, "wb") as raw_f, open(lens_path, "wb") as lens_f, bar:
        for ids, lens in blocks:
            n_raw += ids.shape[0]
            raw_f.write(ids.tobytes())
            lens_f.write(lens.tobytes())
            if not is_path:
                bar.update(ids.shape[0])
            if options["max_vocab_size"] is not None and \
                    len(tables[0]) > options["max_vocab_size"]:
                raw_f.flush()
                min_reduce = _prune(tables[0], min_reduce, options["max_vocab_size"], raw_path)
    readers.warn_replaced(name, stats.replaced_bytes)
    if n_raw == 0:
        raise CorpusError(f"corpus {name} is empty: it has no tokens")
    words, counts, raw_to_word = _merge_tables(tables)
    if not words:
        raise CorpusError(f"every word of {name} was pruned while counting: raise "
                          "max_vocab_size")
    vocab = Vocab.from_counts(words, counts, options["min_count"], options["max_final_vocab"])
    if len(vocab) == 0:
        top = int(np.argmax(counts))
        raise CorpusError(
            f"no word of {name} occurs at least min_count={options['min_count']} times "
            f"({len(words)} distinct words, the most frequent, {words[top]!r}, "
            f"{int(counts[top])} times): lower --min-count or use a larger corpus")
    log.info("%s: %d tokens, %d distinct words, %d kept with min_count=%d (%.1f%% of tokens)",
             name, n_raw, len(words), len(vocab), options["min_count"],
             100.0 * vocab.total / max(n_raw, 1))
    position = {w: i for i, w in enumerate(words)}
    remap = np.full(len(words) + 1, -1, dtype=np.int32)  # last slot: raw ids of no word
    remap[np.fromiter((position[w] for w in vocab.words), dtype=np.int64,
                      count=len(vocab))] = np.arange(len(vocab), dtype=np.int32)
    remap = remap[raw_to_word]  # indexed by raw id
    del position, tables
    _finish(work, raw_path, lens_path, remap, vocab)
    info = {"source": name, "files": stats.files, "raw_tokens": int(n_raw),
            "lines": int(stats.lines), "replaced_bytes": int(stats.replaced_bytes),
            "distinct_words": len(words), "pruned_min_reduce": min_reduce - 1,
            "options": options, "embedkit_version": __version__}
    with open(work / "info.json", "w", encoding="utf-8") as f:
        json.dump(info, f, ensure_ascii=False)


def _merge_tables(tables):
    """One word list and count array from ``T`` tables, and the map raw id -> word index.

    A raw id is ``id * T + table``; raw ids that name no word map to ``len(words)``.
    """
    n_tables = len(tables)
    if n_tables == 1:
        words = tables[0].words()
        return words, tables[0].counts[:len(words)], np.arange(len(words) + 1)
    index: dict[str, int] = {}
    words: list[str] = []
    per_table = [t.words() for t in tables]
    raw_to_word = np.full(n_tables * max(map(len, per_table)) + 1, -1, dtype=np.int64)
    for t, table_words in enumerate(per_table):
        for i, w in enumerate(table_words):
            g = index.get(w)
            if g is None:
                g = index[w] = len(words)
                words.append(w)
            raw_to_word[i * n_tables + t] = g
    counts = np.zeros(len(words), dtype=np.int64)
    for t, (table, table_words) in enumerate(zip(tables, per_table)):
        np.add.at(counts, raw_to_word[t:len(table_words) * n_tables:n_tables],
                  table.counts[:len(table_words)])
    raw_to_word[raw_to_word < 0] = len(words)
    return words, counts, raw_to_word


def _prune(table, min_reduce, max_vocab_size, raw_path):
    """Drop words seen at most ``min_reduce`` times so far (word2vec.c's ReduceVocab),
    raising ``min_reduce`` until the table fits, and renumber the ids written so far."""
    n = len(table)
    counts = table.counts[:n]
    while True:
        keep = counts > min_reduce
        min_reduce += 1
        if keep.sum() <= max_vocab_size:
            break
    survivors = np.flatnonzero(keep)
    remap = np.full(n + 1, -1, dtype=np.int32)  # last slot: already-pruned tokens (-1) stay -1
    remap[survivors] = np.arange(survivors.shape[0], dtype=np.int32)
    table.prune(keep)
    raw = np.memmap(raw_path, dtype=np.int32, mode="r+")
    for start in range(0, raw.shape[0], _CHUNK):
        part = raw[start:start + _CHUNK]
        part[:] = remap[part]
    raw.flush()
    del raw
    log.info("vocabulary table passed max_vocab_size=%d: pruned %d words seen <= %d times",
             max_vocab_size, n - survivors.shape[0], min_reduce - 1)
    return min_reduce


def _finish(work, raw_path, lens_path, remap, vocab):

    raw = np.memmap(raw_path, dtype=np.int32, mode="r") if raw_path.stat().st_size else \
        np.zeros(0, dtype=np.int32)
    line_lens = np.fromfile(lens_path, dtype=np.int64)
    kept_per_line = np.zeros(line_lens.shape[0], dtype=np.int64)
    out = np.lib.format.open_memmap(work / "ids.npy", mode="w+", dtype=np.int32,
                                    shape=(vocab.total,))
    state = np.array([-1, 0], dtype=np.int64)
    pos = 0
    for start in range(0, raw.shape[0], _CHUNK):
        n = remap_chunk(raw[start:start + _CHUNK], remap, line_lens, kept_per_line, state,
                        out[pos:])
        pos += n
    if pos != vocab.total:  # pragma: no cover - an internal invariant
        raise RuntimeError(f"encoded {pos} tokens, expected {vocab.total}")
    out.flush()
    del out, raw
    np.save(work / "offsets.npy", sentence_offsets(kept_per_line, MAX_SENTENCE_LENGTH))
    vocab.save(work / "vocab.json")
    os.unlink(raw_path)
    os.unlink(lens_path)
