"""The FAISS Index: exact agreement with brute force, HNSW/IVF-PQ recall, exclusion, persistence."""

import json
import os

import numpy as np
import pytest

import embedkit
from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit.search import Index
from embedkit.search.params import AUTO_HNSW_MIN_WORDS, resolve_kind
from embedkit._io import matrix_checksum as vectors_checksum
from embedkit.search.store import cells_path, index_paths


def clustered(n, dim, seed, spread=0.35):
    """Seeded vectors around n // 50 centres: structured like embeddings, unlike pure noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(1, n // 50), dim)).astype(np.float32)
    m = centres[rng.integers(0, len(centres), n)]
    m = m + np.float32(spread) * rng.standard_normal((n, dim)).astype(np.float32)
    return embedkit.Vectors([f"w{i}" for i in range(n)], m), rng


def near_queries(v, rng, count, noise=0.3):
    base = v.normalized[rng.integers(0, len(v), count)]
    return base + np.float32(noise / np.sqrt(v.dim)) * rng.standard_normal(base.shape).astype(np.float32)


def brute_force(v, q, k, exclude=None):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = qn @ v.normalized.T
    if exclude is not None:
        for i, e in enumerate(exclude):
            s[i, list(e)] = -np.inf
    ids = np.argsort(-s, axis=1, kind="stable")[:, :k]
    return ids, np.take_along_axis(s, ids, axis=1)


@pytest.fixture(scope="module")
def small():
    return clustered(3000, 16, 1)


def test_exact_matches_brute_force(small):
    v, rng = small
    q = near_queries(v, rng, 50)
    ids, scores = Index(v, "exact").search(q, k=7)
    want_ids, want_scores = brute_force(v, q, 7)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-5)
    assert (ids == want_ids).mean() > 0.99  # only exact ties may swap


def test_exclude_removes_words_and_still_returns_k(small):
    v, _ = small
    q = v.normalized[:20]
    exclude = [[i, (i + 1) % len(v)] for i in range(20)]
    ids, scores = Index(v, "exact").search(q, k=5, exclude=exclude)
    assert ids.shape == (20, 5) and (ids >= 0).all()
    for row, e in zip(ids, exclude):
        assert not set(row) & set(e)
    want, _ = brute_force(v, q, 5, exclude)
    assert (ids == want).mean() > 0.99
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


def test_fewer_rows_than_k_pads_with_minus_one():
    v = embedkit.Vectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    ids, scores = Index(v, "exact").search(v.normalized[:1], k=3, exclude=[[0]])
    assert sorted(ids[0, :2].tolist()) == [1, 2]
    assert ids[0, 2] == -1 and scores[0, 2] == -np.inf


def test_hnsw_recall_at_10_on_100000_words():
    v, rng = clustered(100_000, 32, 7)
    q = near_queries(v, rng, 1000)
    exact, _ = Index(v, "exact").search(q, k=10)
    hnsw = Index(v, "hnsw", hnsw_m=16, ef_construction=40)
    ids, scores = hnsw.search(q, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, ids)])
    assert recall >= 0.98, recall
    # candidates are re-ranked with exact cosines
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    np.testing.assert_allclose(scores, np.einsum("nkd,nd->nk", v.normalized[ids], qn), atol=1e-5)


def test_ivfpq_reranks_exactly_and_finds_most_neighbours():
    v, rng = clustered(10_000, 16, 3)
    q = near_queries(v, rng, 200)
    exact, _ = Index(v, "exact").search(q, k=10)
    ivf = Index(v, "ivfpq", nlist=32, pq_m=4, nbits=6, nprobe=8, train_size=2048)
    ids, scores = ivf.search(q, k=10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, ids)])
    assert recall >= 0.9, recall
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    np.testing.assert_allclose(scores, np.einsum("nkd,nd->nk", v.normalized[ids], qn), atol=1e-5)


def test_ivfpq_training_is_seeded(small):
    v, rng = small
    q = near_queries(v, rng, 30)
    a = Index(v, "ivfpq", nlist=16, pq_m=2, nbits=5, train_size=1024, seed=5).search(q, 5)[0]
    b = Index(v, "ivfpq", nlist=16, pq_m=2, nbits=5, train_size=1024, seed=5).search(q, 5)[0]
    assert (a == b).all()


def test_auto_is_exact_below_200000_words_and_hnsw_above():
    assert resolve_kind("auto", AUTO_HNSW_MIN_WORDS - 1) == "exact"
    assert resolve_kind("auto", AUTO_HNSW_MIN_WORDS) == "hnsw"
    assert resolve_kind("ivfpq", 10) == "ivfpq"


def test_auto_builds_exact_for_a_small_vocabulary(small):
    assert Index(small[0]).kind == "exact"


@pytest.mark.parametrize("kind, params, message", [
    ("flat", {}, "kind must be one of"),
    ("hnsw", {"nlist": 4}, "not a parameter of a hnsw index"),
    ("hnsw", {"hnsw_m": 1}, "hnsw_m must be >= 2"),
    ("hnsw", {"ef_search": 0}, "ef_search must be >= 1"),
    ("hnsw", {"ef_construction": 2.5}, "ef_construction must be an integer"),
    ("hnsw", {"clusters": -1}, "clusters must be >= 0"),
    ("hnsw", {"clusters": 3001}, "clusters must be <= the number of words"),
    ("ivfpq", {"pq_m": 5}, "pq_m must divide the dimension 16"),
    ("ivfpq", {"nlist": 10**6}, "nlist must be <="),
    ("ivfpq", {"nbits": 17}, "nbits must be <= 16"),
    ("ivfpq", {"nbits": 12, "nlist": 16}, "needs at least 4096 training rows"),
])
def test_bad_parameters_are_rejected(small, kind, params, message):
    with pytest.raises(ParameterError, match=message):
        Index(small[0], kind, **params)


def test_empty_vocabulary_is_rejected():
    with pytest.raises(ParameterError, match="empty vocabulary"):
        Index(embedkit.Vectors([], np.zeros((0, 4), dtype=np.float32)))


def test_bad_queries_are_rejected(small):
    index = Index(small[0], "exact")
    with pytest.raises(ParameterError, match=r"queries must have shape \(n, 16\)"):
        index.search(np.zeros((2, 5), dtype=np.float32))
    with pytest.raises(ParameterError, match="k must be >= 1"):
        index.search(small[0].normalized[:1], k=0)
    with pytest.raises(ParameterError, match="exclude has 1 entries for 2 queries"):
        index.search(small[0].normalized[:2], k=1, exclude=[[0]])


def test_search_words_names_the_rows(small):
    v, _ = small
    res = Index(v, "exact").search_words(v.normalized[3], k=2, exclude=[[3]])
    assert len(res) == 1 and len(res[0]) == 2
    assert all(w != "w3" and w in v for w, _ in res[0])


def test_checksum_tracks_every_value(small):
    v, _ = small
    m = v.vectors.copy()
    assert vectors_checksum(m) == vectors_checksum(v.vectors)
    m[-1, -1] += 1e-3
    assert vectors_checksum(m) != vectors_checksum(v.vectors)
    assert vectors_checksum(m[:, :8].copy()) != vectors_checksum(m[:, 8:].copy())


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_save_and_load_round_trip(tmp_path, small, kind):
    v, rng = small
    path = tmp_path / "vectors.ekv"
    built = Index(v, kind)
    saved = built.save(path)
    index_file, meta_file = index_paths(path)
    assert saved == index_file and os.path.exists(meta_file)
    meta = json.loads(open(meta_file).read())
    assert meta["kind"] == kind and meta["checksum"] == vectors_checksum(v.vectors)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    loaded = Index.load(path, v)
    q = near_queries(v, rng, 20)
    assert (loaded.search(q, 5)[0] == built.search(q, 5)[0]).all()
    assert loaded.kind == kind


def test_load_without_an_index_names_the_fix(tmp_path, small):
    with pytest.raises(MissingFileError, match="embedkit index build"):
        Index.load(tmp_path / "v.ekv", small[0])


def test_stale_index_is_never_used(tmp_path, small):
    v, _ = small
    path = tmp_path / "v.ekv"
    Index(v, "hnsw").save(path)
    changed = embedkit.Vectors(v.words, v.vectors[::-1].copy())
    with pytest.raises(FormatError, match="checksum mismatch"):
        Index.load(path, changed)
    rebuilt = Index.open(changed, path)
    assert rebuilt.kind == "hnsw"  # rebuilt as it was built
    assert rebuilt.checksum == vectors_checksum(changed.vectors)
    meta = json.loads(open(index_paths(path)[1]).read())
    assert meta["checksum"] == rebuilt.checksum  # and saved again
    ids, _ = rebuilt.search(changed.normalized[:5], k=1)
    assert (ids[:, 0] == np.arange(5)).all()


def test_open_rebuilds_on_kind_mismatch_and_reuses_a_match(tmp_path, small):
    v, _ = small
    path = tmp_path / "v.ekv"
    Index(v, "exact").save(path)
    assert Index.open(v, path, kind="hnsw").kind == "hnsw"
    before = os.path.getmtime(index_paths(path)[0])
    assert Index.open(v, path).kind == "hnsw"
    assert os.path.getmtime(index_paths(path)[0]) == before


def test_corrupt_index_is_rebuilt(tmp_path, small):
    v, _ = small
    path = tmp_path / "v.ekv"
    Index(v, "exact").save(path)
    with open(index_paths(path)[0], "wb") as f:
        f.write(b"not a faiss index")
    with pytest.raises(FormatError):
        Index.load(path, v)
    assert len(Index.open(v, path)) == len(v)


def test_saved_files_get_the_usual_permissions(tmp_path, small):
    Index(small[0], "exact").save(tmp_path / "v.ekv")
    umask = os.umask(0)
    os.umask(umask)
    for f in index_paths(tmp_path / "v.ekv"):
        assert os.stat(f).st_mode & 0o777 == 0o666 & ~umask


def test_hnsw_cells_default_to_one_per_64_words_up_to_1024(small):
    assert Index(small[0], "hnsw").params["clusters"] == 3000 // 64
    tiny, _ = clustered(300, 8, 2)
    assert Index(tiny, "hnsw").params["clusters"] == 0  # too few words to bother


def test_locality_order_changes_no_result(small):
    v, rng = small
    index = Index(v, "hnsw", clusters=20)
    q = near_queries(v, rng, 300)
    exclude = [[i % len(v)] for i in range(len(q))]
    ordered = index.search(q, 5, exclude=exclude)
    index.locality = False
    given = index.search(q, 5, exclude=exclude)
    np.testing.assert_array_equal(ordered[0], given[0])
    np.testing.assert_array_equal(ordered[1], given[1])
    # and the ids are word rows (the graph stores its vectors cell by cell)
    exact, _ = brute_force(v, q, 1, exclude)
    assert np.mean(ordered[0][:, 0] == exact[:, 0]) > 0.95


def test_hnsw_without_cells_matches_with_cells(small):
    v, rng = small
    q = near_queries(v, rng, 200)
    plain = Index(v, "hnsw", clusters=0, ef_search=200)
    cells = Index(v, "hnsw", clusters=30, ef_search=200)
    assert plain._centroids is None and cells._centroids.shape == (30, 16)
    exact, _ = brute_force(v, q, 3)
    for index in (plain, cells):
        assert np.mean(index.search(q, 3)[0] == exact) > 0.97


def test_cells_round_trip_and_a_missing_cell_file_forces_a_rebuild(tmp_path, small):
    v, rng = small
    path = tmp_path / "v.ekv"
    built = Index(v, "hnsw", clusters=25)
    built.save(path)
    loaded = Index.load(path, v)
    np.testing.assert_array_equal(loaded._centroids, built._centroids)
    q = near_queries(v, rng, 100)
    np.testing.assert_array_equal(loaded.search(q, 4)[0], built.search(q, 4)[0])
    os.remove(cells_path(path))
    with pytest.raises(FormatError, match="cell file .* is missing or unreadable"):
        Index.load(path, v)
    assert Index.open(v, path).params["clusters"] == 25  # rebuilt as it was built
    assert os.path.exists(cells_path(path))


def test_a_cell_file_that_is_not_a_permutation_is_rejected(tmp_path, small):
    v, _ = small
    path = tmp_path / "v.ekv"
    Index(v, "hnsw", clusters=10).save(path)
    with np.load(cells_path(path)) as data:
        ids, centroids = data["ids"].copy(), data["centroids"]
    ids[0] = ids[1]
    np.savez(cells_path(path), ids=ids, centroids=centroids)
    with pytest.raises(FormatError, match="does not match the index"):
        Index.load(path, v)


def test_an_index_saved_without_cells_removes_an_old_cell_file(tmp_path, small):
    v, _ = small
    path = tmp_path / "v.ekv"
    Index(v, "hnsw", clusters=10).save(path)
    Index(v, "hnsw", clusters=0).save(path)
    assert not os.path.exists(cells_path(path))
    assert Index.load(path, v)._centroids is None
