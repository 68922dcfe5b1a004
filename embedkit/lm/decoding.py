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

    Parameters
    ----------
    logp : (V,) log-probabilities (``-inf`` for banned tokens).

    Returns
    -------
    (V,) float64 probabilities, exactly zero outside the kept set.
    """
    check_sampling(temperature, top_k, top_p)
    z = np.asarray(logp, dtype=np.float64) / temperature
    order = np.argsort(-z, kind="stable")
    keep = np.zeros(z.shape[0], dtype=bool)
    allowed = order[np.isfinite(z[order])]
    if top_k is not None:
        allowed = allowed[:top_k]
    p = np.exp(z[allowed] - z[allowed[0]])
    p /= p.sum()
    if top_p is not None and top_p < 1:
        cum = np.cumsum(p)
        n = int(np.searchsorted(cum, top_p, side="left")) + 1
        allowed, p = allowed[:n], p[:n]
    keep[allowed] = True
    out = np.zeros(z.shape[0])
    out[allowed] = p / p.sum()
    return out


def greedy(step, state, first: int, eos: int | None, max_len: int, banned=()) -> Hypothesis:
    """The most likely token at every step, up to ``eos`` (included) or ``max_len`` tokens."""
    tok = np.array([first], dtype=np.int64)
    out, total = [], 0.0
    for _ in range(max_len):
        logp, state = step(tok, state)
        lp = logp[0].astype(np.float64)
        lp[list(banned)] = -np.inf
        t = int(np.argmax(lp))
        total += float(lp[t])
        out.append(t)
        if t == eos:
            return Hypothesis(out, total, total, True)
        tok = np.array([t], dtype=np.int64)
    return Hypothesis(out, total, total, False)


def sample(step, state, first: int, eos: int | None, max_len: int, rng: np.random.Generator,
           temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           banned=()) -> Hypothesis:
    """Sample from :func:`filter_distribution` at every step (``rng`` makes it reproducible).

    ``logp`` of the result is under the model's own (unfiltered) distribution.
    """
    check_sampling(temperature, top_k, top_p)
    tok = np.array([first], dtype=np.int64)
    out, total = [], 0.0
    for _ in range(max_len):
        logp, state = step(tok, state)
        lp = logp[0].astype(np.float64)
        lp[list(banned)] = -np.inf
        p = filter_distribution(lp, temperature, top_k, top_p)
        t = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
        t = min(t, p.shape[0] - 1)
        while p[t] == 0:  # rounding at the top of the cumulative sum
            t -= 1
        total += float(lp[t])
        out.append(t)
        if t == eos:
            return Hypothesis(out, total, total, True)
        tok = np.array([t], dtype=np.int64)
    return Hypothesis(out, total, total, False)


def length_normalised(logp: float, length: int, alpha: float) -> float:
    """``logp / length**alpha`` (the score beam search ranks finished hypotheses by)."""
    return logp / (max(length, 1) ** alpha)


def beam_search(step, state, first: int, eos: int | None, max_len: int, beam: int,
                alpha: float = 0.0, banned=()) -> list[Hypothesis]:
    """Beam search; returns the hypotheses best first by ``(1 / T**alpha) * sum log P``.

    At each step every live hypothesis is extended by every token; the ``beam`` extensions
    of highest total log-probability are kept; those ending in ``eos`` are finished and
    leave the beam (which narrows), the others go on.  Search stops when no hypothesis is
    live or after ``max_len`` tokens (live ones are then returned unfinished).  With
    ``beam=1`` this is greedy decoding; with a beam as wide as every extension it is an
    exhaustive search.
    """
    if not isinstance(beam, (int, np.integer)) or beam < 1:
        raise ParameterError(f"beam must be an integer >= 1, got {beam}")
    if alpha < 0:
        raise ParameterError(f"length penalty alpha must be >= 0, got {alpha}")
    toks = np.array([first], dtype=np.int64)
    seqs: list[list[int]] = [[]]
    scores = np.zeros(1)
    done: list[Hypothesis] = []
    for t in range(max_len):
        logp, state = step(toks, state)
        lp = logp.astype(np.float64)
        if banned:
            lp[:, list(banned)] = -np.inf
        total = (scores[:, None] + lp).ravel()
        V = lp.shape[1]
        k = min(beam, int(np.isfinite(total).sum()))
        if k == 0:
            break
        # best k by total log-probability; ties by (hypothesis, token) order
        best = np.argsort(-total, kind="stable")[:k]
        live_rows, live_toks, live_scores, live_seqs = [], [], [], []
        for i in best:
            row, tok = divmod(int(i), V)
            seq = seqs[row] + [tok]
            if tok == eos:
                done.append(Hypothesis(seq, float(total[i]),
                                       length_normalised(float(total[i]), len(seq), alpha), True))
            else:
                live_rows.append(row)
                live_toks.append(tok)
                live_scores.append(total[i])
                live_seqs.append(seq)
        if not live_rows:
            seqs = []
            break
        idx = np.array(live_rows, dtype=np.int64)
        state = _reorder(state, idx)
        toks = np.array(live_toks, dtype=np.int64)
        scores = np.array(live_scores)
        seqs = live_seqs
    for seq, s in zip(seqs, scores):
        done.append(Hypothesis(seq, float(s), length_normalised(float(s), len(seq), alpha), False))
    done.sort(key=lambda h: -h.score)
    return done
