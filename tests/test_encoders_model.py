"""Every encoder inside the sentiment classifier and the NER tagger: an order-dependent tiny
task learned to 100 %, whole-model gradients against finite differences, save/load, models
saved before the encoder field, and the bad-input errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, SentimentClassifier, load_model
from embedkit.errors import FormatError, ParameterError
from gradcheck import check_model_gradients
from helpers.tagging import small_fit, small_tagger
from order_task import before_after, order_vectors, tag_after_a, to_float64

RECURRENT = ["gru", "lstm", "rnn"]
ENCODERS = RECURRENT + ["transformer"]
# the Transformer's width is --hidden (the recurrent cells' output is twice it)
SIZE = {"gru": {"hidden": 12}, "lstm": {"hidden": 12}, "rnn": {"hidden": 12},
        "transformer": {"hidden": 16, "heads": 2, "transformer_dropout": 0.0}}


@pytest.mark.parametrize("encoder,pooling", [(e, "max") for e in ENCODERS]
                         + [("lstm", "attention"), ("transformer", "attention")])
def test_order_task_learned_to_100_percent(encoder, pooling):
    # "does a come before b?": the same words in another order flip the label
    rng = np.random.default_rng(0)
    v = order_vectors(rng)
    X, y = before_after(rng, 1200)
    Xd, yd = before_after(rng, 200)
    m = SentimentClassifier(v, encoder=encoder, seed=1, threads=1, input_dropout=0.0,
                            dropout=0.0, pooling=pooling, **SIZE[encoder])
    m.fit(X, y, Xd, yd, epochs=12, lr=1e-2, patience=12, progress=False)
    assert m.evaluate(Xd, yd)["accuracy"] == 1.0


@pytest.mark.parametrize("encoder", ["lstm", "rnn", "transformer"])
def test_ner_order_task_with_crf_and_char_cnn(encoder, tmp_path):
    rng = np.random.default_rng(3)
    v = order_vectors(rng)
    S, T = tag_after_a(rng, 600)
    Sd, Td = tag_after_a(rng, 100)
    size, lr = {"hidden": 8}, 1e-2
    if encoder == "transformer":
        size, lr = {"hidden": 32, "heads": 4, "transformer_dropout": 0.0}, 5e-3
    m = small_tagger(v, encoder=encoder, case_dim=2, char_cnn=4, crf=True, layers=2,
                     seed=1, threads=2, input_dropout=0.0, dropout=0.0, **size)
    m.fit(S, T, Sd, Td, **small_fit(epochs=12, lr=lr, patience=12, progress=False))
    assert m.evaluate(Sd, Td)["f1"] == 1.0
    second = "tf2_Wqkv" if encoder == "transformer" else f"l2_{encoder}_f_Wi"
    assert second in m.params and "crf_trans" in m.params
    m.save(tmp_path / "m")
    m2 = load_model(tmp_path / "m")
    assert m2.config.encoder == encoder
    assert m2.predict(Sd) == m.predict(Sd)


def _tiny_model(cls, encoder, rng, **kw):
    v = order_vectors(rng, dim=3)
    if cls is SentimentClassifier:
        X, y = before_after(rng, 12, max_len=5)
    else:
        X, y = tag_after_a(rng, 12, max_len=5)
    X[0] = X[0] + ["unseen"]
    X[1] = X[1] + ["unseen"]
    if cls is NERTagger:
        y[0] = y[0] + ["O"]
        y[1] = y[1] + ["O"]
    X[2], y[2] = X[2][:1], y[2][:1] if cls is NERTagger else y[2]  # a length-1 sequence
    size = {"hidden": 4, "heads": 2} if encoder == "transformer" else {"hidden": 2}
    if cls is NERTagger:  # the small tagger: softmax, word features
        m = small_tagger(v, encoder=encoder, fine_tune=True, threads=1, layers=2, **{**size, **kw})
        m.fit(X, y, **small_fit(epochs=1, progress=False))
    else:
        m = cls(v, encoder=encoder, fine_tune=True, threads=1, layers=2, **{**size, **kw})
        m.fit(X, y, epochs=1, progress=False)
    to_float64(m)
    return m, X, y


@pytest.mark.parametrize("encoder", ["lstm", "rnn", "transformer"])
@pytest.mark.parametrize("task", ["sentiment", "attention", "ner"])
def test_model_gradients_match_finite_differences(rng, encoder, task):
    cls = NERTagger if task == "ner" else SentimentClassifier
    kw = ({"pooling": "maxmean"} if task == "sentiment" else
          {"pooling": "attention", "heads": 2} if task == "attention" else
          {"crf": True, "case_dim": 2})
    m, X, y = _tiny_model(cls, encoder, rng, **kw)
    check_model_gradients(m, X, y, 12)


@pytest.fixture(scope="module")
def saved_gru(tmp_path_factory):
    rng = np.random.default_rng(5)
    d = tmp_path_factory.mktemp("enc")
    v = order_vectors(rng)
    X, y = before_after(rng, 60)
    m = SentimentClassifier(v, hidden=4, threads=1).fit(X, y, epochs=1, progress=False)
    m.save(d / "m")
    return m, d / "m", X


def _edit_config(path, **changes):
    meta = json.loads((path / "model.json").read_text())
    for k, v in changes.items():
        if v is None:
            meta["config"].pop(k, None)
        else:
            meta["config"][k] = v
    (path / "model.json").write_text(json.dumps(meta))


def test_model_saved_without_encoder_field_loads_as_gru(saved_gru, tmp_path):
    m, path, X = saved_gru
    import shutil
    old = tmp_path / "old"
    shutil.copytree(path, old)
    _edit_config(old, encoder=None)
    m2 = load_model(old)
    assert m2.config.encoder == "gru"
    np.testing.assert_array_equal(m2.predict_proba(X), m.predict_proba(X))


def test_saved_model_with_unknown_encoder_is_a_format_error(saved_gru, tmp_path):
    _, path, _ = saved_gru
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    _edit_config(bad, encoder="mamba")
    with pytest.raises(FormatError, match="unknown encoder kind 'mamba'"):
        load_model(bad)
    r = CliRunner().invoke(cli, ["sentiment", "predict", str(bad), "w1 a b"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "unknown encoder kind" in r.output and len(r.output.strip().splitlines()) == 1


def test_saved_encoder_weights_of_wrong_shape_are_a_format_error(saved_gru, tmp_path):
    _, path, _ = saved_gru
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(path, bad)
    _edit_config(bad, encoder="lstm")  # a GRU's weights under an LSTM config
    with pytest.raises(FormatError, match="lstm encoder array 'lstm_f_Wi'"):
        load_model(bad)
    _edit_config(bad, encoder="gru", hidden=5)
    with pytest.raises(FormatError, match="'gru_f_Wi' is float32 \\(12, 8\\), expected"):
        load_model(bad)


def test_unknown_encoder_keyword_is_a_parameter_error(rng):
    with pytest.raises(ParameterError, match="encoder must be one of gru, lstm, rnn, transformer"):
        SentimentClassifier(order_vectors(rng), encoder="cnn")


@pytest.mark.parametrize("options,what", [
    ({"encoder": "transformer", "hidden": 10, "heads": 4}, "the Transformer width"),
    ({"encoder": "lstm", "hidden": 5, "heads": 4, "pooling": "attention"},
     "the encoder output width"),
])
def test_heads_not_dividing_the_width_is_a_parameter_error(rng, options, what):
    with pytest.raises(ParameterError, match=f"heads \\(4\\) must divide {what}"):
        SentimentClassifier(order_vectors(rng), **options)


def test_cli_heads_not_dividing_the_width_is_one_clear_line(tmp_path):
    rng = np.random.default_rng(0)
    X, y = before_after(rng, 20)
    (tmp_path / "t.tsv").write_text("".join(f"{a}\t{' '.join(s)}\n" for s, a in zip(X, y)))
    v = order_vectors(rng)
    (tmp_path / "v.txt").write_text(f"{len(v)} {v.dim}\n" + "".join(
        w + " " + " ".join(f"{x:.5f}" for x in row) + "\n" for w, row in zip(v.words, v.vectors)))
    r = CliRunner().invoke(cli, ["-q", "sentiment", "train", "--vectors",
                                 str(tmp_path / "v.txt"), "--train", str(tmp_path / "t.tsv"), "--out",
                                 str(tmp_path / "m"), "--encoder", "transformer", "--hidden",
                                 "30", "--heads", "4"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and "heads (4) must divide" in r.output


def test_cli_unknown_encoder_is_one_clear_error(tmp_path):
    (tmp_path / "x.tsv").write_text("pos\tgood\n")  # an existing file: only --encoder is wrong
    r = CliRunner().invoke(cli, ["sentiment", "train", "--train", str(tmp_path / "x.tsv"), "--out",
                                 str(tmp_path / "m"), "--encoder", "cnn"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "Invalid value for '--encoder'" in r.output


def test_saved_transformer_with_bad_heads_is_a_format_error(tmp_path):
    rng = np.random.default_rng(2)
    X, y = before_after(rng, 30)
    m = SentimentClassifier(order_vectors(rng), encoder="transformer", hidden=8, heads=2,
                            threads=1).fit(X, y, epochs=1, progress=False)
    m.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").predict_proba(X),
                                  m.predict_proba(X))
    _edit_config(tmp_path / "m", heads=3)
    with pytest.raises(FormatError, match="invalid encoder options.*heads \\(3\\) must divide"):
        load_model(tmp_path / "m")
