"""The encoder-decoder with attention: gradients, decoding, persistence, the dates task."""

import json

import numpy as np
import pytest

from embedkit.errors import FormatError, ParameterError
from embedkit.seq2seq import Seq2Seq, Vocab, dates_task, evaluate, read_pairs, train_seq2seq
from embedkit.seq2seq.dates import date_pairs
from gradcheck import check_gradient, spread


def _tiny(seed=0):
    sv = Vocab(["<pad>", "<unk>", "<s>", "</s>", "a", "b", "c"])
    tv = Vocab(["<pad>", "<unk>", "<s>", "</s>", "x", "y"])
    m = Seq2Seq.create(sv, tv, seed=seed, emb=3, hidden=3, dec_hidden=4, attention=3,
                       max_len=6).astype(np.float64)
    rng = np.random.default_rng(seed + 1)
    for v in m.params.values():
        v += rng.normal(0, 0.3, v.shape)
    return m


def test_attention_decoder_gradients_match_central_differences():
    m = _tiny()
    # different source and target lengths: padding and masks are exercised
    pairs = [([4, 5, 6, 4], [4, 5, 5]), ([6, 5], [5]), ([5, 4, 4], [4, 4, 5, 4])]
    _, grads = m.batch_loss_and_grad(pairs)
    assert set(grads) == set(m.params)

    def f():
        return m.batch_loss_and_grad(pairs)[0]

    for name, p in m.params.items():
        check_gradient(f, p, grads[name], spread(p.shape, 10), name=name)


def test_attention_weights_are_a_distribution_over_the_real_source():
    m = _tiny()
    src, out, w = m.attention_weights("abc", ["x", "y"])
    assert w.shape == (3, 3) and out == ["x", "y", "</s>"]
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert (w > 0).all()


def test_beam_one_equals_greedy_and_batch_greedy():
    m = _tiny()
    texts = ["abc", "ca", "bbbb"]
    g = m.translate(texts)
    b = m.translate(texts, beam=1)
    batch = m.greedy_batch(m.encode_source(texts))
    beam1 = [m.translate([t], beam=1)[0]["tokens"] for t in texts]
    assert g == b
    assert [[m.tgt_vocab.tokens[i] for i in o] for o in batch] == beam1


def test_beam_output_is_at_least_as_likely_as_greedy():
    m = _tiny(seed=3)
    for t in ["abc", "cab", "a"]:
        g = m.translate([t])[0]
        b = m.translate([t], beam=8)[0]
        if g["finished"] and b["finished"]:
            assert b["logprob"] >= g["logprob"] - 1e-12


def test_save_load_round_trip_and_kind_check(tmp_path):
    m = _tiny().astype(np.float32)
    m.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "model.json").read_text())["kind"] == "seq2seq"
    m2 = Seq2Seq.load(tmp_path / "m")
    assert m2.translate(["abc"]) == m.translate(["abc"])
    d = tmp_path / "lm"
    d.mkdir()
    (d / "model.json").write_text(json.dumps({"kind": "lm"}))
    np.savez(d / "weights.npz", x=np.zeros(1))
    with pytest.raises(FormatError, match="not a 'seq2seq' model"):
        Seq2Seq.load(d)


@pytest.mark.parametrize("text, message", [
    ("\n", "empty line"), ("no tab here\n", "2 tab-separated"), ("a\tb\tc\n", "found 3"),
    ("\tb\n", "source is empty"), ("a\t \n", "target is empty")])
def test_malformed_tsv_lines_are_format_errors(tmp_path, text, message):
    p = tmp_path / "bad.tsv"
    p.write_text("x\ty\n" + text)
    with pytest.raises(FormatError, match=message):
        read_pairs(p)


def test_dates_task_is_fixed_and_disjoint():
    a, b = dates_task(), dates_task()
    assert a == b
    assert {k: len(v) for k, v in a.items()} == {"train": 20000, "dev": 1000, "test": 2000}
    train = {s for s, _ in a["train"]}
    assert not train & {s for s, _ in a["dev"]} and not train & {s for s, _ in a["test"]}


def test_dates_formats_by_hand():
    import datetime
    from embedkit.seq2seq.dates import _formats
    forms = _formats(datetime.date(1979, 5, 3))  # a Thursday
    assert "Thursday, 3 May 1979" in forms and "5/3/79" in forms and "3.5.1979" in forms
    assert "the 3rd of May, 1979" in forms and "03-May-79" in forms


def test_date_pairs_weekdays_match_the_date():
    import datetime
    from embedkit.seq2seq.dates import DAYS
    checked = 0
    for src, iso in date_pairs(400, 7):
        first = src.split()[0].rstrip(",").lower()
        named = [i for i, d in enumerate(DAYS) if first in (d.lower(), d[:3].lower())]
        if named:
            assert named[0] == datetime.date.fromisoformat(iso).weekday(), src
            checked += 1
    assert checked > 20


def test_training_learns_a_copy_task():
    rng = np.random.default_rng(0)
    pairs = ["".join(rng.choice(list("abcd"), size=rng.integers(2, 6))) for _ in range(400)]
    pairs = [(s, s[::-1]) for s in pairs]
    m = train_seq2seq(pairs[:350], pairs[350:], emb=12, hidden=24, dec_hidden=32, attention=16,
                      epochs=12, batch_size=16, lr=0.01, patience=12, progress=False)
    res = evaluate(m, pairs[350:])
    assert res["exact_match"] > 0.8 and res["bleu"] > 80


def test_empty_source_is_a_parameter_error():
    with pytest.raises(ParameterError, match="no tokens"):
        _tiny().translate([""])


def test_beam_zero_is_a_parameter_error():
    with pytest.raises(ParameterError, match="beam"):
        _tiny().translate(["abc"], beam=0)
