"""Parallel data of the encoder-decoder: TSV ``source<TAB>target`` pairs, vocabularies,
tokenisation at the character or word level, and padded batches."""

from __future__ import annotations

import os

import numpy as np

from embedkit.errors import FormatError, MissingFileError, ParameterError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = [PAD, UNK, BOS, EOS]
LEVELS = ("char", "word")


def split_text(text: str, level: str) -> list[str]:
    """Tokens of ``text``: its characters (``char``) or white-space separated words."""
    if level == "char":
        return list(text)
    if level == "word":
        return text.split()
    raise ParameterError(f"level must be 'char' or 'word', got {level!r}")


def join_tokens(tokens, level: str) -> str:
    return ("" if level == "char" else " ").join(tokens)


def read_pairs(path) -> list[tuple[str, str]]:
    """Read ``source<TAB>target`` lines (UTF-8); a blank, tab-less or one-sided line is a
    FormatError naming the file and line."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingFileError(f"file not found: {path}")
    if os.path.isdir(path):
        raise ParameterError(f"{path} is a directory: give a TSV file")
    pairs = []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            for no, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                parts = line.split("\t")
                if not line.strip():
                    raise FormatError(f"{path}, line {no}: empty line; every line must be "
                                      "'source<TAB>target'")
                if len(parts) != 2:
                    raise FormatError(f"{path}, line {no}: expected 'source<TAB>target' "
                                      f"(2 tab-separated fields), found {len(parts)} field(s)")
                src, tgt = parts
                if not src.strip() or not tgt.strip():
                    side = "source" if not src.strip() else "target"
                    raise FormatError(f"{path}, line {no}: the {side} is empty")
                pairs.append((src, tgt))
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not pairs:
        raise FormatError(f"{path} holds no pairs: give 'source<TAB>target' lines")
    return pairs


class Vocab:
    """Tokens with ids; ``<pad>, <unk>, <s>, </s>`` are ids 0-3."""

    def __init__(self, tokens):
        tokens = list(tokens)
        if tokens[:4] != SPECIALS or len(set(tokens)) != len(tokens):
            raise ParameterError("a vocabulary starts with <pad>, <unk>, <s>, </s> and has no "
                                 "duplicates")
        self.tokens = tokens
        self.index = {t: i for i, t in enumerate(tokens)}

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def build(cls, sequences, min_count: int = 1, max_size: int | None = None) -> "Vocab":
        counts: dict[str, int] = {}
        for s in sequences:
            for t in s:
                counts[t] = counts.get(t, 0) + 1
        kept = sorted((t for t, c in counts.items() if c >= min_count and t not in SPECIALS),
                      key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[:max(0, max_size - 4)]
        return cls(SPECIALS + kept)

    def encode(self, tokens) -> list[int]:
        return [self.index.get(t, 1) for t in tokens]


def pad_batch(seqs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Right-padded (B, T) int64 ids and the lengths."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    out = np.zeros((len(seqs), int(lengths.max())), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out, lengths
