"""Tiny downstream models (one epoch, a few units) for CLI tests of loading and applying."""

import numpy as np

import embedkit


def tiny_vectors():
    """23 random 8-dimensional vectors: w0..w19, x, Ada, Paris."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)] + ["x", "Ada", "Paris"]
    return embedkit.Vectors(words, rng.normal(size=(len(words), 8)).astype(np.float32))


def save_tiny_models(directory):
    """Train and save a sentiment classifier (``sent``) and an NER tagger (``ner``) in
    ``directory``, with a matching TSV (``data.tsv``) and CoNLL file (``data.conll``)."""
    from embedkit.downstream import NERTagger, SentimentClassifier

    v = tiny_vectors()
    s = SentimentClassifier(v, hidden=4, threads=1)
    s.fit([["w1", "x"], ["w2", "w3"]] * 10, ["yes", "no"] * 10, epochs=1, progress=False)
    s.save(directory / "sent")
    n = NERTagger(v, hidden=4, threads=1, char_cnn=0)
    n.fit([["Ada", "w1", "Paris"], ["w1", "w2"]] * 10, [["B-PER", "O", "B-LOC"], ["O", "O"]] * 10,
          epochs=1, progress=False)
    n.save(directory / "ner")
    (directory / "data.tsv").write_text("label\tsentence\nyes\tw1 x w2\nno\tw2 w3 w4\n")
    (directory / "data.conll").write_text("Ada\tB-PER\nw1\tO\nParis\tB-LOC\n\nw1\tO\nw2\tO\n")
    return directory
