"""Batch queries on Dask: the same answers, in input order, as one process gives."""

import numpy as np
import pytest
from click.testing import CliRunner

import embedkit
from embedkit.cli.main import cli
from embedkit.search.batch import combination_words


@pytest.fixture(scope="module")
def ekv(tmp_path_factory):
    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(300)]
    path = tmp_path_factory.mktemp("vec") / "v.ekv"
    embedkit.Vectors(words, rng.standard_normal((300, 16)).astype(np.float32)).save(str(path))
    return path


def _queries(n, seed=0):
    rng = np.random.default_rng(seed)
    triples = [rng.choice(300, 3, replace=False) for _ in range(n)]
    return ([[f"w{b}", f"w{c}"] for a, b, c in triples], [[f"w{a}"] for a, b, c in triples])


@pytest.mark.parametrize("method", ["3cosadd", "3cosmul"])
def test_dask_batches_answer_like_one_process_in_input_order(ekv, dask_client, method):
    from embedkit.distributed.query import combination_words_on

    pos, neg = _queries(70)
    expected = combination_words(embedkit.load(str(ekv)), pos, neg, k=5, method=method)
    got = combination_words_on(dask_client, ekv, pos, neg, k=5, method=method, batch_size=9)
    assert got == expected


def test_cli_analogy_with_a_scheduler_answers_like_without(ekv):
    pytest.importorskip("distributed")
    pos, neg = _queries(12, seed=1)
    text = "".join(f"{p[0]} - {n[0]} + {p[1]}\n" for p, n in zip(pos, neg))
    args = ["analogy", "--vectors", str(ekv), "--json", "-k", "3"]
    plain = CliRunner().invoke(cli, args, input=text)
    dask = CliRunner().invoke(cli, args + ["--scheduler", "local:1"], input=text)
    assert plain.exit_code == 0 and dask.exit_code == 0, dask.output
    assert dask.output == plain.output
    assert len(plain.output.splitlines()) == 12


def _eval_sets(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"w{i}\tw{i + 1}\t{i % 7}\n" for i in range(40)))
    quads = tmp_path / "quads.txt"
    quads.write_text(": fam\n" + "".join(f"w{i} w{i + 1} w{i + 2} w{i + 3}\n"
                                        for i in range(20)) +
                     ": other\n" + "".join(f"w{i} w{i + 2} w{i + 4} w{i + 6}\n"
                                          for i in range(100, 110)) + "w1 w2 w3 nope\n")
    return [str(quads), str(pairs)]


def test_dask_evaluate_gives_the_same_frame(ekv, dask_client, tmp_path):
    from embedkit.distributed.query import evaluate_on
    from embedkit.evaluation import evaluate

    kw = dict(sets=_eval_sets(tmp_path), methods=["3cosadd", "3cosmul"], restrict_vocab=None)
    expected = evaluate(embedkit.load(str(ekv)), **kw)
    got = evaluate_on(dask_client, ekv, chunk_size=7, **kw)
    assert len(got) == len(expected) > 2
    assert got.equals(expected)


def test_evaluate_maps_chunks_of_questions_not_whole_sets(ekv, tmp_path):
    """Regression: evaluate --scheduler made one task per analogy set, so one big set ran
    on one worker; the questions are now cut into chunks, one task each."""
    from embedkit.distributed import query
    from embedkit.distributed.prepare import _Serial
    from embedkit.evaluation import evaluate

    class Counting(_Serial):
        calls: list = []

        def submit(self, fn, *args, **kwargs):
            self.calls.append(fn.__name__)
            return super().submit(fn, *args, **kwargs)

    client = Counting()
    kw = dict(sets=_eval_sets(tmp_path), methods=["3cosadd", "3cosmul"], restrict_vocab=50)
    got = query.evaluate_on(client, ekv, chunk_size=4, **kw)
    assert client.calls.count("_analogy_chunk") == 2 * 8  # 31 questions, 2 methods
    assert client.calls.count("_similarity_set") == 1
    assert got.equals(evaluate(embedkit.load(str(ekv)), **kw))
    assert got[got.level == "section"]["n"].tolist() == [20, 11, 20, 11]


def test_evaluate_on_checks_chunk_size(ekv):
    from embedkit.distributed.prepare import _Serial
    from embedkit.distributed.query import evaluate_on
    from embedkit.errors import ParameterError

    with pytest.raises(ParameterError, match="chunk_size"):
        evaluate_on(_Serial(), ekv, sets=["google"], chunk_size=0)
