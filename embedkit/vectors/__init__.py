"""Word vectors: the :class:`Vectors` container, its query API, and file formats.

``load`` and ``save`` are imported on first use, so ``import embedkit`` stays quick (the
format parsers compile Numba kernels).
"""

from embedkit.vectors.core import Vectors

__all__ = ["Vectors", "load", "save"]


def __getattr__(name):
    if name in ("load", "save"):
        from embedkit.vectors import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
