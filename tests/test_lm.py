"""The recurrent language model: gradients, perplexity, training, persistence, generation."""

import json

import numpy as np
import pytest

from embedkit.errors import FormatError, ParameterError, UnknownWordError
from embedkit.lm import LanguageModel, LMVocab, train_lm
from embedkit.vectors.core import Vectors
from gradcheck import check_gradient, spread


def _tiny(tie=False, freeze=False, layers=2, softmax="full", dropout=0.0, seed=0, cell="gru"):
    vocab = LMVocab(["<unk>", "</s>"] + [f"w{i}" for i in range(9)])
    counts = np.arange(len(vocab), 0, -1)
    dim = 6
    m = LanguageModel.create(vocab, counts, dim=dim, hidden=dim if tie else 5, layers=layers,
                             tie=tie, freeze=freeze, softmax=softmax, dropout=dropout,
                             samples=4, seed=seed, cell=cell)
    m = m.astype(np.float64)
    rng = np.random.default_rng(seed + 1)
    for k, v in m.params.items():  # non-zero biases so every path is exercised
        v += rng.normal(0, 0.3, v.shape)
    return m


def _dense(model, grads):
    out = {}
    for k, v in model.params.items():
        g = grads.get(k)
        if g is None:
            out[k] = np.zeros_like(v)
        elif isinstance(g, tuple):
            d = np.zeros_like(v)
            np.add.at(d, g[0], g[1])
            out[k] = d
        else:
            out[k] = g
    return out


def _data(T=4, B=3, V=11, seed=0, width=5):
    rng = np.random.default_rng(seed)
    inp = rng.integers(0, V, (T, B))
    tgt = rng.integers(0, V, (T, B))
    h0 = [rng.normal(0, 0.5, (B, width)), rng.normal(0, 0.5, (B, width))]
    return inp, tgt, h0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_lm_gradients_match_central_differences(softmax, cell):
    m = _tiny(softmax=softmax, cell=cell)
    inp, tgt, h0 = _data(width=5 if cell == "gru" else 10)  # an LSTM state is [h, c]
    samples = np.array([2, 5, 5, 9])  # includes a duplicate and (likely) accidental hits
    loss, grads, _ = m.loss_and_grad(inp, tgt, h0, samples=samples)
    dense = _dense(m, grads)

    def f():
        return m.loss_and_grad(inp, tgt, h0, samples=samples)[0]

    for name, p in m.params.items():
        check_gradient(f, p, dense[name], spread(p.shape, 12), name=name, atol=1e-6, rtol=1e-5)


def test_lm_gradients_with_tied_embeddings_and_dropout():
    m = _tiny(tie=True, layers=1, dropout=0.3)
    inp, tgt, _ = _data()
    h0 = [np.random.default_rng(3).normal(0, 0.5, (3, 6))]

    def run():  # the same dropout masks each call
        return m.loss_and_grad(inp, tgt, h0, rng=np.random.default_rng(7), full=True)

    _, grads, _ = run()
    dense = _dense(m, grads)
    assert "out_W" not in m.params
    for name, p in m.params.items():
        check_gradient(lambda: run()[0], p, dense[name], spread(p.shape, 12), name=name)


def test_frozen_embeddings_get_no_gradient():
    m = _tiny(freeze=True)
    inp, tgt, h0 = _data()
    _, grads, _ = m.loss_and_grad(inp, tgt, h0)
    assert "emb" not in grads and "out_W" in grads


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_state_is_carried_across_segments(cell):
    # two segments with the carried state give the loss of one long segment
    m = _tiny(cell=cell)
    inp, tgt, h0 = _data(T=6, width=5 if cell == "gru" else 10)
    whole = m.loss_and_grad(inp, tgt, h0)[0]
    l1, _, s = m.loss_and_grad(inp[:3], tgt[:3], h0)
    l2, _, _ = m.loss_and_grad(inp[3:], tgt[3:], s)
    assert whole == pytest.approx(l1 + l2, rel=1e-12)


def test_perplexity_is_exp_of_the_mean_full_softmax_loss():
    m = _tiny()
    stream = np.random.default_rng(0).integers(0, 11, 41)
    got = m.perplexity(stream, batch_size=2, bptt=7)
    data = stream[:40].reshape(2, 20).T
    loss = m.loss_and_grad(data[:-1], data[1:], m.initial_state(2), full=True)[0]
    assert got["tokens"] == 38
    assert got["perplexity"] == pytest.approx(np.exp(loss / 38), rel=1e-10)


def _corpus(tmp_path, n=300, seed=0):
    # a deterministic grammar: "a b c d" cycles, so a trained model predicts it well
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(n):
        start = rng.integers(4)
        words = ["a", "b", "c", "d"]
        lines.append(" ".join(words[(start + i) % 4] for i in range(6)))
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_training_lowers_perplexity_and_saves_a_loadable_model(tmp_path):
    corpus = _corpus(tmp_path)
    vec = Vectors(["a", "b", "c", "zz"], np.eye(4, 8, dtype=np.float32))
    out = tmp_path / "lm"
    m = train_lm(corpus, vec, out=out, dev=corpus, hidden=16, epochs=3, batch_size=4, bptt=10,
                 softmax="full", lr=0.02, dropout=0.0, progress=False)
    ppl = m.history[-1]["dev"]
    assert ppl < 2.5  # uniform over 6 words would be 6
    assert json.loads((out / "model.json").read_text())["kind"] == "lm"
    m2 = LanguageModel.load(out)
    assert m2.generate("a b", 4) == m.generate("a b", 4)


def test_embeddings_start_from_the_vectors_and_stay_when_frozen(tmp_path):
    corpus = _corpus(tmp_path, n=40)
    vec = Vectors(["a", "b", "c"], np.arange(24, dtype=np.float32).reshape(3, 8))
    m = train_lm(corpus, vec, hidden=8, epochs=1, batch_size=2, bptt=5, freeze=True,
                 samples=3, progress=False)
    for w in "abc":
        assert np.array_equal(m.params["emb"][m.vocab.index[w]], vec[w])


def test_sampled_softmax_trains(tmp_path):
    corpus = _corpus(tmp_path)
    m = train_lm(corpus, dim=8, hidden=16, epochs=3, batch_size=4, bptt=10, samples=3,
                 lr=0.02, dropout=0.0, progress=False)
    assert m.perplexity(m.vocab.encode("a b c d a b c d".split()) + [1])["perplexity"] < 3


def test_resume_from_checkpoint(tmp_path):
    corpus = _corpus(tmp_path, n=60)
    kw = dict(dim=8, hidden=8, batch_size=2, bptt=5, samples=3, progress=False, seed=3)
    ck = tmp_path / "ck"
    full = train_lm(corpus, epochs=2, **kw)
    train_lm(corpus, epochs=1, checkpoint=str(ck), **kw)
    resumed = train_lm(corpus, epochs=2, resume=str(ck), **kw)
    for k in full.params:
        np.testing.assert_allclose(resumed.params[k], full.params[k], rtol=1e-5, atol=1e-6)


def test_prompt_of_unknown_words_only_is_an_unknown_word_error():
    with pytest.raises(UnknownWordError, match="none of the prompt"):
        _tiny().generate("xyzzy plugh")


@pytest.mark.parametrize("kw, match", [
    ({"method": "sample", "temperature": 0}, "temperature"),
    ({"method": "sample", "top_p": 0}, "top-p"),
    ({"method": "sample", "top_p": 1.5}, "top-p"),
    ({"method": "sample", "top_k": 0}, "top-k"),
    ({"method": "beam", "beam": 0}, "beam"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_bad_generation_options_are_parameter_errors(kw, match):
    with pytest.raises(ParameterError, match=match):
        _tiny().generate("w1", **kw)


def test_sampling_is_reproducible_with_a_seed():
    m = _tiny()
    a = m.generate("w1", 20, method="sample", seed=5, temperature=1.5)
    b = m.generate("w1", 20, method="sample", seed=5, temperature=1.5)
    c = m.generate("w1", 20, method="sample", seed=6, temperature=1.5)
    assert a == b and a != c


def test_beam_one_equals_greedy_on_the_model():
    m = _tiny()
    g = m.generate("w3 w1", 12)
    b = m.generate("w3 w1", 12, method="beam", beam=1)
    assert g["text"] == b["text"] and g["logprob"] == pytest.approx(b["logprob"])


def test_tied_needs_hidden_equal_to_dim():
    vocab = LMVocab(["<unk>", "</s>", "a"])
    with pytest.raises(ParameterError, match="tied"):
        LanguageModel.create(vocab, dim=4, hidden=5, tie=True)


def test_unknown_cell_is_a_parameter_error():
    vocab = LMVocab(["<unk>", "</s>", "a"])
    with pytest.raises(ParameterError, match="cell"):
        LanguageModel.create(vocab, dim=4, hidden=4, cell="rnn")


def test_lstm_trains_saves_and_generates(tmp_path):
    corpus = _corpus(tmp_path)
    m = train_lm(corpus, dim=8, hidden=16, cell="lstm", epochs=3, batch_size=4, bptt=10,
                 softmax="full", lr=0.02, dropout=0.0, out=tmp_path / "lstm", progress=False)
    # ~3 is this string's floor (its lines are 6 words, so "</s>" is due after "b"); a
    # uniform model scores 6
    assert m.perplexity(m.vocab.encode("a b c d a b c d".split()) + [1])["perplexity"] < 3.5
    m2 = LanguageModel.load(tmp_path / "lstm")
    assert m2.config.cell == "lstm"
    assert m2.generate("a b", 6, method="beam", beam=1) == m.generate("a b", 6, method="beam",
                                                                        beam=1)
    assert m.generate("a b", 6)["text"] == m.generate("a b", 6, method="beam", beam=1)["text"]


def test_loading_a_model_of_another_kind_is_a_format_error(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.json").write_text(json.dumps({"kind": "seq2seq"}))
    np.savez(d / "weights.npz", a=np.zeros(1))
    with pytest.raises(FormatError, match="not a 'lm' model"):
        LanguageModel.load(d)


def test_loading_a_truncated_weight_array_is_a_format_error(tmp_path):
    m = _tiny().astype(np.float32)
    m.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "weights.npz") as z:
        p = {k: z[k] for k in z.files}
    p["Wi0"] = p["Wi0"][:-1]
    np.savez(tmp_path / "m" / "weights.npz", **p)
    with pytest.raises(FormatError, match="different saves"):  # model.json ties the weights
        LanguageModel.load(tmp_path / "m")
    from embedkit import _validate as V

    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["weights_sha256"] = V.file_digest(tmp_path / "m" / "weights.npz")  # re-signed
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="Wi0"):
        LanguageModel.load(tmp_path / "m")


def test_perplexity_is_the_same_on_one_and_two_threads():
    m = _tiny()
    stream = np.random.default_rng(1).integers(0, 11, 61)
    one = m.perplexity(stream, batch_size=3, bptt=5, threads=1)
    two = m.perplexity(stream, batch_size=3, bptt=5, threads=2)
    assert two["perplexity"] == pytest.approx(one["perplexity"], rel=1e-12)


def test_perplexity_threads_below_one_is_a_parameter_error():
    with pytest.raises(ParameterError, match="threads must be an integer >= 1"):
        _tiny().perplexity(np.arange(11), threads=0)


@pytest.mark.parametrize("optimizer", ["lazyadam", "sgd"])
def test_other_optimizers_train(tmp_path, optimizer):
    m = train_lm(_corpus(tmp_path), None, dim=8, hidden=16, epochs=2, batch_size=4, bptt=10,
                 softmax="full", optimizer=optimizer, lr=0.02 if optimizer != "sgd" else 0.5,
                 dropout=0.0, progress=False)
    assert m.perplexity(m.vocab.encode("a b c d a b c d".split()) + [1])["perplexity"] < 4


def test_unknown_optimizer_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="optimizer must be one of adam, lazyadam, sgd"):
        train_lm(_corpus(tmp_path), None, dim=8, optimizer="rmsprop", progress=False)


def test_split_sums_duplicate_sparse_rows():
    from embedkit.lm.trainer import _split

    rng = np.random.default_rng(0)
    rows = np.array([5, 2, 5, 0, 2, 5])
    g = rng.standard_normal((6, 3)).astype(np.float32)
    _, sparse = _split({"emb": (rows, g)}, 2, {"emb"}, np.dtype(np.float32))
    ref = np.zeros((6, 3), np.float32)
    np.add.at(ref, rows, g)
    got_rows, got = sparse["emb"]
    assert got_rows.tolist() == [0, 2, 5]
    np.testing.assert_allclose(got, ref[[0, 2, 5]] * np.float32(0.5), rtol=1e-6, atol=1e-7)


def test_training_on_two_threads_matches_one_thread(tmp_path):
    kw = dict(dim=8, hidden=16, epochs=1, batch_size=4, bptt=10, softmax="sampled",
              samples=3, dropout=0.1, progress=False, seed=3)
    one = train_lm(_corpus(tmp_path), None, threads=1, **kw)
    two = train_lm(_corpus(tmp_path), None, threads=2, **kw)
    for k in one.params:
        np.testing.assert_allclose(two.params[k], one.params[k], rtol=1e-4, atol=1e-6)


def test_training_threads_below_one_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="threads"):
        train_lm(_corpus(tmp_path), None, dim=8, threads=0, progress=False)


@pytest.mark.parametrize("softmax", ["full", "sampled"])
def test_column_parallel_step_equals_one_thread_step(softmax):
    from embedkit.lm.parallel import ColumnParallelStep

    m = _tiny(softmax=softmax, dropout=0.3, tie=True)
    inp, tgt, h0 = _data(T=4, B=5, width=6)
    h0 = [h.astype(np.float64) for h in h0]
    one = m.loss_and_grad(inp, tgt, h0, np.random.default_rng(11))
    with ColumnParallelStep(m, threads=2) as step:
        two = step(inp, tgt, h0, np.random.default_rng(11))
    assert two[0] == pytest.approx(one[0], rel=1e-12)
    d1, d2 = _dense(m, one[1]), _dense(m, two[1])
    assert d1.keys() == d2.keys()
    for k in d1:
        np.testing.assert_allclose(d2[k], d1[k], rtol=1e-10, atol=1e-12, err_msg=k)
    for a, b in zip(one[2], two[2]):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def test_column_bounds_cover_the_batch_without_empty_slices():
    from embedkit.lm.parallel import column_bounds

    assert column_bounds(5, 2) == [(0, 2), (2, 5)]
    assert column_bounds(1, 4) == [(0, 1)]
    assert column_bounds(32, 3) == [(0, 10), (10, 21), (21, 32)]
