"""Issue 13, "check everything first" for corpus downloads: when the registry does not
know a file's size, the size the server announces (Content-Length) is checked against the
free disk space before any byte is written."""

from __future__ import annotations

import shutil
from collections import namedtuple

import pytest

from corpora_server import CorpusServer
from embedkit.corpus import download as dl
from embedkit.corpus.download import DownloadError, Source, fetch

Usage = namedtuple("Usage", "total used free")


def test_server_size_beyond_the_free_space_fails_before_writing(tmp_path, monkeypatch):
    data = b"the of and\n" * 5000
    real = shutil.disk_usage
    monkeypatch.setattr(dl.shutil, "disk_usage",
                        lambda p: Usage(1 << 30, 0, 1000) if str(p) == str(tmp_path)
                        else real(p))
    with CorpusServer({"/plain.txt": data}) as server:
        src = Source(name="plain", url=server.url("plain.txt"), filename="plain.txt",
                     size=None, checksums={}, archive=None, output="plain.txt")
        with pytest.raises(DownloadError, match="needs 55.0 kB in .* but only 1.0 kB are free"):
            fetch(src, tmp_path, progress=False)
    assert not (tmp_path / "plain.txt").exists()
    assert not (tmp_path / "plain.txt.part").exists() or \
        (tmp_path / "plain.txt.part").stat().st_size == 0
