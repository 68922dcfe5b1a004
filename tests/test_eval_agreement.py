"""embedkit's evaluators agree with gensim 4.4's on the same vectors and settings."""

import pathlib

import numpy as np
import pytest

gensim_kv = pytest.importorskip("gensim.models.keyedvectors")

from embedkit.evaluation import (dataset_path, evaluate_analogies, evaluate_similarity,
                                 load_dataset)
from embedkit.vectors import Vectors

DATA = pathlib.Path(__file__).parent / "data" / "evals"
VECTORS = DATA / "structured.txt.gz"


@pytest.fixture(scope="module")
def kv():
    return gensim_kv.KeyedVectors.load_word2vec_format(str(VECTORS))


@pytest.fixture(scope="module")
def vec(kv):
    return Vectors(kv.index_to_key, kv.vectors)


@pytest.fixture(scope="module")
def google():
    return load_dataset("google")


def _gensim_sections(kv, path, **kw):
    score, sections = kv.evaluate_word_analogies(str(path), **kw)
    return score, sections[:-1]


def _per_section(result):
    ds = result.dataset
    out = []
    for sid, name in enumerate(ds.section_names):
        m = ds.section == sid
        out.append((name, int(result.correct[m].sum()),
                    int(result.covered[m].sum() - result.correct[m].sum())))
    return out


@pytest.mark.parametrize("restrict_vocab,case_insensitive", [
    (2000, True), (None, True), (30000, False), (700, True)])
def test_google_analogy_counts_equal_gensim(kv, vec, google, restrict_vocab, case_insensitive):
    gr = restrict_vocab if restrict_vocab is not None else len(kv)
    score, sections = _gensim_sections(kv, dataset_path("google"), restrict_vocab=gr,
                                       case_insensitive=case_insensitive)
    res = evaluate_analogies(vec, google, restrict_vocab=restrict_vocab,
                             case_insensitive=case_insensitive)
    expected = [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections]
    assert _per_section(res) == expected
    assert res.accuracy == pytest.approx(score, abs=0, rel=1e-15)
    # the fixture is meaningful: both right and wrong answers, and some uncovered questions
    assert 0 < res.n_correct < res.n_covered < res.n
    # the very same questions are right
    up = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    got = {tuple(up(x[0]) for x in (google.a[i], google.b[i], google.c[i], google.d[i]))
           for i in np.flatnonzero(res.correct)}
    want = {t for s in sections for t in s["correct"]}
    assert got == want


def test_dummy4unknown_matches_gensim(kv, vec, google):
    score, sections = _gensim_sections(kv, dataset_path("google"), restrict_vocab=2000,
                                       dummy4unknown=True)
    res = evaluate_analogies(vec, google, restrict_vocab=2000, dummy4unknown=True)
    assert res.accuracy == pytest.approx(score, rel=1e-15)
    assert res.n_correct == sum(len(s["correct"]) for s in sections)
    assert res.n == sum(len(s["correct"]) + len(s["incorrect"]) for s in sections)


@pytest.mark.parametrize("name", ["ws353", "simlex999"])
@pytest.mark.parametrize("restrict_vocab,case_insensitive,dummy", [
    (300000, True, False), (1000, True, True), (300000, False, False)])
def test_similarity_equals_gensim(kv, vec, name, restrict_vocab, case_insensitive, dummy):
    pearson, spearman, oov = kv.evaluate_word_pairs(
        str(dataset_path(name)), restrict_vocab=restrict_vocab,
        case_insensitive=case_insensitive, dummy4unknown=dummy)
    res = evaluate_similarity(vec, name, restrict_vocab=restrict_vocab,
                              case_insensitive=case_insensitive, dummy4unknown=dummy)
    assert res.spearman == spearman[0]
    assert res.pearson == pearson[0]
    assert res.oov_ratio == oov
    assert abs(res.spearman) > 0.02


def test_similarity_on_gensim_test_copies(kv, vec, tmp_path):
    # gensim's own wordsim353.tsv has '#' comment lines; both skip them alike
    src = pathlib.Path(gensim_kv.__file__).parents[1] / "test" / "test_data" / "wordsim353.tsv"
    if not src.exists():
        pytest.skip("gensim test data not installed")
    pearson, spearman, oov = kv.evaluate_word_pairs(str(src))
    res = evaluate_similarity(vec, str(src))
    assert (res.spearman, res.pearson, res.oov_ratio) == (spearman[0], pearson[0], oov)


def _tiny(words, rows):
    m = np.asarray(rows, dtype=np.float32)
    kv = gensim_kv.KeyedVectors(m.shape[1])
    kv.add_vectors(words, m)
    return kv, Vectors(words, m)


def _question_file(tmp_path, lines):
    p = tmp_path / "q.txt"
    p.write_text(": sec\n" + "\n".join(lines) + "\n")
    return p


def test_case_variants_filling_gensims_top5_window(tmp_path):
    # "bob" has five case variants right next to the query: gensim's top-5 window then holds
    # only variants of question words, and it returns the last of them (a question word).
    rng = np.random.default_rng(3)
    base = {w: rng.normal(size=8) for w in ["al", "bob", "cy", "dan", "eve"]}
    q = base["bob"] - base["al"] + base["cy"]
    variants = ["Bob", "BOB", "bOb", "boB", "BOb"]
    words = ["al", "bob", "cy", "dan", "eve", *variants, "zed"]
    rows = [base["al"], base["bob"], base["cy"], q + 0.3 * rng.normal(size=8), base["eve"]]
    rows += [q + 0.01 * rng.normal(size=8) for _ in variants] + [rng.normal(size=8)]
    rows += [rng.normal(size=8) for _ in range(20)]
    words += [f"w{i}" for i in range(20)]
    kv, v = _tiny(words, rows)
    path = _question_file(tmp_path, ["al bob cy dan", "al bob cy bob", "al bob cy eve"])
    score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=100)
    res = evaluate_analogies(v, str(path), restrict_vocab=100)
    # gensim: "dan" is not predicted although it is the best non-question word, because all
    # five answers it looks at are variants of "bob"; it then "predicts" bob.
    assert [t[3] for t in sections[0]["correct"]] == ["BOB"]
    assert res.correct.tolist() == [False, True, False]
    assert res.n_exact == 3
    plain = evaluate_analogies(v, str(path), restrict_vocab=100, exact_ties=False)
    assert plain.correct.tolist() == [True, False, False]  # what the rule alone gives


def test_exact_duplicate_candidates_tie_like_gensim(tmp_path):
    rng = np.random.default_rng(5)
    a, b, c = rng.normal(size=(3, 8))
    d = b - a + c
    words = ["a", "b", "c", "x", "d", "y"]
    rows = [a, b, c, d, d, rng.normal(size=8)]  # "x" and "d" tie exactly
    kv, v = _tiny(words, rows)
    path = _question_file(tmp_path, ["a b c d", "a b c x"])
    score, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=100)
    res = evaluate_analogies(v, str(path), restrict_vocab=100)
    assert [tuple(w.lower() for w in t) for t in sections[0]["correct"]] == \
        [tuple(x[0] for x in (res.dataset.a[i], res.dataset.b[i], res.dataset.c[i],
                                res.dataset.d[i])) for i in np.flatnonzero(res.correct)]


def test_3cosmul_matches_gensim_most_similar_cosmul(kv, vec, google):
    res = evaluate_analogies(vec, google, method="3cosmul", restrict_vocab=None,
                             case_insensitive=False)
    idx = np.flatnonzero(res.covered)[::97]
    assert len(idx) > 50
    for i in idx:
        a, b, c = google.a[i][0], google.b[i][0], google.c[i][0]
        top = kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=1)[0][0]
        assert vec.words[res.predicted[i]] == top
