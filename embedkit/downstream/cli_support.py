"""Helpers shared by the ``embedkit sentiment`` and ``embedkit ner`` commands."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def resolve_and_load_vectors(path: str | None):
    """Vectors from ``--vectors``, else ``$EMBEDKIT_VECTORS``, else the packaged default
    (the same resolution as every other command, :mod:`embedkit.vectors.default`)."""
    from embedkit.vectors.default import load_vectors as _load

    vectors, where = _load(path)
    log.info("vectors: %s (%d words, dim %d)", where, len(vectors), vectors.dim)
    return vectors


def check_vectors_source(path: str | None) -> str:
    """Before any long work: the vectors ``--vectors`` / ``$EMBEDKIT_VECTORS`` / the default
    name exist and look like vectors (the format is sniffed from the first bytes; the
    full read comes later).  Returns the path."""
    from embedkit.vectors.default import find_vectors, is_packed
    from embedkit.vectors.loader import detect_format

    where, _ = find_vectors(path)
    if not is_packed(where):
        detect_format(where)
    return where


def load_vectors(path: str):
    """Load an explicit vectors path (a file any embedkit loader reads, or packed vectors)."""
    return resolve_and_load_vectors(path)
