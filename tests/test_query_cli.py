"""`embedkit analogy`, `similar`, `similarity` and `index build` through click's CliRunner."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli
from embedkit.search.store import index_paths
from embedkit.vectors import default
from embedkit.vectors.default import save_packed

DIM = 32


def planted_vectors(seed=0, shift=0.0):
    """king - man + woman = queen by construction; countries and kittens in their own corners."""
    rng = np.random.default_rng(seed)
    axis = np.eye(DIM, dtype=np.float32)
    person, gender, royal, country, animal = axis[0], axis[1], axis[2], axis[3], axis[4]
    rows = {
        "man": person + gender, "woman": person - gender,
        "king": person + gender + royal, "queen": person - gender + royal,
        "cat": animal, "kitten": animal + 0.3 * axis[5], "well-known": axis[6],
    }
    for i, c in enumerate(["france", "italy", "spain", "germany", "england"]):
        rows[c] = country + 0.25 * axis[7 + i]
    words = list(rows) + [f"filler{i}" for i in range(300)]
    m = 0.05 * rng.standard_normal((len(words), DIM)).astype(np.float32)
    m[:len(rows)] += np.array(list(rows.values()))
    m[len(rows):, 12:] += rng.standard_normal((300, DIM - 12)).astype(np.float32)
    return embedkit.Vectors(words, m + np.float32(shift))


@pytest.fixture
def vec_path(tmp_path):
    path = tmp_path / "planted"
    save_packed(planted_vectors(), path, {"note": "test vectors"})
    return str(path)


def run(*args, input=None, env=None):
    return CliRunner().invoke(cli, ["-q", *args], input=input, env=env)


def first_word(output):
    return output.splitlines()[1].split()[1]


@pytest.mark.parametrize("expr", [
    ["king", "-", "man", "+", "woman"],
    ["king", "-man", "+woman"],
    ["man:king::woman:?"],
])
def test_analogy_forms_answer_queen(vec_path, expr):
    result = run("analogy", "--vectors", vec_path, *expr)
    assert result.exit_code == 0, result.output
    assert first_word(result.stdout) == "queen"


def test_table_is_aligned_with_rank_word_score(vec_path):
    result = run("analogy", "--vectors", vec_path, "-k", "3", "king", "-man", "+woman")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "word", "score"] and len(lines) == 4
    assert len({line.index(line.split()[2]) + len(line.split()[2]) for line in lines}) == 1


def test_json_is_a_best_first_list_of_word_and_score(vec_path):
    result = run("analogy", "--vectors", vec_path, "--json", "--topn", "4", "king", "-", "man",
                 "+", "woman")
    data = json.loads(result.stdout)
    assert [sorted(d) for d in data] == [["score", "word"]] * 4
    assert data[0]["word"] == "queen"
    assert [d["score"] for d in data] == sorted((d["score"] for d in data), reverse=True)
    assert not {"king", "man", "woman"} & {d["word"] for d in data}


def test_a_negative_word_starting_with_k_is_not_the_k_option(vec_path):
    result = run("similar", "--vectors", vec_path, "--json", "cat", "-kitten", "-k", "2")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 2


def test_3cosmul_option(vec_path):
    result = run("analogy", "--vectors", vec_path, "--method", "3cosmul", "man:king::woman:?")
    assert result.exit_code == 0 and first_word(result.stdout) == "queen"


def test_similar_lists_the_other_countries(vec_path):
    result = run("similar", "--vectors", vec_path, "--json", "-k", "4", "france")
    assert {d["word"] for d in json.loads(result.stdout)} == {"italy", "spain", "germany",
                                                              "england"}


def test_similarity_prints_the_cosine(vec_path):
    v = default.load_packed(vec_path)
    want = float(v.normalized[v.index("king")] @ v.normalized[v.index("queen")])
    result = run("similarity", "--vectors", vec_path, "king", "queen")
    assert result.exit_code == 0
    assert float(result.output.split()[-1]) == pytest.approx(want, abs=1e-4)
    result = run("similarity", "--vectors", vec_path, "--json", input="king queen\ncat kitten\n")
    assert [json.loads(line)["word2"] for line in result.stdout.splitlines()] == ["queen",
                                                                                   "kitten"]


def test_many_queries_on_stdin(vec_path):
    stdin = "king - man + woman\n# a comment\n\nman:king::woman:?\nsimilar france\n"
    result = run("analogy", "--vectors", vec_path, "--json", "-k", "1", input=stdin.replace(
        "similar france", "france"))
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r[0]["word"] for r in rows[:2]] == ["queen", "queen"] and len(rows) == 3
    result = run("analogy", "--vectors", vec_path, "-k", "1", input="king -man +woman\nfrance\n")
    assert "king + woman - man" in result.output and "france" in result.output


def test_uppercase_falls_back_to_the_lowercase_word(vec_path):
    result = run("similar", "--vectors", vec_path, "--json", "-k", "1", "France")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["analogy", "kingg", "-", "man", "+", "woman"], "closest spellings: king"),
    (["similar", "frnace"], "'frnace' is not in the vocabulary"),
    (["similarity", "king", "qeen"], "closest spellings: queen"),
    (["analogy", "king", "-", "-", "man"], "two operators in a row"),
    (["similarity", "king"], "give exactly two words"),
    (["analogy", "-k", "0", "king"], "0 is not in the range"),
    (["analogy", "--method", "cos", "king"], "'cos' is not one of"),
])
def test_bad_queries_fail_cleanly(vec_path, args, message):
    result = run(args[0], "--vectors", vec_path, *args[1:])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_word_in_a_stdin_batch_names_the_query(vec_path):
    result = run("analogy", "--vectors", vec_path, input="king -man +woman\nparis -frnace\n")
    assert result.exit_code == 1 and "line 2 (paris -frnace)" in result.output
    assert "queen" in result.stdout and "Traceback" not in result.output


def test_environment_variable_and_flag_choose_the_vectors(vec_path, tmp_path):
    other = tmp_path / "other"
    save_packed(embedkit.Vectors(["alpha", "beta", "gamma"], np.eye(3, 4, dtype=np.float32)), other)
    result = run("similar", "-k", "1", "queen", env={"EMBEDKIT_VECTORS": vec_path})
    assert result.exit_code == 0, result.output
    result = run("similar", "--vectors", str(other), "-k", "1", "alpha",
                 env={"EMBEDKIT_VECTORS": vec_path})
    assert result.exit_code == 0 and first_word(result.stdout) in ("beta", "gamma")


def test_missing_vectors_name_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(default, "default_vectors_dir", lambda: tmp_path / "nothing")
    monkeypatch.delenv("EMBEDKIT_VECTORS", raising=False)
    result = run("analogy", "king", "-", "man", "+", "woman")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "--vectors" in result.output and "EMBEDKIT_VECTORS" in result.output
    result = run("similar", "--vectors", str(tmp_path / "absent.bin"), "king")
    assert result.exit_code == 1 and "does not exist" in result.output


def test_no_query_and_no_stdin_is_a_usage_error(vec_path):
    result = run("analogy", "--vectors", vec_path, input="")
    assert result.exit_code != 0 and "no queries" in result.output


def test_index_build_then_queries_use_it_and_a_stale_index_is_rebuilt(vec_path):
    result = run("index", "build", vec_path, "--kind", "hnsw", "--hnsw-m", "8")
    assert result.exit_code == 0, result.output
    index_file, meta_file = index_paths(vec_path)
    old = json.loads(open(meta_file).read())
    assert old["kind"] == "hnsw" and old["params"]["hnsw_m"] == 8
    result = run("analogy", "--vectors", vec_path, "king", "-man", "+woman")
    assert first_word(result.stdout) == "queen"
    save_packed(planted_vectors(seed=1), vec_path)  # the vectors change under the index
    result = run("analogy", "--vectors", vec_path, "king", "-man", "+woman")
    assert result.exit_code == 0 and first_word(result.stdout) == "queen"
    new = json.loads(open(meta_file).read())
    assert new["checksum"] != old["checksum"] and new["kind"] == "hnsw"


def test_index_build_takes_hnsw_cells_and_seed(vec_path):
    result = run("index", "build", vec_path, "--kind", "hnsw", "--clusters", "3", "--seed", "5")
    assert result.exit_code == 0, result.output
    params = json.loads(open(index_paths(vec_path)[1]).read())["params"]
    assert params["clusters"] == 3 and params["seed"] == 5
    result = run("index", "build", vec_path, "--kind", "exact", "--clusters", "3")
    assert result.exit_code != 0 and "--clusters do not apply to an exact index" in result.output


def test_index_build_rejects_options_of_another_kind(vec_path):
    result = run("index", "build", vec_path, "--kind", "exact", "--nlist", "4")
    assert result.exit_code != 0 and "--nlist do not apply to an exact index" in result.output
    result = run("index", "build", vec_path, "--kind", "hnsw", "--hnsw-m", "1")
    assert result.exit_code == 1 and "hnsw_m must be >= 2" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["planted.ekv", "planted.txt"])
def test_files_in_any_format_are_read_with_embedkit_load(tmp_path, name):
    path = tmp_path / name
    planted_vectors().save(path)
    result = run("analogy", "--vectors", str(path), "king", "-man", "+woman")
    assert result.exit_code == 0, result.output
    assert first_word(result.stdout) == "queen"
    result = run("index", "build", str(path), "--kind", "hnsw")
    assert result.exit_code == 0 and (tmp_path / (name + ".faiss")).exists()
    result = run("similar", "--vectors", str(path), "--json", "-k", "4", "france")
    assert {d["word"] for d in json.loads(result.stdout)} == {"italy", "spain", "germany",
                                                              "england"}
