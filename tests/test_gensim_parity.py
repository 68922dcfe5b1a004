"""The gensim-named methods side by side with gensim 4.4 on gensim's own test data, and
format round trips in both directions, bit for bit (skipped without gensim)."""

import logging

import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models")
gensim_utils = pytest.importorskip("gensim.test.utils")

import embedkit  # noqa: E402

KeyedVectors = gensim_models.KeyedVectors
DATA = "euclidean_vectors.bin"


@pytest.fixture(scope="module")
def pair():
    path = gensim_utils.datapath(DATA)
    return embedkit.load(path), KeyedVectors.load_word2vec_format(path, binary=True)


def _same(ours, theirs, atol=1e-6):
    """Same words in the same order and scores within ``atol`` (or equal arrays/values)."""
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, atol=atol, rtol=1e-6)
    elif isinstance(theirs, list) and theirs and isinstance(theirs[0], tuple):
        # the same ranking up to near-ties: scores agree position by position and word
        # by word (two words whose scores differ by less than float32 rounding may swap)
        assert len(ours) == len(theirs)
        w = 0 if isinstance(theirs[0][0], str) else 1
        ours_d = {x[w]: float(x[1 - w]) for x in ours}
        theirs_d = {x[w]: float(x[1 - w]) for x in theirs}
        assert set(ours_d) == set(theirs_d)
        np.testing.assert_allclose([float(x[1 - w]) for x in ours],
                                   [float(x[1 - w]) for x in theirs], atol=atol, rtol=1e-6)
        np.testing.assert_allclose([ours_d[k] for k in theirs_d], list(theirs_d.values()),
                                   atol=atol, rtol=1e-6)
        same_order = sum(a[w] == b[w] for a, b in zip(ours, theirs))
        assert same_order >= len(theirs) - max(2, len(theirs) // 100)
    elif isinstance(theirs, (float, np.floating)):
        assert float(ours) == pytest.approx(float(theirs), abs=atol)
    else:
        assert ours == theirs


def _most_similar_cases(kv):
    war = kv["war"]
    return [
        (("war",), {}), (("war", "peace"), {}), ((["war", "peace"], ["terrorism"]), {}),
        (([("war", 2.0), ("peace", 0.5)],), {}), ((["war"], [("peace", 0.5)]), {}),
        (([war, "peace"],), {}), (([3 * war],), {}), ((kv.vectors[:5],), {}),
        (([3, "war", (7, 0.25)],), {}), (("war",), {"topn": None}), (("war",), {"topn": 0}),
        (("war",), {"topn": 3000}), (("war",), {"clip_start": 10, "clip_end": 100}),
        (("war",), {"restrict_vocab": 50}), ((), {"positive": war, "negative": "peace"}),
    ]


def test_most_similar_every_input_convention(pair):
    v, kv = pair
    for args, kw in _most_similar_cases(kv):
        _same(v.most_similar(*args, **kw), kv.most_similar(*args, **kw))


@pytest.mark.parametrize("args,kw", [
    (("war", "peace"), {}), ((["war", "conflict"], ["peace"]), {}), (("war",), {"topn": None}),
    ((["war", "good"], ["peace", "call"]), {"topn": 20}), (("war",), {"topn": 0})])
def test_most_similar_cosmul(pair, args, kw):
    v, kv = pair
    _same(v.most_similar_cosmul(*args, **kw), kv.most_similar_cosmul(*args, **kw))


def test_most_similar_cosmul_with_a_raw_vector(pair):
    v, kv = pair
    args = ([3 * kv["war"], "peace"],)
    _same(v.most_similar_cosmul(*args), kv.most_similar_cosmul(*args), atol=1e-5)


def test_similar_by_word_key_vector(pair):
    v, kv = pair
    _same(v.similar_by_word("war", 7), kv.similar_by_word("war", 7))
    _same(v.similar_by_key("war", None), kv.similar_by_key("war", None))
    _same(v.similar_by_vector(kv["war"] * 2, 7), kv.similar_by_vector(kv["war"] * 2, 7))


def test_pairwise_similarities(pair):
    v, kv = pair
    _same(v.similarity("war", "conflict"), kv.similarity("war", "conflict"))
    _same(v.similarity("war", 5), kv.similarity("war", 5))
    _same(v.distance("war", "peace"), kv.distance("war", "peace"))
    _same(v.n_similarity(["war", "peace"], ["conflict", "nope"]),
          kv.n_similarity(["war", "peace"], ["conflict", "nope"]))
    _same(v.distances("war"), kv.distances("war"))
    _same(v.distances(kv["war"], ["peace", "call"]), kv.distances(kv["war"], ["peace", "call"]))
    _same(embedkit.Vectors.cosine_similarities(kv["war"], kv.vectors[:9]),
          KeyedVectors.cosine_similarities(kv["war"], kv.vectors[:9]))


def test_neighbourhood_queries(pair):
    v, kv = pair
    for a, b in [("war", "call"), ("war", "war"), ("good", "nice"), ("peace", 40)]:
        _same(v.closer_than(a, b), kv.closer_than(a, b))
        _same(v.rank(a, b), kv.rank(a, b))
    _same(v.most_similar_to_given("war", ["terrorism", "call", "waging"]),
          kv.most_similar_to_given("war", ["terrorism", "call", "waging"]))
    _same(v.relative_cosine_similarity("good", "nice", 10),
          kv.relative_cosine_similarity("good", "nice", 10))


def test_centrality_and_doesnt_match_drop_unknown_words(pair, caplog):
    v, kv = pair
    words = ["war", "peace", "good", "nope", "call"]
    _same(v.rank_by_centrality(words), kv.rank_by_centrality(words))
    _same(v.rank_by_centrality(words, use_norm=False), kv.rank_by_centrality(words, use_norm=False))
    with caplog.at_level(logging.WARNING):
        assert v.doesnt_match(words) == kv.doesnt_match(words)
    assert "nope" in caplog.text


@pytest.mark.parametrize("kw", [{}, {"weights": [1, 2, 3, 4]}, {"pre_normalize": False},
                                {"post_normalize": True}, {"weights": np.array([1., -2, 3, 4])}])
def test_get_mean_vector(pair, kw):
    v, kv = pair
    keys = ["war", "peace", "nope", 9]
    _same(v.get_mean_vector(keys, **kw), kv.get_mean_vector(keys, **kw))


def test_get_vector_getitem_get_index(pair):
    v, kv = pair
    _same(v.get_vector("war", norm=True), kv.get_vector("war", norm=True))
    np.testing.assert_array_equal(v[["war", 5, "peace"]], kv[["war", 5, "peace"]])
    assert v.get_index("war") == kv.get_index("war") and v.get_index(17) == kv.get_index(17)
    assert v.get_index("nope", 3) == kv.get_index("nope", 3)
    assert v.has_index_for(40) == kv.has_index_for(40) and \
        v.has_index_for("nope") == kv.has_index_for("nope")
    with pytest.raises(KeyError):
        v.get_index("nope")


def test_vectors_for_all(pair):
    v, kv = pair
    keys = ["conflict", "nope", "war", "conflict", "terrorism"]
    ours, theirs = v.vectors_for_all(keys), kv.vectors_for_all(keys)
    assert ours.words == theirs.index_to_key
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)


def test_wmdistance(pair):
    pytest.importorskip("ot")
    v, kv = pair
    docs = [("war is conflict between nations".split(), "peace and good call for israel".split()),
            (["war", "war", "peace"], ["peace", "nope"]), (["war"], ["war"]), (["nope"], ["war"]),
            ("good call".split(), "call good good".split())]
    for d1, d2 in docs:
        for norm in (True, False):
            _same(v.wmdistance(d1, d2, norm=norm), kv.wmdistance(d1, d2, norm=norm))


def test_changing_vectors_like_gensim(pair, rng):
    v0, kv0 = pair
    v, kv = v0.restrict(len(v0)), KeyedVectors.load_word2vec_format(
        gensim_utils.datapath(DATA), binary=True)
    new = rng.standard_normal((3, v.dim)).astype(np.float32)
    for target in (v, kv):
        target.add_vectors(["war", "new1", "new2"], new)
        target.add_vector("new3", new[0])
        target["peace"] = new[1]
        target[["good", "new4"]] = new[:2]
    assert v.words == kv.index_to_key
    np.testing.assert_array_equal(v.vectors, kv.vectors)
    _same(v.most_similar("new1"), kv.most_similar("new1"))


def test_sort_by_descending_frequency(rng):
    words = [f"w{i}" for i in range(50)]
    m = rng.standard_normal((50, 4)).astype(np.float32)
    counts = rng.integers(1, 6, 50)          # many ties
    v = embedkit.Vectors(words, m, counts=counts)
    kv = KeyedVectors(4)
    kv.add_vectors(words, m)
    for w, c in zip(words, counts):
        kv.set_vecattr(w, "count", int(c))
    v.sort_by_descending_frequency()
    kv.sort_by_descending_frequency()
    assert v.words == kv.index_to_key
    np.testing.assert_array_equal(v.vectors, kv.vectors)
    assert [v.get_vecattr(w, "count") for w in words] == \
        [kv.get_vecattr(w, "count") for w in words]


# -- round trips in both directions, bit for bit --------------------------------------------------
def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _awkward(rng, n=40, dim=12):
    bits = rng.integers(0, 2 ** 32, size=(n, dim), dtype=np.uint64).astype(np.uint32)
    m = bits.view(np.float32).copy()
    m[~np.isfinite(m)] = -2.5
    f32 = np.finfo(np.float32)
    m[0, :6] = [-0.0, 0.0, f32.max, -f32.max, np.float32(1e-45), f32.tiny]
    words = [f"w{i}" for i in range(n - 4)] + ["", "été", "日本", "a\u00a0b"]
    return words, m


@pytest.mark.parametrize("binary", [False, True])
def test_ours_to_gensim_is_bit_exact(tmp_path, rng, binary):
    words, m = _awkward(rng)
    path = tmp_path / ("v.bin" if binary else "v.txt")
    embedkit.Vectors(words, m).save(path)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == words
    np.testing.assert_array_equal(_bits(kv.vectors), _bits(m))


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_to_ours_is_bit_exact(tmp_path, rng, binary):
    words, m = _awkward(rng)
    kv = KeyedVectors(m.shape[1])
    kv.add_vectors(words, m)
    path = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    v = embedkit.load(path)
    assert v.words == words
    np.testing.assert_array_equal(_bits(v.vectors), _bits(m))


def test_headerless_both_ways(tmp_path, rng):
    words, m = _awkward(rng)
    kv = KeyedVectors(m.shape[1])
    kv.add_vectors(words, m)
    kv.save_word2vec_format(str(tmp_path / "g.txt"), write_header=False)
    v = embedkit.load(tmp_path / "g.txt", no_header=True)
    assert v.words == words and (_bits(v.vectors) == _bits(m)).all()
    v.save(tmp_path / "e.txt", write_header=False)
    back = KeyedVectors.load_word2vec_format(str(tmp_path / "e.txt"), no_header=True)
    assert back.index_to_key == words and (_bits(back.vectors) == _bits(m)).all()


def test_precision_limited_file_is_readable_by_gensim_as_finite(tmp_path):
    m = np.array([[np.finfo(np.float32).max, -np.finfo(np.float32).max, 1.0]], np.float32)
    embedkit.Vectors(["a"], m).save(tmp_path / "p.txt", precision=4)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "p.txt"))
    assert np.isfinite(kv.vectors).all()


def test_fvocab_both_ways(tmp_path, rng):
    words = ["the", "of", "été", "x"]
    m = rng.standard_normal((4, 3)).astype(np.float32)
    counts = [90, 40, 40, 2]
    v = embedkit.Vectors(words, m, counts=counts)
    v.save(tmp_path / "v.bin", fvocab=tmp_path / "vocab.txt")
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "v.bin"), binary=True,
                                           fvocab=str(tmp_path / "vocab.txt"))
    assert [kv.get_vecattr(w, "count") for w in words] == counts
    assert embedkit.Vectors.from_gensim(kv).counts.tolist() == counts
    kv.save_word2vec_format(str(tmp_path / "g.txt"), fvocab=str(tmp_path / "gv.txt"))
    w = embedkit.load(tmp_path / "g.txt", fvocab=tmp_path / "gv.txt")
    assert w.words == kv.index_to_key and w.counts.tolist() == counts


def test_from_gensim_ignores_the_dummy_counts_of_a_file_without_fvocab(pair):
    _, kv = pair
    assert kv.get_vecattr(kv.index_to_key[0], "count") == len(kv)   # gensim's invention
    assert embedkit.Vectors.from_gensim(kv).counts is None


def test_from_gensim_keeps_real_counts_that_happen_to_descend_by_one(rng):
    kv = KeyedVectors(3)
    kv.add_vectors(["a", "b", "c"], rng.standard_normal((3, 3)))
    for w, c in zip("abc", (3, 2, 1)):
        kv.set_vecattr(w, "count", c)
    assert embedkit.Vectors.from_gensim(kv).counts.tolist() == [3, 2, 1]


def test_restrict_to_gensim_keeps_the_row_order_when_saved(tmp_path, rng, caplog):
    words = [f"w{i}" for i in range(10)]
    v = embedkit.Vectors(words, rng.standard_normal((10, 3)).astype(np.float32),
                         counts=np.arange(100, 0, -10))
    sub = v.restrict(["w7", "w2", "w5"])
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        kv = sub.to_gensim()
    assert "reorder" in caplog.text
    kv.save_word2vec_format(str(tmp_path / "r.txt"))
    assert KeyedVectors.load_word2vec_format(str(tmp_path / "r.txt")).index_to_key == sub.words
    kept = v.restrict(["w2", "w5", "w7"]).to_gensim()   # non-increasing counts are handed over
    assert kept.get_vecattr("w5", "count") == 50


def test_unseen_words_of_a_fasttext_bin_behave_as_in_gensim():
    """With fastText n-grams, gensim's methods take unseen words (FastTextKeyedVectors)."""
    fasttext = pytest.importorskip("gensim.models.fasttext")
    path = gensim_utils.datapath("lee_fasttext.bin")
    v, kv = embedkit.load(path), fasttext.load_facebook_vectors(path)
    oov = "sharkadoodle"
    assert not v.has_index_for(oov) and not kv.has_index_for(oov)
    for call in (lambda x: x.most_similar(oov, topn=5),
                 lambda x: x.most_similar([oov, "night"], ["day"], topn=5),
                 lambda x: x.most_similar_cosmul([oov, "night"], ["day"], topn=5),
                 lambda x: x.similarity(oov, "night"),
                 lambda x: x.n_similarity([oov, "night"], ["day"]),
                 lambda x: x.doesnt_match([oov, "night", "day", "the"]),
                 lambda x: x.get_mean_vector([oov, "night"]),
                 lambda x: x.get_vector(oov, norm=True),
                 lambda x: x[[oov, "night"]],
                 lambda x: x.distances(oov, ["night", "day"]),
                 lambda x: x.vectors_for_all([oov, "night"]).vectors):
        _same(call(v), call(kv))
    if _has_pot():
        _same(v.wmdistance([oov, "night"], ["day", "the"]), kv.wmdistance([oov, "night"],
                                                                         ["day", "the"]))


def _has_pot():
    try:
        import ot  # noqa: F401
    except ImportError:
        return False
    return True
