"""Issue 13: no lost work, no tracebacks, one exit-code convention, a CLI that behaves like a
Unix tool.  Each test is named after the defect it pins."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli

import synthetic  # tests/synthetic.py
from embedkit.errors import EmbedkitError, MissingFileError, ParameterError

DATA = pathlib.Path(__file__).resolve().parent / "data" / "vectors"


def _run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return synthetic.write_topic_corpus(tmp_path_factory.mktemp("corpus") / "c.txt", 200)


@pytest.fixture
def no_training(monkeypatch):
    """Make any training run fail loudly: the checks under test must come before it."""
    from embedkit.training import driver

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the output was checked")

    monkeypatch.setattr(driver, "run_training", refuse)


BASE = ["--dim", "4", "--epochs", "1", "--workers", "1", "--min-count", "1"]


# -- lost work ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, fmt, message", [
    ("v.xyz", None, "cannot tell the format"),
    ("v.ekv.gz", None, "cannot be compressed"),
    ("v.txt.gz", "native", "cannot be compressed"),
])
def test_train_bad_output_fails_before_training(corpus_file, tmp_path, no_training, name, fmt,
                                                message):
    args = ["-q", "train", corpus_file, *BASE, "--out", tmp_path / name]
    r = _run(*args, *(["--format", fmt] if fmt else []))
    assert r.exit_code == 1, r.output
    assert message in r.output and "Traceback" not in r.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("model", ["sgns", "glove"])
def test_library_train_checks_output_first(corpus_file, tmp_path, no_training, model):
    with pytest.raises(ParameterError, match="cannot tell the format"):
        embedkit.train(corpus_file, model=model, out=tmp_path / "v.xyz", dim=4, epochs=1,
                       min_count=1, workers=1)
    with pytest.raises(ParameterError, match="it is a directory"):
        embedkit.train(corpus_file, model=model, out=tmp_path, format="word2vec-text", dim=4,
                       epochs=1, min_count=1, workers=1)


def test_train_format_is_a_choice_list(corpus_file, tmp_path, no_training):
    r = _run("train", corpus_file, "--out", tmp_path / "v.txt", "--format", "word2vec")
    assert r.exit_code == 2
    assert "word2vec-text" in r.output and "word2vec-binary" in r.output
    help_text = _run("train", "--help").output
    assert "[word2vec-text|word2vec-binary|glove|fasttext|native]" in help_text
    assert "GloVe" in help_text.split("Options:")[0]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write to read-only directories")
def test_train_unwritable_directory_fails_before_training(corpus_file, tmp_path, no_training):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        r = _run("-q", "train", corpus_file, *BASE, "--out", ro / "v.txt")
    finally:
        ro.chmod(0o700)
    assert r.exit_code == 1 and "no permission" in r.output


def test_failed_final_write_keeps_the_vectors(corpus_file, tmp_path, monkeypatch):
    from embedkit.training.output import OutputFailed
    from embedkit.vectors import text

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(text, "write_text", disk_full)
    with pytest.raises(OutputFailed, match="No space left") as info:
        embedkit.train(corpus_file, out=tmp_path / "v.txt", dim=4, epochs=1, min_count=1,
                       workers=1)
    rescued = embedkit.load(info.value.rescue)
    assert len(rescued) == 30 and rescued.dim == 4
    assert str(info.value.rescue) in str(info.value)


def test_convert_checks_target_before_reading(tmp_path, monkeypatch):
    import embedkit.vectors.loader as loader

    monkeypatch.setattr(loader, "load", lambda *a, **k: pytest.fail("read before the check"))
    r = _run("convert", DATA / "good.txt", tmp_path / "v.ekv.xz")
    assert r.exit_code == 1 and "cannot be compressed" in r.output


def test_check_output_dir_refuses_foreign_directory(tmp_path):
    from embedkit.vectors.output import check_output_dir

    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "notes.txt").write_text("mine")
    with pytest.raises(ParameterError, match="not an embedkit model"):
        check_output_dir(tmp_path / "m", marker="model.json")
    with pytest.raises(MissingFileError):
        check_output_dir(tmp_path / "nodir" / "m")
    assert check_output_dir(tmp_path / "new") == tmp_path / "new"


# -- errors: one line, exit codes ----------------------------------------------------------
def test_unexpected_exception_is_one_line_with_a_hint(monkeypatch):
    import embedkit.cli.vectors_cmd as vc

    def boom(*args, **kwargs):
        raise TypeError("unhashable type: 'list'")

    monkeypatch.setattr(vc, "vectors_info", boom)
    r = _run("info", DATA / "good.txt")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    assert "unexpected TypeError: unhashable type: 'list' (run with -v for details)" in r.output
    assert len(r.output.strip().splitlines()) == 1
    verbose = _run("-v", "info", DATA / "good.txt")
    assert verbose.exit_code == 1 and "Traceback" in verbose.output


def test_embedkit_error_is_one_printable_line(monkeypatch):
    import embedkit.cli.vectors_cmd as vc

    def bad(*args, **kwargs):
        raise EmbedkitError("bad bytes \x00\x1b[31m here\nand more")

    monkeypatch.setattr(vc, "vectors_info", bad)
    r = _run("info", DATA / "good.txt")
    assert r.exit_code == 1
    assert r.output.count("\n") == 1 and "\x00" not in r.output and "\x1b" not in r.output


@pytest.mark.parametrize("command", [["info"], ["validate"], ["convert"], ["evaluate"]])
def test_missing_input_file_exits_1_like_every_data_error(tmp_path, command):
    args = [*command, tmp_path / "nosuch.bin"] + ([tmp_path / "x.txt"]
                                                   if command == ["convert"] else [])
    r = _run(*args)
    assert r.exit_code == 1, r.output
    assert "nosuch.bin" in r.output and ("does not exist" in r.output or "not found" in r.output)


def test_mistyped_subcommand_suggests_the_right_one():
    r = _run("trian")
    assert r.exit_code == 2 and "Did you mean 'train'?" in r.output
    r = _run("sentiment", "predcit")
    assert r.exit_code == 2 and "Did you mean 'predict'?" in r.output


def _closed_pipe_run(args):
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write raises EPIPE
    try:
        return subprocess.run([sys.executable, "-m", "embedkit.cli.main", *args],
                              stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["info", str(DATA / "good.txt")], ["corpora", "list"]])
def test_closed_pipe_exits_quietly(args):
    proc = _closed_pipe_run(args)
    assert proc.stderr == ""
    assert proc.returncode == 141


# -- info / validate / vector ---------------------------------------------------------------
@pytest.fixture
def trained_like(tmp_path):
    meta = {"trainer": "embedkit.training.word2vec", "embedkit_version": "0",
            "params": {"model": "sgns", "dim": 3, "window": 5},
            "history": [{"epoch": e, "loss": 1.0 / e, "words_per_sec": 1000.0, "seconds": 1.0}
                        for e in range(1, 60)]}
    v = embedkit.Vectors(["king", "queen", "man"], np.eye(3, dtype=np.float32), metadata=meta)
    path = tmp_path / "v.ekv"
    v.save(path)
    return path


def test_info_is_a_readable_summary(trained_like):
    r = _run("info", trained_like)
    assert r.exit_code == 0, r.output
    assert "{'" not in r.output and "[{" not in r.output
    assert max(len(line) for line in r.output.splitlines()) <= 120
    assert "59 epochs" in r.output and "model=sgns" in r.output


def test_info_json_has_the_full_metadata(trained_like):
    r = _run("info", "--json", trained_like)
    facts = json.loads(r.output)
    assert facts["words"] == 3 and facts["dim"] == 3
    assert len(facts["metadata"]["history"]) == 59


def test_validate_json(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\na 1 2 3\nb 1 2\n")
    r = _run("validate", "--json", bad)
    assert r.exit_code == 1
    report = json.loads(r.output)
    assert report["valid"] is False and report["errors"][0]["where"] == "line 3"
    good = json.loads(_run("validate", "--json", DATA / "good.txt").output)
    assert good["valid"] is True and good["count"] == 3


def test_vector_prints_word_vectors(trained_like):
    r = _run("vector", "--vectors", trained_like, "queen", "King")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["queen 0 1 0", "King 1 0 0"]
    r = _run("vector", "--vectors", trained_like, "--json", "man", "kingg", "queen")
    assert r.exit_code == 1
    lines = [json.loads(x) for x in r.output.splitlines() if x.startswith("{")]
    assert [x["word"] for x in lines] == ["man", "queen"]
    assert "kingg" in r.output


# -- ranges and help ----------------------------------------------------------------------
def test_sample_must_be_below_one(corpus_file, tmp_path, no_training):
    r = _run("-q", "train", corpus_file, *BASE, "--sample", "2", "--out", tmp_path / "v.txt")
    assert r.exit_code == 1 and "sample must be < 1" in r.output
    with pytest.raises(ParameterError, match="sample must be < 1"):
        embedkit.Word2Vec(sample=1.0)


@pytest.mark.parametrize("group", ["sentiment", "ner"])
def test_threads_range_is_enforced(group, tmp_path):
    r = _run(group, "train", "--train", DATA / "good.txt", "--out", tmp_path / "m",
             "--threads", "4")
    assert r.exit_code == 2 and "--threads" in r.output and "1<=x<=2" in r.output


def _leaf_commands():
    import click

    ctx = click.Context(cli)
    out = []

    def walk(group, prefix):
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + [name])
            else:
                out.append((" ".join(prefix + [name]), cmd))

    walk(cli, [])
    return out


PATH_WORDS = ("vectors", "out", "train", "dev", "file", "path", "dir", "checkpoint", "resume",
              "cache", "log", "model", "corpus", "index")


def test_every_option_has_help_and_no_text_metavar():
    import click

    missing, texty = [], []
    for name, cmd in _leaf_commands():
        ctx = click.Context(cmd)
        for p in cmd.params:
            if isinstance(p, click.Option) and not p.hidden and not p.help:
                missing.append(f"{name} {p.opts[0]}")
            if isinstance(p, click.Option) and not p.is_flag:
                metavar = p.make_metavar(ctx)
                pathlike = any(w in p.name for w in PATH_WORDS)
                if "TEXT" in metavar and pathlike:
                    texty.append(f"{name} {p.opts[0]}")
    assert missing == [], f"options without help: {missing}"
    assert texty == [], f"paths shown as TEXT (use PATH/FILE/DIR): {texty}"


@pytest.mark.parametrize("group", ["sentiment", "ner"])
def test_downstream_train_checks_out_dir_first(group, tmp_path, monkeypatch):
    import embedkit.downstream as ds

    for name in ("read_tsv", "read_conll"):
        monkeypatch.setattr(ds, name, lambda *a, **k: pytest.fail("read before the check"))
    foreign = tmp_path / "taken"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not lose me")
    train = tmp_path / "train.txt"
    train.write_text("x\n")
    r = _run(group, "train", "--train", train, "--out", foreign)
    assert r.exit_code == 1 and "not an embedkit model" in r.output
    r = _run(group, "train", "--train", train, "--out", tmp_path / "no" / "m")
    assert r.exit_code == 1 and "does not exist" in r.output


def test_index_message_says_an_exact_index(tmp_path):
    r = _run("index", "build", DATA / "good.txt", "--kind", "exact", "--nlist", "4")
    assert r.exit_code == 2 and "an exact index" in r.output and "a exact" not in r.output
