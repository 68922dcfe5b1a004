"""``embedkit corpora list`` and ``embedkit corpora download``, through click's CliRunner."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import zipfile

from click.testing import CliRunner

from corpora_server import CorpusServer
from embedkit.cli.main import cli
from embedkit.corpora import default_corpus_path

TEXT = b"a tiny corpus for the command line test\n" * 500


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tiny.txt", TEXT)
    return buf.getvalue()


def _env(tmp_path, url, archive, sha256=None):
    entry = {"description": "tiny test corpus", "licence": "test", "url": url,
             "filename": "tiny.zip", "size": len(archive),
             "checksums": {"sha256": sha256 or hashlib.sha256(archive).hexdigest()},
             "archive": "zip", "output": "tiny.txt", "unpacked_size": len(TEXT),
             "unpacked_checksums": {}}
    reg = tmp_path / "reg.json"
    reg.write_text(json.dumps({"corpora": {"tiny": entry}}))
    return {"EMBEDKIT_CORPUS_REGISTRY": str(reg), "EMBEDKIT_CACHE": str(tmp_path / "cache")}


def _here_column(output: str) -> dict[str, str]:
    header, *rows = output.splitlines()
    start = header.index("here")
    return {row.split()[0]: row[start:].split()[0] for row in rows}


def test_list_shows_every_corpus_and_whether_cached(tmp_path):
    archive = _archive()
    with CorpusServer({"/tiny.zip": archive}) as server:
        env = _env(tmp_path, server.url("tiny.zip"), archive)
        result = CliRunner().invoke(cli, ["corpora", "list"], env=env)
        assert result.exit_code == 0, result.output
        lines = {ln.split()[0]: ln for ln in result.output.splitlines()[1:]}
        assert set(lines) >= {"classics_small", "text8", "enwik8", "tiny"}
        assert "built-in" in lines["classics_small"]
        assert "31.3 MB" in lines["text8"] and "sha256" in lines["text8"]
        assert _here_column(result.output)["tiny"] == "no"

        result = CliRunner().invoke(cli, ["-q", "corpora", "download", "tiny"], env=env)
        assert result.exit_code == 0, result.output
        path = result.output.strip()
        assert path.endswith("tiny.txt")
        with open(path, "rb") as fh:
            assert fh.read() == TEXT

        result = CliRunner().invoke(cli, ["corpora", "list"], env=env)
        assert _here_column(result.output)["tiny"] == "yes"


def test_download_builtin_prints_its_path():
    result = CliRunner().invoke(cli, ["corpora", "download", "classics_small"])
    assert result.exit_code == 0
    assert result.output.strip() == str(default_corpus_path())


def test_unknown_name_exits_nonzero_without_traceback():
    result = CliRunner().invoke(cli, ["corpora", "download", "txt8"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "unknown corpus 'txt8'" in result.output and "text8" in result.output


def test_server_down_exits_nonzero_without_traceback(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(tmp_path, f"http://127.0.0.1:{port}/tiny.zip", _archive())
    result = CliRunner().invoke(cli, ["corpora", "download", "tiny", "--timeout", "5"], env=env)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "not reachable" in result.output


def test_checksum_mismatch_exits_nonzero_without_traceback(tmp_path):
    archive = _archive()
    with CorpusServer({"/tiny.zip": archive}) as server:
        env = _env(tmp_path, server.url("tiny.zip"), archive, sha256="1" * 64)
        result = CliRunner().invoke(cli, ["corpora", "download", "tiny"], env=env)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "SHA256 mismatch" in result.output and "deleted" in result.output


def test_mirror_option(tmp_path):
    archive = _archive()
    with CorpusServer({"/tiny.zip": archive}) as server:
        env = _env(tmp_path, "http://127.0.0.1:9/nowhere/tiny.zip", archive)
        result = CliRunner().invoke(cli, ["-q", "corpora", "download", "tiny", "--mirror",
                                          server.base], env=env)
        assert result.exit_code == 0, result.output
        assert server.requests[0]["path"] == "/tiny.zip"
