"""Helpers shared by the ``embedkit sentiment`` and ``embedkit ner`` commands."""

from __future__ import annotations

import os

from embedkit.errors import MissingFileError, ParameterError

ENV_VECTORS = "EMBEDKIT_VECTORS"


def resolve_vectors_path(path: str | None) -> str:
    """``--vectors``, else ``$EMBEDKIT_VECTORS``, else the packaged default vectors."""
    if path:
        return path
    env = os.environ.get(ENV_VECTORS)
    if env:
        return env
    try:
        from embedkit.vectors import default as _default  # added by the search work
    except ImportError:
        _default = None
    for name in ("default_vectors_path", "path", "default_path"):
        fn = getattr(_default, name, None)
        if callable(fn):
            return os.fspath(fn())
    raise ParameterError("no vectors given: pass --vectors FILE or set $EMBEDKIT_VECTORS "
                         "(word2vec .bin/.txt, GloVe, fastText .vec or .ekv)")


def load_vectors(path: str):
    """Load vectors with :func:`embedkit.load`."""
    if not os.path.exists(path):
        raise MissingFileError(f"vectors file not found: {path}")
    import embedkit

    return embedkit.load(path)
