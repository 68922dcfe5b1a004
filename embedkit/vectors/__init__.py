"""Word vectors: the :class:`Vectors` container, its query API, and file formats."""

from embedkit.vectors.core import Vectors

__all__ = ["Vectors"]
