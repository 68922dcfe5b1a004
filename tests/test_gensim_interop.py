"""Side by side with gensim: it reads the files we write and we read its files; conversions to
and from its KeyedVectors; query answers agree.  Skipped when gensim is not installed."""

import numpy as np
import pytest

import embedkit
from helpers.factories import mixed_vectors as _vectors
from helpers.factories import query_vectors

gensim_models = pytest.importorskip("gensim.models")


@pytest.fixture
def vecs(rng):
    return query_vectors(rng)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_word2vec_files(tmp_path, rng, binary):
    v = _vectors(rng)
    path = tmp_path / ("v.bin" if binary else "v.txt")
    v.save(path)
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert kv.index_to_key == v.words
    np.testing.assert_array_equal(kv.vectors, v.vectors)


def test_gensim_reads_our_glove_files(tmp_path, rng):
    v = _vectors(rng)
    v.save(tmp_path / "g.txt", format="glove")
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "g.txt"), no_header=True)
    np.testing.assert_array_equal(kv.vectors, v.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_we_read_gensim_word2vec_files(tmp_path, rng, binary):
    v = _vectors(rng)
    kv = gensim_models.KeyedVectors(vector_size=v.dim)
    kv.add_vectors(v.words, v.vectors)
    path = tmp_path / ("g.bin" if binary else "g.txt")
    kv.save_word2vec_format(str(path), binary=binary)
    w = embedkit.load(path)
    assert w.words == v.words
    np.testing.assert_array_equal(w.vectors, v.vectors)


def test_from_and_to_gensim(rng):
    v = _vectors(rng)
    v.counts = np.arange(len(v), 0, -1)
    kv = v.to_gensim()
    assert kv.index_to_key == v.words
    np.testing.assert_array_equal(kv.vectors, v.vectors)
    assert kv.get_vecattr("w3", "count") == v.counts[3]
    back = embedkit.Vectors.from_gensim(kv)
    assert back.words == v.words
    np.testing.assert_array_equal(back.vectors, v.vectors)
    np.testing.assert_array_equal(back.counts, v.counts)


def test_from_gensim_model_uses_its_wv():
    sentences = [["a", "b", "c", "a"], ["b", "c", "a"]] * 5
    model = gensim_models.Word2Vec(sentences, vector_size=4, min_count=1, workers=1, epochs=1,
                                   seed=1)
    v = embedkit.Vectors.from_gensim(model)
    assert v.words == model.wv.index_to_key
    assert v.counts.tolist() == [15, 10, 10]



def _kv(v):
    kv = gensim_models.KeyedVectors(vector_size=v.dim)
    kv.add_vectors(v.words, v.vectors)
    return kv


def test_most_similar_and_similarity_agree_with_gensim(vecs):
    kv = _kv(vecs)
    for pos, neg in [(["queen"], []), (["King", "w3"], ["w7"]), (["w1", "w2", "w9"], [])]:
        ours = vecs.most_similar(positive=pos, negative=neg, topn=10)
        theirs = kv.most_similar(positive=pos, negative=neg, topn=10)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)
    assert vecs.similarity("w1", "w2") == pytest.approx(float(kv.similarity("w1", "w2")), abs=1e-6)
    assert vecs.doesnt_match(["w1", "w2", "w3", "queen"]) == \
        kv.doesnt_match(["w1", "w2", "w3", "queen"])


def test_analogy_3cosadd_agrees_with_gensim(vecs):
    kv = _kv(vecs)
    ours = vecs.analogy("w1", "w2", "w3", topn=5)
    theirs = kv.most_similar(positive=["w2", "w3"], negative=["w1"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
