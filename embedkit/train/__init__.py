"""Trainers: skip-gram, CBOW and GloVe."""
