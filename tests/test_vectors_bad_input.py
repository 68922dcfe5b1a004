"""Bad input: each malformed file gives one clear error naming the line or byte offset, or
the documented repair (duplicates, header count, bad UTF-8, CRLF, words with spaces)."""

import logging
import pathlib

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli
from embedkit.errors import FormatError, MissingFileError, ParameterError

DATA = pathlib.Path(__file__).resolve().parent / "data" / "vectors"


def _load(name, **kw):
    return embedkit.load(DATA / name, **kw)


def test_fixtures_are_current(tmp_path):
    # the committed fixtures are what make_fixtures.py writes
    import runpy

    names = sorted(p.name for p in DATA.iterdir() if p.suffix != ".py")
    before = {n: (DATA / n).read_bytes() for n in names}
    ns = runpy.run_path(str(DATA / "make_fixtures.py"))
    assert ns["HERE"] == DATA
    assert {n: (DATA / n).read_bytes() for n in names} == before


def test_good_text_and_binary():
    v = _load("good.txt")
    assert v.words == ["the", "of", "and"]
    np.testing.assert_allclose(v["of"], [-1, 2.5e-3, 4])
    b = _load("good.bin")
    np.testing.assert_array_equal(b.vectors, v.vectors[:2])
    np.testing.assert_array_equal(_load("no_newline.bin")["the"], b["the"])


def test_crlf_line_ends():
    np.testing.assert_array_equal(_load("crlf.txt").vectors, _load("good.txt").vectors)


def test_glove_words_with_spaces_keep_the_numbers_on_the_right():
    v = _load("glove_spaces.txt")
    assert v.words == ["the", ". . .", "at name@domain.com"]
    np.testing.assert_array_equal(v["at name@domain.com"], [4, 5, 6])


def test_too_few_numbers_names_the_line():
    with pytest.raises(FormatError, match=r"line 3: 2 numbers, expected 3"):
        _load("too_few.txt")


def test_too_many_numbers_names_the_line():
    with pytest.raises(FormatError, match=r"line 3: 4 numbers, expected 3"):
        _load("too_many.txt")


def test_non_numeric_value_names_line_and_token():
    with pytest.raises(FormatError, match=r"line 3: 'x2' is not a number"):
        _load("not_number.txt")


@pytest.mark.parametrize("name,line,token", [("nan.txt", 3, "nan"), ("inf.txt", 2, "-inf")])
def test_nan_and_inf_in_text(name, line, token):
    with pytest.raises(FormatError, match=rf"line {line}: non-finite value '{token}'"):
        _load(name)


def test_float32_overflow_is_non_finite(tmp_path):
    (tmp_path / "v.txt").write_text("a 1 1e39\n")
    with pytest.raises(FormatError, match="line 1: non-finite value '1e39'"):
        embedkit.load(tmp_path / "v.txt")


def test_nan_in_binary_names_record_and_byte():
    with pytest.raises(FormatError, match=r"record 2 \(byte 21\): NaN or infinity"):
        _load("nan.bin")


def test_truncated_binary_names_the_byte_offset():
    with pytest.raises(FormatError, match=r"record 2 \(byte 21\): truncated"):
        _load("truncated.bin")


@pytest.mark.parametrize("name", ["bad_header.txt", "bad_header.bin"])
def test_header_that_is_not_two_integers(name):
    with pytest.raises(FormatError, match="line 1: the header must be two integers"):
        _load(name, format="word2vec-binary" if name.endswith(".bin") else None)


def test_explicit_word2vec_text_needs_a_header():
    with pytest.raises(FormatError, match="header must be two integers"):
        _load("glove_spaces.txt", format="word2vec-text")


@pytest.mark.parametrize("name", ["empty.txt", "blank.txt"])
def test_empty_file(name):
    with pytest.raises(FormatError, match="empty"):
        _load(name)


def test_unknown_format_name():
    with pytest.raises(ParameterError, match="unknown vectors format 'pickle'.*word2vec-text"):
        _load("good.txt", format="pickle")


def test_unrecognised_file_content():
    with pytest.raises(FormatError, match="not a recognised vectors format"):
        _load("garbage.dat")


def test_missing_file():
    with pytest.raises(MissingFileError, match="not found"):
        embedkit.load(DATA / "nope.txt")


def test_save_needs_a_known_extension(tmp_path, rng):
    v = embedkit.Vectors(["a"], np.ones((1, 2)))
    with pytest.raises(ParameterError, match=r"\.ekv.*format"):
        v.save(tmp_path / "v.dat")


def test_bad_limit_and_unicode_errors():
    with pytest.raises(ParameterError, match="limit must be a positive integer"):
        _load("good.txt", limit=0)
    with pytest.raises(ParameterError, match="unicode_errors"):
        _load("good.txt", unicode_errors="bogus")


def test_duplicates_keep_the_first_and_warn(caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        v = _load("duplicates.txt")
    assert v.words == ["the", "of", "and"]
    np.testing.assert_array_equal(v.vectors, [[1, 2], [3, 4], [7, 8]])
    assert "1 duplicate words" in caplog.text


def test_header_count_disagreeing_with_body_warns_and_trusts_body(caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        v = _load("header_mismatch.txt")
    assert len(v) == 3
    assert "header says 5 words but the file holds 3" in caplog.text


def test_bad_utf8_is_replaced_and_counted(caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit"):
        v = _load("bad_utf8.txt")
    assert v.words == ["caf\ufffd", "ok"]
    assert v.metadata["repaired_words"] == 1
    assert "repaired 1 words" in caplog.text
    with pytest.raises(FormatError, match="not valid UTF-8"):
        _load("bad_utf8.txt", unicode_errors="strict")
    assert _load("bad_utf8.txt", unicode_errors="ignore").words == ["caf", "ok"]


def test_words_with_whitespace_cannot_be_written_to_word2vec(tmp_path):
    v = embedkit.Vectors(["a b"], np.ones((1, 2)))
    with pytest.raises(FormatError, match="whitespace.*ekv"):
        v.save(tmp_path / "v.txt")
    v.save(tmp_path / "v.ekv")
    assert embedkit.load(tmp_path / "v.ekv").words == ["a b"]


def test_native_directory_inconsistent(tmp_path):
    v = embedkit.Vectors(["a", "b"], np.ones((2, 2)))
    v.save(tmp_path / "v.ekv")
    np.save(tmp_path / "v.ekv" / "vectors.npy", np.ones((3, 2), dtype=np.float32))
    with pytest.raises(FormatError, match="2 words but the matrix has shape"):
        embedkit.load(tmp_path / "v.ekv")


# -- CLI ---------------------------------------------------------------------------------------
def _run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def test_cli_validate_lists_every_malformed_line():
    result = _run("validate", DATA / "many_errors.txt")
    assert result.exit_code == 1 and "Traceback" not in result.output
    for expected in ["line 3: 2 numbers, expected 3", "line 5: 4 numbers, expected 3",
                     "line 6: non-finite value 'nan'", "line 7: 'z' is not a number",
                     "4 malformed"]:
        assert expected in result.output


def test_cli_validate_good_file_exits_0_and_reports_warnings():
    result = _run("validate", DATA / "duplicates.txt")
    assert result.exit_code == 0, result.output
    assert "duplicate of word 1" in result.output


@pytest.mark.parametrize("name", ["truncated.bin", "nan.bin", "empty.txt", "garbage.dat",
                                  "bad_header.txt"])
def test_cli_validate_bad_files_exit_1(name):
    result = _run("validate", DATA / name)
    assert result.exit_code == 1 and "Traceback" not in result.output


@pytest.mark.parametrize("name", ["truncated.bin", "too_few.txt", "empty.txt", "garbage.dat"])
def test_cli_convert_and_info_fail_cleanly(tmp_path, name):
    for args in (["convert", DATA / name, tmp_path / "out.ekv"], ["info", DATA / name]):
        result = _run(*args)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert "Error" in result.output


def test_cli_convert_follows_extension_and_format(tmp_path):
    assert _run("convert", DATA / "good.txt", tmp_path / "v.bin").exit_code == 0
    assert _run("convert", tmp_path / "v.bin", tmp_path / "v.ekv").exit_code == 0
    result = _run("convert", tmp_path / "v.ekv", tmp_path / "g.out", "--format", "glove")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.out").read_text().splitlines()[0] == "the 0.1 0.2 0.3"
    np.testing.assert_array_equal(embedkit.load(tmp_path / "v.ekv").vectors,
                                  _load("good.txt").vectors)
    result = _run("convert", DATA / "good.txt", tmp_path / "v.dat")
    assert result.exit_code == 1 and "cannot tell the format" in result.output


def test_cli_info(tmp_path):
    result = _run("info", DATA / "good.txt")
    assert result.exit_code == 0, result.output
    assert "word2vec-text" in result.output and "words       3" in result.output
    assert "norms" in result.output


def test_header_count_smaller_than_body_reads_every_record(tmp_path, caplog):
    import struct

    rec = [w.encode() + b" " + struct.pack("<2f", i, -i) + b"\n" for i, w in enumerate("abc")]
    (tmp_path / "v.bin").write_bytes(b"1 2\n" + b"".join(rec))
    (tmp_path / "v.txt").write_text("1 2\na 0 0\nb 1 -1\nc 2 -2\n")
    for name in ("v.bin", "v.txt"):
        with caplog.at_level(logging.WARNING, logger="embedkit"):
            v = embedkit.load(tmp_path / name)
        assert v.words == ["a", "b", "c"], name
        np.testing.assert_array_equal(v["c"], [2, -2])
    assert caplog.text.count("header says 1 words but the file holds 3") == 2


def test_header_promising_impossible_size_in_compressed_file(tmp_path, monkeypatch):
    import gzip

    from embedkit.vectors import _files

    def no_memory(shape, dtype):
        if shape[0] > 1000:
            raise MemoryError
        return np.empty(shape, dtype)

    monkeypatch.setattr(_files, "_empty", no_memory)  # whatever the overcommit policy
    with gzip.open(tmp_path / "v.txt.gz", "wb") as f:
        f.write(b"100000000000000 300\na " + b"1 " * 300 + b"\n")
    with pytest.raises(FormatError, match="header promises .* more than fits in memory"):
        embedkit.load(tmp_path / "v.txt.gz")
    assert len(embedkit.load(tmp_path / "v.txt.gz", limit=1)) == 1
