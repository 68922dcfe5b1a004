"""Big models: stored row norms, block-by-block queries on mapped .ekv files (no full-size
copy), float16/int8 storage, memory-mapped FAISS indexes, and their errors."""

import json
import os
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.errors import FormatError, ParameterError
from embedkit.search import Index, combination_search
from embedkit.vectors import native
from embedkit.vectors.core import Vectors
from embedkit.vectors.storage import StoredMatrix

N, DIM = 3000, 24


def clustered(n=N, dim=DIM, seed=7, clusters=40):
    """Rows around a few centres, with varied lengths (like real word vectors)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)) * 2
    m = centres[rng.integers(clusters, size=n)] + rng.standard_normal((n, dim))
    m *= rng.uniform(0.3, 3.0, (n, 1))
    m[5] = 0.0  # a zero row
    return m.astype(np.float32)


@pytest.fixture(scope="module")
def matrix():
    return clustered()


@pytest.fixture(scope="module")
def words():
    return [f"w{i}" for i in range(N)]


@pytest.fixture(scope="module")
def files(tmp_path_factory, matrix, words):
    """The same vectors as .ekv with stored norms, without (a file written before them),
    and as float16 / int8 (per-row and per-dimension scales)."""
    d = tmp_path_factory.mktemp("big")
    v = Vectors(words, matrix)
    out = {}
    for name, kw in [("norms", {}), ("float16", {"dtype": "float16"}),
                     ("int8", {"dtype": "int8"}), ("int8dim", {"dtype": "int8", "scale": "dim"})]:
        out[name] = d / f"{name}.ekv"
        v.save(out[name], **kw)
    legacy = d / "legacy.ekv"
    legacy.mkdir()
    np.save(legacy / "vectors.npy", matrix)
    (legacy / "vocab.json").write_text(json.dumps({
        "format": "embedkit-vectors", "format_version": 1, "count": N, "dim": DIM,
        "words": words, "counts": None, "metadata": {}}))
    out["legacy"] = legacy
    return out


@pytest.fixture
def no_full_copy(monkeypatch):
    """Fail if a query builds the unit-normalised matrix or decodes a whole matrix."""
    def refuse(self):
        raise AssertionError("a query built a full-size normalised copy")

    monkeypatch.setattr(Vectors, "normalized", property(refuse))
    real = StoredMatrix.decode

    def decode(self, x0, x1, out=None):
        if x1 - x0 >= len(self) and len(self) > 4096:
            raise AssertionError("a query decoded the whole matrix")
        return real(self, x0, x1, out)

    monkeypatch.setattr(StoredMatrix, "decode", decode)


# -- the reference: the float32 path before stored norms (a unit-normalised copy) ------------

def unit(m):
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (m / norms).astype(np.float32)


def ref_top(m, q, k, exclude=(), rows=None):
    u = unit(m)[:rows]
    sims = u @ (q / np.linalg.norm(q))
    sims[[e for e in exclude if e < len(u)]] = -np.inf
    order = np.argsort(-sims, kind="stable")[:k]
    return [(f"w{i}", float(sims[i])) for i in order if np.isfinite(sims[i])]


def assert_same(got, want, atol=1e-6):
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=0, atol=atol)


def opened(files, name):
    return embedkit.load(files[name])


FLOAT32 = ["norms", "legacy", "memory"]


def get(files, matrix, words, name):
    return Vectors(words, matrix) if name == "memory" else opened(files, name)


# -- stored norms -----------------------------------------------------------------------------

def test_save_stores_the_norms_np_linalg_norm_gives(files, matrix):
    norms = np.load(files["norms"] / "norms.npy")
    assert norms.dtype == np.float32
    np.testing.assert_array_equal(norms, np.linalg.norm(matrix, axis=1))


def test_a_file_without_norms_computes_them_once_streamed(files, matrix):
    v = opened(files, "legacy")
    assert not v.storage.norms_stored
    np.testing.assert_array_equal(v.storage.norms, np.linalg.norm(matrix, axis=1))
    assert v.storage.norms is v.storage.norms


def test_opening_keeps_the_matrix_mapped(files):
    v = opened(files, "norms")
    assert isinstance(v.storage.data, np.memmap) and v.vectors is v.storage.data
    assert v.storage.norms_stored


# -- every query kind: identical to the float32 reference, with and without stored norms -----

@pytest.mark.parametrize("name", FLOAT32)
def test_most_similar_and_similar_by_vector(files, matrix, words, name, no_full_copy):
    v = get(files, matrix, words, name)
    for w in (0, 17, 2999):
        assert_same(v.most_similar(f"w{w}", topn=10), ref_top(matrix, matrix[w], 10, [w]))
    q = matrix[3] - matrix[4] + matrix[9]
    uq = unit(matrix[[3, 4, 9]])
    assert_same(v.most_similar(positive=["w3", "w9"], negative=["w4"], topn=7),
                ref_top(matrix, uq[0] - uq[1] + uq[2], 7, [3, 4, 9]))
    assert_same(v.similar_by_vector(q, topn=5), ref_top(matrix, q, 5))
    assert_same(v.most_similar("w8", topn=4, restrict_vocab=100),
                ref_top(matrix, matrix[8], 4, [8], rows=100))


@pytest.mark.parametrize("name", FLOAT32)
def test_analogy_both_methods(files, matrix, words, name, no_full_copy):
    v = get(files, matrix, words, name)
    a, b, c = 10, 11, 12
    u = unit(matrix)
    assert_same(v.analogy("w10", "w11", "w12", topn=5),
                ref_top(matrix, u[b] - u[a] + u[c], 5, [a, b, c]))
    sims = (u @ u[[a, b, c]].T + 1) / 2
    score = sims[:, 1] * sims[:, 2] / (sims[:, 0] + np.float32(1e-3))
    score[[a, b, c]] = -np.inf
    order = np.argsort(-score, kind="stable")[:5]
    assert_same(v.analogy("w10", "w11", "w12", topn=5, method="3cosmul"),
                [(f"w{i}", float(score[i])) for i in order])


@pytest.mark.parametrize("name", FLOAT32)
def test_doesnt_match_and_similarity(files, matrix, words, name, no_full_copy):
    v = get(files, matrix, words, name)
    group = [1, 2, 3, 40, 41]
    u = unit(matrix)[group]
    mean = u.mean(axis=0)
    assert v.doesnt_match([f"w{i}" for i in group]) == f"w{group[int(np.argmin(u @ mean))]}"
    np.testing.assert_allclose(v.similarity("w1", "w2"), float(u[0] @ u[1]), rtol=0, atol=1e-6)
    assert v.similarity("w5", "w1") == 0.0  # the zero row


@pytest.mark.parametrize("name", FLOAT32)
@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_batched_engine(files, matrix, words, name, method, no_full_copy):
    v = get(files, matrix, words, name)
    rng = np.random.default_rng(3)
    qs = rng.choice(N, (40, 3), replace=False if N >= 120 else True)
    pos = [[f"w{b}", f"w{c}"] for a, b, c in qs]
    neg = [[f"w{a}"] for a, b, c in qs]
    ids, scores = combination_search(v, pos, neg, k=5, method=method)
    ref_ids, ref_scores = combination_search(Vectors(words, matrix), pos, neg, k=5,
                                             method=method, block_bytes=4 * 256)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-6)
    if method == "3cosadd":
        u = unit(matrix)
        for (a, b, c), row, sc in zip(qs, ids, scores):
            want = ref_top(matrix, u[b] + u[c] - u[a], 5, [a, b, c])
            assert_same(list(zip([f"w{i}" for i in row], sc.tolist())), want)


@pytest.mark.parametrize("name", FLOAT32)
def test_evaluate_analogies(files, matrix, words, name, no_full_copy):
    from embedkit.evaluation import AnalogySet, evaluate_analogies

    rng = np.random.default_rng(5)
    q = rng.choice(N, (60, 4))
    ds = AnalogySet(name="t", a=[(f"w{x}",) for x in q[:, 0]], b=[(f"w{x}",) for x in q[:, 1]],
                    c=[(f"w{x}",) for x in q[:, 2]], d=[(f"w{x}",) for x in q[:, 3]],
                    section=np.zeros(60, dtype=np.int32), section_names=["s"],
                    section_families=["f"])
    v = get(files, matrix, words, name)
    for method in ("3cosadd", "3cosmul"):
        got = evaluate_analogies(v, ds, method=method, restrict_vocab=None,
                                 case_insensitive=False)
        u = unit(matrix)
        for (a, b, c, _), pred in zip(q, got.predicted):
            if method == "3cosadd":
                want = ref_top(matrix, u[b] + u[c] - u[a], 1, {a, b, c} | {5})[0][0]
                assert f"w{pred}" == want


def test_queries_allocate_no_full_size_copy(tmp_path):
    """tracemalloc sees numpy's allocations: a query on the mapped file stays far below the
    matrix size (the old path allocated a normalised copy, 1x the matrix). The matrix is
    large (16 MB) so that allocations by other threads (e.g. logging left by earlier tests)
    cannot reach the limit."""
    n, dim = 40_000, 100
    big = [f"w{i}" for i in range(n)]
    Vectors(big, clustered(n, dim)).save(tmp_path / "big.ekv")
    v = embedkit.load(tmp_path / "big.ekv")
    # compile (or load from Numba's cache) every kernel first: compiling allocates too
    v.most_similar("w1")
    v.analogy("w4", "w5", "w6", method="3cosmul")
    v.doesnt_match(["w4", "w5", "w6"])
    tracemalloc.start()
    try:
        v.most_similar("w2", topn=10)
        v.analogy("w1", "w2", "w3", method="3cosmul")
        v.doesnt_match(["w1", "w2", "w3"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * n * dim * 4
    assert v._normalized is None


def test_normalized_is_built_only_on_request_and_matches(files, matrix):
    v = opened(files, "norms")
    assert v._normalized is None
    np.testing.assert_array_equal(v.normalized, unit(matrix))
    np.testing.assert_array_equal(v.unit(["w1", "w7"]), unit(matrix)[[1, 7]])


# -- compact storage ----------------------------------------------------------------------------

def recall_at_10(v, ref, queries):
    hits = 0
    for w in queries:
        got = {x for x, _ in v.most_similar(w, topn=10)}
        hits += len(got & {x for x, _ in ref.most_similar(w, topn=10)})
    return hits / (10 * len(queries))


@pytest.mark.parametrize("name, floor", [("float16", 0.999), ("int8", 0.98), ("int8dim", 0.95)])
def test_compact_storage_recall(files, matrix, words, name, floor, no_full_copy):
    v = opened(files, name)
    ref = Vectors(words, matrix)
    assert recall_at_10(v, ref, [f"w{i}" for i in range(0, N, 30)]) >= floor


@pytest.mark.parametrize("name, dtype, ratio", [("float16", np.float16, 2), ("int8", np.int8, 4),
                                                ("int8dim", np.int8, 4)])
def test_compact_files_are_smaller_and_decode_close(files, matrix, name, dtype, ratio):
    stored = np.load(files[name] / "vectors.npy", mmap_mode="r")
    assert stored.dtype == dtype and stored.nbytes * ratio == matrix.nbytes
    v = opened(files, name)
    err = np.abs(v["w9"] - matrix[9]).max() / np.abs(matrix[9]).max()
    assert err < (1e-3 if name == "float16" else 2e-2)
    np.testing.assert_allclose(v.storage.norms, np.linalg.norm(v.vectors, axis=1), rtol=1e-6)


def test_compact_storage_answers_every_query_kind(files, matrix, words, no_full_copy):
    v = opened(files, "int8")
    assert len(v.most_similar("w1", topn=3)) == 3
    assert len(v.analogy("w1", "w2", "w3", method="3cosmul", topn=2)) == 2
    assert v.doesnt_match(["w1", "w2", "w3"]) in ("w1", "w2", "w3")
    ids, _ = combination_search(v, [["w1", "w2"]], [["w3"]], k=3)
    assert ids.shape == (1, 3) and (ids >= 0).all()


def test_int8_rows_scale_keeps_zero_rows_and_never_zero_scales(files):
    scales = np.load(files["int8"] / "scales.npy")
    assert scales.shape == (N,) and (scales > 0).all()
    v = opened(files, "int8")
    assert not v["w5"].any() and v.storage.norms[5] == 0


def test_convert_between_dtypes_round_trips(files, tmp_path, matrix):
    v = opened(files, "int8")
    v.save(tmp_path / "again.ekv")  # stays int8: copied as stored
    np.testing.assert_array_equal(np.load(tmp_path / "again.ekv" / "vectors.npy"),
                                  np.load(files["int8"] / "vectors.npy"))
    v.save(tmp_path / "f32.ekv", dtype="float32")
    back = embedkit.load(tmp_path / "f32.ekv")
    np.testing.assert_array_equal(back.vectors, v.vectors)


def test_save_dtype_only_for_native(files, tmp_path, matrix, words):
    v = Vectors(words[:10], matrix[:10])
    with pytest.raises(ParameterError, match="native"):
        v.save(tmp_path / "x.txt", dtype="float16")
    with pytest.raises(ParameterError, match="dtype must be one of"):
        v.save(tmp_path / "x.ekv", dtype="bfloat16")
    with pytest.raises(ParameterError, match="scale must be"):
        v.save(tmp_path / "x.ekv", dtype="int8", scale="col")


def test_restrict_keeps_storage(files):
    v = opened(files, "int8").restrict(100)
    assert v.storage.dtype == "int8" and len(v.storage) == 100 and v.storage.norms_stored
    assert v.most_similar("w1", topn=2)[0][0] in v.words


# -- bad files: one clear FormatError each ---------------------------------------------------

def copy_ekv(src, dst):
    dst.mkdir()
    for f in os.listdir(src):
        (dst / f).write_bytes((src / f).read_bytes())
    return dst


def test_norms_of_the_wrong_length(files, tmp_path):
    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    np.save(d / "norms.npy", np.ones(N - 1, dtype=np.float32))
    with pytest.raises(FormatError, match="norms.npy: expected 3000 float row norms"):
        embedkit.load(d)


def test_norms_that_disagree_with_the_matrix(files, tmp_path):
    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    norms = np.load(d / "norms.npy")
    norms[0] *= 1.5
    np.save(d / "norms.npy", norms)
    with pytest.raises(FormatError, match="disagrees with the matrix: row 1 .*embedkit convert"):
        embedkit.load(d)


def test_negative_or_nan_norms(files, tmp_path):
    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    norms = np.load(d / "norms.npy")
    norms[1234] = np.nan
    np.save(d / "norms.npy", norms)
    with pytest.raises(FormatError, match="norm of row 1235 is nan .negative or NaN"):
        embedkit.load(d)


def test_int8_without_scales(files, tmp_path):
    d = copy_ekv(files["int8"], tmp_path / "x.ekv")
    os.remove(d / "scales.npy")
    with pytest.raises(FormatError, match="no scales.npy"):
        embedkit.load(d)


def test_int8_with_a_zero_scale(files, tmp_path):
    d = copy_ekv(files["int8dim"], tmp_path / "x.ekv")
    scales = np.load(d / "scales.npy")
    scales[3] = 0
    np.save(d / "scales.npy", scales)
    with pytest.raises(FormatError, match="scale 3 is 0.0; int8 scales must be finite and > 0"):
        embedkit.load(d)


def test_int8_with_scales_of_the_wrong_shape(files, tmp_path):
    d = copy_ekv(files["int8dim"], tmp_path / "x.ekv")
    np.save(d / "scales.npy", np.ones(DIM + 1, dtype=np.float32))
    with pytest.raises(FormatError, match="expected 24 float scales"):
        embedkit.load(d)


def test_an_unknown_dtype(files, tmp_path):
    d = copy_ekv(files["float16"], tmp_path / "x.ekv")
    vocab = json.loads((d / "vocab.json").read_text())
    vocab["dtype"] = "bfloat16"
    (d / "vocab.json").write_text(json.dumps(vocab))
    with pytest.raises(FormatError, match="unknown dtype 'bfloat16'.*float32, float16, int8"):
        embedkit.load(d)


def test_a_matrix_of_another_dtype_than_declared(files, tmp_path):
    d = copy_ekv(files["float16"], tmp_path / "x.ekv")
    np.save(d / "vectors.npy", np.zeros((N, DIM), dtype=np.int8))
    with pytest.raises(FormatError, match="the matrix is int8 but vocab.json says float16"):
        embedkit.load(d)


def test_compact_files_need_a_newer_reader(files):
    vocab = json.loads((files["int8"] / "vocab.json").read_text())
    assert vocab["format_version"] == 2 and vocab["dtype"] == "int8" and vocab["scale"] == "row"
    assert json.loads((files["norms"] / "vocab.json").read_text())["format_version"] == 1


def test_validate_checks_every_stored_norm(files, tmp_path):
    from embedkit.vectors.loader import validate

    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    norms = np.load(d / "norms.npy")
    norms[1] *= 2  # row 2 is not among the rows a load samples
    np.save(d / "norms.npy", norms)
    embedkit.load(d)
    report = validate(d)
    assert any("norm" in what for _, what in report["errors"])


# -- embedkit convert in place, embedkit info --------------------------------------------------

def test_convert_stores_norms_in_place(files, tmp_path, matrix):
    from embedkit.cli.main import cli as main

    d = copy_ekv(files["legacy"], tmp_path / "old.ekv")
    before = (d / "vectors.npy").read_bytes()
    r = CliRunner().invoke(main, ["convert", str(d)])
    assert r.exit_code == 0, r.output
    assert "stored the row norms" in r.output
    np.testing.assert_array_equal(np.load(d / "norms.npy"), np.linalg.norm(matrix, axis=1))
    assert (d / "vectors.npy").read_bytes() == before
    assert sorted(os.listdir(d)) == ["norms.npy", "vectors.npy", "vocab.json"]  # no temp left
    r = CliRunner().invoke(main, ["convert", str(d), str(d)])
    assert r.exit_code == 0 and "already stores" in r.output


def test_convert_rewrites_wrong_norms(files, tmp_path, matrix):
    from embedkit.cli.main import cli as main

    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    np.save(d / "norms.npy", np.ones(N, dtype=np.float32))
    r = CliRunner().invoke(main, ["similar", "--vectors", str(d), "w1"])
    assert r.exit_code == 1 and "disagrees with the matrix" in r.output
    assert len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(main, ["convert", str(d)])
    assert r.exit_code == 0, r.output
    np.testing.assert_array_equal(np.load(d / "norms.npy"), np.linalg.norm(matrix, axis=1))


def test_convert_dtype_through_the_cli(files, tmp_path):
    from embedkit.cli.main import cli as main

    r = CliRunner().invoke(main, ["convert", str(files["norms"]), str(tmp_path / "h.ekv"),
                                  "--dtype", "float16"])
    assert r.exit_code == 0, r.output
    assert embedkit.load(tmp_path / "h.ekv").storage.dtype == "float16"
    d = copy_ekv(files["norms"], tmp_path / "inplace.ekv")
    r = CliRunner().invoke(main, ["convert", str(d), "--dtype", "int8", "--scale", "dim"])
    assert r.exit_code == 0, r.output
    assert embedkit.load(d).storage.scale_axis == "dim"
    r = CliRunner().invoke(main, ["convert", str(files["norms"]), str(tmp_path / "v.txt"),
                                  "--dtype", "int8"])
    assert r.exit_code == 1 and "native" in r.output


def test_similar_through_the_cli_on_every_storage(files, matrix):
    from embedkit.cli.main import cli as main

    want = [w for w, _ in ref_top(matrix, matrix[1], 3, [1])]
    for name in ("norms", "legacy", "float16"):
        r = CliRunner().invoke(main, ["similar", "--vectors", str(files[name]), "--json",
                                      "-k", "3", "w1"])
        assert r.exit_code == 0, r.output
        assert [x["word"] for x in json.loads(r.output)] == want


def test_info_reports_storage_norms_and_query_memory(files):
    from embedkit.cli.main import cli as main

    r = CliRunner().invoke(main, ["info", str(files["int8"])])
    assert r.exit_code == 0, r.output
    assert "int8, row scales (memory-mapped)" in r.output
    assert "row norms   stored" in r.output and "query RAM" in r.output
    r = CliRunner().invoke(main, ["info", str(files["legacy"])])
    assert "not stored; `embedkit convert" in r.output


# -- FAISS indexes: opened memory-mapped, same answers -----------------------------------------

@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivfpq"])
def test_index_loads_memory_mapped_with_the_same_answers(files, tmp_path, kind):
    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    v = embedkit.load(d)
    params = {"nlist": 16, "nbits": 4} if kind == "ivfpq" else {}
    built = Index(v, kind, **params)
    built.save(d)
    q = v.unit(["w1", "w2", "w3"])
    mapped, read = Index.load(d, v), Index.load(d, v, mmap=False)
    from embedkit.search.store import mmap_flags

    assert mmap_flags(kind) != 0
    for other in (mapped, read):
        ids, scores = other.search(q, 5, exclude=[[1], [2], [3]])
        want_ids, want_scores = built.search(q, 5, exclude=[[1], [2], [3]])
        np.testing.assert_array_equal(ids, want_ids)
        np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-6)


def test_an_attached_index_answers_like_brute_force(files, tmp_path, matrix):
    d = copy_ekv(files["norms"], tmp_path / "x.ekv")
    v = embedkit.load(d)
    Index(v, "exact").save(d)
    v.attach_index(Index.load(d, v))
    assert_same(v.most_similar("w4", topn=5), ref_top(matrix, matrix[4], 5, [4]))
    ids, _ = combination_search(v, [["w1", "w2"]], [["w3"]], k=4, index=v.search_index)
    u = unit(matrix)
    assert [f"w{i}" for i in ids[0]] == [w for w, _ in ref_top(matrix, u[1] + u[2] - u[3], 4,
                                                                 [1, 2, 3])]


def test_an_index_over_int8_vectors_is_tied_to_their_scales(files, matrix, words, tmp_path):
    d = copy_ekv(files["int8"], tmp_path / "x.ekv")
    v = embedkit.load(d)
    Index(v, "exact").save(d)
    Vectors(words, matrix).save(d, dtype="int8", scale="dim")  # same codes? other scales
    with pytest.raises(FormatError, match="checksum mismatch"):
        Index.load(d, embedkit.load(d))


@pytest.mark.parametrize("name", ["norms", "float16", "int8", "int8dim"])
def test_the_checksum_saved_with_the_rows_is_the_one_an_index_computes(files, name):
    from embedkit.search.index import vectors_checksum

    v = embedkit.load(files[name])
    saved = v.storage.checksum
    assert saved and saved == json.loads((files[name] / "vocab.json").read_text())["checksum"]
    v.storage.checksum = None
    assert vectors_checksum(v) == saved


def test_validate_catches_a_matrix_edited_after_it_was_written(files, tmp_path):
    from embedkit.vectors.loader import validate

    d = copy_ekv(files["float16"], tmp_path / "x.ekv")
    m = np.load(d / "vectors.npy")
    m[7, :2] = m[7, 1::-1]  # same norm, other values
    np.save(d / "vectors.npy", m)
    report = validate(d)
    assert any(where == "checksum" for where, _ in report["errors"])


def test_float16_decodes_every_bit_pattern_exactly():
    bits = np.arange(1 << 16, dtype=np.uint16).view(np.float16).reshape(256, 256)
    got = StoredMatrix(bits).decode(0, 256)
    np.testing.assert_array_equal(got, bits.astype(np.float32))


@pytest.mark.parametrize("name", ["norms", "float16", "int8", "int8dim"])
def test_few_and_many_queries_score_alike(files, name):
    """A few queries run a Numba kernel on the stored rows, more a GEMM on decoded blocks."""
    from embedkit.vectors import scoring

    st = opened(files, name).storage
    q = st.unit_rows(np.arange(0, 200, 10))
    many_ids, many_scores = st.search(q, 5)
    assert len(q) > scoring.FEW_QUERIES
    for i in range(len(q)):
        ids, scores = st.search(q[i:i + 1], 5)
        np.testing.assert_array_equal(ids[0], many_ids[i])
        np.testing.assert_allclose(scores[0], many_scores[i], rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float16", "int8"])
@pytest.mark.parametrize("threads", [1, 2])
def test_the_fused_scan_matches_the_block_fold(tmp_path, matrix, dtype, threads):
    """A few queries take one fused pass over the rows, split in ranges (one per Numba
    thread) whose top k are merged: the same ids and scores as the block-by-block fold,
    ties (equal rows on both sides of a range boundary) keeping the lower row, excluded
    rows and an ``n_rows`` limit honoured."""
    import numba

    from embedkit.vectors import scoring

    m = matrix[:1024].copy()
    m[300] = m[10]  # equal rows: in the same range and across the boundary of two
    m[900] = m[10]
    Vectors([f"w{i}" for i in range(len(m))], m).save(tmp_path / "v.ekv", dtype=dtype)
    st = embedkit.load(tmp_path / "v.ekv").storage
    q = st.unit_rows([10, 11, 12])
    exclude = np.array([[10, -1], [11, 3], [-1, -1]], dtype=np.int64)
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for n_rows in (None, 950, 800):
            got_ids, got_scores = st.search(q, 6, exclude, n_rows)
            old = scoring.FEW_QUERIES
            scoring.FEW_QUERIES = 0  # the block-by-block fold
            try:
                ref_ids, ref_scores = st.search(q, 6, exclude, n_rows)
            finally:
                scoring.FEW_QUERIES = old
            np.testing.assert_array_equal(got_ids, ref_ids)
            np.testing.assert_allclose(got_scores, ref_scores, rtol=0, atol=1e-6)
        ids, _ = st.search(q[:1], 3)
        assert list(ids[0]) == [10, 300, 900]  # equal rows: the lower first
    finally:
        numba.set_num_threads(before)
