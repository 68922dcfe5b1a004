"""GloVe trainer: loss, determinism, resume, planted topics, output choice, validation."""

import _thread

import numpy as np
import pytest

import embedkit
from embedkit.corpus import prepare
from embedkit.errors import CorpusError, ParameterError
from embedkit.training import GloVe
from embedkit.errors import TrainingInterrupted
from embedkit.training.checkpoint import load_checkpoint

import synthetic  # tests/synthetic.py


def topic_corpus(n_sentences=500, length=12, seed=0):
    return synthetic.topic_corpus(n_sentences, length, seed)


@pytest.fixture(scope="module")
def enc():
    return prepare(topic_corpus(), min_count=1, cache=False)


FAST = dict(dim=16, window=4, x_max=10.0, epochs=4, workers=1, seed=3, entries_per_job=200,
            memory="16M")


def test_loss_decreases_over_epochs(enc):
    res = GloVe(**dict(FAST, epochs=8)).fit(enc, progress=False)
    losses = [h["loss"] for h in res.history]
    assert len(losses) == 8
    assert losses[-1] < 0.05 * losses[0]
    # strictly down until it reaches the noise floor of the stochastic updates
    assert all(b < a for a, b in zip(losses[:5], losses[1:5]))
    assert max(losses[4:]) < 0.05 * losses[0]
    assert res.history[0]["words"] == res.cooccurrence["entries"]


def test_planted_topics_give_same_topic_neighbours(enc):
    res = GloVe(**dict(FAST, epochs=15)).fit(enc, progress=False)
    v = res.vectors
    hits = 0
    for t in range(synthetic.TOPICS):
        word = f"t{t}w0"
        near = [w for w, _ in v.most_similar(word, topn=5)]
        hits += sum(w.startswith(f"t{t}w") for w in near)
    assert hits >= 0.9 * synthetic.TOPICS * 5


def test_same_seed_one_worker_is_bit_identical(enc):
    a = GloVe(**FAST).fit(enc, progress=False)
    b = GloVe(**FAST).fit(enc, progress=False)
    c = GloVe(**dict(FAST, seed=4)).fit(enc, progress=False)
    assert np.array_equal(a.vectors.vectors, b.vectors.vectors)
    assert [h["loss_sum"] for h in a.history] == [h["loss_sum"] for h in b.history]
    assert not np.array_equal(a.vectors.vectors, c.vectors.vectors)


def test_two_workers_train(enc):
    res = GloVe(**dict(FAST, workers=2)).fit(enc, progress=False)
    assert np.isfinite(res.vectors.vectors).all()
    assert res.history[-1]["loss"] < res.history[0]["loss"]


def test_output_is_w_plus_c_by_default_or_w(enc):
    both = GloVe(**FAST).fit(enc, progress=False)
    np.testing.assert_array_equal(both.vectors.vectors,
                                  both.word_vectors + both.context_vectors)
    only_w = GloVe(**dict(FAST, vectors="w")).fit(enc, progress=False)
    np.testing.assert_array_equal(only_w.vectors.vectors, only_w.word_vectors)
    np.testing.assert_array_equal(only_w.word_vectors, both.word_vectors)


def test_result_has_counts_and_metadata(enc):
    res = embedkit.GloVe(**FAST).fit(enc, progress=False)
    v = res.vectors
    assert v.words == enc.vocab.words
    assert np.array_equal(v.counts, enc.vocab.counts)
    assert v.metadata["params"]["model"] == "glove"
    assert v.metadata["params"]["x_max"] == 10.0
    assert len(v.metadata["history"]) == FAST["epochs"]
    assert v.metadata["cooccurrence"]["entries"] > 0


def test_writes_vectors_that_load_back(enc, tmp_path):
    out = tmp_path / "g.txt"
    res = GloVe(**FAST).fit(enc, out=str(out), progress=False)
    back = embedkit.load(str(out))
    assert back.words == res.vectors.words
    np.testing.assert_allclose(back.vectors, res.vectors.vectors, rtol=1e-4, atol=1e-6)


def test_checkpoint_is_removed_once_the_vectors_are_written(enc, tmp_path):
    out = tmp_path / "g.txt"
    GloVe(**FAST).fit(enc, out=str(out), checkpoint_every=1e-6, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt"]


def _interrupt_after(monkeypatch, calls):
    """Make the kernel send Ctrl-C to the main thread after its ``calls``-th job."""
    from embedkit._kernels import glove as K

    real = K.train_range
    count = {"n": 0}

    def wrapper(WS, CS, keys, vals, lo, hi, *args):
        out = real(WS, CS, keys, vals, lo, hi, *args)
        if hi > lo:
            count["n"] += 1
            if count["n"] == calls:
                _thread.interrupt_main()
        return out

    monkeypatch.setattr(K, "train_range", wrapper)


def test_resume_after_ctrl_c_equals_uninterrupted_run(enc, tmp_path, monkeypatch):
    full = GloVe(**FAST).fit(enc, progress=False)
    out = tmp_path / "v.txt"
    _interrupt_after(monkeypatch, 5)
    with pytest.raises(TrainingInterrupted) as info:
        GloVe(**FAST).fit(enc, out=str(out), progress=False)
    monkeypatch.undo()
    exc = info.value
    assert "--resume" in str(exc) and exc.checkpoint
    assert out.exists()  # the vectors so far
    arrays, state = load_checkpoint(exc.checkpoint)
    assert set(arrays) == {"WS", "CS"} and state["trainer"] == "glove"
    assert (state["position"]["epoch"], state["position"]["job"]) != (0, 0)
    resumed = GloVe(**dict(FAST, seed=99)).fit(  # the checkpoint's seed wins
        enc, resume=exc.checkpoint, progress=False)
    assert np.array_equal(resumed.vectors.vectors, full.vectors.vectors)
    assert [h["loss_sum"] for h in resumed.history] == [h["loss_sum"] for h in full.history]


def test_precounted_cooccurrences_give_the_same_vectors(enc):
    g = GloVe(**FAST)
    _, co = g.count(enc, progress=False)
    assert np.array_equal(g.fit(enc, cooccurrence=co, progress=False).vectors.vectors,
                          GloVe(**FAST).fit(enc, progress=False).vectors.vectors)
    with pytest.raises(ParameterError, match="window"):
        GloVe(**dict(FAST, window=2)).fit(enc, cooccurrence=co, progress=False)


def test_resume_refuses_another_corpus(enc, tmp_path):
    ckpt = tmp_path / "c"
    GloVe(**FAST).fit(enc, checkpoint=str(ckpt), checkpoint_every=1e-6, progress=False)
    other = prepare(topic_corpus(seed=5), min_count=1, cache=False)
    with pytest.raises(ParameterError, match="another corpus"):
        GloVe(**FAST).fit(other, resume=str(ckpt), progress=False)


def test_spilling_budget_gives_the_same_vectors(tmp_path):
    rng = np.random.default_rng(1)
    p = 1.0 / np.arange(1, 401)
    big = prepare([[f"w{i}" for i in rng.choice(400, 15, p=p / p.sum())] for _ in range(500)],
                  min_count=1, cache=False)
    a = GloVe(**dict(FAST, epochs=2)).fit(big, progress=False)
    b = GloVe(**dict(FAST, epochs=2, memory="48K", tmp_dir=str(tmp_path))).fit(big,
                                                                             progress=False)
    assert b.cooccurrence["spilled_runs"] > 0
    np.testing.assert_allclose(a.vectors.vectors, b.vectors.vectors, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(x_max=0), "x_max must be > 0, got 0"),
    (dict(x_max=-5.0), "x_max must be > 0"),
    (dict(power=0), "power must be > 0, got 0"),
    (dict(power=-0.75), "power must be > 0"),
    (dict(window=0), "window must be >= 1, got 0"),
    (dict(dim=0), "dim must be >= 1"),
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(alpha=0.0), "alpha must be > 0"),
    (dict(workers=0), "workers must be >= 1"),
    (dict(memory="lots"), "cannot parse memory budget 'lots'"),
    (dict(memory="0"), "memory budget must be positive"),
    (dict(vectors="c"), "vectors must be 'w\\+c'"),
])
def test_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        GloVe(**kwargs)


def test_budget_too_small_for_one_run(enc):
    with pytest.raises(ParameterError, match="too small to hold even one sorted run"):
        GloVe(**dict(FAST, memory="1K")).fit(enc, progress=False)


def test_empty_vocabulary():
    with pytest.raises(CorpusError, match="min_count"):
        GloVe(**dict(FAST, min_count=50)).fit([["a", "b"]] * 3, progress=False)


def test_single_word_sentences_have_no_pairs():
    with pytest.raises(CorpusError, match="co-occurs"):
        GloVe(**dict(FAST, min_count=1)).fit([["a"], ["b"]] * 3, progress=False)
