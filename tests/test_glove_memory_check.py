"""Issue 13, "check everything first" for GloVe: a ``--memory`` budget above the machine's
RAM is refused before the corpus is read (counting in it would swap, not spill), and a
count whose spill could outgrow the temporary directory's free space says so first."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.errors import ParameterError
from embedkit.training import GloVe
from embedkit.training import cooccur, cooccur_budget


def test_memory_budget_above_the_ram_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(cooccur_budget, "physical_memory", lambda: 8 << 30)
    with pytest.raises(ParameterError, match="more than this machine's 8.0 GiB of RAM.*--memory 4G"):
        GloVe(memory="64G")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n" * 10)
    import embedkit.corpus as corpus_module

    monkeypatch.setattr(corpus_module, "prepare",
                        lambda *a, **k: pytest.fail("corpus read before the check"))
    r = CliRunner().invoke(cli, ["train", str(corpus), "--model", "glove", "--memory", "64G",
                                 "--out", str(tmp_path / "v.txt")])
    assert r.exit_code == 1 and "8.0 GiB of RAM" in r.output and "Traceback" not in r.output
    GloVe(memory="4G")  # within the RAM: accepted


def test_spill_beyond_the_free_space_is_announced(tmp_path, monkeypatch, caplog):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage(1 << 20, 0, 1000))
    ids = np.arange(2000, dtype=np.int32) % 50
    offsets = np.array([0, 1000, 2000], dtype=np.int64)
    with caplog.at_level(logging.WARNING, logger=cooccur_budget.__name__):
        cooccur.count_cooccurrences(ids, offsets, 50, window=5, memory="64K",
                                    tmp_dir=str(tmp_path), workers=1)
    assert "may spill up to" in caplog.text and "raise --memory" in caplog.text
