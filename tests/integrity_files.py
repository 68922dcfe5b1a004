"""Small valid files of every kind embedkit reads back, for the integrity tests and the fuzzer.

Imported by name (``import integrity_files``) like ``synthetic`` and ``corpora_server``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

WORDS = ["king", "queen", "man", "woman", "cat", "dog", "paris", "france"]
DIM = 4


def vectors(n=len(WORDS), dim=DIM, seed=0):
    """An ``embedkit.Vectors`` of ``n`` words with distinct, finite rows."""
    import embedkit

    rng = np.random.default_rng(seed)
    words = (WORDS + [f"w{i}" for i in range(n)])[:n]
    return embedkit.Vectors(words, rng.standard_normal((n, dim)).astype(np.float32))


def write_text(path, v=None):
    """word2vec text file."""
    import embedkit

    embedkit.save(v or vectors(), path, format="word2vec-text")
    return path


def write_binary(path, v=None):
    """word2vec binary file."""
    import embedkit

    embedkit.save(v or vectors(), path, format="word2vec-binary")
    return path


def write_native(path, v=None):
    """Native ``.ekv`` directory."""
    import embedkit

    embedkit.save(v or vectors(), path, format="native")
    return path


def topic_sentences(n=60, length=8, seed=0):
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(12)]
    return [[vocab[i] for i in rng.integers(len(vocab), size=length)] for _ in range(n)]


def corpus_file(path, n=60):
    """A small plain-text corpus file."""
    with open(path, "w", encoding="utf-8") as f:
        for s in topic_sentences(n):
            f.write(" ".join(s) + "\n")
    return path


W2V_FAST = dict(dim=8, window=2, negative=2, epochs=2, sample=0.0, workers=1, seed=3,
                min_count=1, words_per_job=100)


def word2vec_checkpoint(tmp_path):
    """``(checkpoint json path, encoded corpus)`` of a tiny word2vec run."""
    from embedkit.corpus import prepare
    from embedkit.training import Word2Vec

    enc = prepare(topic_sentences(), min_count=1, cache=False)
    ckpt = os.path.join(tmp_path, "run.ckpt")
    Word2Vec(**W2V_FAST).fit(enc, checkpoint=ckpt, checkpoint_every=1e-9, progress=False)
    return ckpt + ".json", enc


def run_isolated(code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    """Run Python ``code`` in a fresh interpreter (a segfault is a return code, not a crash
    of the test run)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)
