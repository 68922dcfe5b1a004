"""Word2Vec trainer: loss, determinism, resume, planted topics, divergence, validation."""

import _thread
import json

import numpy as np
import pytest

import embedkit
from embedkit.corpus import prepare
from embedkit.errors import CorpusError, MissingFileError, ParameterError
from embedkit.training import Word2Vec
from embedkit.errors import TrainingDiverged, TrainingInterrupted
from embedkit.training.checkpoint import load_checkpoint

import synthetic  # tests/synthetic.py


def topic_corpus(n_sentences=600, length=12, seed=0):
    return synthetic.topic_corpus(n_sentences, length, seed)


@pytest.fixture(scope="module")
def enc():
    return prepare(topic_corpus(), min_count=1, cache=False)


FAST = dict(dim=16, window=3, negative=3, epochs=3, sample=0.0, workers=1, seed=3,
            words_per_job=500)


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_loss_decreases_over_epochs(enc, model):
    res = Word2Vec(model=model, **FAST).fit(enc, progress=False)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 3
    assert losses[0] > losses[1] > losses[2]
    assert all(h["words"] == enc.n_tokens for h in res.history)


def same_topic_neighbours(vectors):
    """Fraction of each word's 5 nearest neighbours from its own planted topic."""
    unit = vectors.normalized
    sims = unit @ unit.T
    np.fill_diagonal(sims, -np.inf)
    topic = np.array([int(w[1:].split("w")[0]) for w in vectors.words])
    top = np.argsort(-sims, axis=1)[:, :5]
    return (topic[top] == topic[:, None]).mean()


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_planted_topics_give_same_topic_neighbours(enc, model):
    res = Word2Vec(model=model, **dict(FAST, epochs=5)).fit(enc, progress=False)
    same = same_topic_neighbours(res.vectors)
    assert same > 0.95, same


def test_same_seed_one_worker_is_bit_identical(enc):
    a = Word2Vec(**FAST).fit(enc, progress=False)
    b = Word2Vec(**FAST).fit(enc, progress=False)
    c = Word2Vec(**dict(FAST, seed=4)).fit(enc, progress=False)
    assert np.array_equal(a.vectors.vectors, b.vectors.vectors)
    assert np.array_equal(a.output_vectors, b.output_vectors)
    assert a.history[-1]["loss_sum"] == b.history[-1]["loss_sum"]
    assert not np.array_equal(a.vectors.vectors, c.vectors.vectors)


def test_two_workers_train(enc):
    res = Word2Vec(**dict(FAST, workers=2)).fit(enc, progress=False)
    assert np.isfinite(res.vectors.vectors).all()
    assert res.history[0]["loss"] > res.history[-1]["loss"]


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_two_workers_with_every_row_private_learn_the_topics(enc, model):
    params = dict(FAST, epochs=5, workers=2, private_rows=len(enc.vocab))
    res = Word2Vec(model=model, **params).fit(enc, progress=False)
    same = same_topic_neighbours(res.vectors)
    assert same > 0.95, same


def test_private_rows_are_ignored_with_one_worker(enc):
    a = Word2Vec(model="cbow", **FAST).fit(enc, progress=False)
    b = Word2Vec(model="cbow", **dict(FAST, private_rows=8)).fit(enc, progress=False)
    assert np.array_equal(a.vectors.vectors, b.vectors.vectors)


def test_result_has_counts_and_metadata(enc):
    res = embedkit.train(enc, model="cbow", **FAST, progress=False)
    v = res.vectors
    assert v.counts is not None and v.counts.sum() == enc.n_tokens
    assert v.metadata["params"]["model"] == "cbow"
    assert v.metadata["embedkit_version"] == embedkit.__version__
    assert v.metadata["corpus"]["tokens"] == enc.n_tokens
    json.dumps(v.metadata)  # serialisable


def _interrupt_after(monkeypatch, name, calls):
    """Make the kernel send Ctrl-C to the main thread after its ``calls``-th job."""
    from embedkit._kernels import word2vec as K

    real = getattr(K, name)
    count = {"n": 0}

    def wrapper(ids, offsets, lo, hi, *args):
        out = real(ids, offsets, lo, hi, *args)
        if hi > lo:
            count["n"] += 1
            if count["n"] == calls:
                _thread.interrupt_main()
        return out

    monkeypatch.setattr(K, name, wrapper)


@pytest.mark.parametrize("model", ["sgns", "cbow"])
def test_resume_after_ctrl_c_equals_uninterrupted_run(enc, model, tmp_path, monkeypatch):
    full = Word2Vec(model=model, **FAST).fit(enc, progress=False)
    n_jobs_per_epoch = len(full.history) and None  # noqa: F841
    out = tmp_path / "v.txt"
    _interrupt_after(monkeypatch, f"{model}_job", 20)
    with pytest.raises(TrainingInterrupted) as info:
        Word2Vec(model=model, **FAST).fit(enc, out=str(out), progress=False)
    monkeypatch.undo()
    exc = info.value
    assert "--resume" in str(exc) and exc.checkpoint
    assert out.exists()  # the vectors so far
    _, state = load_checkpoint(exc.checkpoint)
    assert (state["position"]["epoch"], state["position"]["job"]) != (0, 0)
    resumed = Word2Vec(model=model, **dict(FAST, seed=99)).fit(  # the checkpoint's seed wins
        enc, resume=exc.checkpoint, progress=False)
    assert np.array_equal(resumed.vectors.vectors, full.vectors.vectors)
    assert np.array_equal(resumed.output_vectors, full.output_vectors)
    assert [h["loss_sum"] for h in resumed.history] == [h["loss_sum"] for h in full.history]


def test_periodic_checkpoints_and_log_json(enc, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    log = tmp_path / "log.jsonl"
    Word2Vec(**FAST).fit(enc, checkpoint=str(ckpt), checkpoint_every=1e-6,
                         log_json=str(log), progress=False)
    arrays, state = load_checkpoint(ckpt)
    assert set(arrays) == {"w_in", "w_out", "rng"}
    assert state["trainer"] == "word2vec" and state["params"]["dim"] == 16
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines and {"epoch", "progress", "words_per_sec", "lr", "loss",
                      "eta_seconds"} <= set(lines[-1])
    assert lines[-1]["progress"] == pytest.approx(1.0)


def test_checkpoint_is_removed_once_the_vectors_are_written(enc, tmp_path):
    out = tmp_path / "v.txt"
    Word2Vec(**FAST).fit(enc, out=str(out), checkpoint_every=1e-6, progress=False)
    assert out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.txt"]


def test_resume_refuses_another_corpus(enc, tmp_path):
    ckpt = tmp_path / "c"
    Word2Vec(**FAST).fit(enc, checkpoint=str(ckpt), checkpoint_every=1e-6, progress=False)
    other = prepare(topic_corpus(seed=5), min_count=1, cache=False)
    with pytest.raises(ParameterError, match="another corpus"):
        Word2Vec(**FAST).fit(other, resume=str(ckpt), progress=False)


def test_huge_learning_rate_is_detected(enc):
    with pytest.raises(TrainingDiverged, match="learning rate"):
        Word2Vec(**dict(FAST, alpha=1e30, min_alpha=1e29)).fit(enc, progress=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dim=0), "dim must be >= 1"),
    (dict(window=0), "window must be >= 1"),
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(workers=0), "workers must be >= 1"),
    (dict(alpha=0.0), "alpha must be > 0"),
    (dict(alpha=-1.0), "alpha must be > 0"),
    (dict(negative=-1), "negative must be >= 0"),
    (dict(sample=-0.1), "sample must be >= 0"),
    (dict(model="glove"), "model must be"),
    (dict(dim=2.5), "whole number"),
    (dict(private_rows=-1), "private_rows must be >= 0"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        Word2Vec(**kwargs)


def test_empty_vocabulary():
    with pytest.raises(CorpusError):
        Word2Vec(**FAST).fit(prepare([["a", "b"]], min_count=1, cache=False).__class__(
            ids=np.zeros(0, np.int32), offsets=np.zeros(1, np.int64),
            vocab=prepare([["a"]], min_count=1, cache=False).vocab), progress=False)
    with pytest.raises(CorpusError):
        Word2Vec(**dict(FAST, min_count=1000)).fit([["a", "b"]] * 3, progress=False)


def test_output_in_missing_directory(enc, tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        Word2Vec(**FAST).fit(enc, out=str(tmp_path / "nope" / "v.bin"), progress=False)


def test_input_vectors_start_uniform_in_gensims_range():
    from embedkit.training.word2vec import init_input_vectors

    dim = 50
    w = init_input_vectors(2000, dim, seed=4)
    assert w.dtype == np.float32 and w.shape == (2000, dim)
    # gensim 4's range [-1/dim, 1/dim), twice word2vec.c's, and spread over all of it
    assert w.min() >= -1.0 / dim and w.max() < 1.0 / dim
    assert w.min() < -0.99 / dim and w.max() > 0.99 / dim
    assert abs(float(w.mean())) < 0.01 / dim
    np.testing.assert_array_equal(w, init_input_vectors(2000, dim, seed=4))


def test_training_starts_from_the_documented_initial_vectors(enc):
    from embedkit.training.word2vec import init_input_vectors

    # a learning rate so small that the trained vectors are the initial ones
    res = Word2Vec(model="cbow", dim=8, epochs=1, alpha=1e-12, min_alpha=1e-12, workers=1,
                   seed=3).fit(enc, progress=False)
    w = res.vectors.vectors
    np.testing.assert_allclose(w, init_input_vectors(w.shape[0], 8, seed=3), atol=1e-9)


def test_the_kernels_weights_are_whole_cache_lines_per_row():
    from embedkit.training.word2vec import padded_weights

    w = padded_weights(7, 100)
    assert w.shape == (7, 112) and w.flags.c_contiguous and w.dtype == np.float32
    assert w.ctypes.data % 64 == 0 and not w.any()
    assert padded_weights(3, 128).shape == (3, 128)  # already whole lines: no padding
