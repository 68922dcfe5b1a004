"""``embedkit train``: writes vectors; bad input is one clear message, no traceback."""

import json

import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli

import synthetic  # tests/synthetic.py


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return synthetic.write_topic_corpus(tmp_path_factory.mktemp("corpus") / "c.txt", 300)


def _run(args):
    return CliRunner().invoke(cli, ["-q", "train", *args])


BASE = ["--dim", "8", "--epochs", "2", "--workers", "1", "--min-count", "1"]


@pytest.mark.parametrize("ext", ["txt", "bin"])
def test_train_writes_vectors(corpus_file, tmp_path, ext):
    out = tmp_path / f"v.{ext}"
    log = tmp_path / "log.jsonl"
    r = _run([corpus_file, *BASE, "--model", "cbow", "--out", str(out),
              "--log-json", str(log)])
    assert r.exit_code == 0, r.output
    head = out.read_bytes().split(b"\n", 1)[0].split()
    assert head == [b"30", b"8"]
    assert all("loss" in json.loads(x) for x in log.read_text().splitlines())


@pytest.mark.parametrize("args, message", [
    (["--dim", "0"], "dim must be >= 1"),
    (["--window", "0"], "window must be >= 1"),
    (["--epochs", "0"], "epochs must be >= 1"),
    (["--workers", "0"], "workers must be >= 1"),
    (["--alpha", "0"], "alpha must be > 0"),
    (["--negative", "-1"], "negative must be >= 0"),
    (["--sample", "-1"], "sample must be >= 0"),
    (["--min-count", "100000"], "min_count"),
    (["--alpha", "1e30", "--min-alpha", "1e29"], "learning rate is too high"),
])
def test_bad_input_is_a_clean_error(corpus_file, tmp_path, args, message):
    r = _run([corpus_file, *BASE, "--out", str(tmp_path / "v.txt"), *args])
    assert r.exit_code != 0
    assert "Traceback" not in r.output
    assert message in r.output, r.output


def test_output_directory_missing(corpus_file, tmp_path):
    r = _run([corpus_file, *BASE, "--out", str(tmp_path / "missing" / "v.txt")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "does not exist" in r.output


def test_missing_corpus(tmp_path):
    r = _run([str(tmp_path / "nope.txt"), *BASE, "--out", str(tmp_path / "v.txt")])
    assert r.exit_code != 0 and "Traceback" not in r.output


def test_resume_from_missing_checkpoint(corpus_file, tmp_path):
    r = _run([corpus_file, *BASE, "--out", str(tmp_path / "v.txt"),
              "--resume", str(tmp_path / "nothing.ckpt")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "not found" in r.output


def test_native_output_keeps_counts_and_metadata(corpus_file, tmp_path):
    import embedkit

    out = tmp_path / "v.ekv"
    r = _run([corpus_file, *BASE, "--out", str(out)])
    assert r.exit_code == 0, r.output
    v = embedkit.load(str(out))
    assert len(v) == 30 and v.dim == 8
    assert v.counts is not None and int(v.counts.sum()) == 3000
    assert v.metadata["params"]["epochs"] == 2
