"""The built-in corpus ships, decompresses and matches its registry entry; the registry is sound."""

from __future__ import annotations

import hashlib
import json
import lzma
import re
from pathlib import Path

import pytest

from embedkit.corpora import REGISTRY_PATH, corpus_info, default_corpus_path, download, list_corpora
from embedkit.corpus.download import ALGORITHMS, Source

ROOT = Path(__file__).resolve().parents[1]


def _registry():
    return json.loads(REGISTRY_PATH.read_text())["corpora"]


def test_default_corpus_exists_and_decompresses():
    path = default_corpus_path()
    assert path.is_file() and path.name == "classics_small.txt.xz"
    entry = _registry()["classics_small"]
    packed = path.read_bytes()
    assert len(packed) == entry["size"]
    assert hashlib.sha256(packed).hexdigest() == entry["checksums"]["sha256"]
    text = lzma.decompress(packed)
    assert len(text) == entry["unpacked_size"]
    assert hashlib.sha256(text).hexdigest() == entry["unpacked_checksums"]["sha256"]
    lines = text.decode("utf-8").splitlines()
    assert len(lines) == 22_647
    assert "THE BLUE FAIRY BOOK" in lines[:5]
    assert sum(len(re.findall(r"[a-z0-9]+", ln.lower())) for ln in lines) > 850_000


def test_builtin_corpus_needs_no_download():
    assert download("classics_small") == default_corpus_path()
    info = corpus_info("classics_small")
    assert info.builtin and info.cached and info.path == default_corpus_path()


def test_builtin_corpus_is_package_data():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.json" in data["package-data"]["embedkit.corpora"]
    assert "embedkit.corpora.data" in data["packages"]
    assert "*" in data["package-data"]["embedkit.corpora.data"]
    assert (ROOT / "corpora" / "data" / "README.md").is_file()  # source and licence note


def test_every_downloadable_entry_is_well_formed_and_cited():
    for name, entry in _registry().items():
        assert entry.get("description") and entry.get("licence"), name
        cites = entry.get("citations", {})
        if entry.get("builtin"):
            continue
        Source(name=name, url=entry["url"], filename=entry["filename"], size=entry["size"],
               checksums=entry["checksums"], archive=entry.get("archive"),
               member=entry.get("member"), output=entry.get("output"),
               unpacked_size=entry.get("unpacked_size"),
               unpacked_checksums=entry["unpacked_checksums"])  # validates the fields
        assert entry["checksums"] or entry["unpacked_checksums"], f"{name}: nothing to verify"
        # every published figure names its source
        for key in ("size", "unpacked_size"):
            if entry.get(key) is not None:
                assert key in cites, f"{name}: {key} has no citation"
        for key in ("checksums", "unpacked_checksums"):
            for alg in entry[key]:
                assert alg in ALGORITHMS
                assert f"{key}.{alg}" in cites or key in cites, f"{name}: {key}.{alg} uncited"
                assert entry[key][alg] in json.dumps(cites) or key in cites


def test_text8_entry_has_the_published_size_and_sha256():
    text8 = _registry()["text8"]
    assert text8["size"] == 31_344_016
    assert text8["checksums"]["sha256"] == (
        "a6640522afe85d1963ad56c05b0ede0a0c000dddc9671758a6cc09b7a38e5232")
    assert text8["archive"] == "zip" and text8["member"] == "text8"
    assert text8["unpacked_size"] == 100_000_000


def test_list_corpora_builtin_first_and_known_names():
    names = [c.name for c in list_corpora()]
    assert names[0] == "classics_small"
    assert {"text8", "text8-gensim", "enwik8", "enwik9"} <= set(names)


@pytest.mark.parametrize("name", ["text8", "text8-gensim", "enwik8", "enwik9"])
def test_download_targets_are_plain_files_in_the_cache(name, tmp_path):
    info = corpus_info(name, tmp_path)
    assert not info.cached
    assert info.path.parent == tmp_path / "corpora" / name
