"""GRU kernels: forward against a plain NumPy reference, every gradient against central
finite differences in float64, masking of padded steps, the rational tanh."""

import numpy as np
import pytest

from embedkit._kernels import gru as K
from embedkit.downstream.encoder import BiGRU, init_bigru
from gradcheck import check_encoder_gradients, numeric_gradient


def _sig(x):
    return 1 / (1 + np.exp(-x))


def reference_direction(X, Wi, bi, WhT, bhn, length):
    """One sequence (T, D), plain NumPy, straight from the GRU equations."""
    H = WhT.shape[0]
    h = np.zeros(H)
    out = []
    for t in range(length):
        xp = Wi @ X[t] + bi
        hp = h @ WhT
        r = _sig(xp[:H] + hp[:H])
        z = _sig(xp[H:2 * H] + hp[H:2 * H])
        n = np.tanh(xp[2 * H:] + r * (hp[2 * H:] + bhn))
        h = (1 - z) * n + z * h
        out.append(h)
    return np.array(out).reshape(length, H)


def reference_bigru(p, X, lengths):
    T, B, _ = X.shape
    H = p["gru_f_WhT"].shape[0]
    out = np.zeros((T, B, 2 * H))
    for b, L in enumerate(lengths):
        f = reference_direction(X[:L, b], p["gru_f_Wi"], p["gru_f_bi"], p["gru_f_WhT"],
                                p["gru_f_bhn"], L)
        r = reference_direction(X[:L, b][::-1], p["gru_b_Wi"], p["gru_b_bi"], p["gru_b_WhT"],
                                p["gru_b_bhn"], L)[::-1]
        out[:L, b, :H] = f
        out[:L, b, H:] = r
    return out


def _setup(rng, T=6, B=3, D=4, H=5, lengths=(6, 2, 4), dtype=np.float64, exact=True, threads=1):
    p = init_bigru(rng, D, H, dtype)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    enc = BiGRU(p, g, threads=threads, exact=exact)
    X = rng.normal(size=(T, B, D)).astype(dtype)
    return p, g, enc, X, np.array(lengths)


def test_forward_matches_reference_and_masks_padding(rng):
    p, g, enc, X, lengths = _setup(rng)
    out = enc.forward(X, lengths)
    ref = reference_bigru(p, X, lengths)
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert not out[2:, 1].any() and not out[4:, 2].any()


def test_backward_direction_starts_at_last_real_token(rng):
    # the padding after a short sequence must not change its backward states
    p, g, enc, X, lengths = _setup(rng, lengths=(6, 3, 4))
    out1 = enc.forward(X.copy(), lengths)
    X2 = X.copy()
    X2[3:, 1] = 100.0  # garbage in the padding of sequence 1
    out2 = enc.forward(X2, lengths)
    np.testing.assert_array_equal(out1[:, 1], out2[:, 1])
    H = p["gru_f_WhT"].shape[0]
    # backward state at t=0 equals a forward pass of the backward weights over the reversed words
    single = reference_direction(X[:3, 1][::-1], p["gru_b_Wi"], p["gru_b_bi"],
                                 p["gru_b_WhT"], p["gru_b_bhn"], 3)
    np.testing.assert_allclose(out1[0, 1, H:], single[-1], rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 2])
def test_every_gradient_matches_finite_differences(rng, threads):
    p, g, enc, X, lengths = _setup(rng, threads=threads)
    T, B, _ = X.shape
    W = rng.normal(size=(T, B, 2 * p["gru_f_WhT"].shape[0]))
    mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]
    W = W * mask
    check_encoder_gradients(enc, p, g, X, lengths, W)


def test_float32_fast_path_close_to_exact(rng):
    p, g, enc, X, lengths = _setup(rng, T=20, B=4, D=8, H=16, lengths=(20, 7, 13, 1))
    ref = enc.forward(X, lengths)
    dref = enc.backward(np.ones_like(ref))
    gref = {k: v.copy() for k, v in g.items()}
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    g32 = {k: np.zeros_like(v) for k, v in p32.items()}
    enc32 = BiGRU(p32, g32, threads=2, exact=False)
    out = enc32.forward(X.astype(np.float32), lengths)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=2e-5)
    d32 = enc32.backward(np.ones_like(out))
    assert d32.dtype == np.float32 and g32["gru_f_WhT"].dtype == np.float32
    np.testing.assert_allclose(d32, dref, atol=2e-4, rtol=1e-3)
    for k in gref:
        np.testing.assert_allclose(g32[k], gref[k], atol=5e-4, rtol=1e-3, err_msg=k)


def test_fast_tanh_accuracy():
    x = np.linspace(-12, 12, 100001).astype(np.float32)
    from numba import njit

    @njit
    def apply(a):
        out = np.empty_like(a)
        for i in range(a.shape[0]):
            out[i] = K.fast_tanh(a[i])
        return out

    y = apply(x)
    assert y.dtype == np.float32
    assert np.abs(y - np.tanh(x.astype(np.float64))).max() < 1e-6


def test_reverse_index_is_an_involution():
    lengths = np.array([4, 1, 3])
    idx = K.reverse_index(lengths, 5)
    assert idx[:, 0].tolist() == [3, 2, 1, 0, 4]
    assert idx[:, 1].tolist() == [0, 1, 2, 3, 4]
    assert idx[:, 2].tolist() == [2, 1, 0, 3, 4]
    for b in range(3):
        assert idx[idx[:, b], b].tolist() == list(range(5))


def test_bag_forward_backward(rng):
    table = rng.normal(size=(10, 3))
    offsets = np.array([0, 2, 2, 5])
    ids = np.array([1, 4, 0, 0, 9])
    out = np.empty((3, 3))
    K.bag_forward(table, offsets, ids, out)
    np.testing.assert_allclose(out[0], (table[1] + table[4]) / 2)
    assert not out[1].any()
    np.testing.assert_allclose(out[2], (2 * table[0] + table[9]) / 3)
    G = rng.normal(size=(3, 3))
    gt = np.zeros_like(table)
    K.bag_backward(G, offsets, ids, gt)

    def loss():
        o = np.empty((3, 3))
        K.bag_forward(table, offsets, ids, o)
        return float((o * G).sum())

    np.testing.assert_allclose(gt, numeric_gradient(loss, table), rtol=1e-6, atol=1e-9)


def test_matches_torch_gru_when_installed(rng):
    torch = pytest.importorskip("torch")
    T, B, D, H = 7, 3, 5, 4
    lengths = np.array([7, 3, 5])
    p, g, enc, X, _ = _setup(rng, T=T, B=B, D=D, H=H, lengths=lengths)
    gru = torch.nn.GRU(D, H, bidirectional=True).double()
    with torch.no_grad():
        for d, suf in (("f", ""), ("b", "_reverse")):
            getattr(gru, f"weight_ih_l0{suf}").copy_(torch.from_numpy(p[f"gru_{d}_Wi"]))
            getattr(gru, f"weight_hh_l0{suf}").copy_(torch.from_numpy(p[f"gru_{d}_WhT"].T.copy()))
            getattr(gru, f"bias_ih_l0{suf}").copy_(torch.from_numpy(p[f"gru_{d}_bi"]))
            bhh = np.zeros(3 * H)
            bhh[2 * H:] = p[f"gru_{d}_bhn"]
            getattr(gru, f"bias_hh_l0{suf}").copy_(torch.from_numpy(bhh))
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lengths),
                                                     enforce_sorted=False)
    out_t, _ = gru(packed)
    out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, total_length=T)
    W = rng.normal(size=(T, B, 2 * H))
    (out_t * torch.from_numpy(W)).sum().backward()
    out = enc.forward(X, lengths)
    np.testing.assert_allclose(out, out_t.detach().numpy(), atol=1e-12)
    dX = enc.backward(W * (np.arange(T)[:, None] < lengths[None, :])[:, :, None])
    np.testing.assert_allclose(dX, xt.grad.numpy(), atol=1e-10)
    for d, suf in (("f", ""), ("b", "_reverse")):
        grad = {n: getattr(gru, f"{n}_l0{suf}").grad.numpy()
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        np.testing.assert_allclose(g[f"gru_{d}_Wi"], grad["weight_ih"], atol=1e-10)
        np.testing.assert_allclose(g[f"gru_{d}_WhT"].T, grad["weight_hh"], atol=1e-10)
        # the folded r, z recurrent biases get the same gradient as the input biases
        np.testing.assert_allclose(g[f"gru_{d}_bi"], grad["bias_ih"], atol=1e-10)
        np.testing.assert_allclose(g[f"gru_{d}_bi"][:2 * H], grad["bias_hh"][:2 * H], atol=1e-10)
        np.testing.assert_allclose(g[f"gru_{d}_bhn"], grad["bias_hh"][2 * H:], atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_blas_gemm_on_sub_blocks(rng, dtype, ta, tb):
    # the kernels' GEMM reads blocks in place through an offset and a leading dimension
    M, N, Kd = 5, 7, 4
    A = rng.normal(size=(12, 20)).astype(dtype)
    Bm = rng.normal(size=(15, 18)).astype(dtype)
    C = rng.normal(size=(9, 11)).astype(dtype)
    a = A[2:2 + Kd, 3:3 + M] if ta else A[2:2 + M, 3:3 + Kd]
    b = Bm[1:1 + N, 4:4 + Kd] if tb else Bm[1:1 + Kd, 4:4 + N]
    want = (a.T if ta else a) @ (b.T if tb else b)
    ib, fb = np.zeros(8, np.int32), np.zeros(2, dtype)
    for beta in (0.0, 1.0):
        C2 = C.copy()
        K._mm(ta, tb, M, N, Kd, A, 2 * 20 + 3, 20, Bm, 1 * 18 + 4, 18, beta, C2, 3 * 11 + 2,
              11, ib, fb)
        expect = C.copy()
        expect[3:3 + M, 2:2 + N] = want + beta * C[3:3 + M, 2:2 + N]
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(C2, expect, rtol=tol, atol=tol)
    C2 = C.copy()  # an empty inner dimension scales C by beta
    K._mm(ta, tb, M, N, 0, A, 0, 20, Bm, 0, 18, 0.0, C2, 0, 11, ib, fb)
    assert not C2[:M, :N].any() and (C2[M:] == C[M:]).all()


@pytest.mark.parametrize("ta", [False, True])
def test_blocked_gemm_equals_one_gemm(rng, ta):
    # _mm_blocks cuts M, N and K into uneven blocks (K accumulated with beta = 1) on sub-blocks
    # read in place; the result is the one product, beta applied once
    M, N, Kd = 301, 150, 333  # 3 x 2 x 3 blocks
    A = rng.normal(size=(Kd + 3, M + 2) if ta else (M + 3, Kd + 2))
    Bm = rng.normal(size=(Kd + 1, N + 4))
    C = rng.normal(size=(M + 2, N + 5))
    a = A[3:, 2:]
    want = (a.T if ta else a) @ Bm[1:, 4:]
    ib, fb = np.zeros(8, np.int32), np.zeros(2)
    for beta in (0.0, 0.5):
        C2 = C.copy()
        K._mm_blocks(ta, M, N, Kd, A, 3 * A.shape[1] + 2, A.shape[1], Bm, Bm.shape[1] + 4,
                     Bm.shape[1], beta, C2, 2 * C.shape[1], C.shape[1], ib, fb)
        expect = C.copy()
        expect[2:, 0:N] = want + beta * C[2:, 0:N]
        np.testing.assert_allclose(C2, expect, rtol=1e-12, atol=1e-12)


def test_workspace_reuse_across_batch_shapes(rng):
    # one encoder, batches of different shapes in turn: each result equals a fresh encoder's
    p = init_bigru(rng, 4, 5, np.float64)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    enc = BiGRU(p, g, threads=2, exact=True)
    for T, lengths in ((6, (6, 2, 4)), (3, (3, 1)), (8, (8, 5, 1, 7))):
        X = rng.normal(size=(T, len(lengths), 4))
        W = rng.normal(size=(T, len(lengths), 10))
        out = enc.forward(X, np.array(lengths))
        dX = enc.backward(W)
        g2 = {k: np.zeros_like(v) for k, v in p.items()}
        fresh = BiGRU(p, g2, threads=1, exact=True)
        np.testing.assert_allclose(out, fresh.forward(X, np.array(lengths)), rtol=1e-13)
        np.testing.assert_allclose(dX, fresh.backward(W), rtol=1e-12, atol=1e-14)
        for k in g:
            np.testing.assert_allclose(g[k], g2[k], rtol=1e-12, atol=1e-14, err_msg=k)


def test_single_step_sequences(rng):
    # T = 1: no recurrent product, the recurrent weight gradient is exactly zero
    p, g, enc, X, lengths = _setup(rng, T=1, B=2, lengths=(1, 1))
    out = enc.forward(X, lengths)
    np.testing.assert_allclose(out, reference_bigru(p, X, lengths), rtol=1e-12)
    enc.backward(np.ones_like(out))
    assert not g["gru_f_WhT"].any() and not g["gru_b_WhT"].any()
    assert g["gru_f_Wi"].any()
