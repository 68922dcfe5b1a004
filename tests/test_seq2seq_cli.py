"""``embedkit seq2seq train / translate / evaluate`` and their errors."""

import builtins
import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("s2s")
    rng = np.random.default_rng(0)
    words = ["".join(rng.choice(list("abcd"), size=rng.integers(2, 5))) for _ in range(300)]
    tsv = tmp / "train.tsv"
    tsv.write_text("".join(f"{w}\t{w.upper()}\n" for w in words))
    out = tmp / "model"
    r = CliRunner().invoke(cli, ["seq2seq", "train", "--train", str(tsv), "--dev", str(tsv),
                                 "--out", str(out), "--emb", "8", "--hidden", "16",
                                 "--dec-hidden", "16", "--attention-size", "8", "--epochs", "15",
                                 "--lr", "0.01", "--batch-size", "16"])
    assert r.exit_code == 0, r.output
    return out, tsv


def test_translate_and_evaluate(trained):
    out, tsv = trained
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(out), "abca", "--beam", "3",
                                 "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["output"] == "ABCA"
    r = CliRunner().invoke(cli, ["seq2seq", "evaluate", str(out), str(tsv), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["exact_match"] > 0.9


def test_translate_reads_stdin(trained):
    out, _ = trained
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(out), "-"], input="ab\ncd\n")
    assert r.exit_code == 0 and r.output.split() == ["AB", "CD"]


def test_attention_png_is_drawn(trained, tmp_path):
    pytest.importorskip("matplotlib")
    out, _ = trained
    png = tmp_path / "att.png"
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(out), "abc", "--attention",
                                 str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_attention_without_matplotlib_says_how_to_install(trained, tmp_path, monkeypatch):
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("no matplotlib")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    out, _ = trained
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(out), "abc", "--attention",
                                 str(tmp_path / "a.png")])
    assert r.exit_code == 1 and "pip install" in r.output and "matplotlib" in r.output


@pytest.mark.parametrize("content, message", [("ab\tAB\n\n", "empty line"),
                                              ("ab AB\n", "tab-separated")])
def test_bad_tsv_is_one_clear_error(tmp_path, content, message):
    bad = tmp_path / "bad.tsv"
    bad.write_text(content)
    r = CliRunner().invoke(cli, ["seq2seq", "train", "--train", str(bad), "--out",
                                 str(tmp_path / "m")])
    assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output


def test_beam_zero_is_one_clear_error(trained):
    out, _ = trained
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(out), "ab", "--beam", "0"])
    assert r.exit_code == 1 and "beam" in r.output


def test_an_lm_given_to_seq2seq_is_refused(tmp_path):
    d = tmp_path / "lm"
    d.mkdir()
    (d / "model.json").write_text(json.dumps({"kind": "lm"}))
    np.savez(d / "weights.npz", x=np.zeros(1))
    r = CliRunner().invoke(cli, ["seq2seq", "translate", str(d), "ab"])
    assert r.exit_code == 1 and "not a 'seq2seq' model" in r.output


@pytest.mark.parametrize("command", [["sentiment", "predict"], ["ner", "tag"]])
def test_a_seq2seq_model_given_to_sentiment_or_ner_is_refused(trained, command):
    out, _ = trained
    r = CliRunner().invoke(cli, [*command, str(out), "some text"])
    assert r.exit_code == 1 and "encoder-decoder" in r.output and "Traceback" not in r.output
