"""gensim 4.4's own ``test_keyedvectors.py`` cases, ported to embedkit and run side by side
with gensim on gensim's test data (``gensim/test/test_data``).

Each test states the case it ports; the assertions are gensim's, applied to embedkit, and
gensim is run on the same input where that adds a check.  Where embedkit deliberately
differs the test says so:

- counts: embedkit never invents counts.  gensim gives a file read without ``fvocab``
  descending dummy counts and ``vectors_for_all(copy_vecattrs=False)`` fresh dummy counts;
  embedkit has none (``get_vecattr(..., "count")`` raises ``UnknownAttributeError``).
- ``unicode_errors="strict"`` raises embedkit's ``FormatError`` (a ``ValueError``) where
  gensim raises ``UnicodeDecodeError``.
- ``Gensim320Test`` (unpickling a gensim 3.2 model) is not ported: embedkit never loads
  pickles.
"""

import functools

import numpy as np
import pytest

gensim_models = pytest.importorskip("gensim.models")
gensim_utils = pytest.importorskip("gensim.test.utils")

import embedkit  # noqa: E402
from embedkit.errors import FormatError, UnknownAttributeError  # noqa: E402

KeyedVectors = gensim_models.KeyedVectors
datapath = gensim_utils.datapath


@pytest.fixture
def pair():
    """(embedkit, gensim) vectors of gensim's ``euclidean_vectors.bin``, fresh per test."""
    path = datapath("euclidean_vectors.bin")
    return embedkit.load(path), KeyedVectors.load_word2vec_format(path, binary=True)


def _words(results):
    return [w for w, _ in results]


# -- TestKeyedVectors ------------------------------------------------------------------------
def test_most_similar(pair):
    expected = ["conflict", "administration", "terrorism", "call", "israel"]
    for kv in pair:
        assert _words(kv.most_similar("war", topn=5)) == expected


def test_most_similar_vector(pair):
    v, kv = pair
    got = v.most_similar(positive=v.vectors[0:5])
    assert got is not None and _words(got) == _words(kv.most_similar(positive=kv.vectors[0:5]))


@pytest.mark.parametrize("method", ["most_similar", "most_similar_cosmul"])
def test_most_similar_parameter_types(pair, method):
    for kv in pair:
        partial = functools.partial(getattr(kv, method), topn=5)
        position = partial("war", "peace")
        assert position == partial(["war"], ["peace"])
        assert position == partial(positive="war", negative="peace")
        assert position == partial(positive=["war"], negative=["peace"])
    v, kv = pair
    ours, theirs = getattr(v, method)("war", "peace", topn=5), getattr(kv, method)("war", "peace",
                                                                                 topn=5)
    assert _words(ours) == _words(theirs)


def test_vectors_for_all_list(pair):
    words = ["conflict", "administration", "terrorism", "an out-of-vocabulary word",
             "another out-of-vocabulary word"]
    for kv in pair:
        out = kv.vectors_for_all(words)
        assert len(out) == 3
        assert np.allclose(kv["conflict"], out["conflict"])


def test_vectors_for_all_with_copy_vecattrs(pair):
    v, kv = pair
    v.set_vecattr("conflict", "count", kv.get_vecattr("conflict", "count"))  # no dummy counts
    for x in (v, kv):
        out = x.vectors_for_all(["conflict"], copy_vecattrs=True)
        assert out.get_vecattr("conflict", "count") == x.get_vecattr("conflict", "count")


def test_vectors_for_all_without_copy_vecattrs(pair):
    v, kv = pair
    theirs = kv.vectors_for_all(["conflict"], copy_vecattrs=False)
    assert theirs.get_vecattr("conflict", "count") != kv.get_vecattr("conflict", "count")
    v.set_vecattr("conflict", "count", 7)
    ours = v.vectors_for_all(["conflict"], copy_vecattrs=False)
    with pytest.raises(UnknownAttributeError):     # embedkit invents no counts
        ours.get_vecattr("conflict", "count")


def test_most_similar_topn(pair):
    for kv in pair:
        assert len(kv.most_similar("war", topn=5)) == 5
        assert len(kv.most_similar("war", topn=10)) == 10
        assert len(kv.most_similar("war", topn=None)) == len(kv)
        assert len(kv.most_similar("war", topn=0)) == 0
        assert len(kv.most_similar("war", topn=np.uint8(0))) == 0


WORDNET_GOOD = [
    "good", "goodness", "commodity", "trade_good", "full", "estimable", "honorable",
    "respectable", "beneficial", "just", "upright", "adept", "expert", "practiced", "proficient",
    "skillful", "skilful", "dear", "near", "dependable", "safe", "secure", "right", "ripe", "well",
    "effective", "in_effect", "in_force", "serious", "sound", "salutary", "honest", "undecomposed",
    "unspoiled", "unspoilt", "thoroughly", "soundly",
]


def test_relative_cosine_similarity(pair):
    results = []
    for kv in pair:
        cos_sim = sorted((kv.similarity("good", s) for s in WORDNET_GOOD if s in kv), reverse=True)
        rcs_wordnet = kv.similarity("good", "nice") / sum(cos_sim[:10])
        rcs = kv.relative_cosine_similarity("good", "nice", 10)
        assert rcs_wordnet >= rcs
        assert np.allclose(rcs_wordnet, rcs, 0, 0.125)
        assert kv.relative_cosine_similarity("good", "worst", 10) < 0.10
        results.append(rcs)
    assert results[0] == pytest.approx(results[1], abs=1e-6)


def test_most_similar_raises_keyerror(pair):
    for kv in pair:
        with pytest.raises(KeyError):
            kv.most_similar("not_in_vocab")


def test_most_similar_restrict_vocab(pair):
    for kv in pair:
        expected = set(kv.index_to_key[:5])
        assert set(_words(kv.most_similar("war", topn=5, restrict_vocab=5))) == expected


def test_most_similar_with_vector_input(pair):
    expected = ["war", "conflict", "administration", "terrorism", "call"]
    for kv in pair:
        assert _words(kv.most_similar([kv["war"]], topn=5)) == expected


def test_most_similar_to_given(pair):
    for kv in pair:
        assert kv.most_similar_to_given("war", ["terrorism", "call", "waging"]) == "terrorism"


def test_similar_by_word(pair):
    expected = ["conflict", "administration", "terrorism", "call", "israel"]
    for kv in pair:
        assert _words(kv.similar_by_word("war", topn=5)) == expected


def test_similar_by_vector(pair):
    expected = ["war", "conflict", "administration", "terrorism", "call"]
    for kv in pair:
        assert _words(kv.similar_by_vector(kv["war"], topn=5)) == expected


def test_distance(pair):
    for kv in pair:
        assert np.allclose(kv.distance("war", "conflict"), 0.06694602)
        assert kv.distance("war", "war") == pytest.approx(0, abs=1e-6)


def test_similarity(pair):
    for kv in pair:
        assert np.allclose(kv.similarity("war", "war"), 1)
        assert np.allclose(kv.similarity("war", "conflict"), 0.93305397)


def test_closer_than(pair):
    for kv in pair:
        assert kv.closer_than("war", "war") == []
        assert set(kv.closer_than("war", "terrorism")) == {"conflict", "administration"}


def test_rank(pair):
    for kv in pair:
        assert kv.rank("war", "war") == 1
        assert kv.rank("war", "terrorism") == 3


def _empty(dim):
    """An empty embedkit Vectors, as gensim's ``KeyedVectors(vector_size)``."""
    return embedkit.Vectors([], np.zeros((0, dim), dtype=np.float32))


def test_add_single(pair, rng):
    v, kv = pair
    entities = [f"___some_entity{i}_not_present_in_keyed_vectors___" for i in range(5)]
    vectors = [rng.standard_normal(v.vector_size) for _ in range(5)]
    for x in (v, kv, _empty(v.vector_size), KeyedVectors(v.vector_size)):
        for ent, vector in zip(entities, vectors):
            x.add_vectors(ent, vector)
        for ent, vector in zip(entities, vectors):
            assert np.allclose(x[ent], vector)
    assert v.index_to_key == kv.index_to_key


def test_add_multiple(pair, rng):
    v, kv = pair
    entities = [f"___some_entity{i}_not_present_in_keyed_vectors___" for i in range(5)]
    vectors = [rng.standard_normal(v.vector_size) for _ in range(5)]
    for x in (v, kv):
        size = len(x)
        x.add_vectors(entities, vectors, replace=False)
        assert len(x) == size + len(entities)
        for ent, vector in zip(entities, vectors):
            assert np.allclose(x[ent], vector)
    for x in (_empty(v.vector_size), KeyedVectors(v.vector_size)):
        x[entities] = vectors
        assert len(x) == len(entities)
        for ent, vector in zip(entities, vectors):
            assert np.allclose(x[ent], vector)


def test_add_type():
    for x in (_empty(2), KeyedVectors(2)):
        assert x.vectors.dtype == np.float32
        x.add_vectors(["a"], np.array([1., 1.], dtype=np.float64).reshape(1, -1))
        assert x.vectors.dtype == np.float32


def test_set_item(pair, rng):
    v, kv = pair
    entity = "___some_new_entity___"
    new, replacement = rng.standard_normal((2, v.vector_size))
    entities = ["war", "___some_new_entity1___", "___some_new_entity2___", "terrorism", "conflict"]
    several = [rng.standard_normal(v.vector_size) for _ in entities]
    for x in (v, kv):
        size = len(x)
        x[entity] = new
        assert len(x) == size + 1 and np.allclose(x[entity], new)
        size = len(x)
        x["war"] = replacement
        assert len(x) == size and np.allclose(x["war"], replacement)
        size = len(x)
        x[entities] = several
        assert len(x) == size + 2
        for ent, vector in zip(entities, several):
            assert np.allclose(x[ent], vector)
    assert v.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(v.vectors, kv.vectors)


MODEL, VOCAB = datapath("w2v_keyedvectors_load_test.modeldata"), \
    datapath("w2v_keyedvectors_load_test.vocab")


def test_load_model_and_vocab_file_strict():
    with pytest.raises(UnicodeDecodeError):
        KeyedVectors.load_word2vec_format(MODEL, fvocab=VOCAB, binary=False, unicode_errors="strict")
    with pytest.raises(FormatError, match="not valid UTF-8"):
        embedkit.Vectors.load_word2vec_format(MODEL, fvocab=VOCAB, binary=False,
                                              unicode_errors="strict")


@pytest.mark.parametrize("errors,first,second", [
    ("replace", "ありがとう\ufffd", "どういたしまして\ufffd"),
    ("ignore", "ありがとう", "どういたしまして")])
def test_load_model_and_vocab_file_repaired(errors, first, second):
    for load in (KeyedVectors.load_word2vec_format, embedkit.Vectors.load_word2vec_format):
        model = load(MODEL, fvocab=VOCAB, binary=False, unicode_errors=errors)
        assert model.get_vecattr(first, "count") == 123
        assert model.get_vecattr(second, "count") == 789
        assert model.key_to_index[first] == 0 and model.key_to_index[second] == 1
        assert np.array_equal(model.get_vector(first), np.array([.6, .6, .6], dtype=np.float32))
        assert np.array_equal(model.get_vector(second), np.array([.1, .2, .3], dtype=np.float32))
    ours = embedkit.load(MODEL, fvocab=VOCAB, unicode_errors=errors)   # embedkit's own call
    assert ours.words == [first, second] and ours.counts.tolist() == [123, 789]


def _random_keys(rng, count=20, dim=100):
    keys = [str(i) for i in range(count)]
    weights = ((rng.random((count, dim)) - 0.5) / dim).astype(np.float32)
    return keys, weights


@pytest.mark.parametrize("binary", [False, True])
def test_save_reload(tmp_path, rng, binary):
    keys, weights = _random_keys(rng)
    ours = embedkit.Vectors(keys, weights)
    kv = KeyedVectors(vector_size=weights.shape[1])
    kv.add_vectors(keys, weights)
    for writer in ("ours", "gensim"):
        path = str(tmp_path / f"{writer}.{'bin' if binary else 'txt'}")
        if writer == "ours":
            ours.save_word2vec_format(path, binary=binary)
        else:
            kv.save_word2vec_format(path, binary=binary)
        for reload in (KeyedVectors.load_word2vec_format,
                       embedkit.Vectors.load_word2vec_format):
            back = reload(path, binary=binary)
            assert back.index_to_key == keys
            assert (back.vectors == weights).all()


def test_no_header(tmp_path, rng):
    keys, weights = _random_keys(rng)
    ours = embedkit.Vectors(keys, weights)
    kv = KeyedVectors(vector_size=weights.shape[1])
    kv.add_vectors(keys, weights)
    ours.save_word2vec_format(str(tmp_path / "ours.txt"), binary=False, write_header=False)
    kv.save_word2vec_format(str(tmp_path / "gensim.txt"), binary=False, write_header=False)
    for name in ("ours.txt", "gensim.txt"):
        for reload in (KeyedVectors.load_word2vec_format,
                       embedkit.Vectors.load_word2vec_format):
            back = reload(str(tmp_path / name), binary=False, no_header=True)
            assert back.index_to_key == keys
            assert (back.vectors == weights).all()


def test_get_mean_vector(pair):
    keys = ["conflict", "administration", "terrorism", "call", "an out-of-vocabulary word"]
    weights = [1, 2, 3, 1, 2]
    expected_1 = np.array([0.02000151, -0.12685453, 0.09196121, 0.25514853, 0.25740655,
                           -0.11134843, -0.0502661, -0.19278568, -0.83346179, -0.12068878],
                          dtype=np.float32)
    expected_2 = np.array([-0.0145228, -0.11530358, 0.1169825, 0.22537769, 0.29353586,
                           -0.10458107, -0.05272481, -0.17547795, -0.84245106, -0.10356515],
                          dtype=np.float32)
    expected_3 = np.array([0.01343237, -0.47651053, 0.45645328, 0.98304356, 1.1840123,
                           -0.51647933, -0.25308795, -0.77931081, -3.55954733, -0.55429711],
                          dtype=np.float32)
    for kv in pair:
        assert np.allclose(kv.get_mean_vector(keys), expected_1)
        assert np.allclose(kv.get_mean_vector(keys, weights), expected_2)
        assert np.allclose(kv.get_mean_vector(keys, pre_normalize=False), expected_3)


# -- LoadWord2VecFormatTest ------------------------------------------------------------------
def _write_binary_by_hand(path, w2v_dict):
    """A word2vec binary file as gensim's test writes it: no newline after a record."""
    with open(path, "wb") as f:
        f.write(f"{len(w2v_dict)} {len(next(iter(w2v_dict.values())))}\n".encode("ascii"))
        for word, vector in w2v_dict.items():
            f.write(word.encode() + b" " + np.array(vector).astype(np.float32).tobytes())


def _check_binary(tmp_path, w2v_dict, limit):
    path = tmp_path / "tmp_w2v"
    _write_binary_by_hand(path, w2v_dict)
    expect_keys = list(w2v_dict)[:len(w2v_dict) if limit is None else limit]
    expected = {k.lstrip(): w2v_dict[k] for k in expect_keys}
    for model in (embedkit.load(path, limit=limit),
                  KeyedVectors.load_word2vec_format(str(path), binary=True, limit=limit)):
        assert len(model) == len(expected)
        for word, vector in expected.items():
            assert list(model[word]) == list(vector)


DICTS = [{"abc": [1, 2, 3], "cde": [4, 5, 6], "def": [7, 8, 9]},
         {"abc": [1, 2, 3], "cdefg": [4, 5, 6], "d": [7, 8, 9]}]


@pytest.mark.parametrize("w2v_dict", DICTS)
def test_load_word2vec_format_basic(tmp_path, w2v_dict):
    _check_binary(tmp_path, w2v_dict, None)


@pytest.mark.parametrize("w2v_dict", DICTS)
@pytest.mark.parametrize("limit", [1, 2])
def test_load_word2vec_format_limit(tmp_path, w2v_dict, limit):
    _check_binary(tmp_path, w2v_dict, limit)


@pytest.mark.parametrize("limit", [None, 1])
def test_load_word2vec_format_space_stripping(tmp_path, limit):
    _check_binary(tmp_path, {"\nabc": [1, 2, 3], "cdefdg": [4, 5, 6], "\n\ndef": [7, 8, 9]}, limit)
