"""Decoding a recurrent generator: greedy, sampling (temperature, top-k, top-p) and beam
search with length normalisation.

Every function drives a ``step(tokens, state) -> (logp, state)`` callable: ``tokens`` is an
int array (K,) of the last token of K hypotheses, ``state`` a tuple of arrays whose first
axis is the hypothesis, ``logp`` (K, V) the log-probabilities of the next token.  States are
reordered for beam search by indexing every array of the tuple along its first axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embedkit.errors import ParameterError


@dataclass
class Hypothesis:
    """A generated sequence: ``tokens`` (without the first input), ``logp`` = sum of the
    token log-probabilities, ``score`` = the length-normalised ``logp / len**alpha``, and
    whether it ended with the end token."""

    tokens: list
    logp: float
    score: float
    finished: bool


def _reorder(state, idx):
    return tuple(s[idx] for s in state)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """Validate the sampling options (one ParameterError per rule)."""
    if not temperature > 0:
        raise ParameterError(f"temperature must be > 0 when sampling, got {temperature} "
                             "(for the most likely token use greedy decoding instead)")
    if top_k is not None and top_k < 1:
        raise ParameterError(f"top-k must be >= 1, got {top_k}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ParameterError(f"top-p must be in (0, 1], got {top_p}")


def filter_distribution(logp: np.ndarray, temperature: float = 1.0, top_k: int | None = None,
                        top_p: float | None = None) -> np.ndarray:
    """The sampling distribution of one step: ``softmax(logp / temperature)`` restricted to
    the ``top_k`` most likely tokens and then to the smallest set of most likely tokens
    whose probability reaches ``top_p`` (nucleus); renormalised.  Ties are broken by token
    id, so the result is deterministic.

    Only the kept tokens are sorted (a partition finds them; for the nucleus, a growing
    prefix of the descending order until its mass reaches ``top_p``), not the whole
    vocabulary.

    Parameters
    ----------
    logp : (V,) log-probabilities (``-inf`` for banned tokens).
    temperature : float, > 0
    top_k : int >= 1, optional
    top_p : float in (0, 1], optional

    Returns
    -------
    (V,) float64 probabilities, exactly zero outside the kept set.

    Raises
    ------
    ParameterError
        For an option out of range, or when every token is banned.
    """
    check_sampling(temperature, top_k, top_p)
    z = np.asarray(logp, dtype=np.float64) / temperature
    finite = np.isfinite(z)
    n_fin = int(finite.sum())
    if n_fin == 0:
        raise ParameterError("every token is banned (no finite log-probability to sample from)")
    zmax = float(z[finite].max())
    K = n_fin if top_k is None else min(int(top_k), n_fin)
    if K < n_fin:
        allowed = _top_k(z, K)  # descending, ties by id
        p = np.exp(z[allowed] - zmax)
        norm = p.sum()
    else:
        allowed = None
        norm = float(np.exp(z[finite] - zmax).sum())
    if top_p is not None and top_p < 1:
        m = K if allowed is not None else min(K, 256)
        while True:
            if allowed is None or allowed.shape[0] < m:
                prefix = _top_k(z, m)
                pp = np.exp(z[prefix] - zmax)
            else:
                prefix, pp = allowed[:m], p[:m]
            cum = np.cumsum(pp / norm)
            n = int(np.searchsorted(cum, top_p, side="left")) + 1
            if n <= m or m == K:
                allowed, p = prefix[:n], pp[:n]
                break
            m = K if 8 * m > K // 2 else 8 * m  # then sort all (a wide nucleus)
    elif allowed is None:
        allowed = np.flatnonzero(finite)
        p = np.exp(z[allowed] - zmax)
    out = np.zeros(z.shape[0])
    out[allowed] = p / p.sum()
    return out


def _one_by_one(step, state, first: int, eos: int | None, max_len: int, banned,
                choose) -> Hypothesis:
    """Decode one token at a time, ``choose(lp)`` picking each from the step's
    log-probabilities (float64, ``banned`` tokens at ``-inf``), up to ``eos`` (included) or
    ``max_len`` tokens."""
    banned = list(banned)
    tok = np.array([first], dtype=np.int64)
    out, total = [], 0.0
    for _ in range(max_len):
        logp, state = step(tok, state)
        lp = np.array(logp[0], dtype=np.float64)  # a copy: banned tokens are written
        lp[banned] = -np.inf
        t = choose(lp)
        total += float(lp[t])
        out.append(t)
        if t == eos:
            return Hypothesis(out, total, total, True)
        tok = np.array([t], dtype=np.int64)
    return Hypothesis(out, total, total, False)


def greedy(step, state, first: int, eos: int | None, max_len: int, banned=()) -> Hypothesis:
    """The most likely token at every step, up to ``eos`` (included) or ``max_len`` tokens."""
    return _one_by_one(step, state, first, eos, max_len, banned, lambda lp: int(np.argmax(lp)))


def sample(step, state, first: int, eos: int | None, max_len: int, rng: np.random.Generator,
           temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           banned=()) -> Hypothesis:
    """Sample from :func:`filter_distribution` at every step (``rng`` makes it reproducible).

    ``logp`` of the result is under the model's own (unfiltered) distribution.
    """
    check_sampling(temperature, top_k, top_p)

    def choose(lp):
        p = filter_distribution(lp, temperature, top_k, top_p)
        t = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
        t = min(t, p.shape[0] - 1)
        while p[t] == 0:  # rounding at the top of the cumulative sum
            t -= 1
        return t

    return _one_by_one(step, state, first, eos, max_len, banned, choose)


def length_normalised(logp: float, length: int, alpha: float) -> float:
    """``logp / length**alpha`` (the score beam search ranks finished hypotheses by)."""
    return logp / (max(length, 1) ** alpha)


def _top_k(total: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` largest entries of ``total``, largest first, ties by index
    (the first ``k`` of a stable descending sort), through a partition instead of a sort
    of every entry: only the entries tied with or above the ``k``-th largest are sorted."""
    if k >= total.size:
        return np.argsort(-total, kind="stable")[:k]
    kth = np.partition(total, total.size - k)[total.size - k]
    cand = np.flatnonzero(total >= kth)  # ascending: the stable sort keeps ties in id order
    return cand[np.argsort(-total[cand], kind="stable")[:k]]


def beam_search(step, state, first: int, eos: int | None, max_len: int, beam: int,
                alpha: float = 0.0, banned=(), early_stop: bool = True) -> list[Hypothesis]:
    """Beam search; returns the hypotheses best first by ``(1 / T**alpha) * sum log P``.

    All live hypotheses advance in one ``step`` call (one row each, their states carried
    and reordered, never recomputed from the prefix).  Of every extension of every live
    hypothesis, the ``beam`` of highest total log-probability are kept (a partition over
    the ``K * V`` candidates, ties by hypothesis then token); those ending in ``eos`` are
    finished and leave the beam (which narrows for that step), the others go on.

    Search stops when no hypothesis is live, after ``max_len`` tokens (live ones are then
    returned unfinished), or as soon as ``beam`` hypotheses are finished and none of the
    live ones can reach the ``beam``-th best finished score: log-probabilities only fall
    as a hypothesis grows and ``T <= max_len``, so a live hypothesis of total ``L <= 0``
    can at best score ``L / max_len**alpha``.  This early stop changes none of the first
    ``beam`` results (the live ones, which could only rank after them, are dropped).
    With ``beam=1`` this is greedy decoding; with a beam as wide as every extension it is
    an exhaustive search.

    Parameters
    ----------
    step : callable
        ``step(tokens (K,), state) -> (logp (K, V), state)``.
    state : tuple of ndarray
        The state before the first token (first axis: the hypothesis).
    first : int
        The first input token.
    eos : int or None
        The end token (``None``: hypotheses never finish).
    max_len : int
        The most tokens a hypothesis gets.
    beam : int
        Beam width, >= 1.
    alpha : float
        Length penalty, >= 0.
    banned : sequence of int
        Tokens never generated.
    early_stop : bool
        Stop as soon as no live hypothesis can enter the first ``beam`` (default); False
        runs to ``max_len`` or an empty beam and returns every hypothesis met.

    Returns
    -------
    list of Hypothesis, best first.
    """
    if not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ParameterError(f"beam must be an integer >= 1, got {beam}")
    if alpha < 0:
        raise ParameterError(f"length penalty alpha must be >= 0, got {alpha}")
    banned = list(banned)
    toks = np.array([first], dtype=np.int64)
    seqs: list[list[int]] = [[]]
    scores = np.zeros(1)
    done: list[Hypothesis] = []
    done_scores: list[float] = []
    bound_div = max(max_len, 1) ** alpha
    for t in range(max_len):
        logp, state = step(toks, state)
        lp = np.asarray(logp, dtype=np.float64)
        if banned:
            lp = lp.copy()  # never write into the caller's array
            lp[:, banned] = -np.inf
        total = (lp + scores[:, None]).ravel()
        V = lp.shape[1]
        k = min(beam, int(np.isfinite(total).sum()))
        if k == 0:
            break
        best = _top_k(total, k)
        rows, tokens = np.divmod(best, V)
        ended = tokens == eos if eos is not None else np.zeros(k, dtype=bool)
        for i in np.flatnonzero(ended):
            seq = seqs[rows[i]] + [int(tokens[i])]
            lp_i = float(total[best[i]])
            done.append(Hypothesis(seq, lp_i, length_normalised(lp_i, len(seq), alpha), True))
            done_scores.append(done[-1].score)
        live = np.flatnonzero(~ended)
        if live.size == 0:
            seqs = []
            break
        rows, tokens = rows[live], tokens[live]
        scores = total[best[live]]
        seqs = [seqs[r] + [int(tok)] for r, tok in zip(rows.tolist(), tokens.tolist())]
        if early_stop and len(done_scores) >= beam and t + 1 < max_len:
            kth_done = sorted(done_scores, reverse=True)[beam - 1]
            if float(scores.max()) / bound_div <= kth_done:
                seqs = []  # no live hypothesis can enter the first ``beam``
                break
        state = _reorder(state, rows)
        toks = tokens.astype(np.int64)
    for seq, s in zip(seqs, scores):
        done.append(Hypothesis(seq, float(s), length_normalised(float(s), len(seq), alpha), False))
    done.sort(key=lambda h: -h.score)
    return done
