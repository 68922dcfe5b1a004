"""GloVe kernels: one AdaGrad step by hand, gradients vs finite differences, the shuffle."""

import numpy as np
import pytest

from embedkit._kernels import glove as G

F32 = np.float32
ROUND_KEYS = np.array([11, 0x9E3779B97F4A7C15, 12345678901, 7], dtype=np.uint64)


def state(vec, bias, acc=1.0, acc_bias=1.0):
    """A state matrix [vector | bias | AdaGrad sums | bias sum] (see the kernel module)."""
    V, dim = vec.shape
    S = np.empty((V, 2 * dim + 2), F32)
    S[:, :dim] = vec
    S[:, dim] = bias
    S[:, dim + 1:2 * dim + 1] = acc
    S[:, 2 * dim + 1] = acc_bias
    return S


def split(S):
    dim = (S.shape[1] - 2) // 2
    return S[:, :dim], S[:, dim], S[:, dim + 1:2 * dim + 1], S[:, 2 * dim + 1]


def random_states(rng, V=4, dim=3, **acc):
    W = state(rng.uniform(-0.5, 0.5, (V, dim)), rng.uniform(-0.1, 0.1, V), **acc)
    C = state(rng.uniform(-0.5, 0.5, (V, dim)), rng.uniform(-0.1, 0.1, V), **acc)
    return W, C


def test_weight_function():
    assert G.weight(F32(100), F32(100), F32(0.75)) == 1.0
    assert G.weight(F32(250), F32(100), F32(0.75)) == 1.0
    assert G.weight(F32(10), F32(100), F32(0.75)) == pytest.approx(0.1 ** 0.75, rel=1e-6)


def test_one_adagrad_update_matches_hand_computation(rng):
    WS, CS = random_states(rng)
    WS[:, 4:7], WS[:, 7] = 1.5, 1.0
    CS[:, 4:7], CS[:, 7] = 2.0, 3.0
    i, j, x, alpha = 1, 2, 7.0, 0.05
    f = (x / 10.0) ** 0.75
    w0, c0 = WS[i, :3].astype(np.float64), CS[j, :3].astype(np.float64)
    b0, d0 = float(WS[i, 3]), float(CS[j, 3])
    diff = w0 @ c0 + b0 + d0 - np.log(x)
    # reference glove.c: u = alpha * g moves p by u / sqrt(G) with G *before* the step,
    # then G += u**2 (the sums hold scaled steps)
    uw, uc, ub = alpha * f * diff * c0, alpha * f * diff * w0, alpha * f * diff
    exp_gW = 1.5 + uw ** 2
    exp_gC = 2.0 + uc ** 2
    exp_W = w0 - uw / np.sqrt(1.5)
    exp_C = c0 - uc / np.sqrt(2.0)
    exp_bw = b0 - ub / np.sqrt(1.0)
    exp_bc = d0 - ub / np.sqrt(3.0)
    before_W, before_C = WS.copy(), CS.copy()

    loss = G.update_pair(WS, CS, i, j, F32(np.log(x)), F32(f), F32(alpha), F32(100.0))
    assert loss == pytest.approx(0.5 * f * diff ** 2, rel=1e-5)
    W, bw, gW, gbw = split(WS)
    C, bc, gC, gbc = split(CS)
    np.testing.assert_allclose(W[i], exp_W, rtol=1e-5)
    np.testing.assert_allclose(C[j], exp_C, rtol=1e-5)
    np.testing.assert_allclose(gW[i], exp_gW, rtol=1e-5)
    np.testing.assert_allclose(gC[j], exp_gC, rtol=1e-5)
    assert bw[i] == pytest.approx(exp_bw, rel=1e-5)
    assert bc[j] == pytest.approx(exp_bc, rel=1e-5)
    assert gbw[i] == pytest.approx(1.0 + ub ** 2, rel=1e-5)
    assert gbc[j] == pytest.approx(3.0 + ub ** 2, rel=1e-5)
    # other rows untouched
    keep_w, keep_c = [0, 2, 3], [0, 1, 3]
    assert np.array_equal(WS[keep_w], before_W[keep_w])
    assert np.array_equal(CS[keep_c], before_C[keep_c])


def test_gradient_matches_finite_differences(rng):
    # with huge AdaGrad sums the step is -alpha * g / sqrt(big): read the gradient off it
    big, alpha = 1e4, 1e-2
    WS, CS = random_states(rng, V=3, dim=5, acc=big, acc_bias=big)
    i, j, x, f = 0, 2, 3.0, 0.6

    def loss(w, c, b, d):
        diff = w @ c + b + d - np.log(x)
        return 0.5 * f * diff ** 2

    w, c = WS[i, :5].astype(np.float64), CS[j, :5].astype(np.float64)
    b, d = float(WS[i, 5]), float(CS[j, 5])
    eps = 1e-6
    num_w = np.array([(loss(w + eps * e, c, b, d) - loss(w - eps * e, c, b, d)) / (2 * eps)
                      for e in np.eye(5)])
    num_c = np.array([(loss(w, c + eps * e, b, d) - loss(w, c - eps * e, b, d)) / (2 * eps)
                      for e in np.eye(5)])
    num_b = (loss(w, c, b + eps, d) - loss(w, c, b - eps, d)) / (2 * eps)
    W1, C1 = WS.copy(), CS.copy()
    G.update_pair(W1, C1, i, j, F32(np.log(x)), F32(f), F32(alpha), F32(100.0))
    scale = np.sqrt(big) / alpha
    np.testing.assert_allclose((w - W1[i, :5]) * scale, num_w, rtol=2e-2, atol=1e-3)
    np.testing.assert_allclose((c - C1[j, :5]) * scale, num_c, rtol=2e-2, atol=1e-3)
    assert (b - W1[i, 5]) * scale == pytest.approx(num_b, rel=2e-2, abs=1e-3)


def test_gradient_clipping(rng):
    WS, CS = random_states(rng, V=2, dim=2)
    CS[1, :2] = 1000.0
    G.update_pair(WS, CS, 0, 1, F32(-50.0), F32(1.0), F32(0.05), F32(1.0))
    np.testing.assert_allclose(split(WS)[2][0], 2.0)  # 1 + clip**2


def test_off_diagonal_entries_train_both_directions(rng):
    WS, CS = random_states(rng, V=3, dim=2)
    keys = np.array([0 * 3 + 1, 2 * 3 + 2], dtype=np.uint64)  # (0, 1) and diagonal (2, 2)
    vals = np.array([4.0, 2.0], dtype=F32)
    loss, n = G.train_range(WS, CS, keys, vals, 0, 2, G.permutation_bits(2), ROUND_KEYS, 3,
                            F32(1), F32(0.75), F32(0.05), F32(100))
    assert n == 3
    # every word and context row was updated: its bias sum grew (by (alpha * f * diff)**2)
    assert np.all(split(WS)[3] > 1) and np.all(split(CS)[3] > 1)


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
    WS, CS = random_states(rng, V, dim)
    losses = []
    bits = G.permutation_bits(len(keys))
    for epoch in range(15):
        rk = np.random.default_rng([5, epoch]).integers(0, 2 ** 63, 4).astype(np.uint64)
        loss, n = G.train_range(WS, CS, keys, vals, 0, len(keys), bits, rk, V,
                                F32(10), F32(0.75), F32(0.05), F32(100))
        losses.append(loss / n)
    assert losses[-1] < 0.5 * losses[0]
    assert all(b < a for a, b in zip(losses[1:], losses[2:]))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 1000, 4097])
def test_permuted_index_is_a_seeded_permutation(n):
    bits = G.permutation_bits(n)
    assert 2 ** bits >= n
    a = [G.permuted_index(t, n, bits, ROUND_KEYS) for t in range(n)]
    assert sorted(a) == list(range(n))
    b = [G.permuted_index(t, n, bits, ROUND_KEYS) for t in range(n)]
    assert a == b
    if n >= 64:
        c = [G.permuted_index(t, n, bits, ROUND_KEYS[::-1].copy()) for t in range(n)]
        assert a != c and a != list(range(n))
