"""Linear-chain CRF output layer: negative log-likelihood and its gradient, batched and
masked; and decoding: the best valid BIO path under per-token and transition scores."""

from __future__ import annotations

import numpy as np

from embedkit.downstream.metrics import split_tag


def _logsumexp(a, axis):
    m = a.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))).squeeze(axis)


def crf_nll(E, lengths, gold, trans, start, end):
    """Summed negative log-likelihood of the gold paths and its gradients.

    Parameters
    ----------
    E : (T, B, K) emission scores; lengths : (B,) real steps; gold : (T, B) tag ids.
    trans : (K, K) score of tag j following tag i; start, end : (K,) first/last-tag scores.

    Returns
    -------
    nll : float (summed over the batch)
    dE, dtrans, dstart, dend : gradients of ``nll``.
    """
    T, B, K = E.shape
    valid = np.arange(T)[:, None] < lengths[None, :]
    bidx = np.arange(B)
    last = lengths - 1
    # forward
    alpha = np.empty((T, B, K), E.dtype)
    alpha[0] = start[None] + E[0]
    for t in range(1, T):
        nxt = _logsumexp(alpha[t - 1][:, :, None] + trans[None], axis=1) + E[t]
        alpha[t] = np.where(valid[t][:, None], nxt, alpha[t - 1])
    logZ = _logsumexp(alpha[last, bidx] + end[None], axis=1)  # (B,)
    # backward
    beta = np.empty((T, B, K), E.dtype)
    beta[T - 1] = end[None]
    for t in range(T - 2, -1, -1):
        nxt = _logsumexp(trans[None] + (E[t + 1] + beta[t + 1])[:, None, :], axis=2)
        beta[t] = np.where(valid[t + 1][:, None], nxt, end[None])
    # gold score
    tt, bb = np.nonzero(valid)
    score = start[gold[0]] + end[gold[last, bidx]]
    score = score + np.bincount(bb, weights=E[tt, bb, gold[tt, bb]], minlength=B)
    v1 = valid[1:]
    t1, b1 = np.nonzero(v1)
    score = score + np.bincount(b1, weights=trans[gold[t1, b1], gold[t1 + 1, b1]], minlength=B)
    nll = float((logZ - score).sum())
    # gradients: marginals minus gold indicators
    post = np.exp(alpha + beta - logZ[None, :, None]) * valid[:, :, None]
    dE = post.astype(E.dtype)
    dE[tt, bb, gold[tt, bb]] -= 1
    dstart = post[0].sum(axis=0)
    np.subtract.at(dstart, gold[0], 1)
    dend = post[last, bidx].sum(axis=0)
    np.subtract.at(dend, gold[last, bidx], 1)
    dtrans = np.zeros_like(trans)
    for t in range(1, T):
        m = valid[t]
        if not m.any():
            break
        xi = np.exp(alpha[t - 1][:, :, None] + trans[None] + (E[t] + beta[t])[:, None, :]
                    - logZ[:, None, None])
        dtrans += xi[m].sum(axis=0)
    np.subtract.at(dtrans, (gold[t1, b1], gold[t1 + 1, b1]), 1)
    return nll, dE, dtrans.astype(trans.dtype), dstart.astype(start.dtype), dend.astype(end.dtype)


def allowed_transitions(tags) -> np.ndarray:
    """``A[i, j]`` true when tag ``j`` may follow tag ``i`` in BIO; row ``len(tags)`` is the start."""
    n = len(tags)
    A = np.ones((n + 1, n), dtype=bool)
    for j, tj in enumerate(tags):
        pj, typ = split_tag(tj)
        if pj != "I":
            continue
        for i in range(n + 1):
            if i == n:
                A[i, j] = False
            else:
                pi, ti = split_tag(tags[i])
                A[i, j] = pi in ("B", "I") and ti == typ
    return A


def viterbi_bio(logp: np.ndarray, allowed: np.ndarray, trans=None, start=None,
                end=None) -> np.ndarray:
    """Best valid tag sequence under per-token scores ``logp`` (L, n_tags).

    Invalid BIO transitions (``allowed`` from :func:`allowed_transitions`) are excluded,
    so the result never needs repair.  ``trans`` (n, n), ``start`` and ``end`` (n,) add
    CRF transition scores.
    """
    L, n = logp.shape
    if L == 0:
        return np.zeros(0, dtype=np.int64)
    neg = np.float64(-1e30)
    tr = np.where(allowed[:n], 0.0 if trans is None else trans, neg)
    score = np.where(allowed[n], logp[0] + (0.0 if start is None else start), neg)
    back = np.zeros((L, n), dtype=np.int64)
    for t in range(1, L):
        cand = score[:, None] + tr
        back[t] = np.argmax(cand, axis=0)
        score = cand[back[t], np.arange(n)] + logp[t]
    if end is not None:
        score = score + end
    path = np.empty(L, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(L - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
