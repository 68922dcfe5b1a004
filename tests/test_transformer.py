"""Attention and the Transformer encoder: every parameter and input gradient against central
finite differences in float64 (masked positions and length-1 sequences included), the
padding mask, and torch.nn.MultiheadAttention / torch.nn.TransformerEncoderLayer with
copied weights when PyTorch is installed."""

import numpy as np
import pytest

from embedkit.downstream.attention import AttentionPooling, init_pooling
from embedkit.downstream.transformer import (TransformerEncoder, init_transformer, sinusoid)
from embedkit.errors import ParameterError
from gradcheck import numeric_gradient


def _encoder(rng, D=5, E=8, L=2, F=6, heads=2, threads=1, dropout=0.0):
    p = init_transformer(rng, D, E, L, F, dtype=np.float64)
    for k in p:  # non-trivial gains and biases, so their gradients are checked too
        if p[k].ndim == 1:
            p[k] = p[k] + rng.normal(0, 0.3, p[k].shape)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    return p, g, TransformerEncoder(p, g, heads=heads, threads=threads, dropout=dropout)


@pytest.mark.parametrize("threads", [1, 2])
def test_transformer_gradients_match_finite_differences(rng, threads):
    p, g, enc = _encoder(rng, threads=threads)
    T, B = 4, 3
    lengths = np.array([4, 1, 3])
    X = rng.normal(size=(T, B, 5))
    W = rng.normal(size=(T, B, 8))  # nonzero at masked positions too: they must not count

    def loss():
        return float((enc.forward(X, lengths) * W).sum())

    out = enc.forward(X, lengths)
    assert not out[1:, 1].any() and not out[3:, 2].any()
    dX = enc.backward(W)
    for name in p:
        np.testing.assert_allclose(g[name], numeric_gradient(loss, p[name]), rtol=1e-6,
                                   atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dX, numeric_gradient(loss, X), rtol=1e-6, atol=1e-8)
    assert not dX[1:, 1].any() and not dX[3:, 2].any()


def test_transformer_dropout_gradients_match_finite_differences(rng):
    # the same seed gives the same masks, so the loss is a fixed function of the weights
    p, g, enc = _encoder(rng, L=1, threads=2, dropout=0.3)
    T, B = 3, 2
    lengths = np.array([3, 2])
    X = rng.normal(size=(T, B, 5))
    W = rng.normal(size=(T, B, 8))

    def loss():
        return float((enc.forward(X, lengths, np.random.default_rng(9)) * W).sum())

    loss()
    dX = enc.backward(W)
    for name in ("tf1_Wqkv", "tf1_W2", "tf_in_W"):
        np.testing.assert_allclose(g[name], numeric_gradient(loss, p[name]), rtol=1e-6,
                                   atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dX, numeric_gradient(loss, X), rtol=1e-6, atol=1e-8)


def test_padding_content_does_not_leak(rng):
    p, g, enc = _encoder(rng, threads=2)
    X = rng.normal(size=(5, 3, 5))
    lengths = np.array([5, 2, 4])
    a = enc.forward(X.copy(), lengths)
    X[2:, 1] = 40.0
    X[4:, 2] = -40.0
    b = enc.forward(X, lengths)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_pooling_gradients_match_finite_differences(rng):
    E, T, B = 6, 4, 3
    p = {k: v.astype(np.float64) for k, v in init_pooling(rng, E).items()}
    p["pool_bq"] += rng.normal(0, 0.3, E)
    p["pool_bkv"] += rng.normal(0, 0.3, 2 * E)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    pool = AttentionPooling(p, g, heads=3)
    Hs = rng.normal(size=(T, B, E))
    lengths = np.array([4, 1, 2])
    W = rng.normal(size=(B, E))

    def loss():
        return float((pool.forward(Hs, lengths) * W).sum())

    loss()
    dH = pool.backward(W)
    for name in p:
        np.testing.assert_allclose(g[name], numeric_gradient(loss, p[name]), rtol=1e-6,
                                   atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dH, numeric_gradient(loss, Hs), rtol=1e-6, atol=1e-8)
    assert not dH[1:, 1].any() and not dH[2:, 2].any()


def test_heads_must_divide_the_width(rng):
    p = init_transformer(rng, 4, 10, 1, 8)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    with pytest.raises(ParameterError, match="heads \\(4\\) must divide"):
        TransformerEncoder(p, g, heads=4)
    with pytest.raises(ParameterError, match="heads \\(3\\) must divide"):
        AttentionPooling(init_pooling(rng, 8), {}, heads=3)


def test_sinusoid_positions():
    pe = sinusoid(50, 8, np.float64)
    assert pe[0, 0] == 0 and pe[0, 1] == 1
    np.testing.assert_allclose(pe[7, 2], np.sin(7 / 10000 ** (2 / 8)))
    np.testing.assert_allclose(pe[7, 3], np.cos(7 / 10000 ** (2 / 8)))


def test_pooling_matches_torch_multihead_attention(rng):
    torch = pytest.importorskip("torch")
    E, T, B, heads = 8, 5, 3, 2
    p = {k: v.astype(np.float64) for k, v in init_pooling(rng, E).items()}
    p["pool_bq"] += rng.normal(0, 0.3, E)
    p["pool_bkv"] += rng.normal(0, 0.3, 2 * E)
    p["pool_bo"] += rng.normal(0, 0.3, E)
    g = {k: np.zeros_like(v) for k, v in p.items()}
    pool = AttentionPooling(p, g, heads=heads)
    Hs = rng.normal(size=(T, B, E))
    lengths = np.array([5, 1, 3])
    mha = torch.nn.MultiheadAttention(E, heads).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(
            np.concatenate([p["pool_Wq"], p["pool_Wkv"]], axis=1).T.copy()))
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["pool_bq"], p["pool_bkv"]])))
        mha.out_proj.weight.copy_(torch.from_numpy(p["pool_Wo"].T.copy()))
        mha.out_proj.bias.copy_(torch.from_numpy(p["pool_bo"]))
    ht = torch.from_numpy(Hs.copy()).requires_grad_(True)
    qt = torch.from_numpy(p["pool_query"]).reshape(1, 1, E).expand(1, B, E)
    pad = torch.from_numpy(np.arange(T)[None, :] >= lengths[:, None])
    W = rng.normal(size=(B, E))
    ot, _ = mha(qt, ht, ht, key_padding_mask=pad)
    (ot[0] * torch.from_numpy(W)).sum().backward()
    out = pool.forward(Hs, lengths)
    np.testing.assert_allclose(out, ot[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    dH = pool.backward(W)
    np.testing.assert_allclose(dH, ht.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g["pool_Wo"], mha.out_proj.weight.grad.numpy().T, atol=1e-10)
    np.testing.assert_allclose(np.concatenate([g["pool_Wq"], g["pool_Wkv"]], axis=1),
                               mha.in_proj_weight.grad.numpy().T, atol=1e-10)


@pytest.mark.parametrize("threads", [1, 2])
def test_layer_matches_torch_transformer_encoder_layer(rng, threads):
    torch = pytest.importorskip("torch")
    D, E, F, heads, T, B = 5, 8, 12, 2, 6, 4
    p, g, enc = _encoder(rng, D=D, E=E, L=1, F=F, heads=heads, threads=threads)
    lengths = np.array([6, 1, 4, 3])
    X = rng.normal(size=(T, B, D))
    layer = torch.nn.TransformerEncoderLayer(E, heads, F, dropout=0.0, norm_first=True).double()
    final = torch.nn.LayerNorm(E).double()
    t = torch.from_numpy
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(t(p["tf1_Wqkv"].T.copy()))
        layer.self_attn.in_proj_bias.copy_(t(p["tf1_bqkv"]))
        layer.self_attn.out_proj.weight.copy_(t(p["tf1_Wo"].T.copy()))
        layer.self_attn.out_proj.bias.copy_(t(p["tf1_bo"]))
        layer.linear1.weight.copy_(t(p["tf1_W1"].T.copy()))
        layer.linear1.bias.copy_(t(p["tf1_b1"]))
        layer.linear2.weight.copy_(t(p["tf1_W2"].T.copy()))
        layer.linear2.bias.copy_(t(p["tf1_b2"]))
        for mine, theirs in (("tf1_ln1", layer.norm1), ("tf1_ln2", layer.norm2),
                             ("tf_lnf", final)):
            theirs.weight.copy_(t(p[mine + "_g"]))
            theirs.bias.copy_(t(p[mine + "_b"]))
    layer.train()  # the slow path (the fast path is inference-only)
    xt = t(X.copy()).requires_grad_(True)
    x0 = xt @ t(p["tf_in_W"]) + t(p["tf_in_b"]) + t(sinusoid(T, E, np.float64))[:, None, :]
    pad = t(np.arange(T)[None, :] >= lengths[:, None])
    valid = t((np.arange(T)[:, None] < lengths[None, :])[:, :, None].astype(np.float64))
    ot = final(layer(x0, src_key_padding_mask=pad)) * valid
    W = rng.normal(size=(T, B, E))
    (ot * t(W)).sum().backward()
    out = enc.forward(X, lengths)
    np.testing.assert_allclose(out, ot.detach().numpy(), rtol=1e-9, atol=1e-11)
    dX = enc.backward(W)
    np.testing.assert_allclose(dX, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(g["tf1_Wqkv"], layer.self_attn.in_proj_weight.grad.numpy().T,
                               atol=1e-9)
    np.testing.assert_allclose(g["tf1_W1"], layer.linear1.weight.grad.numpy().T, atol=1e-9)
    np.testing.assert_allclose(g["tf1_ln1_g"], layer.norm1.weight.grad.numpy(), atol=1e-9)
