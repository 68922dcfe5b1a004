"""Word vectors: the :class:`Vectors` container, its query API, and file formats."""

from embedkit.vectors.core import Vectors
from embedkit.vectors.load import load, save

__all__ = ["Vectors", "load", "save"]
