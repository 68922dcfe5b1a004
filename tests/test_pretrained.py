"""Pretrained vectors by name, against a local HTTP server on 127.0.0.1 (never the network)."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from corpora_server import CorpusServer
from embedkit.cli.main import cli
from embedkit.corpus.download import ChecksumError, DownloadError
from embedkit.errors import ParameterError
from embedkit.vectors import pretrained
from embedkit.vectors.default import default_vectors_dir, find_vectors, load_packed

WORDS = ["king", "queen", "man", "woman", "paris", "france"]


def _text_gz():
    rng = np.random.default_rng(3)
    m = rng.standard_normal((len(WORDS), 4)).astype(np.float32)
    lines = [f"{len(WORDS)} 4"] + [w + " " + " ".join(repr(float(x)) for x in row)
                                   for w, row in zip(WORDS, m)]
    return gzip.compress(("\n".join(lines) + "\n").encode()), m


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A server with one vector set, a registry naming it, and an empty cache."""
    data, matrix = _text_gz()

    def start(checksum=True, size=True):
        server = CorpusServer({"/tiny-vectors.gz": data})
        entry = {"description": "tiny test vectors", "url": server.url("tiny-vectors.gz"),
                 "filename": "tiny-vectors.gz", "size": len(data) if size else None,
                 "checksums": {"md5": hashlib.md5(data).hexdigest()} if checksum else {},
                 "dim": 4, "count": len(WORDS), "citations": {"size": "made by the test"}}
        reg = tmp_path / "registry.json"
        reg.write_text(json.dumps({"vectors": {"tiny-vectors": entry}}))
        monkeypatch.setenv(pretrained.REGISTRY_ENV, str(reg))
        return server

    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(pretrained.MIRROR_ENV, raising=False)
    start.data, start.matrix = data, matrix
    return start


def test_load_by_name_downloads_converts_once_and_then_opens_the_ekv(served, tmp_path):
    with served() as server:
        v = embedkit.load("tiny-vectors")
        assert v.words == WORDS
        np.testing.assert_allclose(v.vectors, served.matrix, rtol=1e-6)
        again = embedkit.load("tiny-vectors")
        assert len(server.requests) == 1  # the second load is an open of the cache
    folder = tmp_path / "cache" / "vectors" / "tiny-vectors"
    assert sorted(p.name for p in folder.iterdir()) == ["tiny-vectors.ekv"]  # download removed
    assert isinstance(again.storage.matrix if hasattr(again, "storage") and again.storage
                      is not None and hasattr(again.storage, "matrix") else again.vectors,
                      np.memmap)
    assert again.metadata["pretrained"] == "tiny-vectors"


def test_cli_download_prints_the_ekv_path_and_list_shows_it_here(served, tmp_path):
    with served():
        out = CliRunner().invoke(cli, ["-q", "vectors", "download", "tiny-vectors"])
    assert out.exit_code == 0, out.output
    assert out.output.strip().endswith("tiny-vectors.ekv")
    listing = CliRunner().invoke(cli, ["vectors", "list"])
    line = next(ln for ln in listing.output.splitlines() if ln.startswith("tiny-vectors"))
    assert " yes " in line and "md5" in line
    assert any(ln.startswith("default ") for ln in listing.output.splitlines())


def test_checksum_mismatch_keeps_nothing(served, tmp_path, monkeypatch):
    server = served()
    reg = json.loads((tmp_path / "registry.json").read_text())
    reg["vectors"]["tiny-vectors"]["checksums"] = {"md5": "0" * 32}
    (tmp_path / "registry.json").write_text(json.dumps(reg))
    with server, pytest.raises(ChecksumError, match="MD5 mismatch"):
        pretrained.download("tiny-vectors", progress=False)
    assert not pretrained.info("tiny-vectors").cached


def test_missing_checksum_is_said_at_download_time(served, caplog):
    with served(checksum=False), caplog.at_level(logging.WARNING, logger="embedkit"):
        pretrained.download("tiny-vectors", progress=False)
    assert "cannot be verified" in caplog.text


def test_interrupted_download_resumes(served):
    with served() as server:
        server.httpd.drop_after = 40
        with pytest.raises(DownloadError, match="again to resume"):
            pretrained.download("tiny-vectors", progress=False)
        path = pretrained.download("tiny-vectors", progress=False)
        assert server.requests[-1]["range"] == "bytes=40-"
    assert embedkit.load(path).words == WORDS


def test_mirror_override_is_used_and_named_in_errors(served, monkeypatch):
    with served() as server:
        monkeypatch.setenv(pretrained.MIRROR_ENV, server.base + "/nowhere")
        with pytest.raises(DownloadError, match=pretrained.MIRROR_ENV):
            pretrained.download("tiny-vectors", progress=False)
        monkeypatch.setenv(pretrained.MIRROR_ENV, server.base)
        pretrained.download("tiny-vectors", progress=False)
    assert server.requests[0]["path"] == "/nowhere/tiny-vectors.gz"


def test_vectors_option_takes_a_name(served):
    with served():
        out = CliRunner().invoke(cli, ["similar", "--vectors", "tiny-vectors", "-k", "2", "king"])
    assert out.exit_code == 0, out.output
    assert "queen" in out.output or "man" in out.output or "woman" in out.output


def test_unknown_name_suggests_the_closest(served):
    served()
    with pytest.raises(ParameterError, match="Did you mean 'tiny-vectors'"):
        pretrained.download("tiny-vector")
    out = CliRunner().invoke(cli, ["vectors", "download", "tiny-vector"])
    assert out.exit_code == 1 and "Did you mean" in out.output and "Traceback" not in out.output


def test_default_is_a_name_everywhere(monkeypatch):
    if not (default_vectors_dir() / "words.json").exists():
        pytest.skip("this installation ships no default vectors")
    v = embedkit.load("default")
    assert v.words == load_packed(default_vectors_dir()).words
    monkeypatch.setenv("EMBEDKIT_VECTORS", "default")
    assert find_vectors()[0] == str(default_vectors_dir())
    out = CliRunner().invoke(cli, ["info", "default"])
    assert out.exit_code == 0, out.output
    assert f"words       {len(v)}" in out.output


def test_an_existing_path_wins_over_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    embedkit.Vectors(["a", "b"], np.eye(2, dtype=np.float32)).save("default", format="native")
    assert embedkit.load("default").words == ["a", "b"]


def test_every_published_figure_in_the_registry_names_its_source():
    reg = json.loads(pretrained.REGISTRY_PATH.read_text(encoding="utf-8"))["vectors"]
    assert {"glove-wiki-gigaword-100", "word2vec-google-news-300", "fasttext-cc-en-300",
            "fasttext-wiki-news-subwords-300", "conceptnet-numberbatch-17-06-300"} <= set(reg)
    for name, e in reg.items():
        cites = e.get("citations", {})
        assert e["url"].startswith("https://"), name
        for field in ("size", "dim", "count"):
            assert field in cites, (name, field)  # a source, or why it is null
        for alg in e.get("checksums") or {}:
            assert f"checksums.{alg}" in cites, (name, alg)
        if not e.get("checksums"):
            assert "checksums" in cites, name  # says why there is none
