"""CRF output layer: likelihood against brute-force enumeration, gradients against finite
differences, and a CRF tagger through fit / predict / save / load."""

import itertools

import numpy as np

from embedkit.downstream import load_model
from embedkit.downstream.crf import crf_nll

from helpers.tagging import small_fit, small_tagger, tag_vectors, tagging_data


def _brute_nll(E, L, gold, A, s, e):
    K = E.shape[1]

    def score(path):
        return (s[path[0]] + e[path[-1]] + sum(E[t, k] for t, k in enumerate(path))
                + sum(A[path[t - 1], path[t]] for t in range(1, len(path))))

    logZ = np.logaddexp.reduce([score(p) for p in itertools.product(range(K), repeat=L)])
    return logZ - score(gold[:L])


def test_crf_nll_matches_brute_force_and_gradients(rng):
    T, B, K = 4, 3, 3
    lengths = np.array([4, 2, 1])
    E = rng.normal(size=(T, B, K))
    gold = rng.integers(0, K, (T, B))
    A, s, e = rng.normal(size=(K, K)), rng.normal(size=K), rng.normal(size=K)
    nll, dE, dA, ds, de = crf_nll(E, lengths, gold, A, s, e)
    brute = sum(_brute_nll(E[:, b], lengths[b], gold[:, b], A, s, e) for b in range(B))
    assert abs(nll - brute) < 1e-10
    for arr, g in ((E, dE), (A, dA), (s, ds), (e, de)):
        for i in np.ndindex(arr.shape):
            old = arr[i]
            arr[i] = old + 1e-6
            lp = crf_nll(E, lengths, gold, A, s, e)[0]
            arr[i] = old - 1e-6
            lm = crf_nll(E, lengths, gold, A, s, e)[0]
            arr[i] = old
            assert abs((lp - lm) / 2e-6 - g[i]) < 1e-7
    assert not dE[2:, 1].any() and not dE[1:, 2].any()


def test_crf_tagger_learns_and_round_trips(tmp_path):
    rng = np.random.default_rng(5)
    v = tag_vectors(rng)
    S, T = tagging_data(rng, 600)
    Sd, Td = tagging_data(rng, 80)
    m = small_tagger(v, hidden=12, char_buckets=500, char_dim=8, case_dim=4, crf=True,
                     threads=1, seed=1)
    m.fit(S, T, Sd, Td, **small_fit(epochs=8, lr=5e-3, progress=False))
    assert m.evaluate(Sd, Td)["f1"] > 0.95
    m.save(tmp_path / "crf")
    assert load_model(tmp_path / "crf").predict(Sd) == m.predict(Sd)
