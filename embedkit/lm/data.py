"""The language model's vocabulary and token streams."""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from embedkit._params import check_positive
from embedkit.errors import CorpusError, ParameterError

log = logging.getLogger(__name__)

UNK = "<unk>"
EOS = "</s>"  # ends every line of the corpus; generation stops there


class LMVocab:
    """Words of a language model: ``<unk>``, ``</s>``, then the corpus words by frequency."""

    def __init__(self, words):
        words = list(words)
        if words[:2] != [UNK, EOS]:
            raise ParameterError(f"a language-model vocabulary starts with {UNK}, {EOS}")
        if len(set(words)) != len(words):
            raise ParameterError("the vocabulary has duplicate words")
        self.words = words
        self.index = {w: i for i, w in enumerate(words)}
        self.unk, self.eos = 0, 1

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def build(cls, sentences, max_size: int = 50000, min_count: int = 1) -> tuple["LMVocab", np.ndarray]:
        """The ``max_size`` most frequent words seen ``min_count`` times (ties by first
        appearance); returns the vocabulary and the counts of each entry."""
        if max_size < 3:
            raise ParameterError(f"max vocabulary size must be >= 3, got {max_size}")
        check_positive("min_count", min_count, integer=True)
        counts: Counter = Counter()
        lines = 0
        for s in sentences:
            counts.update(s)
            lines += 1
        counts.pop(UNK, None)
        counts.pop(EOS, None)
        kept = [w for w, c in counts.most_common(max_size - 2) if c >= min_count]
        unk = sum(counts.values()) - sum(counts[w] for w in kept)
        vocab = cls([UNK, EOS] + kept)
        c = np.array([max(unk, 1), max(lines, 1)] + [counts[w] for w in kept], dtype=np.int64)
        return vocab, c

    def encode(self, tokens) -> list[int]:
        get = self.index.get
        return [get(t, 0) for t in tokens]


def encode_stream(sentences, vocab: LMVocab, max_tokens: int | None = None,
                  skip_tokens: int = 0) -> np.ndarray:
    """One int32 stream of the sentences' ids, ``</s>`` after each line.

    ``skip_tokens`` stream tokens are dropped first, then at most ``max_tokens`` kept.
    """
    parts, n, skipped = [], 0, 0
    for s in sentences:
        ids = vocab.encode(s) + [vocab.eos]
        if skipped < skip_tokens:
            drop = min(len(ids), skip_tokens - skipped)
            skipped += drop
            ids = ids[drop:]
            if not ids:
                continue
        if max_tokens is not None and n + len(ids) > max_tokens:
            ids = ids[:max_tokens - n]
        parts.append(np.asarray(ids, dtype=np.int32))
        n += len(ids)
        if max_tokens is not None and n >= max_tokens:
            break
    if not parts:
        raise CorpusError("no tokens to read: the text is empty (or every token was skipped)")
    return np.concatenate(parts)


def batchify(stream: np.ndarray, batch_size: int) -> np.ndarray:
    """Cut the stream into ``batch_size`` contiguous columns (T, B) (the tail that does not
    fill a row is dropped; at most batch_size - 1 tokens)."""
    T = stream.shape[0] // batch_size
    if T < 2:
        raise CorpusError(f"{stream.shape[0]} tokens are too few for {batch_size} parallel "
                          "streams: lower --batch-size or give more text")
    return np.ascontiguousarray(stream[:T * batch_size].reshape(batch_size, T).T)
