"""word2vec kernels against a float64 reference whose gradients are finite differences."""

import numpy as np
import pytest

from embedkit._kernels import word2vec as K
from embedkit._kernels.hot_rows import hot_block_base, hot_load
from embedkit.training._common import rng_states
from gradcheck import numeric_gradient


def _logsig(x):
    return -np.logaddexp(0.0, -x)


def _numgrad(f, arrays, eps=1e-6):
    """Central differences of scalar ``f()`` w.r.t. every entry of each array (float64)."""
    return [numeric_gradient(f, a, eps) for a in arrays]


# CBOW's table holds sigmoid(left edge) per cell, as word2vec.c's: its -log(sigmoid) is off by
# at most the cell width per (window, output) pair
_CBOW_LOSS_TOL = 2 * K.MAX_EXP / K.CBOW_TABLE["size"]


def _setup(V=4, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    w_in = (rng.standard_normal((V, dim)) * 0.3).astype(np.float32)
    w_out = (rng.standard_normal((V, dim)) * 0.3).astype(np.float32)
    return w_in, w_out


def _only_noise_word(V, word):
    p = np.zeros(V)
    p[word] = 1.0
    return K.build_alias(p)


def _run(kernel, sentence, w_in, w_out, negative, noise_word, lr=0.05):
    V = w_in.shape[0]
    ids = np.array(sentence, np.int32)
    offsets = np.array([0, len(ids)], np.int64)
    keep = np.ones(V, np.float32)
    ap, ai = _only_noise_word(V, noise_word)
    sig, nls = K.make_tables() if kernel is K.sgns_job else K.make_tables(**K.CBOW_TABLE)
    states = rng_states(7, 1)
    # alpha == min_alpha: a constant learning rate
    return kernel(ids, offsets, 0, 1, w_in, w_out, keep, ap, ai, 1, negative, lr, lr, 0,
                  len(ids), states, 0, sig, nls, 0, 0, 1)


def test_sgns_update_matches_finite_difference_gradient():
    w_in, w_out = _setup()
    sentence, negative, noise, lr = [0, 1, 2], 2, 3, 0.05
    ref_in, ref_out = w_in.astype(np.float64), w_out.astype(np.float64)
    ref_loss = 0.0
    # window 1 (the reduced window is always 1): centre c predicts from its neighbours;
    # the same negatives (noise word drawn `negative` times) are shared by the window.
    for pos, centre in enumerate(sentence):
        ctx = [sentence[c] for c in (pos - 1, pos + 1) if 0 <= c < len(sentence)]
        outs = [centre] + [noise] * negative
        rows_in = ref_in[ctx].copy()
        rows_out = ref_out[outs].copy()

        def loss():
            scores = rows_in @ rows_out.T
            return -(_logsig(scores[:, 0]).sum() + _logsig(-scores[:, 1:]).sum())

        ref_loss += loss()
        g_in, g_out = _numgrad(loss, [rows_in, rows_out])
        for k, r in enumerate(ctx):
            ref_in[r] -= lr * g_in[k]
        for k, r in enumerate(outs):
            ref_out[r] -= lr * g_out[k]
    tokens, loss_sum, n = _run(K.sgns_job, sentence, w_in, w_out, negative, noise, lr)
    assert tokens == 3 and n == 4  # pairs: (0<-1), (1<-0), (1<-2), (2<-1)
    # the tabulated sigmoid is within 1e-3 of the exact one
    np.testing.assert_allclose(w_in, ref_in, atol=2e-4)
    np.testing.assert_allclose(w_out, ref_out, atol=2e-4)
    assert loss_sum == pytest.approx(ref_loss, rel=2e-3)
    assert not np.allclose(w_out[noise], 0)  # the negatives really were updated


def test_cbow_update_matches_finite_difference_gradient():
    w_in, w_out = _setup(seed=1)
    sentence, negative, noise, lr = [0, 1, 2], 1, 3, 0.05
    ref_in, ref_out = w_in.astype(np.float64), w_out.astype(np.float64)
    ref_loss = 0.0
    for pos, centre in enumerate(sentence):
        ctx = [sentence[c] for c in (pos - 1, pos + 1) if 0 <= c < len(sentence)]
        h = ref_in[ctx].mean(axis=0)
        for j, (o, label) in enumerate([(centre, 1)] + [(noise, 0)] * negative):
            hv = h.copy()
            row = ref_out[o].copy()

            def loss():
                f = hv @ row
                return -_logsig(f) if label else -_logsig(-f)

            ref_loss += loss()
            g_h, g_row = _numgrad(loss, [hv, row])
            if j == 0:
                err = -lr * g_h
            else:
                err += -lr * g_h
            ref_out[o] -= lr * g_row
        for r in ctx:  # word2vec.c adds the hidden-layer error unscaled to each context row
            ref_in[r] += err
    tokens, loss_sum, n = _run(K.cbow_job, sentence, w_in, w_out, negative, noise, lr)
    assert tokens == 3 and n == 3
    np.testing.assert_allclose(w_in, ref_in, atol=2e-4)
    np.testing.assert_allclose(w_out, ref_out, atol=2e-4)
    assert loss_sum == pytest.approx(ref_loss, abs=n * (1 + negative) * _CBOW_LOSS_TOL)


def test_cbow_window_gradients_come_from_the_weights_before_its_update():
    # negative 2 with one noise word: every window draws it twice; both draws are scored,
    # and the error computed, from the output rows as they were before the window
    w_in, w_out = _setup(seed=2)
    sentence, negative, noise, lr = [0, 1, 2], 2, 3, 0.05
    ref_in, ref_out = w_in.astype(np.float64), w_out.astype(np.float64)
    ref_loss = 0.0
    for pos, centre in enumerate(sentence):
        ctx = [sentence[c] for c in (pos - 1, pos + 1) if 0 <= c < len(sentence)]
        outs = [centre] + [noise] * negative
        h = ref_in[ctx].mean(axis=0)
        rows_out = ref_out[outs].copy()

        def loss():
            f = rows_out @ h
            return -(_logsig(f[0]) + _logsig(-f[1:]).sum())

        ref_loss += loss()
        g_h, g_out = _numgrad(loss, [h, rows_out])
        for k, r in enumerate(outs):
            ref_out[r] -= lr * g_out[k]
        for r in ctx:
            ref_in[r] -= lr * g_h
    tokens, loss_sum, n = _run(K.cbow_job, sentence, w_in, w_out, negative, noise, lr)
    assert tokens == 3 and n == 3
    np.testing.assert_allclose(w_in, ref_in, atol=2e-4)
    np.testing.assert_allclose(w_out, ref_out, atol=2e-4)
    assert loss_sum == pytest.approx(ref_loss, abs=n * (1 + negative) * _CBOW_LOSS_TOL)


def test_sgns_skips_a_negative_equal_to_the_target():
    w_in, w_out = _setup()
    # the only noise word is 1, which is also a centre word: it must not be pushed down there
    before_in, before_out = w_in.copy(), w_out.copy()
    _, _, n = _run(K.sgns_job, [1, 1], w_in, w_out, 3, 1)
    assert n == 2
    # positive-only updates: the score of (1, 1) goes up
    assert w_in[1] @ w_out[1] > before_in[1] @ before_out[1]


def test_alias_table_reproduces_the_distribution():
    p = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
    prob, alias = K.build_alias(p)
    # implied probability of each outcome
    n = len(p)
    implied = prob / n
    for i in range(n):
        implied[alias[i]] += (1 - prob[i]) / n
    np.testing.assert_allclose(implied, p, atol=1e-6)


def test_tables_are_sigmoid_and_loss():
    sig, nls = K.make_tables(size=8, max_exp=4.0)
    x = (np.arange(8) + 0.5) / 8 * 8 - 4
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nls, -np.log(1 / (1 + np.exp(-x))), rtol=1e-5)


def test_left_edge_tables_are_word2vec_c_exp_table():
    sig, nls = K.make_tables(size=8, max_exp=4.0, at="left")
    x = np.arange(8) / 8 * 8 - 4
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nls, -np.log(1 / (1 + np.exp(-x))), rtol=1e-5)


def test_cbow_leaves_an_output_with_a_score_outside_the_table_alone():
    # gensim's rule: the noise word scores >= MAX_EXP against the hidden vector, so neither its
    # row nor the error changes (word2vec.c would push it down with the whole learning rate)
    dim = 4
    w_in = np.full((4, dim), 2.0, np.float32)
    w_out = np.zeros((4, dim), np.float32)
    w_out[3] = 1.0  # score 8 against every hidden vector
    before = w_out[3].copy()
    _run(K.cbow_job, [0, 1], w_in, w_out, 1, 3, 0.05)
    np.testing.assert_array_equal(w_out[3], before)
    assert not np.allclose(w_out[0], 0) and not np.allclose(w_out[1], 0)  # targets moved


# -- thread-private rows of the most frequent words (kernels' ``hot``) --------------------

def _corpus_job(kernel, w_in, w_out, hot, sync_every, thread=0, seed=3):
    """One job over 40 random sentences of a 12-word vocabulary with subsampling, window 3,
    negative 4; ``w_in``/``w_out`` hold the vocabulary's rows then the threads' blocks."""
    V = 12
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 15, 40)
    ids = rng.integers(0, V, int(lengths.sum())).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    keep = np.linspace(0.6, 1.0, V).astype(np.float32)
    ap, ai = K.build_alias(np.linspace(2.0, 1.0, V) / np.linspace(2.0, 1.0, V).sum())
    sig, nls = K.make_tables() if kernel is K.sgns_job else K.make_tables(**K.CBOW_TABLE)
    states = rng_states(11, thread + 1)
    base = hot_block_base(V, hot, thread)
    hot_load(w_in, hot, base)  # the thread's copies start as the shared rows
    hot_load(w_out, hot, base)
    return kernel(ids, offsets, 0, len(lengths), w_in, w_out, keep, ap, ai, 3, 4, 0.05, 0.05,
                  0, len(ids), states, thread, sig, nls, hot, min(hot, 2), sync_every)


def _with_blocks(w, rows):
    out = np.full((w.shape[0] + rows, w.shape[1]), np.nan, np.float32)
    out[: w.shape[0]] = w
    return out


@pytest.mark.parametrize("kernel", [K.sgns_job, K.cbow_job])
@pytest.mark.parametrize("sync_every", [1, 7, 1 << 30])
def test_private_hot_rows_reach_the_shared_rows(kernel, sync_every):
    # one thread alone: its private copies' changes, added to the shared rows, are what plain
    # Hogwild writes there, up to the rounding of (shared + (copy - snapshot))
    w_in, w_out = _setup(V=12, dim=20)
    x_in, x_out = _with_blocks(w_in, 2 * 5), _with_blocks(w_out, 2 * 5)
    private = _corpus_job(kernel, x_in, x_out, 5, sync_every)
    w_in_p, w_out_p = w_in.copy(), w_out.copy()
    plain = _corpus_job(kernel, w_in_p, w_out_p, 0, 1)
    assert private[0] == plain[0] and private[2] == plain[2]
    assert not np.allclose(w_in_p[:5], w_in[:5])  # the job did change the hot rows
    np.testing.assert_allclose(x_in[:12], w_in_p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x_out[:12], w_out_p, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kernel", [K.sgns_job, K.cbow_job])
def test_a_thread_writes_only_its_own_block_of_private_rows(kernel):
    w_in, w_out = _setup(V=12, dim=20)
    x_in, x_out = _with_blocks(w_in, 2 * 2 * 5), _with_blocks(w_out, 2 * 2 * 5)
    _corpus_job(kernel, x_in, x_out, 5, 7, thread=1)
    # thread 1's block is rows 12 + 10 to 12 + 20; thread 0's (NaN here) is left alone
    assert np.isnan(x_in[12:22]).all() and np.isnan(x_out[12:22]).all()
    assert np.isfinite(x_in[22:]).all() and np.isfinite(x_out[22:]).all()
    assert np.isfinite(x_in[:12]).all() and np.isfinite(x_out[:12]).all()
