"""embedkit: fast word embeddings, one loader for every vector format, analogy search.

>>> import embedkit
>>> v = embedkit.load("vectors.bin")            # doctest: +SKIP
>>> v.analogy("man", "king", "woman")           # doctest: +SKIP
"""

import logging

from embedkit._version import __version__
from embedkit.errors import (CorpusError, EmbedkitError, FormatError, MissingFileError,
                             ParameterError, UnknownWordError)
from embedkit.vectors import Vectors
from embedkit.evaluation import evaluate

logging.getLogger("embedkit").addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "Vectors",
    "evaluate",
    "EmbedkitError",
    "ParameterError",
    "CorpusError",
    "FormatError",
    "MissingFileError",
    "UnknownWordError",
]
