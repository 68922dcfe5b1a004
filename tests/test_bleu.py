"""BLEU: sacrebleu's published expectations, and agreement with sacrebleu itself to 1e-9."""

import json
import random

import pytest
from click.testing import CliRunner

from embedkit.cli.main import cli
from embedkit.errors import ParameterError
from embedkit.metrics import bleu, corpus_bleu, sentence_bleu, tokenize_bleu

# sacrebleu's own test cases (test/test_bleu.py, test/test_sentence_bleu.py): inputs and
# the scores its authors published for them
REFS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]
HYPS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]

PUBLISHED_CORPUS = [
    (HYPS, {}, 48.530827),
    (("", "", ""), {}, 0.0),
    (HYPS, {"tokenize": "none"}, 49.1919566),
    (HYPS, {"tokenize": "13a"}, 48.530827),
    (HYPS, {"smooth_method": "none"}, 48.530827),
]

SENT_REF = "producţia de zahăr brut se exprimă în zahăr alb;"
SENT_SYS = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
PUBLISHED_SENTENCE = [
    ("exp", None, False, "13a", 8.493),
    ("none", None, False, "13a", 0.0),
    ("floor", None, False, "13a", 4.51688),
    ("floor", 0.1, False, "13a", 4.51688),
    ("floor", 0.5, False, "13a", 10.10),
    ("add-k", None, False, "13a", 14.882),
    ("add-k", 1, False, "13a", 14.882),
    ("add-k", 2, False, "13a", 21.389),
    ("exp", None, False, "none", 7.347),
    ("exp", None, False, "char", 40.8759),
    ("exp", None, True, "char", 42.0267),
]


@pytest.mark.parametrize("hyps, kwargs, expected", PUBLISHED_CORPUS)
def test_published_corpus_scores(hyps, kwargs, expected):
    assert abs(corpus_bleu(list(hyps), REFS, **kwargs).score - expected) < 1e-6


@pytest.mark.parametrize("method, value, lowercase, tok, expected", PUBLISHED_SENTENCE)
def test_published_sentence_scores(method, value, lowercase, tok, expected):
    got = sentence_bleu(SENT_SYS, [SENT_REF], smooth_method=method, smooth_value=value,
                        tokenize=tok, lowercase=lowercase).score
    assert abs(got - expected) < 1e-3


@pytest.mark.parametrize("method", ["exp", "none", "floor", "add-k"])
def test_no_match_at_all_scores_zero(method):
    assert sentence_bleu("this is a cat", ["okay thanks"], smooth_method=method).score == 0.0


def test_published_statistics():
    s = corpus_bleu(["am I am a character sequence"], [["I am a symbol string sequence a a"]],
                    smooth_method="floor", smooth_value=0.01)
    assert (s.counts, s.totals) == ([4, 2, 1, 0], [6, 5, 4, 3])


def test_published_scoring_from_statistics():
    assert abs(bleu([9, 7, 5, 3], [10, 8, 6, 4], 11, 11, "none").score / 100
               - 0.8375922397) < 1e-8


@pytest.mark.parametrize("hyp, ref, expected", [
    ("test", "a test", 0.3678794411714425), ("a test", "a test", 1.0),
    ("a little test", "a test", 0.03218297948685433)])
def test_published_effective_order(hyp, ref, expected):
    s = corpus_bleu([hyp], [[ref]], smooth_method="floor", smooth_value=0.01,
                    tokenize="none", effective_order=True)
    assert abs(s.score / 100 - expected) < 1e-8


@pytest.mark.parametrize("stats, value", [
    (([0, 0, 0, 0], [4, 4, 2, 1], 0, 1), 0.0), (([0, 0, 0, 0], [10, 11, 12, 0], 14, 10), 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 0, 0), 0.0), (([6, 5, 4, 0], [6, 5, 4, 3], 6, 6), 0.0),
    (([0, 0, 0, 0], [0, 0, 0, 0], 1, 5), 0.01)])
def test_published_degenerate_statistics(stats, value):
    assert bleu(*stats, smooth_method="floor", smooth_value=value).score == 0.0


def test_brevity_penalty_by_hand():
    # 4 hypothesis words, all n-grams match, reference of 6 words: BP = exp(1 - 6/4)
    import math
    s = corpus_bleu(["a b c d"], [["a b c d e f"]], tokenize="none")
    assert s.bp == pytest.approx(math.exp(1 - 6 / 4))
    assert s.score == pytest.approx(100 * math.exp(1 - 6 / 4))


def test_clipping_uses_the_maximum_over_references():
    # 'the' x3 in the hypothesis; refs have it 1x and 2x -> 2 matched unigrams
    s = corpus_bleu(["the the the"], [["the cat"], ["the the dog"]], tokenize="none")
    assert s.counts[0] == 2


def test_closest_reference_length_prefers_the_shorter_on_ties():
    s = corpus_bleu(["a b c d"], [["a b c"], ["a b c d e"]], tokenize="none")
    assert s.ref_len == 3


def _random_corpus(rng, n, vocab):
    def sent():
        return " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 12)))
    return [sent() for _ in range(n)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("method", ["exp", "none", "floor", "add-k"])
@pytest.mark.parametrize("tok", ["13a", "none", "char"])
def test_identical_to_sacrebleu(seed, method, tok):
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = random.Random(seed)
    vocab = ["the", "cat", "sat", "on", "mat", "a", "dog", "It's", "end.", "3.5", "x-1", ",",
             "Hello", "&amp;", "(ok)"]
    hyps = _random_corpus(rng, 30, vocab)
    refs = [_random_corpus(rng, 30, vocab) for _ in range(1 + seed % 3)]
    for eff in (False, True):
        for lc in (False, True):
            ours = corpus_bleu(hyps, refs, smooth_method=method, tokenize=tok, lowercase=lc,
                               effective_order=eff).score
            theirs = sacrebleu.corpus_bleu(hyps, refs, smooth_method=method, tokenize=tok,
                                           lowercase=lc, use_effective_order=eff).score
            assert abs(ours - theirs) < 1e-9
        one = sentence_bleu(hyps[0], [r[0] for r in refs], smooth_method=method, tokenize=tok)
        assert abs(one.score - sacrebleu.sentence_bleu(
            hyps[0], [r[0] for r in refs], smooth_method=method, tokenize=tok).score) < 1e-9


def test_13a_tokens():
    # the apostrophe stays, a decimal point stays, entities are decoded
    assert tokenize_bleu("It's 3.5 km, (roughly)&quot;.") == [
        "It's", "3.5", "km", ",", "(", "roughly", ")", '"', "."]


def test_unknown_smoothing_is_a_parameter_error():
    with pytest.raises(ParameterError, match="smooth_method"):
        corpus_bleu(["a"], [["a"]], smooth_method="laplace")


def test_unknown_tokenizer_is_a_parameter_error():
    with pytest.raises(ParameterError, match="tokenize"):
        corpus_bleu(["a"], [["a"]], tokenize="moses")


def test_reference_count_mismatch_is_a_parameter_error():
    with pytest.raises(ParameterError, match="match line by line"):
        corpus_bleu(["a", "b"], [["a"]])


def test_cli_bleu_json_and_text(tmp_path):
    hyp, ref1, ref2 = tmp_path / "h.txt", tmp_path / "r1.txt", tmp_path / "r2.txt"
    hyp.write_text("\n".join(HYPS) + "\n", encoding="utf-8")
    ref1.write_text("\n".join(REFS[0]) + "\n", encoding="utf-8")
    ref2.write_text("\n".join(REFS[1]) + "\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["bleu", str(hyp), str(ref1), str(ref2), "--json"])
    assert r.exit_code == 0, r.output
    assert abs(json.loads(r.output)["bleu"] - 48.530827) < 1e-6
    r = CliRunner().invoke(cli, ["bleu", str(hyp), str(ref1), str(ref2), "--sentence"])
    assert r.exit_code == 0 and r.output.startswith("1\t") and "BLEU = 48.53" in r.output


def test_cli_bleu_line_count_mismatch_is_one_clear_error(tmp_path):
    hyp, ref = tmp_path / "h.txt", tmp_path / "r.txt"
    hyp.write_text("a\nb\n", encoding="utf-8")
    ref.write_text("a\n", encoding="utf-8")
    r = CliRunner().invoke(cli, ["bleu", str(hyp), str(ref)])
    assert r.exit_code == 1 and "line by line" in r.output and "Traceback" not in r.output


# Non-ASCII text: accents, CJK, Greek, typographic and full-width punctuation, a no-break
# space, an emoji.  mteval-v13a splits off ASCII punctuation only, so "。", "…", "«" and
# unsegmented CJK stay inside their tokens.
UNICODE_HYPS = ["Le café était très chaud, n'est-ce pas?",
                "Él llegó a las 10.30 — ¡qué sorpresa!",
                "東京は日本の首都です。",
                "Die Straße ist 3,5 km lang…",
                "«Bonjour», dit-elle\u00a0: ça va?",
                "我喜欢吃苹果，也喜欢香蕉。",
                "Ελληνικά: η γάτα (κάθεται) στο χαλί!",
                "naïve résumé — coöperate 😀 ok"]
UNICODE_REFS = [["Le café était très chaud, n'est-il pas?",
                 "Il est arrivé à 10.30 — quelle surprise !",
                 "東京は 日本の 首都 です 。",
                 "Die Straße ist 3,5 km lang...",
                 "« Bonjour », dit-elle : ça va ?",
                 "我 喜欢 吃 苹果 ， 也 喜欢 香蕉 。",
                 "Ελληνικά: η γάτα κάθεται στο χαλί!",
                 "naive résumé - cooperate 😀 ok"]]

# computed with sacrebleu 2.6.0 (sacrebleu.corpus_bleu / sentence_bleu on the lines above,
# default exp smoothing): score, counts, totals, sys_len, ref_len
SACREBLEU_2_6_0_UNICODE_CORPUS = {
    "13a": (33.88582052815409, [33, 22, 14, 9], [49, 41, 35, 29], 49, 64),
    "char": (78.37309227163031, [172, 148, 130, 116], [188, 180, 172, 164], 188, 191),
    "none": (24.31319306320941, [24, 15, 8, 4], [40, 32, 26, 20], 40, 56),
}
SACREBLEU_2_6_0_UNICODE_SENTENCE_13A = {0: 66.06328636027612, 1: 10.552670315936318,
                                        2: 0.0, 4: 60.80253214198355, 5: 0.0}


@pytest.mark.parametrize("tok", sorted(SACREBLEU_2_6_0_UNICODE_CORPUS))
def test_unicode_corpus_scores_computed_by_sacrebleu(tok):
    score, counts, totals, sys_len, ref_len = SACREBLEU_2_6_0_UNICODE_CORPUS[tok]
    got = corpus_bleu(UNICODE_HYPS, UNICODE_REFS, tokenize=tok)
    assert abs(got.score - score) < 1e-9
    assert (list(got.counts), list(got.totals), got.sys_len, got.ref_len) == (
        counts, totals, sys_len, ref_len)


@pytest.mark.parametrize("i", sorted(SACREBLEU_2_6_0_UNICODE_SENTENCE_13A))
def test_unicode_sentence_scores_computed_by_sacrebleu(i):
    got = sentence_bleu(UNICODE_HYPS[i], [UNICODE_REFS[0][i]]).score
    assert abs(got - SACREBLEU_2_6_0_UNICODE_SENTENCE_13A[i]) < 1e-9


def test_13a_tokens_of_non_ascii_text():
    # the tokens sacrebleu 2.6.0's 13a tokenizer gives for these lines
    assert tokenize_bleu(UNICODE_HYPS[1]) == ["Él", "llegó", "a", "las", "10.30", "—",
                                              "¡qué", "sorpresa", "!"]
    assert tokenize_bleu(UNICODE_HYPS[2]) == ["東京は日本の首都です。"]
    assert tokenize_bleu(UNICODE_HYPS[4]) == ["«Bonjour»", ",", "dit-elle", ":", "ça", "va",
                                              "?"]
    assert tokenize_bleu(UNICODE_HYPS[3]) == ["Die", "Straße", "ist", "3,5", "km", "lang…"]


@pytest.mark.parametrize("tok", ["13a", "char", "none"])
@pytest.mark.parametrize("lc", [False, True])
def test_unicode_identical_to_installed_sacrebleu(tok, lc):
    sacrebleu = pytest.importorskip("sacrebleu")
    from sacrebleu.metrics import BLEU

    ref_tok = BLEU(tokenize=tok, lowercase=lc)
    for line in UNICODE_HYPS + UNICODE_REFS[0] + ["İSTANBUL ΣΟΦΙΑΣ\u3000ﬁx e\u0301"]:
        assert tokenize_bleu(line, tok, lc) == ref_tok._preprocess_segment(line).split()
    ours = corpus_bleu(UNICODE_HYPS, UNICODE_REFS, tokenize=tok, lowercase=lc).score
    theirs = sacrebleu.corpus_bleu(UNICODE_HYPS, UNICODE_REFS, tokenize=tok,
                                   lowercase=lc).score
    assert abs(ours - theirs) < 1e-9
    for h, r in zip(UNICODE_HYPS, UNICODE_REFS[0]):
        assert abs(sentence_bleu(h, [r], tokenize=tok, lowercase=lc).score
                   - sacrebleu.sentence_bleu(h, [r], tokenize=tok, lowercase=lc).score) < 1e-9
