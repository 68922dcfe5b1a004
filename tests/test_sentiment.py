"""Sentiment classifier: a tiny task learned to 100 %, model gradients against finite
differences, save/load equality, metrics on hand-worked examples, readers and CLI errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import Vectors
from embedkit.cli.main import cli
from embedkit.downstream import SentimentClassifier, load_model, read_tsv, tokenize
from embedkit.downstream.metrics import accuracy, macro_f1
from embedkit.errors import FormatError, MissingFileError, ParameterError
from gradcheck import check_model_gradients
from helpers.tagging import contains_x, tiny_vectors, write_vectors
from order_task import to_float64


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(7)
    v = tiny_vectors(rng)
    X, y = contains_x(rng, 1500)
    Xd, yd = contains_x(rng, 200)
    m = SentimentClassifier(v, hidden=12, seed=3, threads=1, input_dropout=0.1)
    m.fit(X, y, Xd, yd, epochs=6, lr=5e-3, progress=False)
    return m, v, Xd, yd


def test_tiny_task_learned_to_100_percent(trained):
    m, v, Xd, yd = trained
    assert m.evaluate(Xd, yd)["accuracy"] == 1.0


def test_save_load_predicts_identically(trained, tmp_path):
    m, v, Xd, yd = trained
    m.save(tmp_path / "model")
    m2 = load_model(tmp_path / "model")
    np.testing.assert_array_equal(m.predict_proba(Xd), m2.predict_proba(Xd))
    assert m2.labels == m.labels


def test_same_seed_same_model(rng):
    v = tiny_vectors(rng)
    X, y = contains_x(rng, 200)
    a = SentimentClassifier(v, hidden=6, seed=5, threads=1).fit(X, y, epochs=1, progress=False)
    b = SentimentClassifier(v, hidden=6, seed=5, threads=1).fit(X, y, epochs=1, progress=False)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.mark.parametrize("pooling", ["maxmean", "attention"])
def test_model_gradients_match_finite_differences(rng, pooling):
    v = tiny_vectors(rng, dim=4, n=6)
    X, y = contains_x(rng, 20, n_words=6)
    X[0].append("unseen")  # a learned OOV row
    X[1].append("unseen")
    m = SentimentClassifier(v, hidden=3, pooling=pooling, fine_tune=True, threads=1, heads=2)
    m.fit(X, y, epochs=1, progress=False)  # builds the parameters
    to_float64(m)
    check_model_gradients(m, X, y, 15)


def test_lowercase_fallback_and_unk(rng):
    v = Vectors(["good", "film"], rng.normal(size=(2, 4)).astype(np.float32))
    m = SentimentClassifier(v, hidden=4, oov_min_count=2)
    m.fit([["Good", "film"], ["bad", "bad"], ["odd"]], ["p", "n", "n"], epochs=1, progress=False)
    vocab = m.vocab
    assert vocab.lookup("GOOD") == vocab.lookup("good") == 0
    assert vocab.lookup("bad") == 2  # learned row: seen twice in training
    assert vocab.lookup("odd") == vocab.unk == 3


def test_metrics_hand_worked():
    gold = ["a", "a", "b", "b", "b"]
    pred = ["a", "b", "b", "b", "a"]
    assert accuracy(gold, pred) == pytest.approx(3 / 5)
    # class a: P 1/2 R 1/2 F 1/2; class b: P 2/3 R 2/3 F 2/3
    assert macro_f1(gold, pred) == pytest.approx((0.5 + 2 / 3) / 2)
    with pytest.raises(ParameterError):
        accuracy(["a"], [])


def test_tokenize_splits_clitics_and_punctuation():
    assert tokenize("It's great, isn't it?") == ["It", "'s", "great", ",", "is", "n't", "it", "?"]


def test_read_tsv_header_and_columns(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("label\tsentence\n1\ta fine film\n0\tdull\n")
    texts, labels = read_tsv(f)
    assert labels == ["1", "0"] and texts[0] == ["a", "fine", "film"]
    f.write_text("a fine film\t1\n")
    assert read_tsv(f, label_column=1, text_column=0)[1] == ["1"]


def test_read_tsv_line_without_tab(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("1\tgood\n0 bad\n")
    with pytest.raises(FormatError, match="line 2: no tab"):
        read_tsv(f)


def test_read_tsv_empty_file(tmp_path):
    f = tmp_path / "d.tsv"
    f.write_text("")
    with pytest.raises(FormatError, match="no examples"):
        read_tsv(f)


def test_read_tsv_missing_file(tmp_path):
    with pytest.raises(MissingFileError):
        read_tsv(tmp_path / "nope.tsv")


def test_bad_options():
    with pytest.raises(ParameterError, match="hidden must be >= 1"):
        SentimentClassifier(None, hidden=0)
    with pytest.raises(ParameterError, match="dropout must be in"):
        SentimentClassifier(None, dropout=1.0)
    with pytest.raises(ParameterError, match="pooling"):
        SentimentClassifier(None, pooling="sum")
    with pytest.raises(TypeError, match="hiden"):  # options are explicit keywords
        SentimentClassifier(None, hiden=3)


def test_single_class_rejected(rng):
    with pytest.raises(ParameterError, match="at least 2 classes"):
        SentimentClassifier(tiny_vectors(rng)).fit([["w1"]], ["a"], progress=False)


def test_load_with_vectors_of_other_dimension(trained, tmp_path, rng):
    m, v, Xd, yd = trained
    m.save(tmp_path / "m")
    with pytest.raises(FormatError, match="dimension 5 but the model was trained with"):
        load_model(tmp_path / "m", tiny_vectors(rng, dim=5))


# -- CLI -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("sent")
    v = tiny_vectors(rng)
    write_vectors(d / "vec.txt", v)
    for name, n in (("train.tsv", 600), ("dev.tsv", 100)):
        X, y = contains_x(rng, n)
        (d / name).write_text("label\tsentence\n" +
                              "".join(f"{a}\t{' '.join(s)}\n" for s, a in zip(X, y)))
    r = CliRunner().invoke(cli, ["-q", "sentiment", "train", "--vectors", str(d / "vec.txt"),
                                 "--train", str(d / "train.tsv"), "--dev", str(d / "dev.tsv"),
                                 "--out", str(d / "model"), "--hidden", "12", "--epochs", "4",
                                 "--lr", "0.005", "--threads", "1", "--input-dropout", "0.1"])
    assert r.exit_code == 0, r.output
    return d


def test_cli_train_evaluate_predict(cli_files):
    d = cli_files
    r = CliRunner().invoke(cli, ["sentiment", "evaluate", str(d / "model"), str(d / "dev.tsv"),
                                 "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["accuracy"] > 0.75 and "macro_f1" in res
    r = CliRunner().invoke(cli, ["sentiment", "predict", str(d / "model"), "w1 x w2", "w3 w4"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert lines[0].split("\t")[0] == "yes" and lines[1].split("\t")[0] == "no"
    assert 0.5 <= float(lines[0].split("\t")[1]) <= 1
    r = CliRunner().invoke(cli, ["sentiment", "predict", str(d / "model"), "-"],
                           input="w1 x\nw2 w3\n")
    assert [l.split("\t")[0] for l in r.output.strip().splitlines()] == ["yes", "no"]


@pytest.mark.parametrize("case", ["no_tab", "empty", "missing_model", "dim", "no_vectors"])
def test_cli_bad_input_is_one_clear_line(cli_files, tmp_path, case, monkeypatch, rng):
    d = cli_files
    monkeypatch.delenv("EMBEDKIT_VECTORS", raising=False)
    import embedkit.vectors.default as default_vectors
    monkeypatch.setattr(default_vectors, "has_default_vectors", lambda: False)
    bad = tmp_path / "bad.tsv"
    if case == "no_tab":
        bad.write_text("1 good film\n")
        args = ["sentiment", "evaluate", str(d / "model"), str(bad)]
        expect = "no tab"
    elif case == "empty":
        bad.write_text("")
        args = ["sentiment", "train", "--vectors", str(d / "vec.txt"), "--train", str(bad),
                "--out", str(tmp_path / "m")]
        expect = "no examples"
    elif case == "missing_model":
        args = ["sentiment", "predict", str(tmp_path / "nothing"), "text"]
        expect = "no model at"
    elif case == "dim":
        write_vectors(tmp_path / "v5.txt", tiny_vectors(rng, dim=5))
        args = ["sentiment", "predict", str(d / "model"), "w1", "--vectors",
                str(tmp_path / "v5.txt")]
        expect = "dimension"
    else:
        args = ["sentiment", "train", "--train", str(d / "train.tsv"), "--out",
                str(tmp_path / "m")]
        expect = "--vectors"
    r = CliRunner().invoke(cli, args)
    assert r.exit_code != 0
    assert "Traceback" not in r.output
    assert expect in r.output


def test_committed_sample_tsv():
    import pathlib
    f = pathlib.Path(__file__).parent / "data" / "downstream" / "sample.tsv"
    texts, labels = read_tsv(f)
    assert labels == ["1", "0", "1"]
    assert texts[1] == ["it", "does", "n't", "work", "at", "all"]


def test_vectors_default_from_environment(cli_files, tmp_path, monkeypatch):
    d = cli_files
    monkeypatch.setenv("EMBEDKIT_VECTORS", str(d / "vec.txt"))
    r = CliRunner().invoke(cli, ["-q", "sentiment", "train", "--train", str(d / "dev.tsv"),
                                 "--out", str(tmp_path / "m"), "--hidden", "4", "--epochs", "1",
                                 "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m" / "model.json").exists()
