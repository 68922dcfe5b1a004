"""embedkit: fast word embeddings, one loader for every vector format, analogy search.

>>> import embedkit
>>> v = embedkit.load("vectors.bin")            # doctest: +SKIP
>>> v.analogy("man", "king", "woman")           # doctest: +SKIP
"""

import logging

from embedkit._lazy import lazy_exports
from embedkit._version import __version__

# The public names, each with the module that defines it.  ``__all__``, ``__dir__`` and the
# lazy ``__getattr__`` below are all made from this one table; modules are imported on
# first use so that ``import embedkit`` (and the CLI's start) stays quick: most of them
# pull in Numba kernels.
_EXPORTS = {
    "Vectors": "embedkit.vectors.core",
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
    "EmbedkitError": "embedkit.errors",
    "ParameterError": "embedkit.errors",
    "CorpusError": "embedkit.errors",
    "FormatError": "embedkit.errors",
    "MissingFileError": "embedkit.errors",
    "UnknownWordError": "embedkit.errors",
    "WriteError": "embedkit.errors",
    "UnknownAttributeError": "embedkit.errors",
    "TrainingInterrupted": "embedkit.errors",
    "TrainingDiverged": "embedkit.errors",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

logging.getLogger("embedkit").addHandler(logging.NullHandler())
