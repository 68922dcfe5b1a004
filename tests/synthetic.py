"""Synthetic corpora shared by the trainer tests (imported by name, as corpora_server is)."""

import numpy as np

TOPICS = 4
PER_TOPIC = 12


def topic_corpus(n_sentences, length=12, seed=0):
    """Sentences drawn from one of TOPICS disjoint word sets each (word ``t{topic}w{i}``)."""
    rng = np.random.default_rng(seed)
    words = [[f"t{t}w{i}" for i in range(PER_TOPIC)] for t in range(TOPICS)]
    out = []
    for _ in range(n_sentences):
        t = rng.integers(TOPICS)
        out.append([words[t][i] for i in rng.integers(PER_TOPIC, size=length)])
    return out
