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


def _counting(step):
    calls = [0]

    def counted(tokens, state):
        calls[0] += 1
        return step(tokens, state)

    return counted, calls


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
@pytest.mark.parametrize("beam", [1, 2, 3])
def test_early_stop_keeps_the_first_beam_hypotheses(seed, alpha, beam):
    # stopping once no live hypothesis can reach the beam-th best finished score changes
    # none of the first `beam` results of the search run to the end
    step, state, _ = _markov(6, seed)
    counted, calls = _counting(step)
    early = decoding.beam_search(counted, state, 1, EOS, 12, beam=beam, alpha=alpha)
    n_early = calls[0]
    full = decoding.beam_search(counted, state, 1, EOS, 12, beam=beam, alpha=alpha,
                                early_stop=False)
    assert n_early <= calls[0] - n_early
    top = min(beam, len(full))
    assert [h.tokens for h in early[:top]] == [h.tokens for h in full[:top]]
    assert [h.score for h in early[:top]] == pytest.approx([h.score for h in full[:top]])


def test_early_stop_saves_steps_once_the_best_have_finished():
    # the end token has probability .6 after every token, the two others .2 each; beam 2:
    # step 1 keeps "</s>" (.6, finished) and "1" (.2); step 2 keeps "1 </s>" (.12,
    # finished) and "1 1" (.04), which can only fall further, below the second finished
    # score: the search stops after 2 steps instead of 50
    P = np.full((3, 3), 0.2)
    P[:, EOS] = 0.6
    logp = np.log(P)
    counted, calls = _counting(lambda tokens, state: (logp[tokens], state))
    hyps = decoding.beam_search(counted, (np.zeros(1),), 1, EOS, 50, beam=2)
    assert [h.tokens for h in hyps] == [[EOS], [1, EOS]] and calls[0] == 2
    assert hyps[1].logp == pytest.approx(math.log(0.12))
    calls[0] = 0
    full = decoding.beam_search(counted, (np.zeros(1),), 1, EOS, 50, beam=2, early_stop=False)
    assert calls[0] == 50 and [h.tokens for h in full[:2]] == [[EOS], [1, EOS]]


def test_nucleus_of_a_wide_distribution_equals_a_full_sort():
    # nucleus sizes beyond the first partitioned prefix (256 tokens), ties included
    rng = np.random.default_rng(3)
    for V, top_p, temperature in [(5000, 0.9, 1.0), (3000, 0.5, 2.0), (800, 0.999, 0.7)]:
        lp = np.round(rng.normal(size=V), 2)  # many ties
        lp[7] = -np.inf
        z = lp / temperature
        order = np.argsort(-z, kind="stable")[:V - 1]
        p = np.exp(z[order] - z[order[0]])
        p /= p.sum()
        n = int(np.searchsorted(np.cumsum(p), top_p, side="left")) + 1
        want = np.zeros(V)
        want[order[:n]] = p[:n] / p[:n].sum()
        got = decoding.filter_distribution(lp, temperature, top_p=top_p)
        assert n > 256
        np.testing.assert_array_equal(got > 0, want > 0)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


def test_sampling_with_every_token_banned_is_a_parameter_error():
    with pytest.raises(ParameterError, match="every token is banned"):
        decoding.filter_distribution(np.full(4, -np.inf))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K", [1, 5])
def test_step_log_softmax_kernel_equals_numpy(dtype, K):
    from embedkit._kernels.softmax import output_log_softmax

    rng = np.random.default_rng(K)
    x = rng.normal(size=(K, 16)).astype(dtype)
    W = rng.normal(size=(300, 16)).astype(dtype)
    b = rng.normal(size=300).astype(dtype)
    out = np.empty((K, 300))
    output_log_softmax(x, W, b, out)
    lg = x.astype(np.float64) @ W.T.astype(np.float64) + b
    want = lg - lg.max(1, keepdims=True)
    want -= np.log(np.exp(want).sum(1, keepdims=True))
    np.testing.assert_allclose(out, want, atol=1e-5 if dtype == np.float32 else 1e-12)
