"""Downstream models over embedkit vectors: a BiGRU sentiment classifier and NER tagger.

>>> from embedkit.downstream import SentimentClassifier, read_tsv   # doctest: +SKIP
>>> texts, labels = read_tsv("train.tsv")                           # doctest: +SKIP
>>> clf = SentimentClassifier(vectors).fit(texts, labels)           # doctest: +SKIP
"""

from embedkit.downstream.data import read_conll, read_tsv, tokenize
from embedkit.downstream.config import ModelConfig
from embedkit.downstream.crf import viterbi_bio
from embedkit.downstream.metrics import accuracy, chunks, macro_f1, ner_report, repair_bio
from embedkit.downstream.model import NERTagger, SentimentClassifier, load_model

__all__ = ["SentimentClassifier", "NERTagger", "ModelConfig", "load_model", "read_tsv",
           "read_conll", "tokenize", "accuracy", "macro_f1", "ner_report", "chunks", "repair_bio",
           "viterbi_bio"]
