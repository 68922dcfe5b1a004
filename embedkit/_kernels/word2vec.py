"""Numba kernels for skip-gram and CBOW with negative sampling (word2vec).

Every kernel processes one *job* (a range of sentences of the encoded corpus), updates the
two weight matrices in place without the GIL (Hogwild), advances the calling thread's RNG
state and returns ``(tokens, loss_sum, n_examples)`` with the loss summed in float64.

Faithful to word2vec.c: frequent-word subsampling with the given keep probabilities, a
random reduced window ``b`` in ``1..window`` per position, negatives from the unigram^0.75
distribution (drawn here in O(1) from an alias table), linear learning-rate decay over the
whole run (per sentence, from its position in the token stream), a tabulated sigmoid, CBOW
averaging its context.  Skip-gram reads the sigmoid from a 4,096-cell table sampled at the
cells' centres and clamps it to 0 or 1 outside ``[-MAX_EXP, MAX_EXP]`` (word2vec.c's
coefficient there); CBOW uses gensim's arithmetic exactly: word2vec.c's 1,000-cell table
sampled at the cells' left edges (:data:`CBOW_TABLE`) and no update for an output whose
score lies outside ``(-MAX_EXP, MAX_EXP)`` (see :func:`_score_cbow`).

With ``hot > 0`` each thread updates its own copy of the most frequent words' rows and adds
the change to the shared rows, the hottest ``sync_rows`` every ``sync_every`` windows and all
at the end of the job (:mod:`~embedkit._kernels.hot_rows`): the threads stop trading those
rows' cache lines on every write.

Skip-gram goes past word2vec.c's loop structure (HogBatch, Ji et al. 2016): the negatives
of a centre word are shared by all its context words, and the scores of the ``n_ctx x
(1 + negative)`` pairs are computed from the current weights before any update, so each
output row is read and written once per window instead of once per pair.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MAX_EXP = 6.0
TABLE_SIZE = 4096
#: The sigmoid table of the CBOW kernel: word2vec.c's ``EXP_TABLE`` (1,000 cells, each holding
#: the sigmoid of its left edge), as gensim uses it; pass as ``make_tables(**CBOW_TABLE)``.
CBOW_TABLE = {"size": 1000, "at": "left"}
#: Output rows of the next window prefetched together: the kernels spread the prefetches over
#: the current window in chunks (after drawing, after the scores, at the end) instead of
#: issuing all ``7 (1 + negative)`` cache lines at once, which stalled on the core's
#: outstanding-miss buffers (2 workers, 5 M tokens: CBOW 2.36 -> 2.10 s, issue 20).
PREFETCH_CHUNK = 2

from embedkit._kernels._options import WORD2VEC as _OPTS  # noqa: E402 (after the constants)
from embedkit._kernels.borrowed import borrowed  # noqa: E402
from embedkit._kernels.branchless import select  # noqa: E402
from embedkit._kernels.glove import prefetch_row  # noqa: E402
from embedkit._kernels.hot_rows import (hot_block_base, hot_id, hot_sync,  # noqa: E402
                                        hot_window_done)
from embedkit._kernels.simd_gather import (rows_add_row, rows_error_update,  # noqa: E402
                                           rows_mean)
from embedkit._kernels.simd_rows import row_copy, row_dot, row_dots, rows_add_combination  # noqa: E402

_U12 = np.uint64(12)
_U25 = np.uint64(25)
_U27 = np.uint64(27)
_U32 = np.uint64(32)
_U33 = np.uint64(33)
_U40 = np.uint64(40)
_MULT = np.uint64(0x2545F4914F6CDD1D)
_MASK24 = np.uint64(0xFFFFFF)
_INV24 = np.float32(1.0 / (1 << 24))


def make_tables(size: int = TABLE_SIZE, max_exp: float = MAX_EXP, at: str = "centre"):
    """Sigmoid and loss tables of ``size`` cells of ``[-max_exp, max_exp]``.

    Parameters
    ----------
    size : int
        Number of cells.
    max_exp : float
        Half-width of the tabulated range.
    at : {"centre", "left"}
        Where in its cell each entry is sampled: at the centre (skip-gram's table), or at the
        left edge, as word2vec.c's ``EXP_TABLE`` is (the CBOW kernel's, :data:`CBOW_TABLE`).

    Returns
    -------
    sig : float32 array, ``sigmoid(x)``
    nls : float32 array, ``-log(sigmoid(x))`` (the loss of a positive pair with score x)
    """
    if at not in ("centre", "left"):
        from embedkit.errors import ParameterError

        raise ParameterError(f"at must be 'centre' or 'left', got {at!r}")
    offset = 0.5 if at == "centre" else 0.0
    x = (np.arange(size, dtype=np.float64) + offset) / size * (2 * max_exp) - max_exp
    sig = 1.0 / (1.0 + np.exp(-x))
    nls = np.logaddexp(0.0, -x)
    return sig.astype(np.float32), nls.astype(np.float32)


@njit(**_OPTS)
def _xorshift(x):
    x ^= x >> _U12
    x ^= x << _U25
    x ^= x >> _U27
    return x


@njit(**_OPTS)
def _uniform(r):
    """float32 in [0, 1) from the top 24 bits of a 64-bit random number."""
    return np.float32(r >> _U40) * _INV24


@njit(inline="always", **_OPTS)
def _alias_draw(r, n, alias_prob, alias_idx):
    # both table entries are read and the choice is a conditional move, not a branch: the
    # branch is a coin flip for many words, and its mispredictions stall the next rows' loads
    i = np.int64(((r >> _U32) * n) >> _U32)
    a = np.int64(alias_idx[i])
    return select(np.float32(r & _MASK24) * _INV24 < alias_prob[i], i, a)


@njit(**_OPTS)
def _score(f, label, lr, sig, nls, scale):
    """Gradient coefficient ``(label - sigmoid(f)) * lr`` and the pair's loss (float64)."""
    if f >= MAX_EXP:
        s = np.float32(1.0)
        if label:
            loss = math.log1p(math.exp(-f))
        else:
            loss = f + math.log1p(math.exp(-f))
    elif f <= -MAX_EXP:
        s = np.float32(0.0)
        if label:
            loss = -f + math.log1p(math.exp(f))
        else:
            loss = math.log1p(math.exp(f))
    elif f == f:
        k = int((f + MAX_EXP) * scale)
        s = sig[k]
        loss = nls[k]
        if not label:
            loss += f
    else:  # NaN: propagate it to the loss so the driver stops
        s = np.float32(0.0)
        loss = np.float64(f)
    return (np.float32(label) - s) * lr, loss


@njit(inline="always", **_OPTS)
def _score_cbow(f, label, lr, sig, nls, scale):
    """:func:`_score` with gensim's rule for CBOW: no update (coefficient 0) when the score
    lies outside ``(-MAX_EXP, MAX_EXP)``, where word2vec.c pushes with the whole learning
    rate; the loss is :func:`_score`'s.

    On the full 26 M-token benchmark corpus this rule with word2vec.c's table
    (:data:`CBOW_TABLE`) gave CBOW 0.6 analogy points more than the centred 4,096-cell table
    with word2vec.c's clamping, mean of 9 seeds, every seed higher (issue 20).
    """
    g, loss = _score(f, label, lr, sig, nls, scale)
    if f >= MAX_EXP or f <= -MAX_EXP:
        g = np.float32(0.0)
    return g, loss


@njit(cache=True)
def build_alias(p):
    """Walker/Vose alias table of a discrete distribution ``p`` (float64, sums to 1).

    Returns ``(prob float32, alias int32)``: draw ``i`` uniform, keep it with probability
    ``prob[i]``, else take ``alias[i]``.
    """
    n = p.shape[0]
    prob = np.zeros(n, np.float32)
    alias = np.arange(n).astype(np.int32)
    scaled = p * n
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    for i in range(nl):
        prob[large[i]] = 1.0
    for i in range(ns):
        prob[small[i]] = 1.0
    return prob, alias


@njit(**_OPTS)
def _subsample(ids, a, b, keep, sent, x, hot, base):
    n = 0
    for p in range(a, b):
        w = ids[p]
        kp = keep[w]
        # written always, kept by advancing n (no unpredictable branch); a hot word's id
        # becomes its row in the thread's own block
        sent[n] = hot_id(w, hot, base)
        if kp < np.float32(1.0):
            x = _xorshift(x)
            n += np.int64(_uniform(x * _MULT) < kp)
        else:
            n += 1
    return n, x


@njit(inline="always", **_OPTS)
def _learning_rate(alpha, min_alpha, position, total_pos):
    """The linearly decayed learning rate at corpus ``position`` (float32, >= min_alpha)."""
    lr64 = alpha - (alpha - min_alpha) * (position / total_pos)
    if lr64 < min_alpha:
        lr64 = min_alpha
    return np.float32(lr64)


@njit(inline="always", **_OPTS)
def _context(sent, n, pos, window, ctx, x):
    """Gather the context of ``sent[pos]`` into ``ctx`` with word2vec.c's shrunk window.

    The effective window is drawn uniformly from 1..window with the xorshift state ``x``.
    Returns ``(number of context words, new state)``.
    """
    x = _xorshift(x)
    red = window - np.int64(((x * _MULT) >> _U33) % np.uint64(window))
    lo = max(0, pos - red)
    hi = min(n, pos + red + 1)
    nc = 0
    for c in range(lo, hi):
        if c != pos:
            ctx[nc] = sent[c]
            nc += 1
    return nc, x


@njit(**_OPTS)
def _max_len(offsets, s_lo, s_hi):
    m = 1
    for s in range(s_lo, s_hi):
        d = offsets[s + 1] - offsets[s]
        if d > m:
            m = d
    return m


@njit(inline="always", **_OPTS)
def _score_pair(f, label, lr, sig, nls, scale, top):
    """:func:`_score` without branches on the score, the loss in float32 (skip-gram's).

    The coefficient is :func:`_score`'s (the table inside ``[-MAX_EXP, MAX_EXP]``, exactly
    0 or 1 outside).  The loss is the table's inside and, outside, ``softplus`` continued
    linearly from the table's end cell (off by at most ``log1p(exp(-MAX_EXP))`` = 0.0025);
    a NaN score makes it NaN.
    """
    fc = f if f > np.float32(-MAX_EXP) else np.float32(-MAX_EXP)  # NaN -> -MAX_EXP
    fc = fc if fc < np.float32(MAX_EXP) else np.float32(MAX_EXP)
    k = np.int64((fc + np.float32(MAX_EXP)) * scale)
    k = k if k < top else top
    s = sig[k]
    s = np.float32(1.0) if f >= np.float32(MAX_EXP) else s
    s = np.float32(0.0) if f <= np.float32(-MAX_EXP) else s
    if label:  # softplus(-f)
        over = fc - f
        loss = nls[k] + (over if over > np.float32(0.0) else np.float32(0.0))
    else:  # softplus(f) = softplus(-f) + f
        over = f - fc
        loss = nls[k] + fc + (over if over > np.float32(0.0) else np.float32(0.0))
    return (np.float32(label) - s) * lr, loss + np.float32(0.0) * f


@njit(inline="always", **_OPTS)
def _add_rows(W, rows, n, C, S, m):
    """``W[rows[t]] += sum_k C[t, k] S[k]`` for ``t < n``, in order, up to three rows per pass
    over ``S`` (as many consecutive rows as are distinct)."""
    t = 0
    while t < n:
        k = 1
        if t + 1 < n and rows[t + 1] != rows[t]:
            k = 2
            if t + 2 < n and rows[t + 2] != rows[t] and rows[t + 2] != rows[t + 1]:
                k = 3
        rows_add_combination(W, rows, t, k, C, S, m)
        t += k


@njit(inline="always", **_OPTS)
def _borrow_job(ids, offsets, w_in, w_out, keep, alias_prob, alias_idx, rng, sig, nls):
    """The job's own arrays as views that are not reference counted (:func:`borrowed`)."""
    return (borrowed(ids), borrowed(offsets), borrowed(w_in), borrowed(w_out), borrowed(keep),
            borrowed(alias_prob), borrowed(alias_idx), borrowed(rng), borrowed(sig),
            borrowed(nls))


@njit(**_OPTS)
def sgns_job(ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx,
             window, negative, alpha, min_alpha, pos_base, total_pos, rng, thread,
             sig, nls, hot, sync_rows, sync_every):
    """Skip-gram with negative sampling over sentences ``s_lo:s_hi`` (HogBatch updates).

    The window's context rows and output rows are copied into small local matrices; every
    score comes from them (:func:`~embedkit._kernels.simd_rows.row_dots`), then each output
    row and each context row takes its whole update at once, up to three rows per pass over
    the local matrix (:func:`~embedkit._kernels.simd_rows.rows_add_combination`): one read
    and one write of a weight row per window.  The gradient coefficients are word2vec.c's (see
    :func:`_score_pair`).

    Parameters
    ----------
    ids : int32 array
        The encoded corpus (token ids).
    offsets : int64 array
        Sentence boundaries into ``ids``.
    s_lo, s_hi : int
        Sentence range of this job.
    w_in, w_out : float32 arrays (vocab + 2 * hot * threads, dim)
        Input (word) and output (context) vectors, updated in place: the vocabulary's rows,
        then each thread's block of private rows (:mod:`~embedkit._kernels.hot_rows`).
    keep : float32 array (vocab,)
        Subsampling keep probability of each word.
    alias_prob, alias_idx : alias table of the noise distribution.
    window, negative : int
    alpha, min_alpha : float
        Learning rate decays linearly from ``alpha`` at stream position 0 to
        ``min_alpha`` at ``total_pos``.
    pos_base : int
        Stream position of ``ids[0]`` in this epoch (``epoch * len(ids)``).
    total_pos : int
        Length of the whole run's stream (``epochs * len(ids)``).
    rng : uint64 array
        Per-thread RNG states; ``rng[thread]`` is used and advanced.
    sig, nls : float32 tables from :func:`make_tables`.
    hot : int
        Number of most frequent words (the lowest ids) whose rows the thread updates in its
        own copy (0: none, plain Hogwild); the copies must hold the shared rows when the
        first job starts (:func:`~embedkit._kernels.hot_rows.hot_load`).
    sync_rows, sync_every : int
        Every ``sync_every`` windows (>= 1) the changes of the copies of the ``sync_rows``
        most frequent words are added to the shared rows; those of all ``hot`` copies at the
        end of the job.

    Returns
    -------
    (tokens, loss_sum, n_pairs)
    """
    dim = w_in.shape[1]
    sent = np.empty(_max_len(offsets, s_lo, s_hi), np.int32)
    ctx = np.empty(2 * window, np.int64)
    ctx_next = np.empty(2 * window, np.int64)
    outs = np.empty(negative + 1, np.int64)
    outs_next = np.empty(negative + 1, np.int64)
    rows_in = np.empty((2 * window, dim), np.float32)    # the window's context rows
    rows_out = np.empty((negative + 1, dim), np.float32)  # its target and negatives' rows
    scores = np.empty((2 * window, negative + 1), np.float32)  # by context, then output
    coef = np.empty((2 * window, negative + 1), np.float32)  # the gradient coefficients
    coef_t = np.empty((negative + 1, 2 * window), np.float32)  # the same, by output
    return _sgns_windows(
        ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx, window, negative,
        alpha, min_alpha, pos_base, total_pos, rng, thread, sig, nls, hot,
        sync_rows, sync_every, sent, ctx, ctx_next, outs, outs_next, rows_in, rows_out, scores,
        coef, coef_t)


@njit(**_OPTS)
def _sgns_windows(ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx,
                  window, negative, alpha, min_alpha, pos_base, total_pos, rng, thread,
                  sig, nls, hot, sync_rows, sync_every,
                  sent, ctx, ctx_next, outs, outs_next, rows_in, rows_out, scores, coef, coef_t):
    """The loop of :func:`sgns_job`, on views of its arrays and work buffers that are
    not reference counted (:mod:`~embedkit._kernels.borrowed`)."""
    ids, offsets, w_in, w_out, keep, alias_prob, alias_idx, rng, sig, nls = _borrow_job(
        ids, offsets, w_in, w_out, keep, alias_prob, alias_idx, rng, sig, nls)
    sent, ctx, ctx_next = borrowed(sent), borrowed(ctx), borrowed(ctx_next)
    outs, outs_next, rows_in, rows_out = (borrowed(outs), borrowed(outs_next),
                                          borrowed(rows_in), borrowed(rows_out))
    scores, coef, coef_t = borrowed(scores), borrowed(coef), borrowed(coef_t)
    dim = w_in.shape[1]
    nv = np.uint64(alias_prob.shape[0])
    base = hot_block_base(alias_prob.shape[0], hot, thread)
    since_sync = 0
    scale = np.float32(sig.shape[0] / (2.0 * MAX_EXP))
    top = sig.shape[0] - 1
    x = rng[thread]
    loss = 0.0
    count = 0
    tokens = 0
    for s in range(s_lo, s_hi):
        a = offsets[s]
        b = offsets[s + 1]
        tokens += b - a
        lr = _learning_rate(alpha, min_alpha, pos_base + a, total_pos)
        n, x = _subsample(ids, a, b, keep, sent, x, hot, base)
        if n < 2:
            if n == 1:
                x = _xorshift(x)  # a lone word draws its window and has no context
            continue
        nc, x = _context(sent, n, 0, window, ctx, x)
        no, x = _draw_outputs(np.int64(sent[0]), negative, nv, alias_prob, alias_idx, outs, x,
                              hot, base)
        for pos in range(n):
            nc_next, no_next, x = _next_window(sent, n, pos, window, ctx_next, negative, nv,
                                               alias_prob, alias_idx, outs_next, w_out, x, hot,
                                               base)
            for i in range(nc):
                row_copy(rows_in, i, w_in, ctx[i])
            for j in range(no):
                row_copy(rows_out, j, w_out, outs[j])
            _prefetch_rows(w_out, outs_next, 1, no_next)
            # every score from the weights before this window's updates
            for i in range(nc):
                row_dots(rows_in, i, rows_out, no, scores, i)
            lw = np.float32(0.0)
            for i in range(nc):
                for j in range(no):
                    gij, lij = _score_pair(scores[i, j], j == 0, lr, sig, nls, scale, top)
                    coef[i, j] = gij
                    coef_t[j, i] = gij
                    lw += lij
            loss += lw
            count += nc
            _add_rows(w_out, outs, no, coef_t, rows_in, nc)
            _prefetch_rest(sent, n, pos, window, outs_next, no_next, w_in, w_out)
            _add_rows(w_in, ctx, nc, coef, rows_out, no)
            ctx, ctx_next = ctx_next, ctx
            outs, outs_next = outs_next, outs
            nc = nc_next
            no = no_next
            since_sync = hot_window_done(w_in, w_out, since_sync, sync_rows, sync_every, hot,
                                         base)
    hot_sync(w_in, hot, hot, base)
    hot_sync(w_out, hot, hot, base)
    rng[thread] = x
    return tokens, loss, count


@njit(inline="always", **_OPTS)
def _draw_outputs(t, negative, nv, alias_prob, alias_idx, outs, x, hot, base):
    """The target ``t`` and its negatives into ``outs`` (a draw of ``t`` itself is skipped).

    Returns ``(number of outputs, new state)``.
    """
    outs[0] = t
    no = 1
    for k in range(negative):
        x = _xorshift(x)
        cand = _alias_draw(x * _MULT, nv, alias_prob, alias_idx)
        cand = hot_id(cand, hot, base)
        outs[no] = cand
        no += np.int64(cand != t)
    return no, x


@njit(inline="always", **_OPTS)
def _next_window(sent, n, pos, window, ctx_next, negative, nv, alias_prob, alias_idx,
                 outs_next, w_out, x, hot, base):
    """The window after ``pos``, drawn one ahead: its context into ``ctx_next``, its target
    and negatives into ``outs_next``; the first :data:`PREFETCH_CHUNK` of their output rows
    prefetched (the kernels prefetch the rest later in the window, see
    :func:`_prefetch_rest`).  Nothing is drawn after the sentence's last word.

    Returns ``(contexts, outputs, new state)``.
    """
    if pos + 1 >= n:
        return 0, 0, x
    nc_next, x = _context(sent, n, pos + 1, window, ctx_next, x)
    no_next, x = _draw_outputs(np.int64(sent[pos + 1]), negative, nv, alias_prob, alias_idx,
                               outs_next, x, hot, base)
    _prefetch_rows(w_out, outs_next, 0, no_next)
    return nc_next, no_next, x


@njit(inline="always", **_OPTS)
def _prefetch_rows(W, rows, chunk, n):
    """Prefetch rows ``W[rows[k]]`` for the ``chunk``-th :data:`PREFETCH_CHUNK` of ``k < n``."""
    for k in range(chunk * PREFETCH_CHUNK, min(n, (chunk + 1) * PREFETCH_CHUNK)):
        prefetch_row(W, rows[k])


@njit(inline="always", **_OPTS)
def _prefetch_rest(sent, n, pos, window, outs_next, no_next, w_in, w_out):
    """The last prefetches for the next window, at the end of this one: its output rows
    after the first two chunks and the input row of the word entering its widest window."""
    for chunk in range(2, (no_next + PREFETCH_CHUNK - 1) // PREFETCH_CHUNK):
        _prefetch_rows(w_out, outs_next, chunk, no_next)
    if pos + 1 + window < n:
        prefetch_row(w_in, sent[pos + 1 + window])


@njit(**_OPTS)
def cbow_job(ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx,
             window, negative, alpha, min_alpha, pos_base, total_pos, rng, thread,
             sig, nls, hot, sync_rows, sync_every):
    """CBOW with negative sampling over sentences ``s_lo:s_hi`` (word2vec.c's updates).

    The hidden vector is the mean of the context's input vectors; the error is added
    unscaled to every context vector, as in word2vec.c (and gensim with ``cbow_mean=1``).
    The coefficients are gensim's (:func:`_score_cbow`; pass the tables of
    ``make_tables(**CBOW_TABLE)``).
    The negatives of a window are drawn first, and the scores and the hidden-layer error
    of all ``1 + negative`` outputs come from the output rows before the window's update
    (the independent row loads overlap).  word2vec.c updates each output row before
    scoring the next one, which differs only when a word is drawn twice in one window:
    here both draws see its row as it was, as in the skip-gram kernel.

    The reduced window and the outputs of the next centre word are drawn one window ahead
    (the same random numbers in the same order) and their rows prefetched, two at a time
    spread over the window (:data:`PREFETCH_CHUNK`), so the random loads of the output
    matrix overlap the current window's arithmetic; the input row of the word entering the
    widest next window is prefetched too.  The row operations are
    16-float vector loops with a masked tail (:mod:`~embedkit._kernels.simd_gather`,
    :func:`~embedkit._kernels.simd_rows.row_dot`): the hidden vector summed from the context
    rows in their order, each output row's contribution to the error and its update in one
    pass (two loops when a word is drawn twice in the window, so that both draws still see
    the row as it was), the error added to each context row.
    Parameters and return value as :func:`sgns_job` (one example per centre word).
    """
    dim = w_in.shape[1]
    sent = np.empty(_max_len(offsets, s_lo, s_hi), np.int32)
    ctx = np.empty(2 * window, np.int64)
    ctx_next = np.empty(2 * window, np.int64)
    outs = np.empty(negative + 1, np.int64)
    outs_next = np.empty(negative + 1, np.int64)
    fs = np.empty(negative + 1, np.float32)
    gs = np.empty(negative + 1, np.float32)
    hv = np.empty((1, dim), np.float32)  # the hidden vector
    ev = np.empty((1, dim), np.float32)  # its error, added to every context row
    return _cbow_windows(
        ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx, window, negative,
        alpha, min_alpha, pos_base, total_pos, rng, thread, sig, nls, hot,
        sync_rows, sync_every, sent, ctx, ctx_next, outs, outs_next, fs, gs, hv, ev)


@njit(**_OPTS)
def _cbow_windows(ids, offsets, s_lo, s_hi, w_in, w_out, keep, alias_prob, alias_idx,
                  window, negative, alpha, min_alpha, pos_base, total_pos, rng, thread,
                  sig, nls, hot, sync_rows, sync_every,
                  sent, ctx, ctx_next, outs, outs_next, fs, gs, hv, ev):
    """The loop of :func:`cbow_job`, on views of its arrays and work buffers that are
    not reference counted (:mod:`~embedkit._kernels.borrowed`)."""
    ids, offsets, w_in, w_out, keep, alias_prob, alias_idx, rng, sig, nls = _borrow_job(
        ids, offsets, w_in, w_out, keep, alias_prob, alias_idx, rng, sig, nls)
    sent, ctx, ctx_next = borrowed(sent), borrowed(ctx), borrowed(ctx_next)
    outs, outs_next, fs, gs = borrowed(outs), borrowed(outs_next), borrowed(fs), borrowed(gs)
    hv, ev = borrowed(hv), borrowed(ev)
    dim = w_in.shape[1]
    nv = np.uint64(alias_prob.shape[0])
    base = hot_block_base(alias_prob.shape[0], hot, thread)
    since_sync = 0
    scale = np.float32(sig.shape[0] / (2.0 * MAX_EXP))
    x = rng[thread]
    loss = 0.0
    count = 0
    tokens = 0
    for s in range(s_lo, s_hi):
        a = offsets[s]
        b = offsets[s + 1]
        tokens += b - a
        lr = _learning_rate(alpha, min_alpha, pos_base + a, total_pos)
        n, x = _subsample(ids, a, b, keep, sent, x, hot, base)
        if n < 2:
            if n == 1:
                x = _xorshift(x)  # a lone word draws its window and has no context
            continue
        nc, x = _context(sent, n, 0, window, ctx, x)
        no, x = _draw_outputs(np.int64(sent[0]), negative, nv, alias_prob, alias_idx, outs, x,
                              hot, base)
        for pos in range(n):
            nc_next, no_next, x = _next_window(sent, n, pos, window, ctx_next, negative, nv,
                                               alias_prob, alias_idx, outs_next, w_out, x, hot,
                                               base)
            rows_mean(hv, 0, w_in, ctx, nc)
            # every score from the weights before this window's updates
            for j in range(no):
                fs[j] = row_dot(hv, 0, w_out, outs[j])
            _prefetch_rows(w_out, outs_next, 1, no_next)
            dup = False
            for j in range(2, no):
                for k in range(1, j):
                    dup |= outs[j] == outs[k]
            if not dup:  # error and update of each row in one pass
                for j in range(no):
                    gj, lj = _score_cbow(fs[j], j == 0, lr, sig, nls, scale)
                    loss += lj
                    gs[j] = gj
                rows_error_update(ev, 0, w_out, outs, no, hv, 0, gs)
            else:  # a row drawn twice: the whole error from the old rows first
                for d in range(dim):
                    ev[0, d] = np.float32(0.0)
                for j in range(no):
                    oj = outs[j]
                    gj, lj = _score_cbow(fs[j], j == 0, lr, sig, nls, scale)
                    gs[j] = gj
                    loss += lj
                    for d in range(dim):
                        ev[0, d] += gj * w_out[oj, d]
                for j in range(no):
                    oj = outs[j]
                    gj = gs[j]
                    for d in range(dim):
                        w_out[oj, d] += gj * hv[0, d]
            count += 1
            _prefetch_rest(sent, n, pos, window, outs_next, no_next, w_in, w_out)
            rows_add_row(w_in, ctx, nc, ev, 0)
            ctx, ctx_next = ctx_next, ctx
            outs, outs_next = outs_next, outs
            nc = nc_next
            no = no_next
            since_sync = hot_window_done(w_in, w_out, since_sync, sync_rows, sync_every, hot,
                                         base)
    hot_sync(w_in, hot, hot, base)
    hot_sync(w_out, hot, hot, base)
    rng[thread] = x
    return tokens, loss, count
