"""Downstream models over embedkit vectors: a BiGRU sentiment classifier and NER tagger.

>>> from embedkit.downstream import SentimentClassifier, read_tsv   # doctest: +SKIP
>>> texts, labels = read_tsv("train.tsv")                           # doctest: +SKIP
>>> clf = SentimentClassifier(vectors).fit(texts, labels)           # doctest: +SKIP

Named configurations (the defaults, and the benchmarked recipes) are in
:mod:`embedkit.downstream.presets`.
"""

from embedkit._lazy import lazy_exports

# The public names, each with the module that defines it; imported on first use, so that
# reading the presets (the CLI does at start-up) does not load the Numba kernels.
_EXPORTS = {
    "SentimentClassifier": "embedkit.downstream.model",
    "NERTagger": "embedkit.downstream.model",
    "load_model": "embedkit.downstream.model",
    "ModelConfig": "embedkit.downstream.config",
    "Schedule": "embedkit.downstream.config",
    "read_tsv": "embedkit.downstream.data",
    "read_conll": "embedkit.downstream.data",
    "tokenize": "embedkit.downstream.data",
    "accuracy": "embedkit.downstream.metrics",
    "macro_f1": "embedkit.downstream.metrics",
    "ner_report": "embedkit.downstream.metrics",
    "chunks": "embedkit.downstream.metrics",
    "repair_bio": "embedkit.downstream.metrics",
    "viterbi_bio": "embedkit.downstream.crf",
}

__all__ = list(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
