"""Small valid files of every kind embedkit reads back, for the integrity tests and the fuzzer.

Imported as ``from helpers import integrity as F``.
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


def _tag_data(rng, n):
    sents, tags = [], []
    for _ in range(n):
        if rng.random() < 0.5:
            sents.append(["mr", "Smith", "went"])
            tags.append(["O", "B-PER", "O"])
        else:
            sents.append(["in", "paris", "now"])
            tags.append(["O", "B-LOC", "O"])
    return sents, tags


def ner_model(path, **options):
    """A tiny NER tagger with every parameter family (case, char n-grams, char CNN with two
    widths, two layers, CRF), saved to directory ``path``; returns ``(model, sentences)``."""
    from embedkit.downstream import NERTagger

    rng = np.random.default_rng(1)
    v = vectors(8, 6)
    sents, tags = _tag_data(rng, 40)
    opts = dict(hidden=4, char_buckets=50, char_dim=3, case_dim=2, char_cnn=3, char_cnn_dim=3,
                char_cnn_width=[3, 5], layers=2, crf=True, threads=1, seed=2)
    opts.update(options)
    m = NERTagger(v, **opts)
    m.fit(sents, tags, epochs=1, progress=False)
    m.save(path)
    return m, sents


def sentiment_model(path, **options):
    """A tiny attention-pooling sentiment classifier saved to ``path``; ``(model, texts)``."""
    from embedkit.downstream import SentimentClassifier

    rng = np.random.default_rng(2)
    v = vectors(8, 6)
    texts = [[WORDS[int(i)] for i in rng.integers(0, 8, 4)] for _ in range(40)]
    labels = ["pos" if "cat" in t else "neg" for t in texts]
    opts = dict(hidden=4, pooling="attention", threads=1, seed=1)
    opts.update(options)
    m = SentimentClassifier(v, **opts)
    m.fit(texts, labels, epochs=1, progress=False)
    m.save(path)
    return m, texts


def lm_model(path, seed=0):
    """A tiny (untrained) GRU language model saved to directory ``path``; returns it."""
    from embedkit.lm import LanguageModel, LMVocab

    vocab = LMVocab(["<unk>", "</s>"] + [f"w{i}" for i in range(7)])
    counts = np.arange(len(vocab), 0, -1)
    m = LanguageModel.create(vocab, counts, dim=4, hidden=5, layers=1, softmax="full",
                             dropout=0.0, samples=4, seed=seed)
    m.save(path)
    return m


def seq2seq_model(path, seed=0):
    """A tiny (untrained) character encoder-decoder saved to directory ``path``; returns it."""
    from embedkit.seq2seq import Seq2Seq, Vocab

    sv = Vocab(["<pad>", "<unk>", "<s>", "</s>", "a", "b", "c"])
    tv = Vocab(["<pad>", "<unk>", "<s>", "</s>", "x", "y"])
    m = Seq2Seq.create(sv, tv, seed=seed, emb=3, hidden=3, dec_hidden=4, attention=3, max_len=6)
    m.save(path)
    return m


def fasttext_bin(path, n_words=6, dim=4, bucket=16, seed=0, **kw):
    """A small fastText ``.bin`` model (n-grams of 3-4 characters) written to ``path``."""
    import ftbin

    rng = np.random.default_rng(seed)
    words = WORDS[:n_words]
    matrix = rng.standard_normal((n_words + bucket, dim)).astype(np.float32)
    kw = dict(dict(minn=3, maxn=4, bucket=bucket), **kw)
    return ftbin.write_model(path, words, matrix, **kw)


def sharded_corpus(directory, n_shards=2):
    """A corpus prepared shard by shard (``prepare(..., out=)``) into ``directory/enc``."""
    import pathlib

    from embedkit.corpus import prepare

    directory = pathlib.Path(directory)
    src = directory / "src"
    src.mkdir(parents=True)
    for k in range(n_shards):
        with open(src / f"part-{k}.txt", "w", encoding="utf-8") as f:
            for s in topic_sentences(20, seed=k):
                f.write(" ".join(s) + "\n")
    return prepare(src, min_count=1, out=directory / "enc")


def similarity_file(path):
    """A small word-similarity set (``word1<TAB>word2<TAB>score``) over :data:`WORDS`."""
    rows = [("king", "queen", 8.5), ("man", "woman", 8.3), ("cat", "dog", 7.1),
            ("paris", "france", 6.0), ("king", "cat", 1.2), ("dog", "france", 0.5)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("# word1 word2 score\n")
        for a, b, s in rows:
            f.write(f"{a}\t{b}\t{s}\n")
    return path


def analogy_file(path):
    """A small questions-words analogy set over :data:`WORDS`."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(": family\nking queen man woman\nman woman king queen\n"
                ": capital\nparis france king queen\ncat dog man woman\n")
    return path
