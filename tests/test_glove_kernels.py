"""GloVe kernels: one AdaGrad step by hand, gradients vs finite differences, the shuffle."""

import numpy as np
import pytest

from embedkit._kernels import glove as G

F32 = np.float32
ROUND_KEYS = np.array([11, 0x9E3779B97F4A7C15, 12345678901, 7], dtype=np.uint64)


def params(rng, V=4, dim=3):
    W = rng.uniform(-0.5, 0.5, (V, dim)).astype(F32)
    C = rng.uniform(-0.5, 0.5, (V, dim)).astype(F32)
    bw = rng.uniform(-0.1, 0.1, V).astype(F32)
    bc = rng.uniform(-0.1, 0.1, V).astype(F32)
    return W, C, bw, bc


def test_weight_function():
    assert G.weight(F32(100), F32(100), F32(0.75)) == 1.0
    assert G.weight(F32(250), F32(100), F32(0.75)) == 1.0
    assert G.weight(F32(10), F32(100), F32(0.75)) == pytest.approx(0.1 ** 0.75, rel=1e-6)


def test_one_adagrad_update_matches_hand_computation(rng):
    W, C, bw, bc = params(rng)
    gW, gC = np.full_like(W, 1.5), np.full_like(C, 2.0)
    gbw, gbc = np.full_like(bw, 1.0), np.full_like(bc, 3.0)
    i, j, x, alpha = 1, 2, 7.0, 0.05
    f = (x / 10.0) ** 0.75
    w0, c0, b0, d0 = (a.astype(np.float64) for a in (W[i], C[j], bw[i], bc[j]))
    diff = w0 @ c0 + b0 + d0 - np.log(x)
    gw, gc, gb = f * diff * c0, f * diff * w0, f * diff
    exp_gW = 1.5 + gw ** 2
    exp_gC = 2.0 + gc ** 2
    exp_W = w0 - alpha * gw / np.sqrt(exp_gW)
    exp_C = c0 - alpha * gc / np.sqrt(exp_gC)
    exp_bw = b0 - alpha * gb / np.sqrt(1.0 + gb ** 2)
    exp_bc = d0 - alpha * gb / np.sqrt(3.0 + gb ** 2)

    loss = G.update_pair(W, C, bw, bc, gW, gC, gbw, gbc, i, j, F32(np.log(x)), F32(f),
                         F32(alpha), F32(100.0))
    assert loss == pytest.approx(0.5 * f * diff ** 2, rel=1e-5)
    np.testing.assert_allclose(W[i], exp_W, rtol=1e-5)
    np.testing.assert_allclose(C[j], exp_C, rtol=1e-5)
    np.testing.assert_allclose(gW[i], exp_gW, rtol=1e-5)
    np.testing.assert_allclose(gC[j], exp_gC, rtol=1e-5)
    assert bw[i] == pytest.approx(exp_bw, rel=1e-5)
    assert bc[j] == pytest.approx(exp_bc, rel=1e-5)
    assert gbw[i] == pytest.approx(1.0 + gb ** 2, rel=1e-5)
    # other rows untouched
    assert np.all(gW[[0, 2, 3]] == 1.5) and np.all(gC[[0, 1, 3]] == 2.0)


def test_gradient_matches_finite_differences(rng):
    W, C, bw, bc = params(rng, V=3, dim=5)
    i, j, x, f = 0, 2, 3.0, 0.6

    def loss(Wi, Cj, b, d):
        diff = Wi @ Cj + b + d - np.log(x)
        return 0.5 * f * diff ** 2

    base = [W[i].astype(np.float64), C[j].astype(np.float64), float(bw[i]), float(bc[j])]
    eps = 1e-6
    num_w = np.array([(loss(base[0] + eps * e, *base[1:]) - loss(base[0] - eps * e, *base[1:]))
                      / (2 * eps) for e in np.eye(5)])
    num_b = (loss(base[0], base[1], base[2] + eps, base[3])
             - loss(base[0], base[1], base[2] - eps, base[3])) / (2 * eps)
    # with huge accumulators AdaGrad's step is -alpha * g / sqrt(big): read g off the step
    big, alpha = 1e4, 1e-2
    gW, gC = np.full_like(W, big), np.full_like(C, big)
    gbw, gbc = np.full_like(bw, big), np.full_like(bc, big)
    W1, bw1 = W.copy(), bw.copy()
    G.update_pair(W1, C.copy(), bw1, bc.copy(), gW, gC, gbw, gbc, i, j, F32(np.log(x)), F32(f),
                  F32(alpha), F32(100.0))
    g_w = (W[i].astype(np.float64) - W1[i]) * np.sqrt(big) / alpha
    g_b = (float(bw[i]) - float(bw1[i])) * np.sqrt(big) / alpha
    np.testing.assert_allclose(g_w, num_w, rtol=2e-2, atol=1e-3)
    assert g_b == pytest.approx(num_b, rel=2e-2, abs=1e-3)


def test_gradient_clipping(rng):
    W, C, bw, bc = params(rng, V=2, dim=2)
    C[1] = 1000.0
    gW = np.ones_like(W)
    G.update_pair(W, C, bw, bc, gW, np.ones_like(C), np.ones_like(bw), np.ones_like(bc), 0, 1,
                  F32(-50.0), F32(1.0), F32(0.05), F32(1.0))
    np.testing.assert_allclose(gW[0], 2.0)  # 1 + clip**2


def test_off_diagonal_entries_train_both_directions(rng):
    W, C, bw, bc = params(rng, V=3, dim=2)
    acc = [np.ones_like(a) for a in (W, C, bw, bc)]
    keys = np.array([0 * 3 + 1, 2 * 3 + 2], dtype=np.uint64)  # (0, 1) and diagonal (2, 2)
    vals = np.array([4.0, 2.0], dtype=F32)
    loss, n = G.train_range(W, C, bw, bc, *acc, keys, vals, 0, 2, G.half_bits_for(2),
                            ROUND_KEYS, 3, F32(100), F32(0.75), F32(0.05), F32(100))
    assert n == 3
    gW, gC = acc[0], acc[1]
    assert np.all(gW[[0, 1, 2]] > 1) and np.all(gC[[0, 1, 2]] > 1)


def test_loss_decreases_over_epochs(rng):
    V, dim = 30, 8
    keys, vals = [], []
    for i in range(V):
        for j in range(i, V):
            if rng.random() < 0.5:
                keys.append(i * V + j)
                vals.append(rng.gamma(2.0, 5.0) + 0.5)
    keys = np.array(keys, np.uint64)
    vals = np.array(vals, F32)
    W, C, bw, bc = params(rng, V, dim)
    acc = [np.ones_like(a) for a in (W, C, bw, bc)]
    losses = []
    hb = G.half_bits_for(len(keys))
    for epoch in range(15):
        rk = np.random.default_rng([5, epoch]).integers(0, 2 ** 63, 4).astype(np.uint64)
        loss, n = G.train_range(W, C, bw, bc, *acc, keys, vals, 0, len(keys), hb, rk, V,
                                F32(10), F32(0.75), F32(0.05), F32(100))
        losses.append(loss / n)
    assert losses[-1] < 0.5 * losses[0]
    assert all(b < a for a, b in zip(losses[1:], losses[2:]))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 1000, 4097])
def test_permuted_index_is_a_seeded_permutation(n):
    hb = G.half_bits_for(n)
    assert 4 ** hb >= n
    a = [G.permuted_index(t, n, hb, ROUND_KEYS) for t in range(n)]
    assert sorted(a) == list(range(n))
    b = [G.permuted_index(t, n, hb, ROUND_KEYS) for t in range(n)]
    assert a == b
    if n >= 64:
        c = [G.permuted_index(t, n, hb, ROUND_KEYS[::-1].copy()) for t in range(n)]
        assert a != c and a != list(range(n))
