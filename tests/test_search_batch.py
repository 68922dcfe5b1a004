"""Batched word-arithmetic queries agree with gensim's most_similar / most_similar_cosmul."""

import numpy as np
import pytest
from gensim.models import KeyedVectors

import embedkit
from embedkit.errors import ParameterError, UnknownWordError
from embedkit.search import Index, combination_search, combination_words

N, DIM = 2000, 24
# gensim's most_similar_cosmul calls its own deprecated init_sims
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(11)
    m = rng.standard_normal((N, DIM)).astype(np.float32) * rng.uniform(0.5, 2, (N, 1)).astype(np.float32)
    words = [f"w{i}" for i in range(N)]
    kv = KeyedVectors(DIM)
    kv.add_vectors(words, m)
    return embedkit.Vectors(words, m), kv


def questions(count, seed, vocab=60):
    """Analogy triples drawn from a small word pool, so questions share words like real sets."""
    rng = np.random.default_rng(seed)
    pool = rng.choice(N, vocab, replace=False)
    return [[f"w{x}" for x in rng.choice(pool, 3, replace=False)] for _ in range(count)]


def assert_same(ours, theirs):
    (ids, scores), words = ours, theirs
    for row_ids, row_scores, want in zip(ids, scores, words):
        assert [f"w{i}" for i in row_ids] == [w for w, _ in want]
        np.testing.assert_allclose(row_scores, [s for _, s in want], rtol=0, atol=2e-5)


@pytest.fixture(params=["one tile", "many tiles"])
def tiles(request, monkeypatch):
    """Run a test with the whole vocabulary in one tile, and with 256-row tiles."""
    from embedkit.search import batch

    if request.param == "many tiles":
        monkeypatch.setattr(batch, "_TILE_BYTES", 1)  # the minimum: 256 rows a tile
    return request.param


# one block; blocks of at most 10 distinct words
@pytest.mark.parametrize("block_bytes", [256 << 20, 4 * 256 * 10])
def test_3cosadd_matches_gensim_for_many_shared_word_queries(pair, block_bytes, tiles):
    v, kv = pair
    qs = questions(200, 1)
    ours = combination_search(v, [[b, c] for a, b, c in qs], [[a] for a, b, c in qs], k=5,
                              block_bytes=block_bytes)
    theirs = [kv.most_similar(positive=[b, c], negative=[a], topn=5) for a, b, c in qs]
    assert_same(ours, theirs)


def test_3cosadd_matches_gensim_for_a_single_query_and_uneven_terms(pair):
    v, kv = pair
    pos, neg = [["w1", "w2", "w3"], ["w9"]], [["w4"], []]
    ours = combination_search(v, pos, neg, k=4)
    theirs = [kv.most_similar(positive=p, negative=n, topn=4) for p, n in zip(pos, neg)]
    assert_same(ours, theirs)


def test_3cosmul_matches_gensim(pair, tiles):
    v, kv = pair
    qs = questions(100, 2)
    ours = combination_search(v, [[b, c] for a, b, c in qs], [[a] for a, b, c in qs], k=5,
                              method="3cosmul", cosmul_epsilon=1e-6)
    theirs = [kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=5) for a, b, c in qs]
    assert_same(ours, theirs)


def test_3cosmul_without_negatives_matches_gensim(pair):
    v, kv = pair
    ours = combination_search(v, [["w5", "w6"]], None, k=3, method="3cosmul",
                              cosmul_epsilon=1e-6)
    assert_same(ours, [kv.most_similar_cosmul(positive=["w5", "w6"], topn=3)])


def test_restrict_vocab_matches_gensim(pair):
    v, kv = pair
    qs = questions(30, 3)
    ours = combination_search(v, [[b, c] for a, b, c in qs], [[a] for a, b, c in qs], k=3,
                              restrict_vocab=500)
    theirs = [kv.most_similar(positive=[b, c], negative=[a], topn=3, restrict_vocab=500)
              for a, b, c in qs]
    assert_same(ours, theirs)


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_hnsw_index_gives_the_exact_answers_on_an_easy_set(pair, method):
    v, _ = pair
    qs = questions(100, 4)
    pos, neg = [[b, c] for a, b, c in qs], [[a] for a, b, c in qs]
    exact_ids, exact_scores = combination_search(v, pos, neg, k=3, method=method)
    index = Index(v, "hnsw", ef_search=200)
    ids, scores = combination_search(v, pos, neg, k=3, method=method, index=index)
    assert (ids[:, 0] == exact_ids[:, 0]).mean() >= 0.97
    same = ids == exact_ids
    np.testing.assert_allclose(scores[same], exact_scores[same], atol=1e-5)


def test_3cosmul_default_agrees_with_vectors_analogy(pair):
    v, _ = pair
    for a, b, c in questions(20, 5):
        ours = combination_words(v, [[b, c]], [[a]], k=3, method="3cosmul")[0]
        theirs = v.analogy(a, b, c, topn=3, method="3cosmul")
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)


def test_3cosadd_agrees_with_vectors_most_similar_with_and_without_an_attached_index(pair):
    v, _ = pair
    want = v.most_similar(positive=["w1", "w2"], negative=["w3"], topn=5)
    ours = combination_words(v, [["w1", "w2"]], [["w3"]], k=5)[0]
    assert [w for w, _ in ours] == [w for w, _ in want]
    attached = embedkit.Vectors(v.words, v.vectors).attach_index(Index(v, "exact"))
    got = attached.most_similar(positive=["w1", "w2"], negative=["w3"], topn=5)
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_query_words_are_never_returned(pair):
    v, _ = pair
    res = combination_words(v, [["w7", "w8"]], [["w9"]], k=50)[0]
    assert not {"w7", "w8", "w9"} & {w for w, _ in res}


def test_row_ids_are_accepted(pair):
    v, _ = pair
    a = combination_search(v, [[1, 2]], [[3]], k=3)[0]
    b = combination_search(v, [["w1", "w2"]], [["w3"]], k=3)[0]
    assert (a == b).all()


def test_unknown_word_names_closest_spellings(pair):
    with pytest.raises(UnknownWordError, match="closest spellings: w12"):
        combination_search(pair[0], [["w12x"]], None)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "cos"}, "method must be 3cosadd or 3cosmul"),
    ({"k": 0}, "k must be >= 1"),
    ({"negative": [[], []]}, "1 positive lists but 2 negative lists"),
    ({"restrict_vocab": 0}, "restrict_vocab must be >= 1"),
    ({"cosmul_epsilon": 0}, "cosmul_epsilon must be > 0"),
])
def test_bad_arguments_are_rejected(pair, kwargs, message):
    args = {"positive": [["w1"]], **kwargs}
    with pytest.raises(ParameterError, match=message):
        combination_search(pair[0], **args)


def test_a_query_without_words_is_rejected(pair):
    with pytest.raises(ParameterError, match="query 1 has no words"):
        combination_search(pair[0], [[]], [[]])


def test_out_of_range_row_id_is_rejected(pair):
    with pytest.raises(ParameterError, match="row id 2000 is out of range"):
        combination_search(pair[0], [[N]], None)
