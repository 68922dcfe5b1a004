"""Tiny tagging and classification tasks, their vectors and files, and small models for the
downstream tests (the library defaults are the large benchmarked recipes)."""

import numpy as np

from embedkit import Vectors
from embedkit.downstream import NERTagger, presets


def tiny_vectors(rng, dim=8, n=30):
    """Random vectors of ``w0 .. w{n-1}`` and ``x``."""
    words = [f"w{i}" for i in range(n)] + ["x"]
    return Vectors(words, rng.normal(size=(n + 1, dim)).astype(np.float32))


def contains_x(rng, n, n_words=30):
    """Does the sequence contain token x?  Label 'yes'/'no'."""
    texts, labels = [], []
    for _ in range(n):
        L = int(rng.integers(2, 10))
        s = [f"w{i}" for i in rng.integers(0, n_words, L)]
        if rng.random() < 0.5:
            s[int(rng.integers(0, L))] = "x"
        labels.append("yes" if "x" in s else "no")
        texts.append(s)
    return texts, labels


def write_vectors(path, v):
    """``v`` as word2vec text."""
    with open(path, "w") as f:
        f.write(f"{len(v)} {v.dim}\n")
        for w, row in zip(v.words, v.vectors):
            f.write(w + " " + " ".join(f"{x:.6f}" for x in row) + "\n")


def tagging_data(rng, n):
    """Capitalised words after 'mr' are PER, the word after 'in' is LOC."""
    sents, tags = [], []
    names = ["Smith", "Jones", "Brown", "Lee", "Zed"]
    for _ in range(n):
        s, t = [], []
        for _ in range(int(rng.integers(1, 4))):
            r = rng.random()
            if r < 0.3:
                k = int(rng.integers(1, 3))
                s += ["mr"] + [names[int(i)] for i in rng.integers(0, 5, k)]
                t += ["O", "B-PER"] + ["I-PER"] * (k - 1)
            elif r < 0.6:
                s += ["in", ["paris", "rome", "oslo"][int(rng.integers(0, 3))]]
                t += ["O", "B-LOC"]
            else:
                s += [f"w{int(i)}" for i in rng.integers(0, 10, 2)]
                t += ["O", "O"]
        sents.append(s)
        tags.append(t)
    return sents, tags


def tag_vectors(rng, dim=8):
    """Random vectors of the words of :func:`tagging_data` (lowercase)."""
    words = ["mr", "in", "paris", "rome", "smith", "jones"] + [f"w{i}" for i in range(10)]
    return Vectors(words, rng.normal(size=(len(words), dim)).astype(np.float32))


def write_ner_files(tmp_path, rng, n, prefix=""):
    """``vec.txt`` (:func:`tag_vectors`) and a CoNLL file ``train`` of ``n`` tagged sentences.

    Returns the two paths and the sentences and tags written.
    """
    write_vectors(tmp_path / "vec.txt", tag_vectors(rng))
    S, T = tagging_data(rng, n)
    f = tmp_path / "train"
    f.write_text("\n\n".join("\n".join(f"{prefix}{w}\t{t}" for w, t in zip(s, ts))
                             for s, ts in zip(S, T)) + "\n")
    return tmp_path / "vec.txt", f, S, T


def small_tagger(vectors, **options):
    """A tagger of the ``ner-small`` preset (one layer, softmax, word features) with
    ``options`` changed; train it with :func:`small_fit` options."""
    return NERTagger.from_config(presets.NER_SMALL.config.replace(**options), vectors)


def small_fit(**changes):
    """``fit`` keywords of the ``ner-small`` preset's schedule with ``changes`` applied."""
    return presets.NER_SMALL.fit_options(**changes)
