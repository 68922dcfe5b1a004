"""Tiny order-dependent tasks and vectors for the encoder tests (a helper module, like
synthetic.py): a bag of words cannot solve them, an encoder that sees order can."""

import numpy as np

from embedkit import Vectors

FILLER = 8


def order_vectors(rng, dim=8):
    """Vectors for ``w0..w7``, ``a`` and ``b``."""
    words = [f"w{i}" for i in range(FILLER)] + ["a", "b"]
    return Vectors(words, rng.normal(size=(len(words), dim)).astype(np.float32))


def before_after(rng, n, max_len=8):
    """Sequences holding ``a`` and ``b`` once each among filler words; label ``before`` when
    ``a`` comes first, else ``after``."""
    texts, labels = [], []
    for _ in range(n):
        L = int(rng.integers(2, max_len + 1))
        s = [f"w{i}" for i in rng.integers(0, FILLER, L)]
        i, j = rng.choice(L, 2, replace=False)
        s[i], s[j] = "a", "b"
        texts.append(s)
        labels.append("before" if i < j else "after")
    return texts, labels


def tag_after_a(rng, n, max_len=8):
    """Token tagging: ``b`` is an entity (``B-E``) when some ``a`` precedes it, else ``O``;
    every other token is ``O``."""
    sents, tags = [], []
    for _ in range(n):
        L = int(rng.integers(1, max_len + 1))
        s = [["w0", "w1", "w2", "w3", "a", "b", "b"][k] for k in rng.integers(0, 7, L)]
        seen, t = False, []
        for w in s:
            t.append("B-E" if (w == "b" and seen) else "O")
            seen = seen or w == "a"
        sents.append(s)
        tags.append(t)
    return sents, tags


def to_float64(model):
    """Switch a built model to float64 parameters and exact kernels (for gradient checks)."""
    model.params = {k: v.astype(np.float64) for k, v in model.params.items()}
    model._setup(dtype=np.float64, exact=True)
