"""Multi-head attention pooling: a learned query attends over the encoder states.

``pool(H) = MHA(q, H, H)`` with a key padding mask, exactly ``torch.nn.MultiheadAttention``
with one query position: ``[Q | K | V]`` projections, ``heads`` scaled dot-product heads
(:mod:`embedkit._kernels.attention`), output projection.  Parameters (prefix ``pool_``):
``query`` (E,), ``Wq`` (E, E), ``bq`` (E,), ``Wkv`` (E, 2E), ``bkv`` (2E,), ``Wo`` (E, E),
``bo`` (E,); weights row-major ``(in, out)``.
"""

from __future__ import annotations

import math

import numpy as np

from embedkit._kernels import attention as AK
from embedkit.downstream.config import check_heads


def pooling_shapes(width: int) -> dict:
    E = width
    return {"pool_query": (E,), "pool_Wq": (E, E), "pool_bq": (E,), "pool_Wkv": (E, 2 * E),
            "pool_bkv": (2 * E,), "pool_Wo": (E, E), "pool_bo": (E,)}


def init_pooling(rng, width: int, dtype=np.float32) -> dict:
    """Xavier-uniform projections, zero biases, a N(0, 1) query."""
    p = {}
    for name, shape in pooling_shapes(width).items():
        if name == "pool_query":
            p[name] = rng.normal(0, 1, shape).astype(dtype)
        elif len(shape) == 1:
            p[name] = np.zeros(shape, dtype)
        else:
            s = math.sqrt(6.0 / (2 * shape[0]))
            p[name] = rng.uniform(-s, s, shape).astype(dtype)
    return p


class AttentionPooling:
    """Pools (T, B, E) encoder states into (B, E) with a learned multi-head query.

    ``forward(Hs, lengths)`` then ``backward(dOut)`` -> ``dHs``; the parameter gradients go
    to ``grads``.
    """

    def __init__(self, params: dict, grads: dict, heads: int):
        self.p = params
        self.g = grads
        self.E = params["pool_Wq"].shape[0]
        check_heads(self.E, heads, "the encoder output width")
        self.heads = int(heads)
        self.ib = np.zeros(8, np.int32)
        self._cache = None

    def forward(self, Hs: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        T, B, E = Hs.shape
        p = self.p
        dtype = p["pool_Wq"].dtype
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        Hb = np.ascontiguousarray(Hs.transpose(1, 0, 2), dtype=dtype).reshape(B * T, E)
        q = p["pool_query"] @ p["pool_Wq"] + p["pool_bq"]
        Q = np.ascontiguousarray(np.broadcast_to(q, (B, E)))
        KV = Hb @ p["pool_Wkv"] + p["pool_bkv"]
        P = np.empty((B, self.heads, 1, T), dtype)
        C = np.empty((B, E), dtype)
        fb = np.zeros(2, dtype)
        AK.sdpa_forward(Q, 0, 1, KV, 0, KV, E, T, lengths, self.heads, E // self.heads, P, C,
                        self.ib, fb)
        self._cache = (Hb, Q, KV, P, C, lengths, T)
        return C @ p["pool_Wo"] + p["pool_bo"]

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        Hb, Q, KV, P, C, lengths, T = self._cache
        p, g = self.p, self.g
        B, E = C.shape
        dtype = C.dtype
        dOut = np.ascontiguousarray(dOut, dtype=dtype)
        g["pool_Wo"][...] = C.T @ dOut
        g["pool_bo"][...] = dOut.sum(axis=0)
        dC = np.ascontiguousarray(dOut @ p["pool_Wo"].T)
        dQ = np.empty((B, E), dtype)
        dKV = np.empty((B * T, 2 * E), dtype)
        dS = np.empty(T, dtype)
        fb = np.zeros(2, dtype)
        AK.sdpa_backward(dC, Q, 0, 1, KV, 0, KV, E, T, lengths, self.heads, E // self.heads,
                         P, dS, dQ, 0, dKV, 0, dKV, E, self.ib, fb)
        dq = dQ.sum(axis=0)
        g["pool_Wq"][...] = np.outer(p["pool_query"], dq)
        g["pool_bq"][...] = dq
        g["pool_query"][...] = p["pool_Wq"] @ dq
        g["pool_Wkv"][...] = Hb.T @ dKV
        g["pool_bkv"][...] = dKV.sum(axis=0)
        dHb = dKV @ p["pool_Wkv"].T
        return np.ascontiguousarray(dHb.reshape(B, T, E).transpose(1, 0, 2))
