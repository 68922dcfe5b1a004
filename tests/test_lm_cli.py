"""``embedkit lm train / evaluate / generate`` and their errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lm")
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat"]
    lines = [" ".join(words[(s + i) % 6] for i in range(8)) for s in rng.integers(6, size=200)]
    corpus = tmp / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n")
    out = tmp / "lm"
    r = CliRunner().invoke(cli, ["lm", "train", str(corpus), "--out", str(out), "--dim", "8",
                                 "--hidden", "16", "--epochs", "2", "--batch-size", "4",
                                 "--softmax", "full", "--lr", "0.02", "--dropout", "0",
                                 "--dev", str(corpus)])
    assert r.exit_code == 0, r.output
    return out, corpus


def test_evaluate_prints_perplexity_json(trained):
    out, corpus = trained
    r = CliRunner().invoke(cli, ["lm", "evaluate", str(out), str(corpus), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert 1 < res["perplexity"] < 3 and res["tokens"] > 1000


def test_evaluate_threads_give_the_same_perplexity(trained):
    out, corpus = trained
    res = [json.loads(CliRunner().invoke(cli, ["lm", "evaluate", str(out), str(corpus),
                                               "--json", "--threads", t]).output)
           for t in ("1", "2")]
    assert res[0]["perplexity"] == pytest.approx(res[1]["perplexity"], rel=1e-12)


def test_evaluate_threads_zero_is_one_clear_error(trained):
    out, corpus = trained
    r = CliRunner().invoke(cli, ["lm", "evaluate", str(out), str(corpus), "--threads", "0"])
    assert r.exit_code == 1 and "threads must be an integer >= 1" in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize("args", [["--beam", "3", "--length-penalty", "0.5"],
                                  ["--sample", "--top-k", "1", "--seed", "1"], []])
def test_generate_json(trained, args):
    out, _ = trained
    r = CliRunner().invoke(cli, ["lm", "generate", str(out), "--prompt", "the cat",
                                 "--max-tokens", "6", "--json", *args])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["text"].split()[:2] == ["sat", "on"] and res["logprob"] <= 0


@pytest.mark.parametrize("args, message", [
    (["--beam", "0"], "beam"),
    (["--sample", "--temperature", "0"], "temperature"),
    (["--sample", "--top-p", "0"], "top-p"),
    (["--sample", "--top-p", "1.5"], "top-p"),
    (["--prompt", "zebra quagga"], "none of the prompt"),
])
def test_generate_bad_input_is_one_clear_error(trained, args, message):
    out, _ = trained
    r = CliRunner().invoke(cli, ["lm", "generate", str(out), *args])
    assert r.exit_code == 1, r.output
    assert message in r.output and "Traceback" not in r.output


def test_a_model_of_another_kind_is_refused(tmp_path):
    d = tmp_path / "clf"
    d.mkdir()
    (d / "model.json").write_text(json.dumps({"task": "sentiment"}))
    np.savez(d / "weights.npz", emb=np.zeros((2, 2)))
    r = CliRunner().invoke(cli, ["lm", "generate", str(d)])
    assert r.exit_code == 1 and "not a 'lm' model" in r.output


@pytest.mark.parametrize("command", [["sentiment", "predict"], ["ner", "tag"]])
def test_an_lm_given_to_sentiment_or_ner_is_refused(trained, command):
    out, _ = trained
    r = CliRunner().invoke(cli, [*command, str(out), "some text"])
    assert r.exit_code == 1 and "language model" in r.output and "Traceback" not in r.output
