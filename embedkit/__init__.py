"""embedkit: fast word embeddings, one loader for every vector format, analogy search.

>>> import embedkit
>>> v = embedkit.load("vectors.bin")            # doctest: +SKIP
>>> v.analogy("man", "king", "woman")           # doctest: +SKIP
"""

import logging

from embedkit._version import __version__
from embedkit.errors import (CorpusError, EmbedkitError, FormatError, MissingFileError,
                             ParameterError, UnknownWordError)
from embedkit.vectors.core import Vectors

# Imported on first use so that `import embedkit` (and the CLI's start) stays quick:
# these pull in Numba kernels.
_LAZY = {
    "load": "embedkit.vectors.loader",
    "save": "embedkit.vectors.loader",
    "train": "embedkit.training.word2vec",
    "Word2Vec": "embedkit.training.word2vec",
    "TrainResult": "embedkit.training.word2vec",
    "GloVe": "embedkit.training.glove",
    "evaluate": "embedkit.evaluation.api",
    "Index": "embedkit.search.index",
    "parse_query": "embedkit.search.query",
    "SentimentClassifier": "embedkit.downstream",
    "NERTagger": "embedkit.downstream",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'embedkit' has no attribute {name!r}")


logging.getLogger("embedkit").addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "Vectors",
    "load",
    "save",
    "train",
    "Word2Vec",
    "TrainResult",
    "GloVe",
    "evaluate",
    "Index",
    "parse_query",
    "SentimentClassifier",
    "NERTagger",
    "EmbedkitError",
    "ParameterError",
    "CorpusError",
    "FormatError",
    "MissingFileError",
    "UnknownWordError",
]
