"""``embedkit train --model glove``: writes vectors; bad input is one clear message."""

import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli

import synthetic  # tests/synthetic.py


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    return synthetic.write_topic_corpus(tmp_path_factory.mktemp("corpus") / "c.txt", 300)


def _run(args):
    return CliRunner().invoke(cli, ["-q", "train", *args])


BASE = ["--model", "glove", "--dim", "8", "--epochs", "3", "--workers", "1", "--min-count", "1",
        "--x-max", "10"]


@pytest.mark.parametrize("choice", ["w+c", "w"])
def test_glove_writes_vectors(corpus_file, tmp_path, choice):
    out = tmp_path / "g.txt"
    r = _run([corpus_file, *BASE, "--memory", "64M", "--vectors", choice, "--out", str(out)])
    assert r.exit_code == 0, r.output
    v = embedkit.load(str(out))
    assert len(v) == 30 and v.dim == 8


def test_glove_options_reach_the_trainer(corpus_file, tmp_path):
    out = tmp_path / "g.ekv"
    r = _run([corpus_file, *BASE, "--power", "0.5", "--window", "3", "--out", str(out)])
    assert r.exit_code == 0, r.output
    params = embedkit.load(str(out)).metadata["params"]
    assert (params["model"], params["x_max"], params["power"], params["window"],
            params["epochs"], params["vectors"]) == ("glove", 10.0, 0.5, 3, 3, "w+c")


@pytest.mark.parametrize("args, message", [
    (["--x-max", "0"], "x_max must be > 0"),
    (["--x-max", "-1"], "x_max must be > 0"),
    (["--power", "0"], "power must be > 0"),
    (["--window", "0"], "window must be >= 1"),
    (["--memory", "lots"], "cannot parse memory budget 'lots'"),
    (["--memory", "1K"], "too small to hold even one sorted run"),
    (["--vectors", "c"], "Invalid value for '--vectors'"),
    (["--negative", "3"], "--negative applies to sgns and cbow"),
])
def test_bad_glove_input_is_a_clean_error(corpus_file, tmp_path, args, message):
    r = _run([corpus_file, *BASE, "--out", str(tmp_path / "v.txt"), *args])
    assert r.exit_code != 0
    assert "Traceback" not in r.output
    assert message in r.output, r.output


def test_glove_options_need_model_glove(corpus_file, tmp_path):
    r = _run([corpus_file, "--x-max", "10", "--out", str(tmp_path / "v.txt")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "--x-max applies to --model glove only" in r.output
