"""gensim-compatible KeyedVectors methods, checked without gensim: one test per rule
(tests/test_gensim_parity.py runs the same calls side by side with gensim)."""

import logging

import numpy as np
import pytest

import embedkit
from embedkit.errors import EmbedkitError, ParameterError, UnknownAttributeError, UnknownWordError
from embedkit.vectors.wmd import emd, wmdistance


@pytest.fixture
def v(rng):
    n, dim = 200, 8
    words = [f"w{i}" for i in range(n)]
    counts = np.arange(10 * n, 0, -10, dtype=np.int64)
    return embedkit.Vectors(words, rng.standard_normal((n, dim)).astype(np.float32),
                            counts=counts)


def _unit(x):
    return x / np.linalg.norm(x)


def _brute(v, query, exclude=(), start=0, end=None):
    sims = v.normalized @ _unit(np.asarray(query, dtype=np.float64))
    sims[list(exclude)] = -np.inf
    sims[:start] = -np.inf
    if end is not None:
        sims[end:] = -np.inf
    return [v.words[i] for i in np.argsort(-sims, kind="stable") if np.isfinite(sims[i])]


# -- keys ---------------------------------------------------------------------------------------
def test_an_int_key_is_a_row_number(v):
    np.testing.assert_array_equal(v[5], v.vectors[5])
    assert v.get_index(5) == 5 and v.get_index("w7") == 7
    assert v.has_index_for(199) and not v.has_index_for(200) and not v.has_index_for(-1)


def test_getitem_takes_a_list_of_words_and_rows(v):
    np.testing.assert_array_equal(v[["w3", 4, np.int64(9)]], v.vectors[[3, 4, 9]])


def test_get_vector_is_read_only_and_norm_gives_unit_length(v):
    vec = v.get_vector("w3")
    with pytest.raises(ValueError):
        vec[0] = 1.0
    assert np.linalg.norm(v.get_vector("w3", norm=True)) == pytest.approx(1.0, abs=1e-6)


def test_get_index_default_and_errors_are_embedkit_errors(v):
    assert v.get_index("nope", default=-1) == -1
    for bad in ("nope", 200, 2.5, None):
        with pytest.raises(UnknownWordError):
            v[bad]
    with pytest.raises(UnknownWordError, match="out of range"):
        v[10 ** 9]
    with pytest.raises(UnknownWordError, match="row number"):
        v[object()]


def test_index_to_key_and_vector_size_are_gensims_names(v):
    assert v.index_to_key is v.words and v.vector_size == v.dim == 8


# -- most_similar inputs --------------------------------------------------------------------------
def test_most_similar_weighted_pairs_use_the_given_weights(v):
    q = 2.0 * v.normalized[1] + 0.5 * v.normalized[2]
    got = v.most_similar([("w1", 2.0), ("w2", 0.5)], topn=5)
    assert [w for w, _ in got] == _brute(v, q, [1, 2])[:5]


def test_most_similar_raw_vectors_are_not_normalised_one_by_one(v):
    raw = 5.0 * v.vectors[7]
    q = raw + v.normalized[3]                       # a unit word vector plus the raw one
    got = v.most_similar([raw, "w3"], topn=5)
    assert [w for w, _ in got] == _brute(v, q, [3])[:5]
    assert "w7" in [w for w, _ in v.most_similar([raw], topn=1)]   # raw vectors exclude nothing


def test_most_similar_2d_array_rows_are_vectors(v):
    rows = v.vectors[:3]
    got = v.most_similar(positive=rows, topn=4)
    assert [w for w, _ in got] == _brute(v, rows.sum(axis=0))[:4]


def test_most_similar_mixes_words_rows_vectors_and_pairs(v):
    q = v.normalized[4] + v.normalized[5] + v.vectors[6] - 0.5 * v.normalized[8]
    got = v.most_similar(positive=["w4", 5, v.vectors[6]], negative=[("w8", -0.5)], topn=6)
    assert [w for w, _ in got] == _brute(v, q, [4, 5, 8])[:6]


def test_most_similar_negative_pair_weight_is_used_as_given(v):
    # as in gensim: a pair's weight is the weight, also among the negatives
    a = v.most_similar(positive=["w1"], negative=[("w2", 1.0)], topn=5)
    b = v.most_similar(positive=["w1", "w2"], topn=5)
    assert a == b


def test_most_similar_topn_none_returns_every_score(v):
    scores = v.most_similar("w3", topn=None)
    assert scores.shape == (200,)
    np.testing.assert_allclose(scores, v.normalized @ v.normalized[3], atol=1e-6)


def test_most_similar_topn_zero_returns_empty(v):
    assert v.most_similar("w3", topn=0) == []
    assert v.most_similar("w3", topn=np.uint8(0)) == []


def test_most_similar_clip_range(v):
    got = v.most_similar("w3", topn=200, clip_start=20, clip_end=50)
    assert [w for w, _ in got] == _brute(v, v.normalized[3], [3], 20, 50)
    assert len(v.most_similar("w3", topn=None, clip_start=20, clip_end=50)) == 30


def test_most_similar_restrict_vocab_overrides_the_clip_range(v):
    got = v.most_similar("w3", topn=200, clip_start=20, clip_end=50, restrict_vocab=10)
    assert sorted(w for w, _ in got) == sorted(f"w{i}" for i in range(10) if i != 3)


def test_most_similar_bad_inputs_are_parameter_errors(v):
    with pytest.raises(ParameterError, match="inside a list"):
        v.most_similar(("w1", 1.0))
    with pytest.raises(ParameterError, match="shape"):
        v.most_similar([np.ones(3)])
    with pytest.raises(ParameterError, match="at least one"):
        v.most_similar()
    with pytest.raises(ParameterError, match="topn"):
        v.most_similar("w1", topn=2.5)
    with pytest.raises(UnknownWordError):
        v.most_similar([("nope", 1.0)])


def test_most_similar_indexer_answers_like_gensims_hook(v):
    class Indexer:
        def most_similar(self, vector, topn):
            return [("from-indexer", float(np.linalg.norm(vector)))] * topn

    got = v.most_similar("w1", topn=2, indexer=Indexer())
    assert got[0][0] == "from-indexer" and got[0][1] == pytest.approx(1.0, abs=1e-6)


def test_similar_by_word_key_and_vector(v):
    assert v.similar_by_word("w3", topn=4) == v.similar_by_key("w3", topn=4) \
        == v.most_similar("w3", topn=4)
    assert v.similar_by_vector(v.vectors[3], topn=1)[0][0] == "w3"


# -- cosmul ---------------------------------------------------------------------------------------
def test_most_similar_cosmul_is_gensims_formula(v):
    cos = v.normalized @ np.stack([v.normalized[i] for i in (1, 2, 3)]).T
    sims = (1 + cos) / 2
    score = sims[:, 0] * sims[:, 1] / (sims[:, 2] + 1e-6)
    got = v.most_similar_cosmul(["w1", "w2"], ["w3"], topn=5)
    order = [i for i in np.argsort(-score) if i not in (1, 2, 3)][:5]
    assert [w for w, _ in got] == [v.words[i] for i in order]
    np.testing.assert_allclose([s for _, s in got], score[order], rtol=1e-5)
    np.testing.assert_allclose(v.most_similar_cosmul(["w1", "w2"], ["w3"], topn=None), score,
                               rtol=1e-5)


def test_most_similar_cosmul_needs_a_positive(v):
    with pytest.raises(ParameterError, match="positive"):
        v.most_similar_cosmul(negative=["w1"])


# -- similarities between keys ----------------------------------------------------------------------
def test_similarity_distance_and_n_similarity(v):
    s = float(_unit(v.vectors[1]) @ _unit(v.vectors[2]))
    assert v.similarity("w1", 2) == pytest.approx(s, abs=1e-6)
    assert v.distance("w1", "w2") == pytest.approx(1 - s, abs=1e-6)
    m1, m2 = v.vectors[[1, 2]].mean(axis=0), v.vectors[[3]].mean(axis=0)
    assert v.n_similarity(["w1", "w2", "nope"], ["w3"]) == \
        pytest.approx(float(_unit(m1) @ _unit(m2)), abs=1e-6)
    with pytest.raises(ParameterError):
        v.n_similarity([], ["w1"])


def test_distances_and_cosine_similarities(v):
    np.testing.assert_allclose(v.distances("w1"), 1 - v.normalized @ v.normalized[1], atol=1e-6)
    np.testing.assert_allclose(v.distances(v.vectors[1], ["w2", "w3"]),
                               1 - v.normalized[[2, 3]] @ v.normalized[1], atol=1e-6)
    cs = embedkit.Vectors.cosine_similarities(v.vectors[0], v.vectors[:4])
    np.testing.assert_allclose(cs, v.normalized[:4] @ v.normalized[0], atol=1e-6)


def test_closer_than_and_rank(v):
    d = 1 - v.normalized @ v.normalized[1]
    expected = [v.words[i] for i in np.flatnonzero(d < d[2]) if i != 1]
    assert v.closer_than("w1", "w2") == v.words_closer_than("w1", "w2") == expected
    assert v.rank("w1", "w2") == len(expected) + 1
    assert v.closer_than("w1", "w1") == [] and v.rank("w1", "w1") == 1


def test_most_similar_to_given_and_relative_cosine_similarity(v):
    cands = ["w5", "w6", "w7"]
    best = max(cands, key=lambda w: v.similarity("w1", w))
    assert v.most_similar_to_given("w1", cands) == best
    top = v.similar_by_word("w1", 10)
    assert v.relative_cosine_similarity("w1", "w2") == \
        pytest.approx(v.similarity("w1", "w2") / sum(s for _, s in top))


def test_rank_by_centrality_and_doesnt_match_drop_unknown_words_with_a_warning(v, caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        ranked = v.rank_by_centrality(["w1", "w2", "nope", "w3"])
    assert "nope" in caplog.text
    assert [w for _, w in ranked] and set(w for _, w in ranked) == {"w1", "w2", "w3"}
    assert ranked == sorted(ranked, reverse=True)
    assert v.doesnt_match(["w1", "w2", "nope", "w3"]) == ranked[-1][1]


def test_get_mean_vector_weights_and_normalisation(v):
    expected = (1 * v.normalized[1] + 3 * v.normalized[2]) / 4
    np.testing.assert_allclose(v.get_mean_vector(["w1", "w2", "nope"], [1, 3, 5]), expected,
                               atol=1e-6)
    raw = (v.vectors[1] + v.vectors[2]) / 2
    np.testing.assert_allclose(v.get_mean_vector(["w1", "w2"], pre_normalize=False), raw,
                               atol=1e-6)
    np.testing.assert_allclose(v.get_mean_vector(["w1", "w2"], pre_normalize=False,
                                                 post_normalize=True), _unit(raw), atol=1e-6)
    with pytest.raises(UnknownWordError):
        v.get_mean_vector(["w1", "nope"], ignore_missing=False)
    with pytest.raises(ParameterError, match="same length"):
        v.get_mean_vector(["w1", "w2"], [1.0])
    with pytest.raises(ParameterError, match="at least one"):
        v.get_mean_vector([])


# -- changing the vectors ---------------------------------------------------------------------------
def test_add_vectors_appends_and_keeps_existing_unless_replace(v):
    old = v["w1"].copy()
    v.add_vectors(["w1", "new"], np.ones((2, 8), dtype=np.float32))
    assert len(v) == 201 and v.get_index("new") == 200
    np.testing.assert_array_equal(v["w1"], old)
    np.testing.assert_array_equal(v["new"], np.ones(8))
    assert v.get_vecattr("new", "count") == 0
    v.add_vectors(["w1"], np.full((1, 8), 2.0), replace=True)
    np.testing.assert_array_equal(v["w1"], np.full(8, 2.0))
    assert v.most_similar("new", topn=1)[0][0] == "w1"    # caches were dropped


def test_add_vector_and_setitem(v):
    assert v.add_vector("extra", np.zeros(8)) == 200
    v["w2"] = np.full(8, 3.0)
    v[["w3", "more"]] = np.full((2, 8), 4.0)
    v[0] = np.full(8, 5.0)
    np.testing.assert_array_equal(v[["w2", "w3", "more", 0]],
                                  [[3.0] * 8, [4.0] * 8, [4.0] * 8, [5.0] * 8])
    assert len(v) == 202


def test_add_vectors_rejects_bad_input(v):
    with pytest.raises(ParameterError, match="shape"):
        v.add_vectors(["a", "b"], np.ones((1, 8)))
    with pytest.raises(ParameterError, match="str"):
        v.add_vectors([7], np.ones((1, 8)))
    with pytest.raises(ParameterError, match="duplicates"):
        v.add_vectors(["a", "a"], np.ones((2, 8)))


def test_writing_copies_a_memory_mapped_matrix_and_never_touches_the_file(v, tmp_path):
    v.save(tmp_path / "v.ekv")
    mm = embedkit.load(tmp_path / "v.ekv")
    assert isinstance(mm.vectors, np.memmap)
    mm["w1"] = np.zeros(8)
    assert not isinstance(mm.vectors, np.memmap)
    np.testing.assert_array_equal(embedkit.load(tmp_path / "v.ekv")["w1"], v["w1"])


def test_a_change_detaches_the_search_index(v, caplog):
    v.attach_index(embedkit.Index(v, "exact"))
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        v.add_vector("x", np.ones(8))
    assert v.search_index is None and "detached" in caplog.text


def test_fill_norms_and_unit_normalize_all(v):
    v.fill_norms()
    np.testing.assert_allclose(np.linalg.norm(v.get_normed_vectors(), axis=1), 1, atol=1e-6)
    before = v.most_similar("w1", topn=5)
    v.unit_normalize_all()
    np.testing.assert_allclose(np.linalg.norm(v.vectors, axis=1), 1, atol=1e-6)
    assert [w for w, _ in v.most_similar("w1", topn=5)] == [w for w, _ in before]


def test_sort_by_descending_frequency_matches_gensims_tie_rule(v):
    v.counts = np.array([5, 9, 5, 7] + [1] * 196)
    v.sort_by_descending_frequency()
    # equal counts: the later row first, as gensim's lexsort((-index, -count))
    assert v.words[:4] == ["w1", "w3", "w2", "w0"]
    assert v.get_index("w0") == 3 and v.counts[:4].tolist() == [9, 7, 5, 5]


def test_sort_by_descending_frequency_needs_counts(v):
    v.counts = None
    with pytest.raises(ParameterError, match="counts"):
        v.sort_by_descending_frequency()


def test_vecattr_count(v):
    assert v.get_vecattr("w1", "count") == 1990
    v.set_vecattr("w1", "count", 7)
    assert v.get_vecattr(1, "count") == 7
    with pytest.raises(UnknownAttributeError):
        v.get_vecattr("w1", "sample_int")
    w = embedkit.Vectors(["a", "b"], np.eye(2))
    with pytest.raises(UnknownAttributeError, match="no counts"):
        w.get_vecattr("a", "count")
    w.set_vecattr("b", "count", 3)
    assert w.counts.tolist() == [0, 3]
    assert isinstance(UnknownAttributeError("x"), (EmbedkitError, KeyError))


def test_vectors_for_all_keeps_known_keys_once_in_order(v):
    out = v.vectors_for_all(["w5", "nope", "w2", "w5"])
    assert out.words == ["w5", "w2"] and out.counts is None
    np.testing.assert_array_equal(out.vectors, v.vectors[[5, 2]])
    assert v.vectors_for_all(["w5"], copy_vecattrs=True).counts.tolist() == [v.counts[5]]


# -- Word Mover's Distance ----------------------------------------------------------------------------
def test_wmd_pot_and_scipy_solvers_agree(v):
    d1, d2 = ["w1", "w2", "w2", "nope"], ["w3", "w4", "w1"]
    pot = pytest.importorskip("ot")  # noqa: F841 - both solvers, when POT is there
    a = wmdistance(v, d1, d2, solver="pot")
    b = wmdistance(v, d1, d2, solver="scipy")
    assert a == pytest.approx(b, abs=1e-9)


def test_wmd_scipy_solver_is_the_transport_optimum():
    # two points each; moving a onto b optimally costs the matching's total
    cost = np.array([[1.0, 4.0], [3.0, 1.0]])
    assert emd(np.array([0.5, 0.5]), np.array([0.5, 0.5]), cost, solver="scipy") == \
        pytest.approx(1.0)
    assert emd(np.array([1.0, 0.0]), np.array([0.25, 0.75]), cost, solver="scipy") == \
        pytest.approx(0.25 * 1 + 0.75 * 4)


def test_wmd_special_cases(v):
    assert v.wmdistance(["w1", "w1"], ["w1"]) == 0.0
    assert v.wmdistance(["nope"], ["w1"]) == float("inf")
    with pytest.raises(ParameterError, match="list of tokens"):
        v.wmdistance("w1 w2", ["w1"])
    with pytest.raises(ParameterError, match="solver"):
        emd(np.ones(1), np.ones(1), np.zeros((1, 1)), solver="magic")


@pytest.mark.parametrize("dtype", ["float16", "int8"])
def test_gensim_methods_on_compact_storage(v, tmp_path, dtype):
    v.save(tmp_path / "v.ekv", dtype=dtype)
    c = embedkit.load(tmp_path / "v.ekv")
    dec = c.vectors.copy()                        # the decoded float32 values
    ref = embedkit.Vectors(c.words, dec)
    np.testing.assert_array_equal(c.get_vector("w3"), dec[3])
    np.testing.assert_array_equal(c[["w3", 5]], dec[[3, 5]])
    for call in (lambda x: x.most_similar(["w1", dec[2]], topn=5),
                 lambda x: x.most_similar_cosmul(["w1", "w2"], ["w3"], topn=5),
                 lambda x: x.closer_than("w1", "w9"), lambda x: x.doesnt_match(["w1", "w2", "w3"])):
        a, b = call(c), call(ref)
        if isinstance(a, list) and a and isinstance(a[0], tuple):
            assert [w for w, _ in a] == [w for w, _ in b]
            np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=1e-5)
        else:
            assert a == b
    c.add_vectors(["new"], np.ones((1, 8)))
    np.testing.assert_array_equal(c.vectors[:-1], dec)
    assert c.most_similar("new", topn=1) == ref.similar_by_vector(np.ones(8), topn=1)


# -- every error a caller can cause is an EmbedkitError ------------------------------------------
BAD_CALLS = [
    ("most_similar", (["w1", 3.5],), {}), ("most_similar", ([[1, 2, 3]],), {}),
    ("most_similar", (object(),), {}), ("most_similar", ("w1",), {"topn": "5"}),
    ("most_similar", ("w1",), {"clip_start": -1}), ("most_similar", ("w1",), {"indexer": 3}),
    ("most_similar", (np.ones((2, 2, 2)),), {}),
    ("most_similar_cosmul", (["w1", [1.0]],), {}), ("most_similar_cosmul", ("w1",), {"topn": 1.5}),
    ("most_similar_cosmul", ([np.ones(3)],), {}),
    ("similarity", ("w1", None), {}), ("distance", ("w1", "nope"), {}),
    ("distances", (np.ones(3),), {}), ("distances", ("w1", ["nope"]), {}),
    ("cosine_similarities", (np.ones(3), np.ones((2, 8))), {}),
    ("closer_than", ("w1", 10 ** 6), {}), ("rank", ("nope", "w1"), {}),
    ("most_similar_to_given", ("w1", []), {}), ("relative_cosine_similarity", ("w1", "w2", 0), {}),
    ("rank_by_centrality", (["nope"],), {}), ("get_mean_vector", ([np.ones(3)],), {}),
    ("get_mean_vector", ([["w1"]],), {"ignore_missing": False}),
    ("get_vector", (1.5,), {}), ("get_index", ([1],), {}),
    ("add_vectors", (["a"], np.ones(3)), {}), ("add_vectors", (["a"], np.ones((1, 8))),
                                                 {"extras": {"sample_int": [1]}}),
    ("add_vector", (5, np.ones(8)), {}), ("set_vecattr", ("w1", "count", "many"), {}),
    ("set_vecattr", ("w1", "other", 1), {}), ("get_vecattr", ("nope", "count"), {}),
    ("wmdistance", ("a b", ["w1"]), {}),
    ("save_word2vec_format", ("x.txt",), {"append": True}),
    ("save_word2vec_format", ("x.txt",), {"sort_attr": "other"}),
]


@pytest.mark.parametrize("method,args,kwargs", BAD_CALLS,
                         ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(BAD_CALLS)])
def test_bad_calls_raise_embedkit_errors(v, method, args, kwargs):
    with pytest.raises(EmbedkitError):
        getattr(v, method)(*args, **kwargs)


def test_regression_a_weighted_pair_list_was_a_bare_value_error(v):
    assert v.most_similar([("w1", 1.0)], topn=3) == v.most_similar("w1", topn=3)


def test_regression_an_int_key_was_a_bare_type_error(v):
    np.testing.assert_array_equal(v[5], v.vectors[5])
    with pytest.raises(UnknownWordError):
        v[len(v)]
