"""NER word lookup over cased and lowercased vectors, and the learning-rate decay."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit import Vectors
from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, load_model
from embedkit.downstream.features import Vocabulary
from embedkit.errors import ParameterError

from test_ner import tag_vectors, tagging_data
from test_sentiment import _write_vectors


def test_lookup_tries_exact_lowercase_then_capitalised_form():
    v = Vocabulary(["Paris", "paris", "the", "London", "bank", "Bank"], 6)
    assert v.lookup("Paris") == 0 and v.lookup("paris") == 1   # exact form first
    assert v.lookup("PARIS") == 1                             # then lowercase
    assert v.lookup("THE") == 2 and v.lookup("The") == 2
    assert v.lookup("LONDON") == 3 and v.lookup("london") == 3  # then capitalised
    assert v.lookup("Bank") == 5 and v.lookup("BANK") == 4
    assert v.lookup("Rome") == v.unk == 6


def test_lookup_prefers_a_vector_row_over_a_learned_row():
    # "paris" is a learned row (a training word the cased vectors lack); "PARIS" and
    # "paris" still read the vector of "Paris"; a word with no vector reads its learned row
    v = Vocabulary(["Paris", "the", "paris", "oslo"], 2)
    assert v.lookup("PARIS") == 0 and v.lookup("paris") == 0
    assert v.lookup("Oslo") == 3 and v.lookup("OSLO") == 3
    assert v.lookup("the") == 1 and v.lookup("x") == v.unk


def test_lookup_with_lowercased_vectors_is_exact_then_lowercase():
    words = ["paris", "the", "ebay"]
    v = Vocabulary(words, 3)
    assert [v.lookup(w) for w in ["Paris", "PARIS", "The", "eBay", "EBAY", "Rome"]] == \
        [0, 0, 1, 2, 2, 3]


def test_cased_vectors_build_learned_rows_only_for_words_without_any_casing():
    vocab = Vocabulary.build(["Paris", "the"], [["PARIS", "Oslo", "oslo"], ["paris", "OSLO"]],
                             min_count=2)
    # every casing of paris finds the vector; oslo (3 times, any case) gets one learned row
    assert vocab.words == ["Paris", "the", "oslo"]
    assert vocab.coverage([["PARIS", "paris", "Oslo", "the"]]) == 0.75


def _fit(rng, **kw):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 64)
    m = NERTagger(v, hidden=4, case_dim=2, threads=1, seed=1)
    return m.fit(S, T, S[:16], T[:16], epochs=3, lr=1e-2, patience=5, progress=False, **kw)


def test_lr_decay_lowers_the_learning_rate_each_epoch(rng):
    m = _fit(rng, lr_decay=0.5)
    assert [h["lr"] for h in m.history] == pytest.approx([1e-2, 1e-2 / 1.5, 1e-2 / 2.0])
    m0 = _fit(np.random.default_rng(0))
    assert [h["lr"] for h in m0.history] == [1e-2] * 3


def test_lr_decay_changes_training_only_from_the_second_epoch(rng):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 64)
    runs = []
    for decay in (0.0, 1.0):
        m = NERTagger(v, hidden=4, case_dim=2, threads=1, seed=1)
        m.fit(S, T, epochs=1, lr=1e-2, progress=False, lr_decay=decay)
        one = m.params["out_W"].copy()
        m = NERTagger(v, hidden=4, case_dim=2, threads=1, seed=1)
        m.fit(S, T, epochs=2, lr=1e-2, progress=False, lr_decay=decay)
        runs.append((one, m.params["out_W"].copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not np.allclose(runs[0][1], runs[1][1])


def test_bad_lr_decay(rng):
    with pytest.raises(ParameterError, match="lr_decay must be >= 0"):
        _fit(rng, lr_decay=-0.1)


def test_cli_ner_lr_decay(tmp_path, rng):
    _write_vectors(tmp_path / "vec.txt", tag_vectors(rng))
    S, T = tagging_data(rng, 40)
    f = tmp_path / "train"
    f.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in zip(s, ts))
                             for s, ts in zip(S, T)) + "\n")
    base = ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"), "--train", str(f),
            "--dev", str(f), "--epochs", "2", "--threads", "1", "--hidden", "4",
            "--layers", "1", "--char-cnn", "0", "--out", str(tmp_path / "m")]
    r = CliRunner().invoke(cli, base + ["--lr-decay", "1"])
    assert r.exit_code == 0, r.output
    assert [h["lr"] for h in load_model(tmp_path / "m").history] == \
        pytest.approx([2e-3, 1e-3])
    r = CliRunner().invoke(cli, base + ["--lr-decay", "-1"])
    assert r.exit_code == 1 and "lr_decay must be >= 0" in r.output
