"""Char CNN word features and word dropout of the NER tagger: kernel gradients against
central finite differences (float64), a model gradient check, save/load, options and CLI."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit._kernels.charcnn import charcnn_backward, charcnn_forward
from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, load_model
from embedkit.downstream.features import (CHAR_BOW, CHAR_EOW, CHAR_FIRST, CHAR_UNK, Featurizer,
                                          Vocabulary, char_alphabet, make_batch)
from embedkit.errors import ParameterError

from gradcheck import check_gradient, spread
from helpers.tagging import small_fit, small_tagger, tag_vectors, tagging_data, write_ner_files
from order_task import to_float64


def _cnn_setup(rng, K=3, Dc=4, F=5, V=9):
    E = rng.normal(size=(V, Dc))
    W = rng.normal(size=(K, Dc, F))
    b = rng.normal(size=F)
    lens = [1, 2, 4, 7, 0]  # includes a one-char and an empty word
    chars = rng.integers(0, V, sum(lens)).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    return E, W, b, chars, offsets


def _cnn_reference(E, W, b, chars, offsets):
    """Plain NumPy: zero-padded convolution, max over positions, tanh."""
    K, Dc, F = W.shape
    out = []
    for u in range(len(offsets) - 1):
        x = E[chars[offsets[u]:offsets[u + 1]]]
        L = len(x)
        if L == 0:
            out.append(np.tanh(b))
            continue
        xp = np.vstack([np.zeros((K // 2, Dc)), x, np.zeros((K // 2, Dc))])
        conv = np.array([b + np.einsum("jd,jdf->f", xp[p:p + K], W) for p in range(L)])
        out.append(np.tanh(conv.max(axis=0)))
    return np.array(out)


@pytest.mark.parametrize("K", [1, 3, 5])
def test_charcnn_forward_matches_reference(rng, K):
    E, W, b, chars, offsets = _cnn_setup(rng, K=K)
    out = np.empty((len(offsets) - 1, W.shape[2]))
    arg = np.empty(out.shape, np.int64)
    charcnn_forward(E, W, b, chars, offsets, out, arg)
    np.testing.assert_allclose(out, _cnn_reference(E, W, b, chars, offsets), atol=1e-12)


@pytest.mark.parametrize("K", [1, 3, 5])
def test_charcnn_backward_matches_finite_differences(rng, K):
    E, W, b, chars, offsets = _cnn_setup(rng, K=K)
    U, F = len(offsets) - 1, W.shape[2]
    dout = rng.normal(size=(U, F))

    def loss():
        out = np.empty((U, F))
        charcnn_forward(E, W, b, chars, offsets, out, np.empty((U, F), np.int64))
        return float((out * dout).sum())

    out = np.empty((U, F))
    arg = np.empty((U, F), np.int64)
    charcnn_forward(E, W, b, chars, offsets, out, arg)
    dE, dW, db = np.zeros_like(E), np.zeros_like(W), np.zeros_like(b)
    charcnn_backward(dout, out, E, W, chars, offsets, arg, dE, dW, db)
    assert np.abs(dE).sum() > 0 and np.abs(dW).sum() > 0
    for arr, g in ((E, dE), (W, dW), (b, db)):
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + 1e-6
            lp = loss()
            arr[i] = old - 1e-6
            lm = loss()
            arr[i] = old
            assert abs((lp - lm) / 2e-6 - g[i]) < 1e-6, i


def test_char_alphabet_and_word_chars():
    assert char_alphabet([["aab", "b"], ["Ac"]], min_count=2) == "ab"
    assert char_alphabet([["ba"]], min_count=1) == "ab"  # ties by code point
    f = Featurizer(Vocabulary(["x"], 1), alphabet="ab", max_word_chars=4)
    a, b = CHAR_FIRST, CHAR_FIRST + 1
    assert f.word_chars("abz").tolist() == [CHAR_BOW, a, b, CHAR_UNK, CHAR_EOW]
    # long words keep their first and last max_word_chars // 2 characters
    assert f.word_chars("abzzzba").tolist() == [CHAR_BOW, a, b, b, a, CHAR_EOW]
    e1, e2 = f.encode(["ab", "b", "ab"]), f.encode(["b"])
    assert e1["types"].tolist() == [0, 1, 0] and e2["types"].tolist() == [1]
    batch = make_batch([e1, e2], False)
    assert batch["types"].tolist() == [[0, 1], [1, 0], [0, 0]]
    chars, offsets = f.type_chars(np.array([1, 0]))
    assert offsets.tolist() == [0, 3, 7]
    assert chars.tolist() == [CHAR_BOW, b, CHAR_EOW, CHAR_BOW, a, b, CHAR_EOW]
    assert "types" not in Featurizer(Vocabulary(["x"], 1)).encode(["x"])


def test_tagger_char_cnn_gradients_match_finite_differences(rng):
    v = tag_vectors(rng, dim=3)
    S, T = tagging_data(rng, 10)
    m = small_tagger(v, hidden=3, char_buckets=40, char_dim=2, case_dim=2, char_cnn=3,
                     char_cnn_dim=2, threads=1, crf=True)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    to_float64(m)
    assert m.params["cnn_W"].dtype == np.float64

    def batch():
        return make_batch([m.featurizer.encode(s) for s in S[:3]], True)

    ys = T[:3]
    _, sparse = m._loss_grad(batch(), ys, None)
    for name in ("cnn_emb", "cnn_W", "cnn_b"):
        g = m.grads[name].copy()
        assert np.abs(g).sum() > 0, name
        a = m.params[name]
        check_gradient(lambda: m._loss_grad(batch(), ys, None)[0], a, g, spread(a.shape, 15),
                       name)


@pytest.fixture(scope="module")
def cnn_tagger():
    rng = np.random.default_rng(4)
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 600)
    Sd, Td = tagging_data(rng, 80)
    m = small_tagger(v, hidden=12, case_dim=4, char_cnn=8, char_cnn_dim=6, word_dropout=0.1,
                     crf=True, threads=1, seed=1)
    m.fit(S, T, Sd, Td, **small_fit(epochs=6, lr=5e-3, progress=False))
    return m, Sd, Td


def test_char_cnn_tagger_learns_and_round_trips(cnn_tagger, tmp_path):
    m, Sd, Td = cnn_tagger
    assert m.evaluate(Sd, Td)["f1"] > 0.95
    # names never seen in training are tagged from their characters and context
    ents = m.entities(["mr", "Quimby", "in", "rome"])
    assert [(e["type"], e["start"], e["end"]) for e in ents] == [("PER", 1, 2), ("LOC", 3, 4)]
    m.save(tmp_path / "cnn")
    m2 = load_model(tmp_path / "cnn")
    assert m2.alphabet == m.alphabet
    assert m2.predict(Sd) == m.predict(Sd)
    b = make_batch([m.featurizer.encode(s) for s in Sd[:8]], False)
    b2 = make_batch([m2.featurizer.encode(s) for s in Sd[:8]], False)
    np.testing.assert_array_equal(m._logits(b)[0], m2._logits(b2)[0])


def test_word_dropout_replaces_words_by_unk(rng):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 20)
    m = small_tagger(v, hidden=4, word_dropout=0.5, input_dropout=0.0, threads=1)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    b = make_batch([m.featurizer.encode(s) for s in S], False)
    words = b["words"].copy()
    X, _ = m.inputs.forward(b, np.random.default_rng(0))
    dropped = b["words"] != words
    assert 0.3 < dropped.mean() < 0.7
    assert (b["words"][dropped] == m.vocab.unk).all()
    np.testing.assert_array_equal(X[dropped], np.broadcast_to(
        m.params["emb"][m.vocab.unk], X[dropped].shape))
    # no dropout at prediction time
    b = make_batch([m.featurizer.encode(s) for s in S], False)
    m.inputs.forward(b, None)
    np.testing.assert_array_equal(b["words"], words)


@pytest.mark.parametrize("opts, match", [
    ({"char_cnn": -1}, "char_cnn"),
    ({"char_cnn": 4, "char_cnn_dim": 0}, "char_cnn_dim"),
    ({"char_cnn_width": 2}, "char_cnn_width must be an odd"),
    ({"char_cnn_width": 0}, "char_cnn_width must be an odd"),
    ({"word_dropout": 1.0}, "word_dropout"),
    ({"word_dropout": -0.1}, "word_dropout"),
])
def test_bad_char_cnn_options(rng, opts, match):
    with pytest.raises(ParameterError, match=match):
        NERTagger(tag_vectors(rng), **opts)


def test_cli_ner_char_cnn(tmp_path, rng):
    _, f, S, T = write_ner_files(tmp_path, rng, 200)
    r = CliRunner().invoke(cli, ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"),
                                 "--train", str(f), "--out", str(tmp_path / "m"),
                                 "--hidden", "8", "--epochs", "1", "--threads", "1",
                                 "--char-cnn", "6", "--char-cnn-dim", "5",
                                 "--char-cnn-width", "5", "--word-dropout", "0.1",
                                 "--layers", "2", "--variational-dropout",
                                 "--average", "0.99"])
    assert r.exit_code == 0, r.output
    m = load_model(tmp_path / "m")
    assert m.params["cnn_W"].shape == (5, 5, 6)
    assert m.config.word_dropout == 0.1
    assert m.config.layers == 2 and m.config.variational is True
    assert m.params["l2_gru_f_Wi"].shape[1] == 16
    r = CliRunner().invoke(cli, ["ner", "train", "--vectors", str(tmp_path / "vec.txt"),
                                 "--train", str(f), "--out", str(tmp_path / "m2"),
                                 "--char-cnn-width", "4"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "char_cnn_width must be an odd" in r.output


def test_two_layer_tagger_gradients_match_finite_differences(rng):
    v = tag_vectors(rng, dim=3)
    S, T = tagging_data(rng, 10)
    m = small_tagger(v, hidden=3, case_dim=2, layers=2, threads=1, crf=True)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    assert m.params["l2_gru_f_Wi"].shape == (9, 6)
    to_float64(m)
    batch = make_batch([m.featurizer.encode(s) for s in S[:3]], False)
    ys = T[:3]
    m._loss_grad(batch, ys, None)
    for name in ("l2_gru_f_Wi", "l2_gru_b_WhT", "l2_gru_b_bhn", "gru_f_Wi", "gru_b_bi"):
        g = m.grads[name].copy()
        assert np.abs(g).sum() > 0, name
        a = m.params[name]
        check_gradient(lambda: m._loss_grad(batch, ys, None)[0], a, g, spread(a.shape, 10),
                       name)


def test_variational_dropout_shares_the_mask_over_time(rng):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 20)
    m = small_tagger(v, hidden=4, case_dim=3, input_dropout=0.5, variational=True, threads=1)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    b = make_batch([m.featurizer.encode(s) for s in S], False)
    X, drop = m.inputs.forward(b, np.random.default_rng(0))
    assert drop.shape == (1, b["B"], X.shape[2])
    assert set(np.unique(drop)) == {0.0, 2.0}
    Xc, _ = m.inputs.forward(b, None)
    np.testing.assert_array_equal(X, Xc * drop)
    m.config = m.config.replace(variational=False)
    m._setup()
    assert m.inputs.forward(b, np.random.default_rng(0))[1].shape == X.shape


def test_two_layer_variational_tagger_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(6)
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 600)
    Sd, Td = tagging_data(rng, 80)
    m = small_tagger(v, hidden=10, case_dim=4, char_buckets=300, char_dim=6, layers=2,
                     variational=True, crf=True, threads=2, seed=1)
    m.fit(S, T, Sd, Td, **small_fit(epochs=6, lr=5e-3, progress=False))
    assert m.evaluate(Sd, Td)["f1"] > 0.95
    m.save(tmp_path / "l2")
    m2 = load_model(tmp_path / "l2")
    assert len(m2.encoders) == 2
    assert m2.predict(Sd) == m.predict(Sd)


def test_bad_layers(rng):
    with pytest.raises(ParameterError, match="layers must be >= 1"):
        NERTagger(tag_vectors(rng), layers=0)


def test_parameter_average_matches_dense_reference(rng):
    """Lazy row-wise averaging equals averaging every row after every step."""
    from embedkit.downstream.optim import ParameterAverage

    p = {"emb": rng.normal(size=(6, 3)), "w": rng.normal(size=4)}
    avg = ParameterAverage(p, 0.9, sparse=("emb",))
    ref = {k: np.zeros_like(v) for k, v in p.items()}  # bias-corrected below
    for _ in range(7):
        rows = np.unique(rng.integers(0, 6, 2))
        sparse = {"emb": (rows, None)}
        avg.before_step(sparse)
        p["emb"][rows] += rng.normal(size=(len(rows), 3))
        p["w"] += rng.normal(size=4)
        avg.after_step(sparse)
        for k in ref:
            ref[k] = 0.9 * ref[k] + 0.1 * p[k]
    out = avg.averaged()
    for k in ref:
        np.testing.assert_allclose(out[k], ref[k] / (1 - 0.9 ** 7), rtol=1e-12)
    with pytest.raises(ParameterError, match="average decay"):
        ParameterAverage(p, 1.0)


def test_tagger_keeps_averaged_weights(rng):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 100)
    a = small_tagger(v, hidden=6, case_dim=3, threads=1, seed=3, fine_tune=True)
    a.fit(S, T, **small_fit(epochs=2, lr=5e-3, progress=False))
    b = small_tagger(v, hidden=6, case_dim=3, threads=1, seed=3, fine_tune=True)
    b.fit(S, T, **small_fit(epochs=2, lr=5e-3, progress=False, average=0.9))
    # same training trajectory, but b keeps the average of its weights
    assert not np.array_equal(a.params["out_W"], b.params["out_W"])
    c = small_tagger(v, hidden=6, case_dim=3, threads=1, seed=3, fine_tune=True)
    c.fit(S, T, **small_fit(epochs=2, lr=5e-3, progress=False, average=1e-12))  # ~ no averaging
    np.testing.assert_allclose(a.params["out_W"], c.params["out_W"], atol=1e-6)
    np.testing.assert_allclose(a.params["emb"], c.params["emb"], atol=1e-6)
    with pytest.raises(ParameterError, match="average decay"):
        small_tagger(v, hidden=4, threads=1).fit(S, T, **small_fit(epochs=1, progress=False,
                                                                    average=1.5))


def test_model_saved_without_the_new_options_loads(cnn_tagger, tmp_path, rng):
    """model.json files written before char_cnn/layers/... existed still load."""
    import json

    v = tag_vectors(rng)
    S, T = tagging_data(rng, 50)
    m = small_tagger(v, hidden=4, case_dim=2, threads=1)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    m.save(tmp_path / "old")
    meta = tmp_path / "old" / "model.json"
    state = json.loads(meta.read_text())
    for k in ("char_cnn", "char_cnn_dim", "char_cnn_width", "word_dropout", "layers",
              "variational"):
        del state["config"][k]
    meta.write_text(json.dumps(state))
    m2 = load_model(tmp_path / "old")
    assert m2.config.layers == 1 and m2.config.char_cnn == 0
    assert m2.predict(S) == m.predict(S)


def test_cli_ner_defaults_are_the_benchmarked_recipe(tmp_path, rng):
    # `embedkit ner train` without options trains the model benchmarks/downstream.py measures
    # (but with frozen embeddings, as the issue asks); --softmax / --no-variational-dropout
    # switch its parts off and --fine-tune updates the embeddings
    _, f, S, T = write_ner_files(tmp_path, rng, 60)
    base = ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"), "--train", str(f),
            "--epochs", "1", "--threads", "1", "--hidden", "4"]
    r = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    c = load_model(tmp_path / "a").config
    assert (c["crf"], c["fine_tune"], c["variational"], c["layers"], c["char_cnn"],
            c["char_buckets"], c["case_dim"]) == (True, False, True, 2, 50, 0, 8)
    # and the learning-rate decay of the benchmark (lr / (1 + 0.05 (epoch - 1)))
    r = CliRunner().invoke(cli, base[:-6] + ["--epochs", "2", "--threads", "1", "--hidden", "4",
                                              "--dev", str(f), "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert [h["lr"] for h in load_model(tmp_path / "d").history] == \
        pytest.approx([2e-3, 2e-3 / 1.05])
    r = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "b"), "--softmax", "--fine-tune",
                                        "--no-variational-dropout", "--layers", "1"])
    assert r.exit_code == 0, r.output
    c = load_model(tmp_path / "b").config
    assert (c["crf"], c["fine_tune"], c["variational"], c["layers"]) == (False, True, False, 1)
