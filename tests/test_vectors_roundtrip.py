"""Bit-exact round trips (-0.0, subnormals, float32's extremes, the empty word), precision
that never overflows, and load/save's gensim options (fvocab, encoding, datatype, no_header,
write_header).  Side by side with gensim: tests/test_gensim_parity.py."""

import logging

import numpy as np
import pytest

import embedkit
from embedkit.errors import FormatError, ParameterError

F32_MAX = np.finfo(np.float32).max


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def _every_kind_of_float32(rng, n=64, dim=16):
    """Random bit patterns (every finite float32 is as likely) plus the edge cases."""
    bits = rng.integers(0, 2 ** 32, size=(n, dim), dtype=np.uint64).astype(np.uint32)
    m = bits.view(np.float32).copy()
    m[~np.isfinite(m)] = 1.5
    m[0, :8] = [-0.0, 0.0, F32_MAX, -F32_MAX, np.float32(1e-45), -np.float32(1e-45),
                np.finfo(np.float32).tiny, np.nextafter(F32_MAX, 0, dtype=np.float32)]
    return m


@pytest.mark.parametrize("name", ["v.txt", "v.bin", "v.txt.gz", "v.ekv"])
def test_round_trip_is_bit_exact_for_every_float32(tmp_path, rng, name):
    m = _every_kind_of_float32(rng)
    v = embedkit.Vectors([f"w{i}" for i in range(len(m))], m)
    v.save(tmp_path / name)
    np.testing.assert_array_equal(_bits(embedkit.load(tmp_path / name).vectors), _bits(m))


def test_negative_zero_is_written_with_its_sign(tmp_path):
    embedkit.Vectors(["a"], np.array([[-0.0, 0.0]], dtype=np.float32)).save(tmp_path / "z.txt")
    assert (tmp_path / "z.txt").read_bytes() == b"1 2\na -0 0 \n"


@pytest.mark.parametrize("precision", range(1, 10))
def test_precision_never_rounds_past_float32_range(tmp_path, precision):
    near = np.array([F32_MAX, -F32_MAX, np.nextafter(F32_MAX, 0, dtype=np.float32),
                     np.float32(3.4e38), np.float32(9.99e37), np.float32(1.0)], np.float32)
    v = embedkit.Vectors(["a"], near[None, :])
    v.save(tmp_path / "p.txt", precision=precision)
    back = embedkit.load(tmp_path / "p.txt").vectors[0]
    assert np.isfinite(back).all()
    exp = np.floor(np.log10(np.abs(near.astype(np.float64))))
    assert (np.abs(back.astype(np.float64) - near) <= 10.0 ** (exp - precision + 1)).all()


@pytest.mark.parametrize("name", ["e.txt", "e.bin", "e.vec.gz"])
def test_the_empty_word_round_trips(tmp_path, rng, name):
    words = ["a", "", "b"]
    m = rng.standard_normal((3, 4)).astype(np.float32)
    embedkit.Vectors(words, m).save(tmp_path / name)
    w = embedkit.load(tmp_path / name)
    assert w.words == words
    np.testing.assert_array_equal(w.vectors, m)


def test_a_line_starting_with_a_space_is_the_empty_word(tmp_path):
    (tmp_path / "g.txt").write_text("2 3\n 1 2 3\n  word 4 5 6\n")
    w = embedkit.load(tmp_path / "g.txt")
    assert w.words == ["", "word"]          # other leading whitespace is trimmed off a word
    with pytest.raises(FormatError, match="2 numbers, expected 3"):
        (tmp_path / "bad.txt").write_text("1 3\n 1 2\n")
        embedkit.load(tmp_path / "bad.txt")


# -- load/save's gensim options ---------------------------------------------------------------
@pytest.fixture
def counted(rng):
    words = ["the", "of", "été", "日本"]
    return embedkit.Vectors(words, rng.standard_normal((4, 3)).astype(np.float32),
                            counts=[100, 50, 7, 3])


def test_fvocab_round_trip(tmp_path, counted):
    counted.save(tmp_path / "v.bin", fvocab=tmp_path / "vocab.txt")
    assert (tmp_path / "vocab.txt").read_text(encoding="utf-8").splitlines()[2] == "été 7"
    w = embedkit.load(tmp_path / "v.bin", fvocab=tmp_path / "vocab.txt")
    assert w.counts.tolist() == [100, 50, 7, 3]


def test_fvocab_missing_words_get_zero_with_a_warning(tmp_path, counted, caplog):
    counted.save(tmp_path / "v.txt")
    (tmp_path / "vocab.txt").write_text("of 50\nthe 100\nunused 9\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        w = embedkit.load(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")
    assert w.counts.tolist() == [100, 50, 0, 0]
    assert "2 of 4 words have no count" in caplog.text


def test_fvocab_malformed_line_is_a_format_error(tmp_path, counted):
    counted.save(tmp_path / "v.txt")
    (tmp_path / "vocab.txt").write_text("the 100\nof many\n")
    with pytest.raises(FormatError, match="vocab.txt: line 2"):
        embedkit.load(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")


def test_save_fvocab_needs_counts(tmp_path, rng):
    v = embedkit.Vectors(["a"], np.ones((1, 2)))
    with pytest.raises(ParameterError, match="no counts"):
        v.save(tmp_path / "v.txt", fvocab=tmp_path / "vocab.txt")
    assert not (tmp_path / "v.txt").exists()


def test_encoding_reads_words_in_another_encoding(tmp_path):
    (tmp_path / "l.txt").write_bytes("1 2\ncafé 1 2\n".encode("latin-1"))
    assert embedkit.load(tmp_path / "l.txt", encoding="latin-1").words == ["café"]
    with pytest.raises(FormatError, match="not valid UTF-8"):
        embedkit.load(tmp_path / "l.txt", unicode_errors="strict")
    with pytest.raises(ParameterError, match="encoding"):
        embedkit.load(tmp_path / "l.txt", encoding="no-such-codec")


def test_datatype_float16_rounds_the_values(tmp_path, counted):
    counted.save(tmp_path / "v.txt")
    w = embedkit.load(tmp_path / "v.txt", datatype=np.float16)
    assert w.vectors.dtype == np.float32
    np.testing.assert_array_equal(w.vectors, counted.vectors.astype(np.float16))
    with pytest.raises(ParameterError, match="datatype"):
        embedkit.load(tmp_path / "v.txt", datatype=np.float64)


def test_write_header_false_and_no_header(tmp_path, counted):
    counted.save(tmp_path / "v.txt", write_header=False)
    assert (tmp_path / "v.txt").read_text(encoding="utf-8").startswith("the ")
    w = embedkit.load(tmp_path / "v.txt", no_header=True)
    assert w.words == counted.words
    np.testing.assert_array_equal(w.vectors, counted.vectors)
    with pytest.raises(ParameterError, match="write_header"):
        counted.save(tmp_path / "v.bin", write_header=False)
    with pytest.raises(ParameterError, match="no_header"):
        embedkit.load(tmp_path / "v.txt", format="binary", no_header=True)


def test_load_and_save_word2vec_format_class_methods(tmp_path, counted):
    counted.counts = np.array([3, 50, 7, 100])
    counted.save_word2vec_format(tmp_path / "v.bin", fvocab=tmp_path / "c.txt", binary=True)
    w = embedkit.Vectors.load_word2vec_format(tmp_path / "v.bin", fvocab=tmp_path / "c.txt",
                                              binary=True)
    # gensim's writer order: by decreasing count
    assert w.words == ["日本", "of", "été", "the"] and w.counts.tolist() == [100, 50, 7, 3]
    np.testing.assert_array_equal(w["the"], counted["the"])
