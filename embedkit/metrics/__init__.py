"""Scores of generated text: corpus and sentence BLEU (:mod:`embedkit.metrics.bleu`)."""

from embedkit.metrics.bleu import BleuScore, bleu, corpus_bleu, sentence_bleu, tokenize_bleu

__all__ = ["BleuScore", "bleu", "corpus_bleu", "sentence_bleu", "tokenize_bleu"]
