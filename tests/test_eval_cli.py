"""``embedkit evaluate`` on the committed vector file."""

import json
import pathlib

from click.testing import CliRunner

from embedkit.cli.main import cli

VECTORS = str(pathlib.Path(__file__).parent / "data" / "evals" / "structured.txt.gz")


def _run(*args):
    return CliRunner().invoke(cli, ["-q", "evaluate", *args])


def test_table():
    r = _run(VECTORS, "--sets", "google,ws353")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["set", "metric", "score", "coverage", "n"]
    assert lines[1].split()[:2] == ["google", "3cosadd"] and lines[1].split()[-1] == "19544"
    assert any(line.split()[:2] == ["ws353", "spearman"] for line in lines)


def test_json_records():
    r = _run(VECTORS, "--suite", "analogy", "--sets", "google,ws353", "--json",
             "--method", "3cosadd,3cosmul")
    assert r.exit_code == 0, r.output
    recs = json.loads(r.stdout)
    assert [(x["set"], x["metric"]) for x in recs] == [("google", "3cosadd"), ("google", "3cosmul")]
    assert {"set", "metric", "score", "coverage", "n"} <= set(recs[0])
    assert 0 < recs[0]["score"] < 1 and recs[0]["n"] == 19544


def test_csv_with_sections():
    r = _run(VECTORS, "--sets", "google", "--csv", "--sections")
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].startswith("set,level,name,metric,score")
    assert "capital-common-countries" in r.output


def _bad(result):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    return result.output


def test_missing_vectors_file():
    assert "/no/such/vectors.txt" in _bad(_run("/no/such/vectors.txt"))


def test_malformed_dataset_line(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(": s\nking queen man woman\nking queen\n")
    assert "line 3" in _bad(_run(VECTORS, "--sets", str(p)))


def test_unknown_set_and_conflicting_options():
    assert "neither a shipped set" in _bad(_run(VECTORS, "--sets", "nosuchset"))
    assert "exclude each other" in _bad(_run(VECTORS, "--json", "--csv"))
    assert "method must be one of" in _bad(_run(VECTORS, "--method", "cos"))


def test_cli_numbers_equal_gensim():
    kv_mod = __import__("pytest").importorskip("gensim.models.keyedvectors")
    from embedkit.evaluation import dataset_path

    kv = kv_mod.KeyedVectors.load_word2vec_format(VECTORS)
    score, _ = kv.evaluate_word_analogies(str(dataset_path("google")), restrict_vocab=30000)
    _, spearman, _ = kv.evaluate_word_pairs(str(dataset_path("ws353")))
    r = _run(VECTORS, "--sets", "google,ws353", "--json")
    recs = {(x["set"], x["metric"]): x["score"] for x in json.loads(r.stdout)}
    assert recs[("google", "3cosadd")] == score
    assert recs[("ws353", "spearman")] == spearman[0]


def test_negative_restrict_vocab():
    assert "--restrict-vocab must be >= 0" in _bad(_run(VECTORS, "--restrict-vocab", "-1"))


def test_native_vectors_directory(tmp_path):
    # regression: the VECTORS argument refused a native .ekv (a directory)
    import numpy as np

    import embedkit

    words = ["king", "queen", "man", "woman", "cat", "dog"]
    rng = np.random.default_rng(0)
    path = tmp_path / "v.ekv"
    embedkit.Vectors(words, rng.normal(size=(6, 8)).astype(np.float32)).save(path)
    sims = tmp_path / "pairs.txt"
    sims.write_text("king\tqueen\t8.5\ncat\tdog\t7.0\nman\twoman\t8.0\n")
    r = CliRunner().invoke(cli, ["evaluate", str(path), "--suite", "similarity",
                                 "--sets", str(sims), "--json"])
    assert r.exit_code == 0, r.output
