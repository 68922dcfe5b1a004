"""Integrity regressions (issue 21) of corpus downloads: sizes enforced while streaming and
unpacking, names that cannot escape the cache, no writing through links, a total deadline,
redirects kept on http(s) and the same scheme.  Only a server on 127.0.0.1 is used."""

import gzip
import json
import os
import re
import time

import pytest

from embedkit.corpus import _archives as A
from embedkit.corpus import download as D
from embedkit.corpus.download import ChecksumError, DownloadError, Source, fetch
from embedkit.errors import FormatError, ParameterError
from helpers.hostile_server import HostileServer

BOMB = gzip.compress(b"\0" * (10 << 20))  # about 10 KB that unpack to 10 MiB


def _bomb_source(server, **over):
    fields = dict(name="bomb", url=server.url("bomb.gz"), filename="bomb.gz", archive="gz",
                  output="bomb.txt")
    fields.update(over)
    return Source(**fields)


def test_an_unpacked_size_is_enforced_while_unpacking(tmp_path, monkeypatch):
    unpacked = []
    real_bar = A.progress_bar

    def counting_bar(*args, **kwargs):
        bar = real_bar(*args, **kwargs)
        if str(kwargs.get("desc", "")).startswith("unpack"):
            update = bar.update
            bar.update = lambda n: (unpacked.append(n), update(n))[1]
        return bar

    monkeypatch.setattr(A, "progress_bar", counting_bar)
    with HostileServer({"/bomb.gz": BOMB}) as server:
        with pytest.raises(ChecksumError, match="more than the 1,000 bytes"):
            fetch(_bomb_source(server, unpacked_size=1000), tmp_path, progress=False)
    assert sum(unpacked) <= 1000  # stopped at the first byte past the size, not at the end
    assert os.listdir(tmp_path) == []


def test_an_archive_without_an_unpacked_size_still_has_a_ceiling(tmp_path):
    with HostileServer({"/bomb.gz": BOMB}) as server:
        with pytest.raises(ChecksumError, match="decompression bomb"):
            fetch(_bomb_source(server), tmp_path, progress=False)
    assert os.listdir(tmp_path) == []


def test_a_download_without_a_length_stops_at_its_ceiling(tmp_path):
    with HostileServer(flood_bytes=4 << 20) as server:
        src = Source(name="flood", url=server.url("flood"), filename="flood.txt",
                     max_size=100_000)
        with pytest.raises(ChecksumError, match="more than the 100,000 bytes"):
            fetch(src, tmp_path, progress=False)
    assert os.listdir(tmp_path) == []


def test_every_registry_entry_has_a_ceiling():
    from embedkit.corpora import _registry, _source

    for name, entry in _registry().items():
        if entry.get("builtin"):
            continue
        src = _source(name, entry, None)
        assert src.size_limit < D.DEFAULT_MAX_BYTES, name
        assert src.unpacked_limit(src.size_limit) <= 2 * 10 ** 9, name
    enwik8 = _source("enwik8", _registry()["enwik8"], None)
    assert enwik8.size is None and enwik8.size_limit <= 110_000_000


@pytest.mark.parametrize("name", ["../../x", "/abs/path", "a/b", "..", ""])
def test_a_corpus_name_is_an_identifier(tmp_path, monkeypatch, name):
    from embedkit.corpora import REGISTRY_ENV, download

    with pytest.raises(ParameterError, match="identifier"):
        Source(name=name, url="http://127.0.0.1/x.txt", filename="x.txt")
    entry = {"description": "d", "licence": "l", "url": "http://127.0.0.1:9/x.txt",
             "filename": "x.txt", "size": 10, "checksums": {}, "unpacked_checksums": {}}
    reg = tmp_path / "extra.json"
    reg.write_text(json.dumps({"corpora": {name: entry}}))
    monkeypatch.setenv(REGISTRY_ENV, str(reg))
    with pytest.raises(FormatError, match="identifier"):
        download(name, cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "x").exists()


def test_a_planted_part_symlink_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    cache = tmp_path / "cache"
    cache.mkdir()
    os.symlink(victim, cache / "x.txt.part")
    with HostileServer({"/x.txt": b"hostile bytes"}) as server:
        src = Source(name="x", url=server.url("x.txt"), filename="x.txt")
        with pytest.raises(DownloadError, match="symbolic link"):
            fetch(src, cache, progress=False)
    assert victim.read_text() == "precious"


def test_a_dripping_server_meets_the_total_deadline(tmp_path):
    with HostileServer(drip_seconds=0.2) as server:
        src = Source(name="drip", url=server.url("drip"), filename="drip.txt")
        t0 = time.monotonic()
        with pytest.raises(DownloadError, match="deadline"):
            fetch(src, tmp_path, progress=False, timeout=5, deadline=1.0)
        assert time.monotonic() - t0 < 5  # not the 40 s the server would drip


@pytest.mark.parametrize("target", ["file:///etc/hostname", "ftp://127.0.0.1/x"])
def test_redirects_leave_neither_http_nor_the_scheme(tmp_path, target):
    with HostileServer() as server:
        src = Source(name="r", url=server.url(f"redirect?to={target}"), filename="r.txt")
        with pytest.raises(DownloadError, match=re.escape(target)):
            fetch(src, tmp_path, progress=False)
    assert not (tmp_path / "r.txt").exists()


def test_a_redirect_on_the_same_scheme_is_followed(tmp_path):
    with HostileServer({"/real.txt": b"corpus text\n"}) as server:
        src = Source(name="r", url=server.url(f"redirect?to={server.url('real.txt')}"),
                     filename="r.txt")
        assert fetch(src, tmp_path, progress=False).read_bytes() == b"corpus text\n"


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://example.org/x.txt"])
def test_a_registry_url_must_be_http(url):
    with pytest.raises(ParameterError, match="only http and https"):
        Source(name="x", url=url, filename="x.txt")
