"""Token features: word rows (with lowercase fallback and UNK), casing, hashed character n-grams."""

from __future__ import annotations

from collections import Counter

import numpy as np

# casing classes (0 is padding)
CASE_CLASSES = 7


def case_class(word: str) -> int:
    """1 lower, 2 Title, 3 UPPER, 4 mixed case, 5 has a digit, 6 no letters or digits."""
    if any(c.isdigit() for c in word):
        return 5
    if not any(c.isalpha() for c in word):
        return 6
    if word.islower():
        return 1
    if word.isupper():
        return 3 if len(word) > 1 else 2
    if word[0].isupper() and (len(word) == 1 or word[1:].islower()):
        return 2
    return 4


def fnv1a(data: bytes) -> int:
    """32-bit FNV-1a hash (deterministic across runs, unlike Python's ``hash``)."""
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def char_ngrams(word: str, nmin: int = 2, nmax: int = 4) -> list[str]:
    """Character n-grams of ``<word>`` (with boundary marks), plus the whole marked word."""
    w = f"<{word}>"
    grams = [w]
    for n in range(nmin, nmax + 1):
        grams.extend(w[i:i + n] for i in range(len(w) - n + 1))
    return grams


class Vocabulary:
    """Word -> row of the embedding table.

    Rows ``0 .. n_pretrained-1`` are the vectors' words, then words frequent in the training
    data that the vectors lack (learned rows), then the UNK row (learned).

    Lookup tries the word, its lowercase form and its capitalised form ("PARIS" ->
    "Paris"), in that order, first among the vectors' rows and then among the learned
    rows, then UNK.  So a cased token finds a vector whenever some casing of it has one
    (cased vectors lack "paris" but have "Paris"), and lowercased vectors behave as before
    (exact, then lowercase).
    """

    def __init__(self, words: list[str], n_pretrained: int):
        self.words = list(words)
        self.n_pretrained = int(n_pretrained)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unk = len(self.words)

    def __len__(self):  # rows including UNK
        return len(self.words) + 1

    def lookup(self, word: str) -> int:
        index = self.index
        learned = None
        for form in (word, word.lower(), word.capitalize()):
            i = index.get(form)
            if i is not None:
                if i < self.n_pretrained:
                    return i
                if learned is None:
                    learned = i
        return self.unk if learned is None else learned

    def coverage(self, sentences) -> float:
        n = hit = 0
        for s in sentences:
            for w in s:
                n += 1
                hit += self.lookup(w) < self.n_pretrained
        return hit / n if n else 0.0

    @classmethod
    def build(cls, vector_words, sentences, min_count: int, lowercase_extra: bool = True):
        """Vectors' words plus training words they lack that occur ``>= min_count`` times."""
        vocab = cls(vector_words, len(vector_words))
        counts = Counter()
        for s in sentences:
            for w in s:
                if vocab.lookup(w) == vocab.unk:
                    counts[w.lower() if lowercase_extra else w] += 1
        extra = sorted((w for w, c in counts.items() if c >= min_count),
                       key=lambda w: (-counts[w], w))
        return cls(list(vector_words) + extra, len(vector_words))


# character ids of the char CNN: 0 unknown character, 1 begin of word, 2 end of word
CHAR_UNK, CHAR_BOW, CHAR_EOW, CHAR_FIRST = 0, 1, 2, 3


def char_alphabet(sentences, min_count: int = 2) -> str:
    """Characters occurring ``>= min_count`` times in the tokens, most frequent first
    (ties by code point); the char CNN gives each a row, the rest share the unknown row."""
    counts = Counter()
    for s in sentences:
        for w in s:
            counts.update(w)
    return "".join(sorted((c for c, n in counts.items() if n >= min_count),
                          key=lambda c: (-counts[c], c)))


class Featurizer:
    """Turns token lists into id arrays: word rows, casing classes, char n-gram buckets and
    (with an ``alphabet``) word-type ids whose character ids feed the char CNN."""

    def __init__(self, vocab: Vocabulary, char_buckets: int = 0, char_nmax: int = 4,
                 alphabet: str | None = None, max_word_chars: int = 30):
        self.vocab = vocab
        self.char_buckets = int(char_buckets)
        self.char_nmax = int(char_nmax)
        self._char_cache: dict[str, np.ndarray] = {}
        self._case_cache: dict[str, int] = {}
        self.alphabet = alphabet
        self.max_word_chars = int(max_word_chars)
        if alphabet is not None:
            self._char_index = {c: CHAR_FIRST + i for i, c in enumerate(alphabet)}
        self._types: dict[str, int] = {}
        self._type_chars: list[np.ndarray] = []

    def word_chars(self, word: str) -> np.ndarray:
        """Char CNN ids of ``word``: begin mark, characters, end mark.  Words longer than
        ``max_word_chars`` keep their first and last ``max_word_chars // 2`` characters."""
        m = self.max_word_chars
        if len(word) > m:
            word = word[:m // 2] + word[len(word) - (m - m // 2):]
        idx = self._char_index
        return np.array([CHAR_BOW] + [idx.get(c, CHAR_UNK) for c in word] + [CHAR_EOW],
                        dtype=np.int64)

    def _type(self, word: str) -> int:
        t = self._types.get(word)
        if t is None:
            t = len(self._type_chars)
            self._types[word] = t
            self._type_chars.append(self.word_chars(word))
        return t

    def type_chars(self, types: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flat char ids and offsets (len(types) + 1) of the word types ``types``."""
        parts = [self._type_chars[t] for t in types]
        offsets = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        chars = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return chars, offsets

    def _chars(self, word: str) -> np.ndarray:
        ids = self._char_cache.get(word)
        if ids is None:
            ids = np.array([fnv1a(g.encode("utf-8")) % self.char_buckets
                            for g in char_ngrams(word, 2, self.char_nmax)], dtype=np.int64)
            if len(self._char_cache) < 500_000:
                self._char_cache[word] = ids
        return ids

    def _case(self, word: str) -> int:
        c = self._case_cache.get(word)
        if c is None:
            c = case_class(word)
            if len(self._case_cache) < 500_000:
                self._case_cache[word] = c
        return c

    def encode(self, tokens: list[str]) -> dict:
        """Arrays for one token list: ``words``, ``case``, and (with char features)
        ``char_ids`` (all n-gram buckets, concatenated) and ``char_counts`` per token."""
        out = {"words": np.array([self.vocab.lookup(w) for w in tokens], dtype=np.int64),
               "case": np.array([self._case(w) for w in tokens], dtype=np.int64)}
        if self.char_buckets:
            parts = [self._chars(w) for w in tokens]
            out["char_ids"] = (np.concatenate(parts) if parts else np.zeros(0, np.int64))
            out["char_counts"] = np.array([len(p) for p in parts], dtype=np.int64)
        if self.alphabet is not None:
            out["types"] = np.array([self._type(w) for w in tokens], dtype=np.int64)
        return out


def make_batch(encoded: list[dict], char: bool) -> dict:
    """Pad encoded examples into a time-major batch: ``words``/``case`` (T, B), ``lengths``
    (B,), ``types`` (T, B) when the examples carry char CNN word types, and for char
    features ``char_ids`` with ``char_offsets`` over B*T items (b-major)."""
    B = len(encoded)
    lengths = np.array([len(e["words"]) for e in encoded], dtype=np.int64)
    T = max(1, int(lengths.max()) if B else 1)
    words = np.zeros((T, B), dtype=np.int64)
    case = np.zeros((T, B), dtype=np.int64)
    types = np.zeros((T, B), dtype=np.int64) if B and "types" in encoded[0] else None
    for b, e in enumerate(encoded):
        L = lengths[b]
        words[:L, b] = e["words"]
        case[:L, b] = e["case"]
        if types is not None:
            types[:L, b] = e["types"]
    batch = {"words": words, "case": case, "lengths": lengths, "T": T, "B": B}
    if types is not None:
        batch["types"] = types
    if char:
        counts = np.zeros((B, T), dtype=np.int64)
        for b, e in enumerate(encoded):
            counts[b, :lengths[b]] = e["char_counts"]
        offsets = np.zeros(B * T + 1, dtype=np.int64)
        np.cumsum(counts.ravel(), out=offsets[1:])
        batch["char_ids"] = (np.concatenate([e["char_ids"] for e in encoded])
                             if B else np.zeros(0, np.int64))
        batch["char_offsets"] = offsets
    return batch
