"""NER word lookup over cased and lowercased vectors, and the learning-rate decay."""

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, load_model
from embedkit.downstream.features import Vocabulary
from embedkit.errors import ParameterError

from gradcheck import check_gradient, spread
from helpers.tagging import small_fit, small_tagger, tag_vectors, tagging_data, write_ner_files


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
    m = small_tagger(v, hidden=4, case_dim=2, threads=1, seed=1)
    return m.fit(S, T, S[:16], T[:16],
                 **small_fit(epochs=3, lr=1e-2, patience=5, progress=False, **kw))


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
        m = small_tagger(v, hidden=4, case_dim=2, threads=1, seed=1)
        m.fit(S, T, **small_fit(epochs=1, lr=1e-2, progress=False, lr_decay=decay))
        one = m.params["out_W"].copy()
        m = small_tagger(v, hidden=4, case_dim=2, threads=1, seed=1)
        m.fit(S, T, **small_fit(epochs=2, lr=1e-2, progress=False, lr_decay=decay))
        runs.append((one, m.params["out_W"].copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not np.allclose(runs[0][1], runs[1][1])


def test_bad_lr_decay(rng):
    with pytest.raises(ParameterError, match="lr_decay must be >= 0"):
        _fit(rng, lr_decay=-0.1)


def test_cli_ner_lr_decay(tmp_path, rng):
    _, f, S, T = write_ner_files(tmp_path, rng, 40)
    base = ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"), "--train", str(f),
            "--dev", str(f), "--epochs", "2", "--threads", "1", "--hidden", "4",
            "--layers", "1", "--char-cnn", "0", "--out", str(tmp_path / "m")]
    r = CliRunner().invoke(cli, base + ["--lr-decay", "1"])
    assert r.exit_code == 0, r.output
    assert [h["lr"] for h in load_model(tmp_path / "m").history] == \
        pytest.approx([2e-3, 1e-3])
    r = CliRunner().invoke(cli, base + ["--lr-decay", "-1"])
    # outside the range --help shows: a usage error, before any work (issue 13)
    assert r.exit_code == 2 and "is not in the range x>=0" in r.output


def test_multi_width_char_cnn_gradients_match_finite_differences(rng):
    from embedkit.downstream.features import make_batch
    from order_task import to_float64

    v = tag_vectors(rng, dim=3)
    S, T = tagging_data(rng, 10)
    m = small_tagger(v, hidden=3, case_dim=2, char_cnn=3, char_cnn_dim=2,
                     char_cnn_width=[3, 1, 5], threads=1, crf=True)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    assert [m.params[k].shape[0] for k in ("cnn_W", "cnn_W_1", "cnn_W_2")] == [3, 1, 5]
    assert m.params["gru_f_Wi"].shape[1] == 3 + 2 + 3 * 3   # word + case + 3 banks
    to_float64(m)

    def batch():
        return make_batch([m.featurizer.encode(s) for s in S[:3]], False)

    ys = T[:3]
    m._loss_grad(batch(), ys, None)
    for name in ("cnn_emb", "cnn_W", "cnn_b", "cnn_W_1", "cnn_b_1", "cnn_W_2", "cnn_b_2"):
        g = m.grads[name].copy()
        assert np.abs(g).sum() > 0, name
        a = m.params[name]
        check_gradient(lambda: m._loss_grad(batch(), ys, None)[0], a, g, spread(a.shape, 10),
                       name)


def test_one_width_in_a_list_is_the_single_width_model(rng):
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 40)
    a = small_tagger(v, hidden=4, char_cnn=4, char_cnn_width=3, threads=1).fit(
        S, T, **small_fit(epochs=1, progress=False))
    b = small_tagger(v, hidden=4, char_cnn=4, char_cnn_width=[3], threads=1).fit(
        S, T, **small_fit(epochs=1, progress=False))
    assert sorted(a.params) == sorted(b.params)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])


@pytest.mark.parametrize("width", [[3, 4], [3, 3], [], "x", [3, None]])
def test_bad_char_cnn_widths(rng, width):
    with pytest.raises(ParameterError, match="char_cnn_width"):
        NERTagger(tag_vectors(rng), char_cnn=4, char_cnn_width=width)


def test_cli_ner_multi_width_char_cnn_round_trips(tmp_path, rng):
    _, f, S, T = write_ner_files(tmp_path, rng, 60)
    base = ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"), "--train", str(f),
            "--epochs", "1", "--threads", "1", "--hidden", "4", "--layers", "1",
            "--char-cnn", "5"]
    r = CliRunner().invoke(cli, base + ["--char-cnn-width", "3,5", "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    m = load_model(tmp_path / "m")
    assert m.config.char_cnn_width == (3, 5)
    assert m.params["cnn_W"].shape == (3, 25, 5) and m.params["cnn_W_1"].shape == (5, 25, 5)
    m.save(tmp_path / "m2")
    assert load_model(tmp_path / "m2").predict(S) == m.predict(S)
    r = CliRunner().invoke(cli, base + ["--char-cnn-width", "3,x", "--out", str(tmp_path / "b")])
    assert r.exit_code == 1 and "--char-cnn-width must be odd numbers" in r.output
