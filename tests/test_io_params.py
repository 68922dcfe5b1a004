"""The shared I/O helpers (atomic writes, compressed files by content, byte counts) and the
shared parameter checks, one rule per test."""

import bz2
import gzip
import lzma

import numpy as np
import pytest

from embedkit import _io
from embedkit._params import (check_count, check_fraction, check_non_negative, check_positive,
                              check_workers)
from embedkit.downstream import read_tsv
from embedkit.errors import FormatError, ParameterError

COMPRESSORS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}


def test_write_atomic_replaces_the_target_only_when_the_write_succeeds(tmp_path):
    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        _io.write_atomic(target, fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left
    _io.write_atomic(target, lambda f: f.write(b"new"), fsync=True)
    assert target.read_bytes() == b"new"


def test_write_npz_round_trips(tmp_path):
    _io.write_npz(tmp_path / "a.npz", {"x": np.arange(3), "y": np.eye(2)})
    with np.load(tmp_path / "a.npz") as d:
        assert d["x"].tolist() == [0, 1, 2] and d["y"].shape == (2, 2)


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_files_are_read_by_content_not_by_name(tmp_path, kind):
    p = tmp_path / "plain-name.txt"  # compressed, whatever its name says
    p.write_bytes(COMPRESSORS[kind]("héllo\nworld\n".encode("utf-8")))
    assert _io.compression_of(p) == kind
    with _io.open_file(p, "rt", encoding="utf-8") as f:
        assert f.read() == "héllo\nworld\n"
    stream, raw = _io.open_compressed(p)
    with stream, raw:
        assert stream.read() == "héllo\nworld\n".encode("utf-8")
        assert not _io.stream_is_plain(stream)


def test_a_plain_file_is_read_as_is(tmp_path):
    p = tmp_path / "x.gz"  # not compressed, whatever its name says
    p.write_bytes(b"abc")
    assert _io.compression_of(p) is None
    stream, raw = _io.open_compressed(p)
    with stream:
        assert stream is raw and stream.read() == b"abc" and _io.stream_is_plain(stream)


def test_a_truncated_compressed_file_is_a_format_error_naming_it(tmp_path):
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(b"x" * 10000)[:30])
    with pytest.raises(FormatError, match="t.gz.*truncated or corrupt"):
        with _io.decompression_errors(p), _io.open_file(p) as f:
            f.read()


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_downstream_readers_open_every_compression(tmp_path, kind):
    p = tmp_path / f"train.tsv.{kind}"
    p.write_bytes(COMPRESSORS[kind](b"label\tsentence\npos\ta fine film\nneg\ta dull one\n"))
    texts, labels = read_tsv(p)
    assert labels == ["pos", "neg"] and texts[0] == ["a", "fine", "film"]


@pytest.mark.parametrize("n, si, text", [
    (0, False, "0 B"), (1023, False, "1023 B"), (1536, False, "1.5 KiB"),
    (3 * 2**30, False, "3.0 GiB"), (1500, True, "1.5 kB"), (2_500_000_000, True, "2.5 GB"),
    (None, False, "?"),
])
def test_format_bytes(n, si, text):
    assert _io.format_bytes(n, si=si) == text


def test_check_positive():
    assert check_positive("dim", 3, integer=True) == 3
    with pytest.raises(ParameterError, match="dim must be >= 1, got 0"):
        check_positive("dim", 0, integer=True)
    with pytest.raises(ParameterError, match="alpha must be > 0, got -1.0 .e.g"):
        check_positive("alpha", -1.0, hint=" (e.g. 0.025)")
    with pytest.raises(ParameterError, match="dim must be a whole number"):
        check_positive("dim", 2.5, integer=True)
    with pytest.raises(ParameterError, match="must be a number"):
        check_positive("dim", True)
    with pytest.raises(ParameterError, match="must be finite"):
        check_positive("alpha", float("inf"))


def test_check_non_negative():
    assert check_non_negative("seed", 0, integer=True) == 0
    with pytest.raises(ParameterError, match="clip must be >= 0, got -1"):
        check_non_negative("clip", -1)


def test_check_fraction():
    assert check_fraction("dropout", 0.0) == 0.0
    for bad in (1.0, -0.1):
        with pytest.raises(ParameterError, match=r"dropout must be in \[0, 1\)"):
            check_fraction("dropout", bad)


def test_check_count():
    assert check_count("topn", np.int64(3)) == 3
    for bad in (0, True, 2.0, "3"):
        with pytest.raises(ParameterError, match="topn must be a positive integer"):
            check_count("topn", bad)


def test_check_workers():
    assert check_workers(3) == 3 and check_workers(None) >= 1
    with pytest.raises(ParameterError, match="workers must be >= 1"):
        check_workers(0)
