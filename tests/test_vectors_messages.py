"""Issue 13: ``info --format glove v.bin`` printed an error full of binary garbage (U+FFFD
and raw control characters).  A bad line is quoted as a short escaped excerpt, and binary
data read as text says how to read it."""

from __future__ import annotations

import pathlib

import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.vectors.text import excerpt

DATA = pathlib.Path(__file__).resolve().parent / "data" / "vectors"


@pytest.mark.parametrize("fmt", ["glove", "word2vec-text"])
def test_binary_file_read_as_text_shows_a_short_escaped_excerpt(fmt):
    r = CliRunner().invoke(cli, ["info", "--format", fmt, str(DATA / "good.bin")])
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "\ufffd" not in r.output and all(c.isprintable() for c in r.output.strip())
    assert "\\x" in r.output and len(r.output) < 400
    assert "--format word2vec-binary" in r.output


def test_text_file_errors_quote_the_line_as_before():
    r = CliRunner().invoke(cli, ["info", str(DATA / "not_number.txt")])
    assert r.exit_code == 1 and "'x2' is not a number ('of 1 x2 3')" in r.output
    assert "binary data" not in r.output


def test_excerpt_escapes_and_cuts():
    assert excerpt(b"caf\xc3\xa9 1 2") == "'café 1 2'"
    assert excerpt(b"\x00\x01bin\xff") == "'\\x00\\x01bin\\xff'"
    assert excerpt(b"a" * 100, 10) == "'aaaaaaaaaa'..."
