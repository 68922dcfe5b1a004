"""Issue 13, "wrong kind of file": every model directory records its kind and every command
checks it and names the right one; a CoNLL file given to the classifier (or a TSV file to the
tagger) is recognised and named.  Each test is named after the defect it pins."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.downstream import NERTagger, load_model, read_tsv
from embedkit.errors import FormatError
from helpers.downstream_models import save_tiny_models


def _run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A sentiment classifier and an NER tagger, one tiny epoch each, plus matching files."""
    return save_tiny_models(tmp_path_factory.mktemp("kinds"))


def _one_line_error(r, *needles):
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output and r.output.count("\n") == 1, r.output
    for needle in needles:
        assert needle in r.output, r.output


# -- model kinds ---------------------------------------------------------------------------
def test_model_json_records_its_kind(models):
    assert json.loads((models / "sent" / "model.json").read_text())["kind"] == "sentiment"
    assert json.loads((models / "ner" / "model.json").read_text())["kind"] == "ner"


@pytest.mark.parametrize("command", [["predict", "{m}", "w1 x"], ["evaluate", "{m}", "{f}"]])
def test_sentiment_command_on_an_ner_model_names_ner(models, command):
    args = [a.format(m=models / "ner", f=models / "data.tsv") for a in command]
    _one_line_error(_run("sentiment", *args), "is an NER tagger", "embedkit ner tag/evaluate")


@pytest.mark.parametrize("command", [["tag", "{m}", "Ada w1"], ["evaluate", "{m}", "{f}"]])
def test_ner_command_on_a_sentiment_model_names_sentiment(models, command):
    args = [a.format(m=models / "sent", f=models / "data.conll") for a in command]
    _one_line_error(_run("ner", *args), "is a sentiment classifier",
                    "embedkit sentiment predict/evaluate")


def test_load_model_checks_the_task_asked_for(models):
    with pytest.raises(FormatError, match="is an NER tagger, not a sentiment classifier"):
        load_model(models / "ner", task="sentiment")
    assert isinstance(load_model(models / "ner", task="ner"), NERTagger)


def test_model_saved_before_the_kind_field_still_loads(models, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(models / "sent", old)
    meta = json.loads((old / "model.json").read_text())
    del meta["kind"]
    (old / "model.json").write_text(json.dumps(meta))
    r = _run("sentiment", "predict", old, "w1 x")
    assert r.exit_code == 0, r.output
    _one_line_error(_run("ner", "tag", old, "Ada"), "is a sentiment classifier")


def test_kind_disagreeing_with_task_is_a_format_error(models, tmp_path):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(models / "sent", bad)
    meta = json.loads((bad / "model.json").read_text())
    meta["kind"] = "ner"
    (bad / "model.json").write_text(json.dumps(meta))
    with pytest.raises(FormatError, match="'kind' is 'ner' but 'task' is 'sentiment'"):
        load_model(bad)


@pytest.mark.parametrize("group, command", [("lm", ["generate"]), ("seq2seq", ["translate"])])
def test_generator_command_on_a_tagger_names_the_tagger_command(models, group, command):
    r = _run(group, *command, models / "ner", *(["x"] if group == "seq2seq" else []))
    _one_line_error(r, "embedkit ner tag/evaluate")


@pytest.mark.parametrize("command", ["info", "evaluate"])
def test_vectors_command_on_a_model_directory_names_the_model_command(models, command):
    _one_line_error(_run(command, models / "sent"), "is a sentiment classifier",
                    "embedkit sentiment predict/evaluate", "not word vectors")


# -- data files of the wrong kind -----------------------------------------------------------
def test_sentiment_train_on_a_tab_separated_conll_file_says_conll(models, tmp_path, monkeypatch):
    import embedkit.cli._downstream as support

    monkeypatch.setattr(support, "resolve_and_load_vectors",
                        lambda *a: pytest.fail("vectors loaded before the data was checked"))
    r = _run("sentiment", "train", "--train", models / "data.conll", "--out", tmp_path / "m")
    _one_line_error(r, "looks like a CoNLL file", "embedkit ner")
    assert not (tmp_path / "m").exists()


def test_sentiment_evaluate_on_a_space_separated_conll_file_says_conll(models, tmp_path):
    f = tmp_path / "eng.testa"
    f.write_text("-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    _one_line_error(_run("sentiment", "evaluate", models / "sent", f), "no tab",
                    "looks like a CoNLL file")


def test_far_too_many_distinct_labels_is_refused(tmp_path):
    f = tmp_path / "words.tsv"
    f.write_text("".join(f"word{i}\tsome text here\n" for i in range(96)))
    with pytest.raises(FormatError, match="96 distinct labels in 96 examples"):
        read_tsv(f)


def test_many_examples_with_a_few_labels_are_accepted(tmp_path):
    f = tmp_path / "topics.tsv"
    f.write_text("".join(f"topic{i % 60}\tsome text {i}\n" for i in range(600)))
    assert len(set(read_tsv(f)[1])) == 60


def test_sentiment_evaluate_with_none_of_the_model_labels_is_refused(models, tmp_path):
    f = tmp_path / "digits.tsv"
    f.write_text("1\tw1 x\n0\tw2 w3\n")
    _one_line_error(_run("sentiment", "evaluate", models / "sent", f),
                    "none of its labels ('0', '1') is a label of the model")


def test_sentiment_evaluate_with_some_unknown_labels_warns(models, tmp_path):
    f = tmp_path / "mixed.tsv"
    f.write_text("yes\tw1 x\nmaybe\tw2 w3\n")
    r = CliRunner().invoke(cli, ["sentiment", "evaluate", str(models / "sent"), str(f), "--json"])
    assert r.exit_code == 0, r.output
    assert "'maybe' are not labels of the model" in r.stderr
    assert json.loads(r.stdout)["n"] == 2


def test_ner_on_a_tsv_file_says_tsv(models):
    _one_line_error(_run("ner", "evaluate", models / "ner", models / "data.tsv"),
                    "looks like a label<TAB>text file", "embedkit sentiment")
