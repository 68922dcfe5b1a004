"""LSTM and RNN kernels: forward against plain NumPy references, every parameter and input
gradient against central finite differences in float64 (masked positions and length-1
sequences included), the float32 fast path, and torch.nn.LSTM / torch.nn.RNN with copied
weights when PyTorch is installed."""

import numpy as np
import pytest

from embedkit.downstream.recurrent import BiLSTM, BiRNN, init_bilstm, init_birnn
from gradcheck import check_encoder_gradients

KINDS = {"lstm": (BiLSTM, init_bilstm), "rnn": (BiRNN, init_birnn)}


def _sig(x):
    return 1 / (1 + np.exp(-x))


def lstm_direction(X, Wi, b, Wh):
    """One sequence (L, D) through the LSTM equations, plain NumPy."""
    H = Wh.shape[1]
    h, c = np.zeros(H), np.zeros(H)
    out = []
    for x in X:
        z = Wi @ x + Wh @ h + b
        i, f, g, o = _sig(z[:H]), _sig(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), _sig(z[3 * H:])
        c = i * g + f * c
        h = o * np.tanh(c)
        out.append(h)
    return np.array(out).reshape(len(X), H)


def rnn_direction(X, Wi, b, Wh):
    h = np.zeros(Wh.shape[1])
    out = []
    for x in X:
        h = np.tanh(Wi @ x + Wh @ h + b)
        out.append(h)
    return np.array(out).reshape(len(X), Wh.shape[1])


def reference(kind, p, X, lengths):
    T, B, _ = X.shape
    f = lstm_direction if kind == "lstm" else rnn_direction
    H = p[f"{kind}_f_Wh"].shape[1]
    out = np.zeros((T, B, 2 * H))
    for b, L in enumerate(lengths):
        args = {d: (p[f"{kind}_{d}_Wi"], p[f"{kind}_{d}_b"], p[f"{kind}_{d}_Wh"]) for d in "fb"}
        out[:L, b, :H] = f(X[:L, b], *args["f"])
        out[:L, b, H:] = f(X[:L, b][::-1], *args["b"])[::-1]
    return out


def _setup(rng, kind, T=5, B=3, D=4, H=3, lengths=(5, 1, 3), dtype=np.float64, exact=True,
           threads=1):
    cls, init = KINDS[kind]
    p = init(rng, D, H, dtype)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    enc = cls(p, g, threads=threads, exact=exact)
    X = rng.normal(size=(T, B, D)).astype(dtype)
    return p, g, enc, X, np.array(lengths)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_forward_matches_reference_and_zeroes_padding(rng, kind):
    p, g, enc, X, lengths = _setup(rng, kind)
    out = enc.forward(X, lengths)
    np.testing.assert_allclose(out, reference(kind, p, X, lengths), rtol=1e-12, atol=1e-12)
    assert not out[1:, 1].any() and not out[3:, 2].any()


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_padding_content_does_not_leak(rng, kind):
    p, g, enc, X, lengths = _setup(rng, kind)
    a = enc.forward(X.copy(), lengths)
    X2 = X.copy()
    X2[3:, 2] = 50.0
    X2[1:, 1] = -50.0
    b = enc.forward(X2, lengths)
    np.testing.assert_array_equal(a, b)


def test_lstm_forget_bias_starts_at_one(rng):
    p = init_bilstm(rng, 4, 3)
    assert (p["lstm_f_b"][3:6] == 1).all() and (p["lstm_b_b"][3:6] == 1).all()
    assert not (p["lstm_f_b"][:3] == 1).any()


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
@pytest.mark.parametrize("threads", [1, 2])
def test_every_gradient_matches_finite_differences(rng, kind, threads):
    # lengths include a length-1 sequence and padded (masked) steps; the loss weights are
    # nonzero at masked positions too, which must receive (and pass on) no gradient
    p, g, enc, X, lengths = _setup(rng, kind, threads=threads)
    T, B, _ = X.shape
    W = rng.normal(size=(T, B, 2 * p[f"{kind}_f_Wh"].shape[1]))
    dX = check_encoder_gradients(enc, p, g, X, lengths, W)
    assert not dX[1:, 1].any() and not dX[3:, 2].any()


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_float32_fast_path_close_to_exact(rng, kind):
    p, g, enc, X, lengths = _setup(rng, kind, T=20, B=4, D=8, H=16, lengths=(20, 7, 13, 1))
    ref = enc.forward(X, lengths)
    dref = enc.backward(np.ones_like(ref))
    gref = {k: v.copy() for k, v in g.items()}
    p32 = {k: v.astype(np.float32) for k, v in p.items()}
    g32 = {k: np.zeros_like(v) for k, v in p32.items()}
    enc32 = KINDS[kind][0](p32, g32, threads=2, exact=False)
    out = enc32.forward(X.astype(np.float32), lengths)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=3e-5)
    d32 = enc32.backward(np.ones_like(out))
    np.testing.assert_allclose(d32, dref, atol=3e-4, rtol=1e-3)
    for k in gref:
        np.testing.assert_allclose(g32[k], gref[k], atol=1e-3, rtol=1e-3, err_msg=k)


@pytest.mark.parametrize("kind", ["lstm", "rnn"])
def test_matches_torch_with_copied_weights(rng, kind):
    torch = pytest.importorskip("torch")
    T, B, D, H = 6, 4, 5, 7
    lengths = np.array([6, 1, 4, 3])
    p, g, enc, X, _ = _setup(rng, kind, T=T, B=B, D=D, H=H, lengths=lengths)
    mod = (torch.nn.LSTM(D, H, bidirectional=True) if kind == "lstm"
           else torch.nn.RNN(D, H, bidirectional=True)).double()
    with torch.no_grad():
        for d, suf in (("f", ""), ("b", "_reverse")):
            getattr(mod, f"weight_ih_l0{suf}").copy_(torch.from_numpy(p[f"{kind}_{d}_Wi"]))
            getattr(mod, f"weight_hh_l0{suf}").copy_(torch.from_numpy(p[f"{kind}_{d}_Wh"]))
            getattr(mod, f"bias_ih_l0{suf}").copy_(torch.from_numpy(p[f"{kind}_{d}_b"]))
            getattr(mod, f"bias_hh_l0{suf}").zero_()
    W = rng.normal(size=(T, B, 2 * H))
    xt = torch.from_numpy(X.copy()).requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.from_numpy(lengths),
                                                     enforce_sorted=False)
    ot, _ = mod(packed)
    ot, _ = torch.nn.utils.rnn.pad_packed_sequence(ot, total_length=T)
    (ot * torch.from_numpy(W)).sum().backward()
    out = enc.forward(X, lengths)
    dX = enc.backward(W)
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dX, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for d, suf in (("f", ""), ("b", "_reverse")):
        np.testing.assert_allclose(g[f"{kind}_{d}_Wi"],
                                   getattr(mod, f"weight_ih_l0{suf}").grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(g[f"{kind}_{d}_Wh"],
                                   getattr(mod, f"weight_hh_l0{suf}").grad.numpy(), atol=1e-10)
        np.testing.assert_allclose(g[f"{kind}_{d}_b"],
                                   getattr(mod, f"bias_ih_l0{suf}").grad.numpy(), atol=1e-10)
