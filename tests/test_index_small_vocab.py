"""Issue 13: ``index build --kind ivfpq`` on a small vocabulary printed FAISS's k-means
warnings raw (26 of them) and trained settings FAISS said were too large.  The IVF-PQ
settings now follow the vocabulary size, FAISS's messages go to the log, and an IVF-PQ
index over too few words to train is refused naming the kinds that fit."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import embedkit
from embedkit.errors import ParameterError
from embedkit.search import Index
from embedkit.search.params import check_params


def _vectors(n, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    return embedkit.Vectors([f"w{i}" for i in range(n)],
                            rng.standard_normal((n, dim)).astype(np.float32))


def test_ivfpq_defaults_follow_the_vocabulary_size(capfd):
    index = Index(_vectors(2000), "ivfpq")
    assert index.params["nlist"] * 39 <= 2000 and 2 ** index.params["nbits"] * 39 <= 2000
    assert "please provide" not in capfd.readouterr().err


def test_ivfpq_defaults_unchanged_on_a_large_vocabulary():
    p = check_params("ivfpq", {}, 1_000_000, 64)
    assert p["nlist"] == 4000 and p["nbits"] == 8


def test_faiss_warnings_go_to_the_log_not_stderr(capfd, caplog):
    with caplog.at_level(logging.WARNING, logger="embedkit.search.index"):
        Index(_vectors(2000), "ivfpq", nlist=100, nbits=6)  # 2000 < 39 * 100: FAISS warns
    assert "please provide" not in capfd.readouterr().err
    assert any(r.getMessage().startswith("FAISS: ") and "please provide" in r.getMessage()
               for r in caplog.records)


def test_ivfpq_on_too_few_words_is_refused_naming_exact_and_hnsw():
    with pytest.raises(ParameterError, match="cannot help over 300 words.*'exact'.*'hnsw'"):
        Index(_vectors(300), "ivfpq")


def test_index_build_checks_the_directory_is_writable_before_building(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import embedkit.search.index as index_module
    import embedkit.vectors.output as output
    from embedkit.cli.main import cli

    path = tmp_path / "v.txt"
    embedkit.save(_vectors(50), path)
    real_access = output.os.access
    monkeypatch.setattr(output.os, "access",
                        lambda p, mode: False if str(p) == str(tmp_path) else real_access(p, mode))
    monkeypatch.setattr(index_module.Index, "_build",
                        lambda self: pytest.fail("built before the output was checked"))
    r = CliRunner().invoke(cli, ["index", "build", str(path), "--kind", "exact"])
    assert r.exit_code == 1 and "no permission to create files in" in r.output
