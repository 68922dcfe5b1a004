"""What gensim's word2vec readers and writers take besides the vectors: the ``fvocab``
counts file (``word count`` per line, word2vec.c's ``-save-vocab``), the ``datatype`` a
reader rounds to, and the counts handed to and taken from gensim ``KeyedVectors``.
"""

from __future__ import annotations

import codecs
import logging
import pathlib

import numpy as np

from embedkit.errors import FormatError, ParameterError
from embedkit.vectors._files import atomic_output, open_input, strip_compression

log = logging.getLogger(__name__)

DATATYPES = {"float16": np.float16, "float32": np.float32}


def check_encoding(encoding: str) -> str:
    """The codec name of ``encoding``; a :class:`ParameterError` for an unknown one."""
    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise ParameterError(f"unknown encoding {encoding!r}; e.g. 'utf-8' or 'latin-1'") \
            from None


def read_fvocab(path, words, *, encoding="utf-8", unicode_errors="strict") -> np.ndarray:
    """Counts for ``words`` from an ``fvocab`` file (``word count`` lines).

    Words missing from the file get count 0, with one warning giving how many; words in
    the file but not among ``words`` are ignored.  A malformed line raises
    :class:`FormatError` naming the file and the line.
    """
    path = pathlib.Path(path)
    counts: dict[str, int] = {}
    with open_input(path) as f:
        for line_no, raw in enumerate(f, 1):
            try:
                line = raw.decode(encoding, unicode_errors)
            except UnicodeDecodeError as exc:
                raise FormatError(f"{path}: line {line_no}: not valid {encoding} "
                                  f"({exc.reason}); pass unicode_errors='replace'") from None
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            word, sep, count = line.rpartition(" ")
            try:
                value = int(count)
            except ValueError:
                value = -1
            if not sep or value < 0:
                raise FormatError(f"{path}: line {line_no}: expected 'word count' (a word, a "
                                  f"space and a non-negative integer), got {line[:60]!r}")
            counts.setdefault(word.strip(" "), value)
    missing = sum(1 for w in words if w not in counts)
    if missing:
        log.warning("%s: %d of %d words have no count in the vocabulary file; they get count 0",
                    path, missing, len(words))
    return np.fromiter((counts.get(w, 0) for w in words), dtype=np.int64, count=len(words))


def write_fvocab(path, words, counts) -> None:
    """Write ``word count`` lines in row order (atomically; ``.gz`` etc. compress)."""
    path = pathlib.Path(path)
    with atomic_output(path, strip_compression(str(path))[1]) as f:
        block = 1 << 16
        for s in range(0, len(words), block):
            f.write("".join(f"{w} {int(c)}\n" for w, c in
                            zip(words[s:s + block], counts[s:s + block])).encode("utf-8"))


def check_datatype(datatype):
    """``np.float32`` (None) or ``np.float16``: what a reader rounds the values to."""
    if datatype is None:
        return np.float32
    try:
        dt = np.dtype(datatype)
    except TypeError:
        dt = None
    if dt == np.float32:
        return np.float32
    if dt == np.float16:
        return np.float16
    raise ParameterError(f"datatype must be np.float32 or np.float16, got {datatype!r} "
                         "(embedkit holds vectors as float32)")


def apply_datatype(matrix: np.ndarray, datatype) -> np.ndarray:
    """Round ``matrix`` to ``datatype`` (held as float32 again), as gensim's ``datatype=``."""
    if datatype is np.float16:
        with np.errstate(over="ignore"):
            rounded = matrix.astype(np.float16)
        if not np.isfinite(rounded).all():
            raise ParameterError("datatype=float16: some values exceed float16's range "
                                 "(65504); keep float32")
        matrix[...] = rounded
    return matrix


def is_gensim_dummy(counts: np.ndarray) -> bool:
    """Whether ``counts`` are the ones gensim invents when it reads a file without
    ``fvocab``: consecutive integers decreasing by one down the rows (``header count -
    row``), ending at 1 or above."""
    counts = np.asarray(counts)
    if counts.size == 0:
        return False
    return bool(counts[-1] >= 1 and np.all(np.diff(counts) == -1))


def _read_from_word2vec_file(kv) -> bool:
    """Whether gensim made ``kv`` with ``load_word2vec_format`` (its lifecycle log says so)."""
    events = getattr(kv, "lifecycle_events", None) or []
    return any(isinstance(e, dict) and e.get("event") == "load_word2vec_format" for e in events)


def counts_from_gensim(kv):
    """The counts of a gensim ``KeyedVectors``: ``None`` when it has none, when some are
    missing, or when they are gensim's invented dummy counts (a ``KeyedVectors`` read by
    ``load_word2vec_format`` whose counts decrease by one down the rows)."""
    raw = getattr(kv, "expandos", {}).get("count")
    if raw is None or len(raw) != len(kv.index_to_key) or len(raw) == 0:
        return None
    try:
        counts = np.asarray(raw, dtype=np.int64)
    except (TypeError, ValueError):  # None for words an fvocab file lacked
        return None
    if is_gensim_dummy(counts) and _read_from_word2vec_file(kv):
        log.debug("gensim's counts are the dummy ones it invents without fvocab; ignored")
        return None
    return counts


def counts_for_gensim(counts):
    """Counts to hand to gensim, or ``None`` when they would make gensim reorder rows."""
    if counts is None:
        return None
    counts = np.asarray(counts, dtype=np.int64)
    if np.any(np.diff(counts) > 0):
        log.warning("the counts increase somewhere down the rows (e.g. after restrict([...])); "
                    "gensim's save_word2vec_format would reorder the rows by count, so they are "
                    "not handed to gensim; call sort_by_descending_frequency() first to keep them")
        return None
    return counts.copy()
