"""Analogy and similarity scoring on small hand-made vectors, and embedkit.evaluate."""

import logging

import numpy as np
import pytest

import embedkit
from embedkit.errors import ParameterError
from embedkit.evaluation import (AnalogySet, evaluate_analogies, evaluate_similarity)
from embedkit.vectors import Vectors


def _set(questions, sections=None, name="t"):
    n = len(questions)
    return AnalogySet(name=name, a=[(q[0],) for q in questions], b=[(q[1],) for q in questions],
                      c=[(q[2],) for q in questions],
                      d=[q[3] if isinstance(q[3], tuple) else (q[3],) for q in questions],
                      section=np.asarray(sections or [0] * n, dtype=np.int32),
                      section_names=["s0", "s1"][:1 + max(sections or [0])],
                      section_families=["f0", "f1"][:1 + max(sections or [0])])


@pytest.fixture
def offsets(rng):
    """Words x_i and y_i = x_i + r: every analogy x_i : y_i :: x_j : y_j is solvable."""
    dim, k = 20, 8
    x = rng.normal(size=(k, dim))
    r = rng.normal(size=dim) * 2
    y = x + r + 0.05 * rng.normal(size=(k, dim))
    words = [f"x{i}" for i in range(k)] + [f"y{i}" for i in range(k)]
    return Vectors(words, np.vstack([x, y]).astype(np.float32))


def _brute(v, q, method, restrict):
    """Reference answer in float64, one question at a time."""
    N = v.normalized[:restrict].astype(np.float64)
    ia, ib, ic = (v.index(w) for w in q[:3])
    if method == "3cosadd":
        s = N @ (N[ib] + N[ic] - N[ia])
    else:
        s = ((1 + N @ N[ib]) / 2) * ((1 + N @ N[ic]) / 2) / ((1 + N @ N[ia]) / 2 + 1e-6)
    s[[ia, ib, ic]] = -np.inf
    return v.words[int(np.argmax(s))]


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_matches_brute_force_reference(rng, method):
    v = Vectors([f"w{i}" for i in range(300)], rng.normal(size=(300, 12)))
    qs = [tuple(f"w{j}" for j in rng.choice(300, 4, replace=False)) for _ in range(200)]
    res = evaluate_analogies(v, _set(qs), method=method, restrict_vocab=250, batch_size=17)
    for i, q in enumerate(qs):
        if res.covered[i]:
            assert v.words[res.predicted[i]] == _brute(v, q, method, 250)
        else:
            assert any(int(w[1:]) >= 250 for w in q)
    assert 0 < res.n_covered < len(qs)


def test_offsets_all_correct_and_question_words_excluded(offsets):
    qs = [(f"x{i}", f"y{i}", f"x{j}", f"y{j}") for i in range(8) for j in range(8) if i != j]
    res = evaluate_analogies(offsets, _set(qs))
    assert res.accuracy == 1.0 and res.n_correct == 56
    # an answer equal to a question word can never be predicted
    res = evaluate_analogies(offsets, _set([("x0", "y0", "x1", "x1")]))
    assert res.n_correct == 0 and res.predicted[0] != offsets.index("x1")


def test_batch_size_does_not_change_answers(offsets):
    qs = [(f"x{i}", f"y{i}", f"x{j}", f"y{j}") for i in range(8) for j in range(8) if i != j]
    a = evaluate_analogies(offsets, _set(qs), batch_size=1)
    b = evaluate_analogies(offsets, _set(qs))
    assert np.array_equal(a.predicted, b.predicted)


def test_coverage_and_dummy4unknown(offsets, caplog):
    qs = [("x0", "y0", "x1", "y1"), ("x0", "y0", "x1", "nope")]
    res = evaluate_analogies(offsets, _set(qs))
    assert (res.n, res.n_covered, res.coverage, res.accuracy) == (2, 1, 0.5, 1.0)
    res = evaluate_analogies(offsets, _set(qs), dummy4unknown=True)
    assert res.accuracy == 0.5
    total = res.records()[0]
    assert (total["level"], total["n"], total["n_covered"], total["n_correct"]) == ("total", 2, 1, 1)


def test_restrict_vocab_limits_coverage_and_candidates(offsets):
    # y-words are rows 8-15: outside restrict_vocab=8 the questions are not covered
    res = evaluate_analogies(offsets, _set([("x0", "y0", "x1", "y1")]), restrict_vocab=8)
    assert res.n_covered == 0


def test_no_covered_question_warns(offsets, caplog):
    with caplog.at_level(logging.WARNING):
        res = evaluate_analogies(offsets, _set([("a", "b", "c", "d")]))
    assert res.n_covered == 0 and np.isnan(res.accuracy)
    assert "none of the 1 questions is covered" in caplog.text


def test_case_handling(offsets):
    qs = [("X0", "Y0", "x1", "Y1")]
    assert evaluate_analogies(offsets, _set(qs)).n_correct == 1
    assert evaluate_analogies(offsets, _set(qs), case_insensitive=False).n_covered == 0


def test_several_acceptable_answers(offsets):
    ds = _set([("x0", "y0", "x1", ("zzz", "y1")), ("x0", "y0", "x1", ("x2", "y3"))])
    res = evaluate_analogies(offsets, ds)
    assert res.correct.tolist() == [True, False]


def test_bats_layout_end_to_end(offsets, tmp_path):
    fam = tmp_path / "1_Fam"
    fam.mkdir()
    (fam / "R1.txt").write_text("".join(f"x{i}\tq{i}/y{i}\n" for i in range(5)))
    res = evaluate_analogies(offsets, str(tmp_path))
    assert res.n == 20 and res.accuracy == 1.0
    assert [r["name"] for r in res.records()] == ["total", "Fam", "R1"]


@pytest.mark.parametrize("kwargs,match", [
    ({"restrict_vocab": 0}, "restrict_vocab must be >= 1"),
    ({"restrict_vocab": 2.5}, "restrict_vocab must be a positive integer"),
    ({"method": "cos"}, "method must be one of"),
    ({"batch_size": 0}, "batch_size must be >= 1"),
])
def test_parameter_validation(offsets, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        evaluate_analogies(offsets, _set([("x0", "y0", "x1", "y1")]), **kwargs)


def test_similarity_set_given_to_analogy(offsets):
    with pytest.raises(ParameterError, match="word-similarity set"):
        evaluate_analogies(offsets, "ws353")


def test_similarity_oov_pairs_reported(offsets, tmp_path):
    p = tmp_path / "s.tsv"
    p.write_text("x0\ty0\t9\nx0\tx1\t1\nx1\ty1\t8\nx2\tnope\t3\n")
    res = evaluate_similarity(offsets, str(p))
    assert res.n == 4 and res.n_covered == 3 and res.oov_pairs == [("x2", "nope")]
    assert res.oov_ratio == 25.0 and res.spearman == pytest.approx(1.0)


def test_similarity_with_nothing_covered_warns(offsets, tmp_path, caplog):
    p = tmp_path / "s.tsv"
    p.write_text("a\tb\t1\n")
    with caplog.at_level(logging.WARNING):
        res = evaluate_similarity(offsets, str(p))
    assert np.isnan(res.spearman) and "no correlation" in caplog.text


def test_evaluate_dataframe(offsets, tmp_path):
    q = tmp_path / "q.txt"
    q.write_text(": s\nx0 y0 x1 y1\nx0 y0 x2 y2\n")
    s = tmp_path / "s.tsv"
    s.write_text("x0\ty0\t9\nx0\tx1\t1\nx1\ty1\t8\n")
    df = embedkit.evaluate(offsets, sets=[str(q), str(s)], methods=("3cosadd", "3cosmul"))
    assert list(df.columns) == ["set", "level", "name", "metric", "score", "coverage", "n",
                                "n_covered", "n_correct"]
    tot = df[df.level == "total"]
    assert tot.metric.tolist() == ["3cosadd", "3cosmul", "spearman", "pearson"]
    assert tot.score.iloc[0] == 1.0 and tot.n.tolist() == [2, 2, 3, 3]
    only = embedkit.evaluate(offsets, suite="similarity", sets=[str(q), str(s)])
    assert set(only.metric) == {"spearman", "pearson"}


def test_evaluate_validation(offsets):
    with pytest.raises(ParameterError, match="suite must be one of"):
        embedkit.evaluate(offsets, suite="both")
    with pytest.raises(ParameterError, match="method must be one of"):
        embedkit.evaluate(offsets, methods=["x"])
    with pytest.raises(ParameterError, match="sets is empty"):
        embedkit.evaluate(offsets, sets=[])
    with pytest.raises(ParameterError, match="Vectors or a path"):
        embedkit.evaluate(42)


@pytest.mark.parametrize("value,match", [(0, "restrict_vocab must be >= 1"),
                                         ("10", "restrict_vocab must be a positive integer")])
def test_similarity_restrict_vocab_validation(offsets, value, match):
    with pytest.raises(ParameterError, match=match):
        evaluate_similarity(offsets, "ws353", restrict_vocab=value)
