"""Greedy, sampling and beam search on fixed toy models."""

import itertools
import math

import numpy as np
import pytest

from embedkit.errors import ParameterError
from embedkit.lm import decoding

EOS = 0


def _markov(V=4, seed=0):
    """A step function whose next-token distribution depends on the last token and the
    step number (carried in the state), so greedy, beam and exhaustive search differ."""
    rng = np.random.default_rng(seed)
    table = np.log(rng.dirichlet(np.full(V, 0.7), size=(8, V)))

    def step(tokens, state):
        (t,) = state
        logp = table[t[0] % 8 if t.ndim else t % 8][tokens]
        return logp, (t + 1,)

    return step, (np.zeros(1, dtype=np.int64),), table


def _exhaustive(table, first, max_len, alpha, V):
    """Every sequence: ended by EOS at any length <= max_len, or max_len tokens without EOS."""
    out = []
    for n in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=n):
            if EOS in seq[:-1] or (n < max_len and seq[-1] != EOS):
                continue
            lp, last = 0.0, first
            for i, tok in enumerate(seq):
                lp += table[i % 8][last][tok]
                last = tok
            out.append((lp / n ** alpha, list(seq)))
    out.sort(key=lambda x: -x[0])
    return out


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_wide_beam_equals_exhaustive_search(seed, alpha):
    V, max_len, first = 4, 4, 2
    step, state, table = _markov(V, seed)
    hyps = decoding.beam_search(step, state, first, EOS, max_len, beam=V ** max_len,
                                alpha=alpha)
    best = _exhaustive(table, first, max_len, alpha, V)
    assert hyps[0].tokens == best[0][1]
    assert hyps[0].score == pytest.approx(best[0][0], rel=1e-12)
    # and the whole ranking (every hypothesis of the search space)
    assert [round(h.score, 10) for h in hyps] == [round(s, 10) for s, _ in best]


@pytest.mark.parametrize("seed", range(5))
def test_beam_one_equals_greedy(seed):
    step, state, _ = _markov(5, seed)
    g = decoding.greedy(step, state, 1, EOS, 10)
    b = decoding.beam_search(step, state, 1, EOS, 10, beam=1)[0]
    assert g.tokens == b.tokens and g.logp == pytest.approx(b.logp, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_finished_hypotheses_end_at_the_end_token(seed):
    step, state, _ = _markov(5, seed)
    hyps = decoding.beam_search(step, state, 1, EOS, 6, beam=4)
    assert hyps
    for h in hyps:
        if h.finished:
            assert h.tokens[-1] == EOS and EOS not in h.tokens[:-1]
        else:
            assert EOS not in h.tokens and len(h.tokens) == 6


def _hand_model():
    """start -> </s> 0.5 | a 0.5;  a -> b 0.8 | </s> 0.2;  b -> </s> 0.8 | a 0.2
    (tokens: 0 = </s>, 1 = a, 2 = b, 3 = start)."""
    P = np.full((4, 3), 1e-300)
    P[3, [0, 1]] = 0.5
    P[1, [2, 0]] = [0.8, 0.2]
    P[2, [0, 1]] = [0.8, 0.2]
    logp = np.log(P)

    def step(tokens, state):
        return logp[tokens], state

    return step


def test_length_penalty_by_a_hand_worked_example():
    # candidates within 3 tokens:  "</s>"        log .5             = -0.6931, T = 1
    #                              "a </s>"      log .5 + log .2    = -2.3026, T = 2
    #                              "a b </s>"    log .5 + 2 log .8  = -1.1394, T = 3
    # alpha = 0: "</s>" wins (-0.693 > -1.139).  alpha = 1: "a b </s>" scores
    # -1.1394 / 3 = -0.3798, above -0.6931 / 1 and -2.3026 / 2 = -1.1513, so it wins.
    step = _hand_model()
    state = (np.zeros(1),)
    h0 = decoding.beam_search(step, state, 3, EOS, 3, beam=4, alpha=0.0)[0]
    assert h0.tokens == [0] and h0.score == pytest.approx(math.log(0.5))
    h1 = decoding.beam_search(step, state, 3, EOS, 3, beam=4, alpha=1.0)[0]
    assert h1.tokens == [1, 2, 0]
    assert h1.score == pytest.approx((math.log(0.5) + 2 * math.log(0.8)) / 3)
    assert h1.logp == pytest.approx(math.log(0.5) + 2 * math.log(0.8))


FIXED = np.log(np.array([0.05, 0.4, 0.1, 0.3, 0.15]))


def _fixed_step(tokens, state):
    return np.tile(FIXED, (len(tokens), 1)), state


def test_filter_distribution_top_k_and_top_p_values():
    p = decoding.filter_distribution(FIXED, top_k=2)
    np.testing.assert_allclose(p, [0, 0.4 / 0.7, 0, 0.3 / 0.7, 0])
    # nucleus 0.75: 0.4 + 0.3 = 0.7 < 0.75, so 0.15 joins; 0.1 and 0.05 are out
    p = decoding.filter_distribution(FIXED, top_p=0.75)
    np.testing.assert_allclose(p, [0, 0.4 / 0.85, 0, 0.3 / 0.85, 0.15 / 0.85])
    p = decoding.filter_distribution(FIXED, temperature=0.5)
    q = np.array([0.05, 0.4, 0.1, 0.3, 0.15]) ** 2
    np.testing.assert_allclose(p, q / q.sum())


@pytest.mark.parametrize("kw, allowed", [({"top_k": 2}, {1, 3}), ({"top_p": 0.75}, {1, 3, 4}),
                                         ({"top_k": 1}, {1}), ({"top_p": 0.3}, {1})])
def test_sampling_never_emits_an_excluded_token(kw, allowed):
    rng = np.random.default_rng(0)
    h = decoding.sample(_fixed_step, (), 0, None, 3000, rng, **kw)
    assert set(h.tokens) == allowed


def test_sampling_follows_the_distribution():
    rng = np.random.default_rng(1)
    h = decoding.sample(_fixed_step, (), 0, None, 20000, rng)
    freq = np.bincount(h.tokens, minlength=5) / 20000
    np.testing.assert_allclose(freq, np.exp(FIXED), atol=0.015)


def test_sampling_is_reproducible():
    a = decoding.sample(_fixed_step, (), 0, None, 50, np.random.default_rng(4))
    b = decoding.sample(_fixed_step, (), 0, None, 50, np.random.default_rng(4))
    assert a.tokens == b.tokens


@pytest.mark.parametrize("kw, match", [({"temperature": 0}, "temperature"),
                                       ({"top_p": 0.0}, "top-p"), ({"top_p": 1.01}, "top-p"),
                                       ({"top_k": 0}, "top-k")])
def test_bad_sampling_options(kw, match):
    with pytest.raises(ParameterError, match=match):
        decoding.sample(_fixed_step, (), 0, None, 5, np.random.default_rng(0), **kw)


def test_beam_zero_is_a_parameter_error():
    with pytest.raises(ParameterError, match="beam"):
        decoding.beam_search(_fixed_step, (), 0, None, 5, beam=0)
