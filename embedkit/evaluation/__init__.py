"""Intrinsic evaluation of word vectors: analogies (3CosAdd, 3CosMul) and word similarity.

>>> import embedkit
>>> df = embedkit.evaluate(vectors, suite="analogy", sets=["google"])   # doctest: +SKIP

The numbers agree with gensim's ``evaluate_word_analogies`` and ``evaluate_word_pairs`` on
the same vectors and settings (tested).
"""

from embedkit.evaluation.analogy import AnalogyResult, evaluate_analogies
from embedkit.evaluation.api import evaluate
from embedkit.evaluation.datasets import (DATASETS, AnalogySet, SimilaritySet, dataset_path,
                                          list_datasets, load_dataset, read_analogies,
                                          read_pairs)
from embedkit.evaluation.similarity import SimilarityResult, evaluate_similarity

__all__ = [
    "evaluate", "evaluate_analogies", "evaluate_similarity", "AnalogyResult",
    "SimilarityResult", "AnalogySet", "SimilaritySet", "DATASETS", "list_datasets",
    "load_dataset", "read_analogies", "read_pairs", "dataset_path",
]
