"""Trainers: skip-gram and CBOW (:mod:`embedkit.train.word2vec`); shared machinery in ``_common``."""

from embedkit.train.word2vec import TrainResult, Word2Vec, train

__all__ = ["TrainResult", "Word2Vec", "train"]
