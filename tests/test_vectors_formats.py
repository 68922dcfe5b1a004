"""Readers and writers: every writer to every reader is lossless; compression, limit, native
memory-mapping.  (Reading and writing side by side with gensim: test_gensim_interop.py.)"""

import json

import numpy as np
import pytest

import embedkit
from embedkit.vectors.loader import detect_format
from helpers.factories import mixed_vectors as _vectors


WRITE_FORMATS = [("v.txt", None), ("v.vec", None), ("v.bin", None), ("v.ekv", None),
                 ("g.txt", "glove"), ("v.txt.gz", None), ("v.bin.bz2", None),
                 ("v.vec.xz", None), ("g.txt.gz", "glove")]


@pytest.mark.parametrize("name,fmt", WRITE_FORMATS)
def test_every_writer_round_trips_losslessly(tmp_path, rng, name, fmt):
    v = _vectors(rng)
    v.save(tmp_path / name, format=fmt)
    w = embedkit.load(tmp_path / name)
    assert w.words == v.words
    assert w.vectors.dtype == np.float32
    np.testing.assert_array_equal(w.vectors, v.vectors)


@pytest.mark.parametrize("name,fmt,expected", [
    ("v.txt", None, "word2vec-text"), ("v.bin", None, "word2vec-binary"),
    ("v.ekv", None, "native"), ("g.txt", "glove", "glove"), ("v.bin.gz", None, "word2vec-binary")])
def test_format_is_detected_from_content(tmp_path, rng, name, fmt, expected):
    v = _vectors(rng)
    v.save(tmp_path / name, format=fmt)
    # rename so the extension cannot help
    target = tmp_path / "renamed"
    (tmp_path / name).rename(target)
    assert detect_format(target) == expected
    np.testing.assert_array_equal(embedkit.load(target).vectors, v.vectors)


def test_explicit_format_overrides_detection(tmp_path, rng):
    v = _vectors(rng)
    v.save(tmp_path / "v.txt")
    w = embedkit.load(tmp_path / "v.txt", format="word2vec-text")
    np.testing.assert_array_equal(w.vectors, v.vectors)


def test_word2vec_text_layout_matches_word2vec_c(tmp_path):
    v = embedkit.Vectors(["a", "b"], np.array([[0.5, -1.25], [3.0, 0.0]], dtype=np.float32))
    v.save(tmp_path / "v.txt")
    assert (tmp_path / "v.txt").read_bytes() == b"2 2\na 0.5 -1.25 \nb 3 0 \n"
    v.save(tmp_path / "g.txt", format="glove")
    assert (tmp_path / "g.txt").read_bytes() == b"a 0.5 -1.25\nb 3 0\n"


def test_word2vec_binary_layout_matches_word2vec_c(tmp_path):
    m = np.array([[0.5, -1.25], [3.0, 0.0]], dtype=np.float32)
    embedkit.Vectors(["a", "b"], m).save(tmp_path / "v.bin")
    expected = b"2 2\n" + b"a " + m[0].tobytes() + b"\n" + b"b " + m[1].tobytes() + b"\n"
    assert (tmp_path / "v.bin").read_bytes() == expected


def test_binary_without_record_newlines_reads(tmp_path):
    m = np.array([[0.5, -1.25], [3.0, 10.0]], dtype=np.float32)   # 10.0 has no 0x0a byte
    (tmp_path / "v.bin").write_bytes(b"2 2\na " + m[0].tobytes() + b"b " + m[1].tobytes())
    w = embedkit.load(tmp_path / "v.bin")
    assert w.words == ["a", "b"]
    np.testing.assert_array_equal(w.vectors, m)


def test_precision_limits_significant_digits(tmp_path):
    v = embedkit.Vectors(["a"], np.array([[1.23456789, 0.000123456789]], dtype=np.float32))
    v.save(tmp_path / "v.txt", precision=3)
    assert (tmp_path / "v.txt").read_text() == "1 2\na 1.23 0.000123 \n"
    w = embedkit.load(tmp_path / "v.txt")
    np.testing.assert_allclose(w.vectors, v.vectors, rtol=5e-3)


def test_float_formatter_round_trips_many_random_float32(tmp_path, rng):
    bits = rng.integers(0, 2**32, 20000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)].reshape(-1, 1)
    v = embedkit.Vectors([f"w{i}" for i in range(len(x))], x)
    v.save(tmp_path / "v.txt")
    w = embedkit.load(tmp_path / "v.txt")
    np.testing.assert_array_equal(w.vectors, x)
    # and Python's correctly rounded parser agrees with every written number
    nums = [float(line.split()[1]) for line in (tmp_path / "v.txt").read_text().splitlines()[1:]]
    np.testing.assert_array_equal(np.array(nums, dtype=np.float32), x[:, 0])


def test_limit_reads_only_first_words(tmp_path, rng):
    v = _vectors(rng)
    for name, fmt in [("v.txt", None), ("v.bin", None), ("g.txt", "glove"), ("v.ekv", None)]:
        v.save(tmp_path / name, format=fmt)
        w = embedkit.load(tmp_path / name, limit=5)
        assert w.words == v.words[:5], name
        np.testing.assert_array_equal(w.vectors, v.vectors[:5])


def test_native_is_memory_mapped_and_keeps_counts_and_metadata(tmp_path, rng):
    v = _vectors(rng)
    v.counts = np.arange(len(v), 0, -1)
    v.metadata = {"dim": v.dim, "training": {"window": 5}}
    v.save(tmp_path / "v.ekv")
    assert sorted(p.name for p in (tmp_path / "v.ekv").iterdir()) == ["norms.npy", "vectors.npy",
                                                                  "vocab.json"]
    vocab = json.loads((tmp_path / "v.ekv" / "vocab.json").read_text())
    assert vocab["words"] == v.words and vocab["dim"] == v.dim
    assert vocab["metadata"]["embedkit_version"] == embedkit.__version__
    w = embedkit.load(tmp_path / "v.ekv")
    assert isinstance(w.vectors, np.memmap)
    np.testing.assert_array_equal(w.counts, v.counts)
    assert w.metadata["training"] == {"window": 5}
    np.testing.assert_array_equal(np.load(tmp_path / "v.ekv" / "vectors.npy"), v.vectors)


def test_native_save_overwrites_previous_native(tmp_path, rng):
    _vectors(rng).save(tmp_path / "v.ekv")
    v2 = _vectors(rng, n=10)
    v2.save(tmp_path / "v.ekv")
    assert len(embedkit.load(tmp_path / "v.ekv")) == 10
    assert [p.name for p in tmp_path.iterdir()] == ["v.ekv"]  # no temp files left


def test_vectors_accepts_memmap_without_copying(tmp_path, rng):
    v = _vectors(rng)
    v.save(tmp_path / "v.ekv")
    mm = np.load(tmp_path / "v.ekv" / "vectors.npy", mmap_mode="r")
    assert embedkit.Vectors(v.words, mm).vectors is mm


def test_module_level_save(tmp_path, rng):
    v = _vectors(rng)
    embedkit.save(v, tmp_path / "v.bin")
    np.testing.assert_array_equal(embedkit.load(tmp_path / "v.bin").vectors, v.vectors)


def test_from_gensim_rejects_other_objects():
    with pytest.raises(embedkit.ParameterError, match="KeyedVectors"):
        embedkit.Vectors.from_gensim(object())


def test_prefaulted_matrix_path_reads_the_same(tmp_path, rng, monkeypatch):
    from embedkit.vectors import _files

    monkeypatch.setattr(_files, "POPULATE_MIN_BYTES", 0)   # use MAP_POPULATE for tiny files
    v = _vectors(rng)
    for name in ("v.bin", "v.txt"):
        v.save(tmp_path / name)
        w = embedkit.load(tmp_path / name)
        assert w.vectors.base is not None                    # the anonymous mapping
        np.testing.assert_array_equal(w.vectors, v.vectors)
        assert embedkit.load(tmp_path / name, limit=7).words == v.words[:7]
    # header promising fewer records than the body: grows by copying
    data = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "short.bin").write_bytes(b"10" + data[data.index(b" "):])
    w = embedkit.load(tmp_path / "short.bin")
    np.testing.assert_array_equal(w.vectors, v.vectors)


def test_headerless_files_grow_the_matrix(tmp_path, rng, monkeypatch):
    from embedkit.vectors import text as text_module

    monkeypatch.setattr(text_module, "GROW_START", 4)
    words = ["a" * 200] + [f"w{i}" for i in range(99)]   # a long first line underestimates
    m = rng.standard_normal((100, 3)).astype(np.float32)
    v = embedkit.Vectors(words, m)
    for name in ("g.txt", "g.txt.gz"):
        v.save(tmp_path / name, format="glove")
        w = embedkit.load(tmp_path / name)
        assert w.words == words
        np.testing.assert_array_equal(w.vectors, m)


def test_load_and_save_are_functions_everywhere():
    import embedkit.vectors
    import embedkit.vectors.loader  # noqa: F401  (importing the module must not shadow them)

    assert callable(embedkit.vectors.load) and embedkit.vectors.load is embedkit.load
    assert embedkit.vectors.save is embedkit.save


def test_longest_numbers_fit_the_output_buffer(tmp_path, rng):
    # -0.0000ddddddddd is the longest text form (17 bytes with its space)
    m = -(1e-5 + rng.random((30, 40)) * 8.9e-5).astype(np.float32)
    v = embedkit.Vectors([f"w{i}" for i in range(30)], m)
    v.save(tmp_path / "v.txt")
    lines = (tmp_path / "v.txt").read_text().splitlines()[1:]
    assert max(len(t) for line in lines for t in line.split()[1:]) == 16
    np.testing.assert_array_equal(embedkit.load(tmp_path / "v.txt").vectors, m)


def test_multi_block_threaded_text_writer_keeps_row_order(tmp_path, rng):
    n, dim = 3400, 300                        # more than 4 blocks of ~800 rows
    m = rng.standard_normal((n, dim)).astype(np.float32)
    v = embedkit.Vectors([f"w{i}" for i in range(n)], m)
    v.save(tmp_path / "v.txt")
    w = embedkit.load(tmp_path / "v.txt")
    assert w.words == v.words
    np.testing.assert_array_equal(w.vectors, m)
