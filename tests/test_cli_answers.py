"""Issue 13, "queries that should not be answered" and "the command line as people use it":
word2vec.c's three-word analogy, the zero-vector query, ``king-man+woman`` without spaces,
stdin batches that report a bad line in its place, the interactive prompt, empty texts and
``--json`` for ``sentiment predict`` / ``ner tag``.  Each test is named after the defect it
pins."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli
from embedkit.vectors.default import save_packed
from helpers.downstream_models import save_tiny_models

DIM = 16


def _run(*args, **kwargs):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


@pytest.fixture(scope="module")
def vec(tmp_path_factory):
    """king - man + woman = queen by construction, among random filler words."""
    rng = np.random.default_rng(0)
    axis = np.eye(DIM, dtype=np.float32)
    rows = {"man": axis[0] + axis[1], "woman": axis[0] - axis[1],
            "king": axis[0] + axis[1] + axis[2], "queen": axis[0] - axis[1] + axis[2],
            "france": axis[3], "italy": axis[3] + 0.2 * axis[4]}
    words = list(rows) + [f"filler{i}" for i in range(100)]
    m = 0.05 * rng.standard_normal((len(words), DIM)).astype(np.float32)
    m[:len(rows)] += np.array(list(rows.values()))
    m[len(rows):, 6:] += rng.standard_normal((100, DIM - 6)).astype(np.float32)
    path = tmp_path_factory.mktemp("vec") / "planted"
    save_packed(embedkit.Vectors(words, m), path)
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_tiny_models(tmp_path_factory.mktemp("models"))


def _first(output):
    return output.splitlines()[1].split()[1]


# -- analogy spellings -------------------------------------------------------------------
def test_three_bare_words_are_read_as_word2vec_analogy(vec):
    r = _run("analogy", "--vectors", vec, "man", "king", "woman")
    assert r.exit_code == 0, r.output
    assert _first(r.stdout) == "queen"
    from embedkit.search import parse_analogy

    q = parse_analogy("man king woman")
    assert q.positive == ("king", "woman") and q.negative == ("man",)


def test_similar_still_sums_three_bare_words(vec):
    bare = _run("similar", "--vectors", vec, "--json", "-k", "5", "man", "king", "woman")
    summed = _run("similar", "--vectors", vec, "--json", "-k", "5", "man + king + woman")
    analogy = _run("analogy", "--vectors", vec, "--json", "-k", "5", "man", "king", "woman")
    assert bare.exit_code == 0, bare.output
    assert bare.stdout == summed.stdout != analogy.stdout


def test_analogy_help_documents_the_three_word_form():
    r = _run("analogy", "--help")
    assert "B - A + C" in r.output and "word-analogy" in r.output


@pytest.mark.parametrize("expr", [["king", "-", "king"], ["king", "+", "man", "-", "man",
                                                            "-", "king"]])
def test_zero_vector_analogy_is_an_error(vec, expr):
    r = _run("analogy", "--vectors", vec, *expr)
    assert r.exit_code == 1 and "cancel out" in r.output and "Traceback" not in r.output


def test_expression_without_spaces_suggests_spaces(vec):
    r = _run("analogy", "--vectors", vec, "king-man+woman")
    assert r.exit_code == 1 and "king - man + woman" in r.output
    r = _run("similar", "--vectors", vec, "kingg-mann")  # parts unknown: the usual message
    assert r.exit_code == 1 and "put spaces" not in r.output


# -- stdin batches ---------------------------------------------------------------------------
BATCH = "king - man + woman\nkingg - man\n\n# comment\nking - king\nman:king::woman:?\n"


def test_bad_line_in_a_stdin_batch_does_not_stop_the_others_json(vec):
    r = _run("analogy", "--vectors", vec, "--json", "-k", "1", input=BATCH)
    assert r.exit_code == 1
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 4  # one line per query line, in order
    assert rows[0][0]["word"] == "queen" and rows[3][0]["word"] == "queen"
    assert rows[1]["line"] == 2 and "kingg" in rows[1]["error"]
    assert rows[2]["line"] == 5 and "cancel out" in rows[2]["error"]
    assert "2 of 4 queries failed" in r.stderr


def test_bad_line_in_a_stdin_batch_does_not_stop_the_others_text(vec):
    r = _run("analogy", "--vectors", vec, "-k", "1", input=BATCH)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.stdout.count("queen") == 2
    assert "line 2 (kingg - man)" in r.stderr and "line 5 (king - king)" in r.stderr


def test_unparsable_line_in_a_stdin_batch_is_reported_in_place(vec):
    r = _run("similar", "--vectors", vec, "--json", "-k", "1", input="france\nking - - man\n")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 1 and rows[0][0]["word"] == "italy"
    assert "two operators in a row" in rows[1]["error"]


def test_similarity_batch_reports_bad_lines_in_place(vec):
    r = _run("similarity", "--vectors", vec, "--json", input="king queen\nking\nking qeen\n"
             "man woman\n")
    assert r.exit_code == 1
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row.get("word2") for row in rows] == ["queen", None, None, "woman"]
    assert "two words per line" in rows[1]["error"] and "qeen" in rows[2]["error"]


# -- interactive mode ------------------------------------------------------------------------
def test_no_query_on_a_terminal_prompts_in_a_loop(vec, monkeypatch):
    import embedkit.cli.query_cmd as query

    monkeypatch.setattr(query, "_stdin_is_terminal", lambda: True)
    r = _run("analogy", "--vectors", vec, "-k", "1", input="man king woman\nkingg\nEXIT\n"
             "france\n")
    assert r.exit_code == 0, r.output
    assert "queen" in r.stdout and "kingg" in r.stderr
    assert "italy" not in r.stdout  # EXIT ends the loop
    r = _run("similar", "--vectors", vec, "-k", "1", input="france\n")  # ends at EOF
    assert r.exit_code == 0 and "italy" in r.stdout


# -- sentiment predict / ner tag -------------------------------------------------------------
def test_sentiment_predict_empty_text_is_an_error(models):
    r = _run("sentiment", "predict", models / "sent", "", "w1 x")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "text 1 is empty" in r.stderr and r.stdout.count("\n") == 1
    r = _run("sentiment", "predict", models / "sent", "-", input="w1 x\n  \nw2\n")
    assert r.exit_code == 1 and "line 2 is empty" in r.stderr and r.stdout.count("\n") == 2


def test_ner_tag_empty_text_is_an_error(models):
    r = _run("ner", "tag", models / "ner", "Ada w1", "")
    assert r.exit_code == 1 and "text 2 is empty" in r.stderr


def test_sentiment_predict_json(models):
    r = _run("sentiment", "predict", models / "sent", "--json", "w1 x", "")
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert r.exit_code == 1 and len(rows) == 2
    assert rows[0]["text"] == "w1 x" and rows[0]["label"] in ("yes", "no")
    assert set(rows[0]["probabilities"]) == {"yes", "no"}
    assert rows[0]["probability"] == max(rows[0]["probabilities"].values())
    assert rows[1] == {"text": "", "error": "text 2 is empty: give words to classify"}


def test_ner_tag_json(models):
    r = _run("ner", "tag", models / "ner", "--json", "Ada w1 Paris")
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)
    assert row["tokens"] == ["Ada", "w1", "Paris"] and len(row["tags"]) == 3
    for ent in row["entities"]:
        assert ent["text"] == " ".join(row["tokens"][ent["start"]:ent["end"]])


# -- messages ------------------------------------------------------------------------------
def test_index_build_debug_message_names_its_argument_not_vectors_option(vec):
    r = _run("-v", "index", "build", vec, "--kind", "exact")
    assert r.exit_code == 0, r.output
    assert "vectors from VECTORS" in r.stderr and "--vectors" not in r.stderr


def test_train_summary_in_the_command_list_mentions_glove():
    r = _run("--help")
    line = next(x for x in r.output.splitlines() if x.strip().startswith("train "))
    assert "GloVe" in line
