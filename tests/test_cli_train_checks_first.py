"""Issue 13, "check everything first": ``sentiment train`` / ``ner train`` check the output
directory, the options (ranges and combinations) and the data (labels of the dev file)
before the vectors load and training starts; each test makes the later step fail loudly."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli


def _run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def no_data_or_vectors(monkeypatch):
    import embedkit.downstream as ds
    import embedkit.cli._downstream as support

    for name in ("read_tsv", "read_conll"):
        monkeypatch.setattr(ds, name, lambda *a, **k: pytest.fail("data read before the check"))
    monkeypatch.setattr(support, "resolve_and_load_vectors",
                        lambda *a: pytest.fail("vectors loaded before the check"))


@pytest.fixture
def no_vectors(monkeypatch):
    import embedkit.cli._downstream as support

    monkeypatch.setattr(support, "resolve_and_load_vectors",
                        lambda *a: pytest.fail("vectors loaded before the check"))


@pytest.mark.parametrize("group", ["sentiment", "ner"])
def test_option_combination_is_checked_before_the_data(group, tmp_path, no_data_or_vectors):
    train = tmp_path / "train"
    train.write_text("x\n")
    r = _run(group, "train", "--train", train, "--out", tmp_path / "m", "--encoder",
             "transformer", "--hidden", "6", "--heads", "4")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "heads" in r.output and "divide" in r.output


@pytest.mark.parametrize("group, option, value", [
    ("sentiment", "--epochs", "0"), ("sentiment", "--batch-size", "0"),
    ("sentiment", "--lr", "0"), ("sentiment", "--dropout", "1"),
    ("sentiment", "--patience", "0"), ("ner", "--average", "1"),
    ("ner", "--lr-decay", "-0.1"), ("ner", "--word-dropout", "1.5"), ("ner", "--layers", "0"),
])
def test_out_of_range_option_is_a_usage_error(group, option, value, tmp_path,
                                              no_data_or_vectors):
    train = tmp_path / "train"
    train.write_text("x\n")
    r = _run(group, "train", "--train", train, "--out", tmp_path / "m", option, value)
    assert r.exit_code == 2 and "is not in the range" in r.output


def test_sentiment_dev_labels_unseen_in_training_fail_before_the_vectors(tmp_path, no_vectors):
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    train.write_text("pos\tgood film\nneg\tbad film\n")
    dev.write_text("positive\tgood film\nneg\tbad film\n")
    r = _run("sentiment", "train", "--train", train, "--dev", dev, "--out", tmp_path / "m")
    assert r.exit_code == 1 and "dev labels 'positive' do not occur" in r.output


def test_sentiment_single_class_fails_before_the_vectors(tmp_path, no_vectors):
    train = tmp_path / "train.tsv"
    train.write_text("pos\tgood film\npos\tfine film\n")
    r = _run("sentiment", "train", "--train", train, "--out", tmp_path / "m")
    assert r.exit_code == 1 and "at least 2 classes" in r.output


@pytest.mark.parametrize("group", ["sentiment", "ner"])
def test_missing_or_garbage_vectors_fail_before_the_data(group, tmp_path, no_data_or_vectors):
    train = tmp_path / "train"
    train.write_text("x\n")
    r = _run(group, "train", "--train", train, "--out", tmp_path / "m", "--vectors",
             tmp_path / "nothing.bin")
    assert r.exit_code == 1 and "does not exist" in r.output
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(bytes(range(256)) * 8)
    r = _run(group, "train", "--train", train, "--out", tmp_path / "m", "--vectors", garbage)
    assert r.exit_code == 1 and "not a recognised vectors format" in r.output
