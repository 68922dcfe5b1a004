"""The corpus downloader against a local HTTP server on 127.0.0.1 (the network is never used)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import socket
import zipfile

import numpy as np
import pytest

from corpora_server import CorpusServer, wait_for
from embedkit.corpora import download, list_corpora
from embedkit.corpus.download import (ChecksumError, DownloadError, Source, fetch, is_cached,
                                      user_cache_dir)
from embedkit.errors import CorpusError, ParameterError

WORDS = np.array("the of and to in a is that was he for it with as his on be at by".split())


def _text(n_words: int, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    return (" ".join(WORDS[rng.integers(0, len(WORDS), n_words)]) + "\n").encode()


def _zip(member: str, data: bytes, stored: bool = False) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w", method) as zf:
        zf.writestr(member, data)
    return buf.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def corpus_text():
    return _text(60_000)


@pytest.fixture(scope="module")
def corpus_zip(corpus_text):
    return _zip("corpus.txt", corpus_text)


def _source(server, archive: bytes, text: bytes, **over) -> Source:
    fields = dict(name="tiny", url=server.url("tiny.zip"), filename="tiny.zip",
                  size=len(archive), checksums={"sha256": _sha256(archive)}, archive="zip",
                  member="corpus.txt", output="tiny.txt", unpacked_size=len(text),
                  unpacked_checksums={"sha1": hashlib.sha1(text).hexdigest()})
    fields.update(over)
    return Source(**fields)


def _files(directory):
    return sorted(p.name for p in directory.iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- full download ---------------------------------------------------------------------------

def test_full_download_unpacks_and_verifies(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text)
        path = fetch(src, tmp_path, progress=False)
        assert path == tmp_path / "tiny.txt"
        assert path.read_bytes() == corpus_text
        assert _files(tmp_path) == ["tiny.txt"]  # no .part, archive removed after unpacking
        assert [r["range"] for r in server.requests] == [None]
        assert is_cached(src, tmp_path)
        # a second call uses the cache: no new request
        assert fetch(src, tmp_path, progress=False) == path
        assert len(server.requests) == 1


def test_gz_archive_with_md5(tmp_path, corpus_text):
    packed = gzip.compress(corpus_text, mtime=0)
    with CorpusServer({"/tiny.gz": packed}) as server:
        src = Source(name="tinygz", url=server.url("tiny.gz"), filename="tiny.gz",
                     size=len(packed), checksums={"md5": hashlib.md5(packed).hexdigest()},
                     archive="gz")
        path = fetch(src, tmp_path, progress=False)
    assert path.name == "tiny"  # the .gz suffix is dropped
    assert path.read_bytes() == corpus_text
    assert _files(tmp_path) == ["tiny"]


def test_plain_file_is_not_unpacked(tmp_path, corpus_text):
    with CorpusServer({"/tiny.txt": corpus_text}) as server:
        src = Source(name="plain", url=server.url("tiny.txt"), filename="tiny.txt",
                     size=len(corpus_text), checksums={"sha256": _sha256(corpus_text)})
        path = fetch(src, tmp_path, progress=False)
    assert path.read_bytes() == corpus_text
    assert _files(tmp_path) == ["tiny.txt"]


# -- resume ------------------------------------------------------------------------------------

def test_resume_after_truncated_part(tmp_path, corpus_zip, corpus_text):
    half = len(corpus_zip) // 2
    (tmp_path / "tiny.zip.part").write_bytes(corpus_zip[:half])
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
        assert [r["range"] for r in server.requests] == [f"bytes={half}-"]
    assert path.read_bytes() == corpus_text
    assert _files(tmp_path) == ["tiny.txt"]


def test_resume_when_server_ignores_range_starts_again(tmp_path, corpus_zip, corpus_text):
    # a .part whose bytes are wrong: if the 200 reply were appended, the checksum would fail
    (tmp_path / "tiny.zip.part").write_bytes(b"x" * 100)
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        server.httpd.honour_range = False
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
        assert server.requests[0]["range"] == "bytes=100-"
    assert path.read_bytes() == corpus_text


def test_dropped_connection_keeps_part_and_next_run_resumes(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text)
        server.httpd.drop_after = 1000
        with pytest.raises(DownloadError, match="resume") as info:
            fetch(src, tmp_path, progress=False)
        assert f"1,000 of {len(corpus_zip):,} bytes" in str(info.value)
        assert _files(tmp_path) == ["tiny.zip.part"]  # no final file, no archive
        assert (tmp_path / "tiny.zip.part").stat().st_size == 1000
        path = fetch(src, tmp_path, progress=False)
        assert server.requests[-1]["range"] == "bytes=1000-"
    assert path.read_bytes() == corpus_text


def test_complete_part_and_416_needs_no_transfer(tmp_path, corpus_zip, corpus_text):
    (tmp_path / "tiny.zip.part").write_bytes(corpus_zip)
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
        assert server.requests == []  # the size said it was complete: only verified
        # size unknown: the server's 416 says the .part is complete
        (tmp_path / "tiny.txt").unlink()
        (tmp_path / "tiny.zip.part").write_bytes(corpus_zip)
        path = fetch(_source(server, corpus_zip, corpus_text, size=None), tmp_path,
                     progress=False)
        assert [r["range"] for r in server.requests] == [f"bytes={len(corpus_zip)}-"]
    assert path.read_bytes() == corpus_text


def test_oversized_part_is_discarded(tmp_path, corpus_zip, corpus_text):
    (tmp_path / "tiny.zip.part").write_bytes(corpus_zip + b"junk")
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
        assert [r["range"] for r in server.requests] == [None]
    assert path.read_bytes() == corpus_text


def test_interrupted_unpack_reuses_the_verified_archive(tmp_path, corpus_zip, corpus_text):
    (tmp_path / "tiny.zip").write_bytes(corpus_zip)  # renamed into place only once verified
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
        assert server.requests == []
    assert path.read_bytes() == corpus_text


# -- verification ----------------------------------------------------------------------------

def test_checksum_mismatch_deletes_part_and_says_so(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text, checksums={"sha256": "0" * 64})
        with pytest.raises(ChecksumError) as info:
            fetch(src, tmp_path, progress=False)
    msg = str(info.value)
    assert "SHA256 mismatch" in msg and "deleted" in msg and _sha256(corpus_zip) in msg
    assert _files(tmp_path) == []


def test_every_listed_checksum_is_checked(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text,
                      checksums={"sha256": _sha256(corpus_zip), "md5": "f" * 32})
        with pytest.raises(ChecksumError, match="MD5 mismatch"):
            fetch(src, tmp_path, progress=False)
    assert _files(tmp_path) == []


def test_unpacked_checksum_mismatch_removes_everything(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text, checksums={},
                      unpacked_checksums={"sha1": "0" * 40})
        with pytest.raises(ChecksumError, match="SHA1 mismatch for the unpacked tiny.txt"):
            fetch(src, tmp_path, progress=False)
    assert _files(tmp_path) == []


def test_unpacked_size_mismatch(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text, unpacked_size=len(corpus_text) + 1)
        with pytest.raises(ChecksumError, match="expected"):
            fetch(src, tmp_path, progress=False)
    assert _files(tmp_path) == []


def test_server_size_differs_from_registry(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text, size=len(corpus_zip) + 10)
        with pytest.raises(ChecksumError, match="serves a different file"):
            fetch(src, tmp_path, progress=False)
    assert _files(tmp_path) == []


def test_damaged_archive_is_reported_and_deleted(tmp_path, corpus_text):
    bogus = b"PK\x03\x04 this is not really a zip archive" * 10
    with CorpusServer({"/tiny.zip": bogus}) as server:
        src = _source(server, bogus, corpus_text, checksums={}, unpacked_checksums={})
        with pytest.raises(ChecksumError, match="not a valid zip archive"):
            fetch(src, tmp_path, progress=False)
    assert _files(tmp_path) == []


def test_missing_zip_member_is_named(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        src = _source(server, corpus_zip, corpus_text, member="other.txt")
        with pytest.raises(DownloadError, match="no file 'other.txt'.*corpus.txt"):
            fetch(src, tmp_path, progress=False)


def test_no_published_checksum_warns(tmp_path, corpus_zip, corpus_text, caplog):
    logger = logging.getLogger("embedkit")  # the CLI may have stopped propagation to root
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="embedkit"), \
                CorpusServer({"/tiny.zip": corpus_zip}) as server:
            src = _source(server, corpus_zip, corpus_text, size=None, checksums={},
                          unpacked_checksums={})
            path = fetch(src, tmp_path, progress=False)
    finally:
        logger.removeHandler(caplog.handler)
    assert path.read_bytes() == corpus_text
    assert any("cannot be verified" in r.getMessage() for r in caplog.records)


# -- atomic write ----------------------------------------------------------------------------

def test_final_file_appears_only_when_complete(tmp_path):
    text = _text(600_000, seed=3)  # > 1 MiB, stored uncompressed: the client writes mid-way
    archive = _zip("corpus.txt", text, stored=True)
    seen = {}
    part = tmp_path / "big.zip.part"
    with CorpusServer({"/big.zip": archive}) as server:
        def pause():
            seen["part_grew"] = wait_for(lambda: part.exists() and part.stat().st_size > 0)
            seen["names"] = _files(tmp_path)
        server.httpd.pause_at = len(archive) - 1000
        server.httpd.on_pause = pause
        src = Source(name="big", url=server.url("big.zip"), filename="big.zip",
                     size=len(archive), checksums={"sha256": _sha256(archive)}, archive="zip")
        path = fetch(src, tmp_path, progress=False)
    assert seen["part_grew"]
    assert seen["names"] == ["big.zip.lock", "big.zip.part"]  # neither archive nor corpus yet
    assert path.name == "big" and path.read_bytes() == text


# -- errors ----------------------------------------------------------------------------------

def test_server_down_is_a_clear_error(tmp_path, corpus_zip, corpus_text):
    url = f"http://127.0.0.1:{_free_port()}/tiny.zip"
    src = Source(name="tiny", url=url, filename="tiny.zip", size=len(corpus_zip),
                 checksums={"sha256": _sha256(corpus_zip)}, archive="zip")
    with pytest.raises(DownloadError) as info:
        fetch(src, tmp_path, progress=False, timeout=5)
    msg = str(info.value)
    assert "not reachable" in msg and "EMBEDKIT_CORPUS_MIRROR" in msg
    assert isinstance(info.value, CorpusError)
    assert _files(tmp_path) == []


def test_http_404_is_a_clear_error(tmp_path, corpus_zip, corpus_text):
    with CorpusServer({}) as server:
        src = _source(server, corpus_zip, corpus_text)
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(src, tmp_path, progress=False)


def test_unknown_corpus_lists_the_known_ones():
    with pytest.raises(ParameterError) as info:
        download("txt8")
    msg = str(info.value)
    assert "unknown corpus 'txt8'" in msg and "Did you mean 'text8'" in msg
    for name in ("classics_small", "text8", "enwik8"):
        assert name in msg


@pytest.mark.parametrize("bad, match", [
    (dict(checksums={"crc32": "00"}), "unknown checksums algorithm 'crc32'"),
    (dict(checksums={"sha256": "abc"}), "64 lowercase hex digits"),
    (dict(archive="rar"), "archive must be one of zip, gz"),
    (dict(size=-1), "size must be a byte count"),
    (dict(filename="../evil.zip"), "plain file names"),
])
def test_bad_source_fields_are_rejected(bad, match):
    fields = dict(name="x", url="http://127.0.0.1/x.zip", filename="x.zip")
    fields.update(bad)
    with pytest.raises(ParameterError, match=match):
        Source(**fields)


def test_bad_timeout(tmp_path):
    src = Source(name="x", url="http://127.0.0.1/x.txt", filename="x.txt")
    with pytest.raises(ParameterError, match="timeout must be > 0"):
        fetch(src, tmp_path, timeout=0)


# -- the registry path: download(name) -----------------------------------------------------

def _registry_file(tmp_path, server, archive, text):
    entry = {"description": "a tiny test corpus", "url": server.url("tiny.zip"),
             "filename": "tiny.zip", "size": len(archive),
             "checksums": {"sha256": _sha256(archive)}, "archive": "zip",
             "member": "corpus.txt", "output": "tiny.txt", "unpacked_size": len(text),
             "unpacked_checksums": {}}
    path = tmp_path / "extra.json"
    path.write_text(json.dumps({"corpora": {"tiny": entry}}))
    return path


def test_download_by_name_with_extra_registry(tmp_path, monkeypatch, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        monkeypatch.setenv("EMBEDKIT_CORPUS_REGISTRY",
                           str(_registry_file(tmp_path, server, corpus_zip, corpus_text)))
        cache = tmp_path / "cache"
        info = {c.name: c for c in list_corpora(cache)}
        assert not info["tiny"].cached and info["tiny"].verified_by == ("sha256",)
        path = download("tiny", cache_dir=cache, progress=False)
        assert path == cache / "corpora" / "tiny" / "tiny.txt"
        assert path.read_bytes() == corpus_text
        assert {c.name: c for c in list_corpora(cache)}["tiny"].cached


def test_mirror_override_is_used_and_still_verified(tmp_path, monkeypatch):
    """The real text8 entry, pointed at a local mirror that serves a different file."""
    fake = _zip("text8", b" anarchism originated as a term of abuse" * 100)
    with CorpusServer({"/text8.zip": fake}) as server:
        monkeypatch.setenv("EMBEDKIT_CORPUS_MIRROR", server.base + "/")
        with pytest.raises(ChecksumError, match="31,344,016"):
            download("text8", cache_dir=tmp_path, progress=False)
        assert server.requests[0]["path"] == "/text8.zip"
    assert _files(tmp_path / "corpora" / "text8") == []


def test_mirror_argument_beats_environment(tmp_path, monkeypatch, corpus_zip, corpus_text):
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        monkeypatch.setenv("EMBEDKIT_CORPUS_REGISTRY",
                           str(_registry_file(tmp_path, server, corpus_zip, corpus_text)))
        monkeypatch.setenv("EMBEDKIT_CORPUS_MIRROR", f"http://127.0.0.1:{_free_port()}")
        path = download("tiny", cache_dir=tmp_path / "c", progress=False, mirror=server.base)
        assert path.read_bytes() == corpus_text


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path / "ek"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir() == tmp_path / "ek"
    monkeypatch.delenv("EMBEDKIT_CACHE")
    assert user_cache_dir() == tmp_path / "xdg" / "embedkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert user_cache_dir() == tmp_path / "home" / ".cache" / "embedkit"


def test_download_uses_the_user_cache_by_default(tmp_path, monkeypatch, corpus_zip, corpus_text):
    monkeypatch.setenv("EMBEDKIT_CACHE", str(tmp_path / "ek"))
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        monkeypatch.setenv("EMBEDKIT_CORPUS_REGISTRY",
                           str(_registry_file(tmp_path, server, corpus_zip, corpus_text)))
        path = download("tiny", progress=False)
    assert path == tmp_path / "ek" / "corpora" / "tiny" / "tiny.txt"


def test_bad_extra_registry_is_a_clear_error(tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    monkeypatch.setenv("EMBEDKIT_CORPUS_REGISTRY", str(bad))
    with pytest.raises(ValueError, match="not valid JSON"):
        list_corpora()
    monkeypatch.setenv("EMBEDKIT_CORPUS_REGISTRY", str(tmp_path / "missing.json"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        list_corpora()


# -- one download at a time ------------------------------------------------------------------

def test_a_live_lock_refuses_a_second_download(tmp_path, corpus_zip, corpus_text):
    import subprocess
    import sys

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (tmp_path / "tiny.zip.lock").write_text(str(sleeper.pid))
        with CorpusServer({"/tiny.zip": corpus_zip}) as server:
            with pytest.raises(DownloadError, match=f"pid {sleeper.pid}"):
                fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
            assert server.requests == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_stale_lock_is_taken_over(tmp_path, corpus_zip, corpus_text):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (tmp_path / "tiny.zip.lock").write_text(str(gone.pid))
    with CorpusServer({"/tiny.zip": corpus_zip}) as server:
        path = fetch(_source(server, corpus_zip, corpus_text), tmp_path, progress=False)
    assert path.read_bytes() == corpus_text
    assert _files(tmp_path) == ["tiny.txt"]  # the lock is released
