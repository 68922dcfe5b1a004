"""NER tagger: conlleval metrics and BIO repair on hand-worked examples, constrained decoding,
a tiny tagging task, model gradients with char and case features, readers and CLI errors."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.downstream import chunks, load_model, ner_report, read_conll, repair_bio
from embedkit.downstream.features import case_class, char_ngrams, fnv1a, make_batch
from embedkit.downstream.crf import allowed_transitions, viterbi_bio
from embedkit.errors import FormatError

from gradcheck import check_gradient
from helpers.tagging import (small_fit, small_tagger, tag_vectors, tagging_data, write_ner_files,
                             write_vectors)
from order_task import to_float64


def test_chunks_conlleval_semantics():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-ORG", "I-PER", "B-LOC", "B-LOC"]
    assert chunks(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("ORG", 5, 6), ("PER", 6, 7),
                            ("LOC", 7, 8), ("LOC", 8, 9)]
    assert chunks(["O", "O"]) == []


def test_ner_report_hand_worked():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "B-LOC"]]
    r = ner_report(gold, pred)
    # gold: PER(0,2) LOC(3,4) ORG(0,1); pred: PER(0,2) ORG(3,4) ORG(0,1) LOC(1,2)
    # correct: PER, ORG(0,1) -> P = 2/4, R = 2/3, F = 4/7
    assert r["precision"] == pytest.approx(0.5)
    assert r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(4 / 7)
    assert r["token_accuracy"] == pytest.approx(4 / 6)
    assert r["per_type"]["PER"]["f1"] == 1.0
    assert r["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert r["per_type"]["ORG"]["precision"] == pytest.approx(0.5)
    assert r["per_type"]["ORG"]["recall"] == 1.0


def test_span_must_match_exactly():
    r = ner_report([["B-PER", "I-PER"]], [["B-PER", "O"]])
    assert r["f1"] == 0.0 and r["token_accuracy"] == 0.5


def test_repair_bio():
    assert repair_bio(["O", "I-PER", "I-PER", "I-LOC", "B-ORG", "I-ORG"]) == \
        ["O", "B-PER", "I-PER", "B-LOC", "B-ORG", "I-ORG"]


def test_viterbi_never_returns_invalid_bio():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    A = allowed_transitions(tags)
    # token-wise argmax would be O, I-PER, I-LOC: invalid twice
    logp = np.log(np.array([[0.6, 0.3, 0.05, 0.03, 0.02],
                            [0.1, 0.05, 0.6, 0.05, 0.2],
                            [0.1, 0.05, 0.2, 0.05, 0.6]]))
    path = [tags[i] for i in viterbi_bio(logp, A)]
    assert repair_bio(path) == path
    assert path == ["B-PER", "I-PER", "I-PER"] or path == ["O", "B-LOC", "I-LOC"]
    # brute force over all valid sequences agrees
    import itertools
    best = max((s for s in itertools.product(range(5), repeat=3)
                if repair_bio([tags[i] for i in s]) == [tags[i] for i in s]),
               key=lambda s: sum(logp[t, k] for t, k in enumerate(s)))
    assert [tags[i] for i in best] == path


def test_features():
    assert [case_class(w) for w in ["the", "Paris", "NASA", "eBay", "1984", ",", "A"]] == \
        [1, 2, 3, 4, 5, 6, 2]
    assert char_ngrams("ab", 2, 3) == ["<ab>", "<a", "ab", "b>", "<ab", "ab>"]
    assert fnv1a(b"") == 0x811C9DC5 and fnv1a(b"a") == 0xE40C292C


def test_read_conll(tmp_path):
    f = tmp_path / "x.conll"
    f.write_text("-DOCSTART- O\n\nen:John B-PER\nen:Smith\tI-PER\n\n\nen:Paris B-LOC\n")
    s, t = read_conll(f, strip_prefix="en:")
    assert s == [["John", "Smith"], ["Paris"]] and t == [["B-PER", "I-PER"], ["B-LOC"]]


def test_read_conll_bad_tag(tmp_path):
    f = tmp_path / "x.conll"
    f.write_text("John B-PER\nSmith PER\n")
    with pytest.raises(FormatError, match="line 2: tag 'PER' is not O, B-X or I-X"):
        read_conll(f)


def test_read_conll_empty(tmp_path):
    f = tmp_path / "x.conll"
    f.write_text("\n\n")
    with pytest.raises(FormatError, match="no sentences"):
        read_conll(f)


@pytest.fixture(scope="module")
def tagger():
    rng = np.random.default_rng(3)
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 800)
    Sd, Td = tagging_data(rng, 100)
    m = small_tagger(v, hidden=12, char_buckets=500, char_dim=8, case_dim=4, threads=1, seed=2)
    m.fit(S, T, Sd, Td, **small_fit(epochs=8, lr=5e-3, progress=False))
    return m, Sd, Td


def test_tiny_tagging_task(tagger):
    m, Sd, Td = tagger
    assert m.evaluate(Sd, Td)["f1"] == 1.0
    ents = m.entities(["mr", "Lee", "Zed", "in", "oslo"])
    assert [(e["type"], e["start"], e["end"]) for e in ents] == [("PER", 1, 3), ("LOC", 4, 5)]


def test_tagger_save_load(tagger, tmp_path):
    m, Sd, Td = tagger
    m.save(tmp_path / "ner")
    m2 = load_model(tmp_path / "ner")
    assert m2.predict(Sd) == m.predict(Sd)
    b = make_batch([m.featurizer.encode(s) for s in Sd[:8]], True)
    np.testing.assert_array_equal(m._logits(b)[0], m2._logits(b)[0])


def test_tagger_gradients_match_finite_differences(rng):
    v = tag_vectors(rng, dim=3)
    S, T = tagging_data(rng, 10)
    m = small_tagger(v, hidden=3, char_buckets=40, char_dim=2, case_dim=2, threads=1)
    m.fit(S, T, **small_fit(epochs=1, progress=False))
    to_float64(m)
    batch = make_batch([m.featurizer.encode(s) for s in S[:3]], True)
    ys = T[:3]
    _, sparse = m._loss_grad(batch, ys, None)
    grads = {k: g.copy() for k, g in m.grads.items()}
    for name, (rows, g) in sparse.items():
        full = np.zeros_like(m.params[name])
        full[rows] = g
        grads[name] = full

    def loss():
        return m._loss_grad(batch, ys, None)[0]

    for name, g in grads.items():
        a = m.params[name]
        idx = list(np.ndindex(a.shape))
        if name in sparse:  # check the touched rows, plus one untouched
            idx = [i for i in idx if g[i] != 0][:12] + [idx[-1]]
        check_gradient(loss, a, g, idx[::max(1, len(idx) // 12)], name)


def test_cli_ner(tagger, tmp_path, rng):
    m, Sd, Td = tagger
    _, f, S, T = write_ner_files(tmp_path, rng, 300, prefix="en:")
    r = CliRunner().invoke(cli, ["-q", "ner", "train", "--vectors", str(tmp_path / "vec.txt"),
                                 "--train", str(f), "--dev", str(f), "--strip-prefix", "en:",
                                 "--out", str(tmp_path / "m"), "--hidden", "8", "--epochs", "2",
                                 "--char-buckets", "200", "--threads", "1"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["ner", "evaluate", str(tmp_path / "m"), str(f),
                                 "--strip-prefix", "en:", "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert {"f1", "precision", "recall"} <= set(res)
    m.save(tmp_path / "good")
    r = CliRunner().invoke(cli, ["ner", "tag", str(tmp_path / "good"), "mr Lee Zed in oslo"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["PER\t1:3\tLee Zed", "LOC\t4:5\toslo"]


def test_cli_ner_bad_tag(tmp_path, rng):
    write_vectors(tmp_path / "vec.txt", tag_vectors(rng))
    f = tmp_path / "train"
    f.write_text("John B-PER\nSmith X-PER\n")
    r = CliRunner().invoke(cli, ["ner", "train", "--vectors", str(tmp_path / "vec.txt"),
                                 "--train", str(f), "--out", str(tmp_path / "m")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "is not O, B-X or I-X" in r.output


def test_committed_sample_conll():
    import pathlib
    f = pathlib.Path(__file__).parent / "data" / "downstream" / "sample.conll"
    s, t = read_conll(f, strip_prefix="en:")
    assert s[0] == ["Ada", "Lovelace", "lived", "in", "London", "."]
    assert [chunks(x) for x in t] == [[("PER", 0, 2), ("LOC", 4, 5)], [("ORG", 0, 3)]]
