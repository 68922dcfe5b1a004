"""Trainers: skip-gram and CBOW (:mod:`embedkit.training.word2vec`); shared machinery in ``_common``."""

from embedkit.training.word2vec import TrainResult, Word2Vec, train

__all__ = ["TrainResult", "Word2Vec", "train"]
