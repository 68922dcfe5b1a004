"""Writes small fastText ``.bin`` models for the reader tests (imported by name, as
corpora_server is).  Written from the format description in embedkit/vectors/fasttext.py."""

from __future__ import annotations

import struct

import numpy as np

MAGIC = 793712314


def model_bytes(words, matrix, *, minn=3, maxn=6, bucket=None, header="current", version=12,
                labels=(), model=2, loss=2, quant=False, prune=None, counts=None) -> bytes:
    """The bytes of a fastText model whose input matrix is ``matrix`` (words, then buckets).

    ``header`` is ``"current"`` (magic and version first) or ``"old"`` (arguments first).
    """
    matrix = np.ascontiguousarray(matrix, dtype="<f4")
    dim = matrix.shape[1]
    if bucket is None:
        bucket = matrix.shape[0] - len(words)
    out = bytearray()
    if header == "current":
        out += struct.pack("<2i", MAGIC, version)
    out += struct.pack("<12id", dim, 5, 5, 1, 5, 1, loss, model, bucket, minn, maxn, 100, 1e-4)
    size = len(words) + len(labels)
    out += struct.pack("<3iq", size, len(words), len(labels), 1000)
    if header == "current":
        out += struct.pack("<q", -1 if prune is None else len(prune))
    counts = list(counts) if counts is not None else list(range(len(words) + len(labels), 0, -1))
    for i, w in enumerate(list(words) + list(labels)):
        raw = w if isinstance(w, bytes) else w.encode("utf-8")
        out += raw + b"\x00" + struct.pack("<qb", counts[i], 0 if i < len(words) else 1)
    if header == "current":
        for a, b in (prune or []):
            out += struct.pack("<2i", a, b)
        out += struct.pack("<?", quant)
    out += struct.pack("<2q", *matrix.shape) + matrix.tobytes()
    output = np.zeros((len(words) + len(labels) if model == 3 else len(words), dim), "<f4")
    if header == "current":
        out += struct.pack("<?", False)
    out += struct.pack("<2q", *output.shape) + output.tobytes()
    return bytes(out)


def write_model(path, words, matrix, **kw):
    """Write :func:`model_bytes` to ``path``; returns ``path``."""
    with open(path, "wb") as f:
        f.write(model_bytes(words, matrix, **kw))
    return path
