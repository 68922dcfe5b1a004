"""Synthetic corpora shared by the trainer tests (imported by name, as corpora_server is)."""

import numpy as np

TOPICS = 4
PER_TOPIC = 12


def topic_corpus(n_sentences, length=12, seed=0, topics=TOPICS, per_topic=PER_TOPIC):
    """Sentences drawn from one of ``topics`` disjoint word sets each (word ``t{topic}w{i}``)."""
    rng = np.random.default_rng(seed)
    words = [[f"t{t}w{i}" for i in range(per_topic)] for t in range(topics)]
    out = []
    for _ in range(n_sentences):
        t = rng.integers(topics)
        out.append([words[t][i] for i in rng.integers(per_topic, size=length)])
    return out


def write_topic_corpus(path, n_sentences):
    """A small text corpus file for the CLI tests: :func:`topic_corpus` of three topics of ten
    words, ten words a line.  Returns the path as a string."""
    with open(path, "w") as fh:
        for sentence in topic_corpus(n_sentences, length=10, topics=3, per_topic=10):
            fh.write(" ".join(sentence) + "\n")
    return str(path)
