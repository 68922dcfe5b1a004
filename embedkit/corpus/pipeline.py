"""The encoding pipeline behind :func:`embedkit.corpus.prepare`: one corpus into int32 ids.

One streaming pass tokenizes the corpus (path sources block by block on up to two
tokenizer threads, token lists from Python 4096 sentences at a time), gives each new word a
provisional id, writes the provisional ids to disk and counts them, pruning rare words as
word2vec.c's ``ReduceVocab`` does when the table outgrows ``max_vocab_size``.  The
vocabulary is then fixed and a Numba pass maps provisional ids to final ids, drops
out-of-vocabulary tokens and cuts lines longer than :data:`MAX_SENTENCE_LENGTH` tokens.
:func:`encode_into` writes ``ids.npy``, ``offsets.npy``, ``vocab.json`` and ``info.json``
into a work directory; caching and opening the result are :mod:`embedkit.corpus.encode`'s.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import re

import numpy as np

from embedkit._kernels.corpus import MODE_WHITESPACE, MODE_WORDS, remap_chunk, sentence_offsets
from embedkit._progress import progress_bar
from embedkit._threads import cpu_count
from embedkit._version import __version__
from embedkit.corpus import readers
from embedkit.corpus.table import ByteTable, DictTable
from embedkit.corpus.tokenize import get_tokenizer
from embedkit.corpus.vocab import Vocab
from embedkit.errors import CorpusError

log = logging.getLogger(__name__)

MAX_SENTENCE_LENGTH = 1000   # word2vec.c's MAX_SENTENCE_LENGTH
_CHUNK = 1 << 24             # tokens per remapping chunk


_UNICODE_SPACE = re.compile(r"[^\S\n]")  # whitespace other than newline


def block_bytes(block: bytes, tokenizer: str, lowercase: bool, stats) -> tuple[bytes, int]:
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
        ids, lens = table.add(*block_bytes(block, tokenizer, lowercase, local))
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


def encode_into(source, options, work: pathlib.Path, is_path: bool) -> None:
    """Encode ``source`` (a path source when ``is_path``, else token lists) with the
    ``options`` of :func:`~embedkit.corpus.prepare` into the directory ``work``."""
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
    vocab = fixed_vocabulary(words, counts, options["min_count"], options["max_final_vocab"],
                             name)
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


def fixed_vocabulary(words, counts, min_count, max_final_vocab, name) -> Vocab:
    """The vocabulary of the counted ``words`` (``min_count``, ``max_final_vocab``, order by
    count then word); none left is a :class:`CorpusError` about ``name`` (the corpus)."""
    vocab = Vocab.from_counts(words, counts, min_count, max_final_vocab)
    if len(vocab) == 0:
        top = int(np.argmax(counts))
        raise CorpusError(
            f"no word of {name} occurs at least min_count={min_count} times "
            f"({len(words)} distinct words, the most frequent, {words[top]!r}, "
            f"{int(counts[top])} times): lower --min-count or use a larger corpus")
    return vocab


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
    """Map the provisional ids to the final vocabulary and write the encoded files."""
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
