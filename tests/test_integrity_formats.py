"""Integrity regressions (issue 21) of the text and binary vector formats: detection, NUL
bytes in words, damaged compressed files, absurd headers."""

import bz2
import gzip
import lzma

import numpy as np
import pytest

import embedkit
from embedkit.errors import FormatError
from embedkit.vectors.loader import detect_format, validate
from helpers import integrity as F


@pytest.mark.parametrize("line,bad", [
    (b"cat 0,1 0,2 0,3", "0,3"),         # decimal commas
    (b"cat 0x1 0x2 0x3", "0x3"),         # hex
    (b"cat 1_0 2 3", "1_0"),             # underscores
    (b"cat abc 0.2 0.3", "abc"),         # a word among the numbers
])
def test_a_text_file_with_a_malformed_number_is_a_text_error_naming_the_line(tmp_path, line,
                                                                             bad):
    path = tmp_path / "v"
    path.write_bytes(b"2 3\n" + line + b"\ndog 0.4 0.5 0.6\n")
    assert detect_format(path) == "word2vec-text"
    with pytest.raises(FormatError, match=f"line 2: '{bad}' is not a number"):
        embedkit.load(path)
    assert validate(path)["errors"]


def test_a_headed_text_file_whose_first_word_has_a_space_loads(tmp_path):
    path = tmp_path / "v"
    path.write_bytes(b"2 3\nnew york 0.1 0.2 0.3\ndog 0.4 0.5 0.6\n")
    v = embedkit.load(path)
    assert v.words == ["new york", "dog"] and v["dog"].tolist() == pytest.approx([.4, .5, .6])


@pytest.mark.parametrize("seed", range(5))
def test_small_text_and_binary_files_are_told_apart(tmp_path, seed):
    rng = np.random.default_rng(seed)
    for dim in (1, 2, 3, 4):
        for n in (1, 2, 3):
            v = F.vectors(n, dim, seed=int(rng.integers(1 << 30)))
            embedkit.save(v, tmp_path / "a.bin")
            embedkit.save(v, tmp_path / "a.txt")
            assert detect_format(tmp_path / "a.bin") == "word2vec-binary"
            assert detect_format(tmp_path / "a.txt") == "word2vec-text"


@pytest.mark.parametrize("fmt", ["word2vec-text", "word2vec-binary"])
def test_a_nul_byte_inside_a_word_keeps_words_and_rows_together(tmp_path, fmt):
    words = ["c\x00at", "dog", "e\x00\x00f"]
    v = embedkit.Vectors(words, np.arange(9, dtype=np.float32).reshape(3, 3) + 1)
    embedkit.save(v, tmp_path / "v", format=fmt)
    got = embedkit.load(tmp_path / "v")
    assert got.words == words
    assert got["dog"].tolist() == [4, 5, 6]
    embedkit.save(got, tmp_path / "v.ekv")
    assert embedkit.load(tmp_path / "v.ekv").words == words


@pytest.mark.parametrize("compress", [gzip, bz2, lzma])
@pytest.mark.parametrize("fmt", ["txt", "bin"])
@pytest.mark.parametrize("damage", ["truncated", "flipped"])
def test_a_damaged_compressed_vectors_file_is_a_format_error_naming_it(tmp_path, compress, fmt,
                                                                       damage):
    ext = {gzip: "gz", bz2: "bz2", lzma: "xz"}[compress]
    plain = tmp_path / f"v.{fmt}"
    embedkit.save(F.vectors(200, 16), plain)
    data = bytearray(compress.compress(plain.read_bytes()))
    if damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0xFF
    path = tmp_path / f"v.{fmt}.{ext}"
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=f"v.{fmt}.{ext}"):
        embedkit.load(path)


@pytest.mark.parametrize("header", [b"99999999999999999999999 3", b"2 99999999999999999999999",
                                    b"2 4294967296"])
@pytest.mark.parametrize("fmt", [None, "word2vec-binary"])
def test_an_absurd_header_is_a_format_error(tmp_path, header, fmt):
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(header + b"\ncat 1 2 3\n"))
    with pytest.raises(FormatError, match="header"):
        embedkit.load(path, format=fmt)
