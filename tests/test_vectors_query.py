"""The query API: lookups, most_similar/analogy/doesnt_match against brute force,
the _search funnel and the attach_index hook."""

import numpy as np
import pytest

import embedkit
from embedkit.errors import ParameterError, UnknownWordError
from helpers.factories import query_vectors


@pytest.fixture
def vecs(rng):
    return query_vectors(rng)


def _brute(v, query, exclude=()):
    sims = v.normalized @ (query / np.linalg.norm(query))
    sims[list(exclude)] = -np.inf
    return [v.words[i] for i in np.argsort(-sims, kind="stable")]


def test_container_protocol(vecs):
    assert len(vecs) == 300 and vecs.dim == 16
    assert "queen" in vecs and "nope" not in vecs and 3 not in vecs
    assert vecs.key_to_index["queen"] == 298
    np.testing.assert_array_equal(vecs["queen"], vecs.vectors[298])
    np.testing.assert_array_equal(vecs[["w1", "w0"]], vecs.vectors[[1, 0]])
    np.testing.assert_array_equal(vecs.indices(["w2", "queen"]), [2, 298])


def test_normalized_rows_are_unit_and_cached(vecs):
    norms = np.linalg.norm(vecs.normalized, axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert vecs.normalized is vecs.normalized


def test_unknown_word_names_it_and_closest_spellings(vecs):
    with pytest.raises(KeyError) as err:
        vecs["quen"]
    assert "quen" in str(err.value) and "queen" in str(err.value)
    assert isinstance(err.value, UnknownWordError)
    with pytest.raises(UnknownWordError, match="PARIS.*Paris.*ignore_case"):
        vecs.most_similar("PARIS")


def test_ignore_case_is_explicit_and_exact_spelling_wins(vecs):
    assert "PARIS" not in vecs
    vecs.ignore_case = True
    assert "PARIS" in vecs
    assert vecs.index("PARIS") == vecs.index("Paris")
    assert vecs.index("King") == 296 and vecs.index("king") == 297
    assert vecs.index("KING") == 296          # first row whose casefold matches


def test_most_similar_matches_brute_force_and_excludes_queries(vecs):
    res = vecs.most_similar("queen", topn=5)
    assert [w for w, _ in res] == _brute(vecs, vecs.normalized[298], [298])[:5]
    assert all(w != "queen" for w, _ in res)
    assert res == sorted(res, key=lambda x: -x[1])
    q = vecs.normalized[296] - vecs.normalized[297] + vecs.normalized[5]
    res = vecs.most_similar(positive=["King", "w5"], negative=["king"], topn=4)
    assert [w for w, _ in res] == _brute(vecs, q, [296, 297, 5])[:4]


def test_restrict_vocab_limits_the_search(vecs):
    res = vecs.most_similar("queen", topn=300, restrict_vocab=50)
    assert len(res) == 50 and all(vecs.index(w) < 50 for w, _ in res)


def test_topn_larger_than_vocabulary_returns_everything_else(vecs):
    assert len(vecs.most_similar("queen", topn=1000)) == 299


def test_analogy_3cosmul_is_the_levy_goldberg_argmax(vecs):
    a, b, c = (vecs.normalized[vecs.index(w)] for w in ("w1", "w2", "w3"))
    cos = (vecs.normalized @ np.stack([a, b, c]).T + 1) / 2
    score = cos[:, 1] * cos[:, 2] / (cos[:, 0] + 1e-3)
    score[[1, 2, 3]] = -np.inf
    expected = [vecs.words[i] for i in np.argsort(-score)[:3]]
    assert [w for w, _ in vecs.analogy("w1", "w2", "w3", topn=3, method="3cosmul")] == expected


def test_analogy_rejects_unknown_method(vecs):
    with pytest.raises(ParameterError, match="3cosmul"):
        vecs.analogy("w1", "w2", "w3", method="cos")


def test_search_funnel_shapes_and_exclusion(vecs):
    q = vecs.normalized[[0, 1]]
    ids, scores = vecs._search(q, 3, exclude=[[0], [1, 5]])
    assert ids.dtype == np.int64 and scores.dtype == np.float32 and ids.shape == (2, 3)
    assert 0 not in ids[0] and 1 not in ids[1] and 5 not in ids[1]
    np.testing.assert_allclose(scores, np.take_along_axis(q @ vecs.normalized.T, ids, 1), rtol=1e-5)
    ids, scores = vecs._search(q[:1], 5, exclude=[[0, 1, 2]], restrict_vocab=4)
    assert ids[0].tolist() == [3, -1, -1, -1, -1] and np.isneginf(scores[0, 1:]).all()


def test_search_rejects_bad_k(vecs):
    with pytest.raises(ParameterError, match="k"):
        vecs._search(vecs.normalized[:1], 0)


class _RecordingIndex:
    def __init__(self, v):
        self.v, self.calls = v, []

    def search(self, queries, k, exclude=None):
        self.calls.append((queries.shape, k, exclude))
        self.v.search_index = None
        try:
            return self.v._search(queries, k, exclude=exclude)
        finally:
            self.v.search_index = self


def test_attach_index_routes_every_query_through_it(vecs):
    plain = (vecs.most_similar("queen", topn=3), vecs.analogy("w1", "w2", "w3"),
             vecs.analogy("w1", "w2", "w3", method="3cosmul"))
    index = _RecordingIndex(vecs)
    assert vecs.attach_index(index) is vecs and vecs.search_index is index
    got = (vecs.most_similar("queen", topn=3), vecs.analogy("w1", "w2", "w3"),
           vecs.analogy("w1", "w2", "w3", method="3cosmul"))
    # 3CosMul scores a candidate pool from the index, brute force folds blocks of rows:
    # the same words, scores equal to float32 rounding
    for g, p in zip(got, plain):
        assert [w for w, _ in g] == [w for w, _ in p]
        np.testing.assert_allclose([s for _, s in g], [s for _, s in p], rtol=0, atol=1e-6)
    assert len(index.calls) == 3 and index.calls[0][2] == [[298]]
    vecs.attach_index(None)
    vecs.most_similar("queen")
    assert len(index.calls) == 3


def test_attach_index_needs_a_search_method(vecs):
    with pytest.raises(ParameterError, match="search"):
        vecs.attach_index(object())


def test_restrict_by_count_and_by_words(vecs, tmp_path):
    vecs.save(tmp_path / "v.ekv")
    mm = embedkit.load(tmp_path / "v.ekv")
    top = mm.restrict(10)
    assert top.words == vecs.words[:10] and isinstance(top.vectors, np.memmap)
    some = vecs.restrict(["queen", "w3"])
    assert some.words == ["queen", "w3"]
    np.testing.assert_array_equal(some.vectors, vecs.vectors[[298, 3]])
    with pytest.raises(ParameterError):
        vecs.restrict(0)
    with pytest.raises(UnknownWordError):
        vecs.restrict(["queen", "nope"])


def test_doesnt_match_needs_one_known_word(vecs):
    # gensim's rule: unknown words are dropped (with a warning); one known word is the answer
    assert vecs.doesnt_match(["queen", "nope"]) == "queen"
    with pytest.raises(ParameterError, match="none of the words"):
        vecs.doesnt_match(["nope", "nada"])


def test_unknown_word_suggestions_are_computed_only_when_shown(vecs, monkeypatch):
    calls = []
    original = embedkit.Vectors._unknown_message
    monkeypatch.setattr(embedkit.Vectors, "_unknown_message",
                        lambda self, w: calls.append(w) or original(self, w))
    for _ in range(100):
        try:
            vecs["quen"]
        except KeyError:
            pass
    assert calls == []
    with pytest.raises(KeyError, match="queen"):
        vecs["quen"]
    assert calls == ["quen"]
