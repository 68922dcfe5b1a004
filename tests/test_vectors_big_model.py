"""Big models: opening without reading the matrix, the compact word index, and rows whose
float32 norm would overflow (docs/design/big-models.md)."""

import numpy as np
import pytest

import embedkit
from embedkit.errors import FormatError, ParameterError, UnknownWordError
from embedkit.vectors.native import NORM_SAMPLE_ROWS
from embedkit.vectors.wordindex import WordIndex

F32_MAX = np.finfo(np.float32).max


def _matrix(rng, n=300, dim=16):
    return rng.standard_normal((n, dim)).astype(np.float32)


def _words(n):
    return [f"w{i}" for i in range(n)]


def _ref_top(m, q, k, exclude=()):
    """Exact float64 top k by cosine."""
    m64, q64 = m.astype(np.float64), q.astype(np.float64)
    cos = m64 @ q64 / np.linalg.norm(m64, axis=1) / np.linalg.norm(q64)
    cos[list(exclude)] = -np.inf
    order = np.argsort(-cos, kind="stable")[:k]
    return order, cos[order]


def _unsampled_row(n):
    sampled = set(np.linspace(0, n - 1, num=min(n, NORM_SAMPLE_ROWS)).astype(np.int64).tolist())
    return next(r for r in range(n) if r not in sampled)


def _edit_row(path, row, values):
    m = np.load(path / "vectors.npy")
    m[row] = values
    np.save(path / "vectors.npy", m)


# -- the known silent-wrong case: a huge finite value made the float32 norm overflow ----------

def test_huge_finite_value_gets_a_float64_norm_and_true_cosines(tmp_path, rng):
    m = _matrix(rng)
    m[5, 3] = 1.5e35  # its float32 sum of squares overflows
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    norms = np.load(tmp_path / "v.ekv" / "norms.npy")
    assert np.isfinite(norms[5])
    np.testing.assert_allclose(norms[5], np.linalg.norm(m[5].astype(np.float64)), rtol=1e-6)
    v = embedkit.load(tmp_path / "v.ekv")
    got = v.similar_by_vector(m[5], topn=3)
    ids, cos = _ref_top(m, m[5], 3)
    assert [w for w, _ in got] == [f"w{i}" for i in ids]
    np.testing.assert_allclose([s for _, s in got], cos, atol=1e-6)
    assert max(s for _, s in v.most_similar("w0", topn=len(m) - 1)) <= 1.0


def test_norms_made_stale_by_a_huge_value_are_refused_at_open(tmp_path, rng):
    """The integrity fuzz case: the row edited after writing, norms.npy left as it was."""
    m = _matrix(rng, n=40)
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    _edit_row(tmp_path / "v.ekv", 7, np.full(m.shape[1], 1.5e35, np.float32))
    with pytest.raises(FormatError, match=r"norms\.npy disagrees with the matrix: row 8"):
        embedkit.load(tmp_path / "v.ekv")


def test_a_stale_norm_outside_the_sample_is_refused_by_the_query(tmp_path, rng):
    m = _matrix(rng, n=1000)
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    row = _unsampled_row(len(m))
    q = np.zeros(m.shape[1], np.float32)
    q[0] = 1.0
    _edit_row(tmp_path / "v.ekv", row, q * 1.5e35)
    v = embedkit.load(tmp_path / "v.ekv")  # 64 rows are checked at open; this one is not
    with pytest.raises(FormatError, match=rf"v\.ekv: row {row + 1} scores a cosine of .*validate"):
        v.similar_by_vector(q, topn=3)


def test_a_nan_row_outside_the_sample_is_refused_when_it_is_the_query(tmp_path, rng,
                                                                     monkeypatch):
    # a matrix too large to be read whole at open (small ones are: see test_integrity)
    monkeypatch.setattr("embedkit.vectors.native_reader.FULL_CHECK_BYTES", 0)
    m = _matrix(rng, n=1000)
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    row = _unsampled_row(len(m))
    _edit_row(tmp_path / "v.ekv", row, np.nan)
    v = embedkit.load(tmp_path / "v.ekv")
    with pytest.raises(FormatError, match=rf"v\.ekv: row {row + 1} holds NaN"):
        v.most_similar(f"w{row}")


def test_without_stored_norms_a_nan_row_is_refused_at_open(tmp_path, rng):
    m = _matrix(rng, n=1000)
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    (tmp_path / "v.ekv" / "norms.npy").unlink()
    _edit_row(tmp_path / "v.ekv", 500, np.inf)
    with pytest.raises(FormatError, match=r"vectors\.npy: row 501 \(word 'w500'\) holds NaN or inf"):
        embedkit.load(tmp_path / "v.ekv")


def test_saving_a_nan_row_as_ekv_names_the_word(tmp_path, rng):
    m = _matrix(rng, n=10)
    m[4, 1] = np.nan
    with pytest.raises(ParameterError, match=r"row 5 \(word 'w4'\) holds NaN or infinity"):
        embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    assert not (tmp_path / "v.ekv").exists()


def test_a_value_float16_cannot_hold_is_refused_when_saving_float16(tmp_path, rng):
    m = _matrix(rng, n=10)
    m[2, 0] = 1e6
    with pytest.raises(ParameterError, match=r"row 3 .*float16 holds at most 65504"):
        embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv", dtype="float16")


@pytest.mark.parametrize("legacy", [False, True])
def test_wide_rows_are_scored_exactly_in_float64(tmp_path, rng, legacy):
    """A row whose norm exceeds float32 (values near 3.4e38) keeps exact cosines."""
    m = _matrix(rng, n=200)
    m[9] = (np.float32(F32_MAX / 2) * (0.5 + 0.5 * rng.random(m.shape[1]))).astype(np.float32)
    embedkit.Vectors(_words(len(m)), m).save(tmp_path / "v.ekv")
    if legacy:
        (tmp_path / "v.ekv" / "norms.npy").unlink()
    v = embedkit.load(tmp_path / "v.ekv")
    assert v.storage.wide.tolist() == [9]
    np.testing.assert_array_equal(v.vectors[9], m[9])  # stored as given
    for q in (m[9], m[10], np.abs(m[11])):
        got = v.similar_by_vector(q, topn=5)
        ids, cos = _ref_top(m, q, 5)
        assert [w for w, _ in got] == [f"w{i}" for i in ids]
        np.testing.assert_allclose([s for _, s in got], cos, atol=1e-6)
    unit = v.unit("w9")
    np.testing.assert_allclose(unit, m[9] / np.linalg.norm(m[9].astype(np.float64)), rtol=1e-6)
    batch = v.storage.cosines(v.unit(["w9", "w3"]))
    ref = m.astype(np.float64) @ (m[[9, 3]].astype(np.float64)
                                  / np.linalg.norm(m[[9, 3]].astype(np.float64), axis=1)[:, None]).T
    ref /= np.linalg.norm(m.astype(np.float64), axis=1)[:, None]
    np.testing.assert_allclose(batch, ref.T, atol=1e-6)


# -- the compact word index -------------------------------------------------------------------

def test_word_index_finds_every_word_and_nothing_else():
    words = [f"w{i}" for i in range(5000)] + ["", "ü", "a b"]
    ix = WordIndex(words)
    assert [ix.get(w) for w in words] == list(range(len(words)))
    assert ix.get("nope") is None and ix.get(5) is None and "w17" in ix and "w5000" not in ix
    assert [] not in ix  # unhashable: not a word
    with pytest.raises(TypeError):
        ix.get([])
    assert ix.first_duplicate() is None


def test_word_index_reports_the_first_repeat():
    assert WordIndex(["a", "b", "c", "b", "a", "b"]).first_duplicate() == (1, 3)


def test_word_index_survives_equal_hashes(monkeypatch):
    import embedkit.vectors.wordindex as mod

    monkeypatch.setattr(mod, "hash", lambda w: len(w), raising=False)
    ix = mod.WordIndex(["ab", "cd", "e", "ef", "cd"])
    assert ix.get("ef") == 3 and ix.get("e") == 2 and ix.get("xy") is None
    assert ix.first_duplicate() == (1, 4)


def test_a_duplicate_word_in_a_native_vocabulary_is_refused(tmp_path, rng):
    import json

    embedkit.Vectors(_words(6), _matrix(rng, n=6)).save(tmp_path / "v.ekv")
    vocab = json.loads((tmp_path / "v.ekv" / "vocab.json").read_text())
    vocab["words"][4] = "w1"
    (tmp_path / "v.ekv" / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(FormatError, match=r"word 5 \('w1'\) is a duplicate of word 2"):
        embedkit.load(tmp_path / "v.ekv")


def test_loaded_vectors_answer_lookups_without_a_dict(tmp_path, rng):
    m = _matrix(rng, n=50)
    embedkit.Vectors(_words(50), m).save(tmp_path / "v.ekv")
    v = embedkit.load(tmp_path / "v.ekv")
    assert v.index("w42") == 42 and "w7" in v and "x" not in v and 3 not in v
    v.most_similar("w3", topn=2)
    assert v._index is None  # no word -> row dict was built
    with pytest.raises(UnknownWordError, match="'w50' is not in the vocabulary"):
        v.index("w50")
    assert v.key_to_index["w42"] == 42  # gensim's dict, built on request
    v.add_vector("new", np.ones(16, np.float32))
    assert v.index("new") == 50 and "new" in v
