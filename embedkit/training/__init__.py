"""Trainers: skip-gram and CBOW (:mod:`embedkit.training.word2vec`), GloVe
(:mod:`embedkit.training.glove`); shared machinery in ``_common``."""

from embedkit.training.glove import GloVe, GloVeResult, train_glove
from embedkit.training.word2vec import TrainResult, Word2Vec, train

__all__ = ["TrainResult", "Word2Vec", "train", "GloVe", "GloVeResult", "train_glove"]
