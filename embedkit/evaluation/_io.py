"""Loading vectors for evaluation: ``embedkit.load`` when present, else a word2vec text reader."""

from __future__ import annotations

import bz2
import gzip
import lzma
import pathlib

import numpy as np

from embedkit.errors import FormatError, MissingFileError


def load_vectors(path):
    """Load vectors with :func:`embedkit.load`, or read word2vec/GloVe text if it is missing."""
    import embedkit

    loader = getattr(embedkit, "load", None)
    if loader is not None:
        return loader(path)
    return _read_text_vectors(path)


def _read_text_vectors(path):
    from embedkit.vectors import Vectors

    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"vector file {str(path)!r} does not exist: check the path")
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    if not lines:
        raise FormatError(f"{path} is empty: expected word2vec text vectors")
    head = lines[0].split()
    start = 1 if len(head) == 2 and all(h.isdigit() for h in head) else 0
    words, rows = [], []
    for no, line in enumerate(lines[start:], start=start + 1):
        parts = line.rstrip().split(" ")
        if len(parts) < 2:
            continue
        try:
            rows.append(np.array(parts[1:], dtype=np.float32))
        except ValueError:
            raise FormatError(f"{path}, line {no}: non-numeric vector values") from None
        words.append(parts[0])
    dims = {len(r) for r in rows}
    if len(dims) != 1:
        raise FormatError(f"{path}: rows have different dimensions {sorted(dims)}")
    return Vectors(words, np.vstack(rows))
