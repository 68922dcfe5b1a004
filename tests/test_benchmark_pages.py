"""Benchmark pages name no machine-specific folder (benchmarks/_report.py)."""

import importlib.util
import os
import tempfile

import pytest

_REPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "benchmarks", "_report.py")


@pytest.fixture
def report_module():
    spec = importlib.util.spec_from_file_location("_bench_report", _REPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_page_replaces_data_temp_and_checkout_folders(report_module, monkeypatch, tmp_path):
    data = tmp_path / "benchdata"
    monkeypatch.setenv("EMBEDKIT_BENCH_DATA", str(data))
    repo = os.path.dirname(os.path.dirname(_REPORT))
    tmp = tempfile.gettempdir()
    text = (f"python benchmarks/x.py {data}/corpora/c.txt.gz --out {tmp}/scratch/v.bin "
            f"--page {repo}/docs/benchmarks/x.md {tmp}extra")
    out = report_module.portable(text)
    assert out == ("python benchmarks/x.py $EMBEDKIT_BENCH_DATA/corpora/c.txt.gz "
                   "--out $TMPDIR/scratch/v.bin --page ./docs/benchmarks/x.md "
                   f"{tmp}extra")


def test_written_page_has_no_temp_folder(report_module, tmp_path):
    page = report_module.Report("t")
    page.note(f"vectors: {tempfile.gettempdir()}/v.bin")
    assert tempfile.gettempdir() + "/" not in page.markdown()


def test_named_scratch_folder_shows_as_its_name(report_module, monkeypatch):
    scratch = os.path.join(tempfile.gettempdir(), "bench-scratch")
    monkeypatch.setattr("sys.argv", ["benchmarks/x.py", "--data", scratch])
    page = report_module.Report("t")
    page.name_folder(scratch)
    assert page.command == "python benchmarks/x.py --data $SCRATCH"
