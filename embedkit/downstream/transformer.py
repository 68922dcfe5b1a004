"""Transformer encoder (pre-layer-norm, sinusoidal positions) over padded, masked batches.

``forward(X, lengths, rng)`` takes time-major ``(T, B, D)`` inputs like the recurrent
encoders and returns ``(T, B, E)`` (zero past each length); ``backward(dOut)`` returns
``dX`` and writes the parameter gradients into the shared ``grads`` dict.  Inside, the batch
is split into two slabs of sequences that run in two threads (the kernels release the GIL),
each with its own buffers and weight gradients, added at the end.

Design (see docs/design/encoders.md): inputs are projected to ``E`` features and added to
sinusoidal position codes (no parameters, any length works); each layer is pre-LN
(``x + drop(MHA(LN(x)))``, then ``x + drop(FFN(LN(x)))``) and a final LN closes the stack:
pre-LN trains stably with a constant Adam step and no warm-up, which is how every embedkit
model is trained.  Dropout (``dropout``) is applied to the input sum and to each residual
branch.
"""

from __future__ import annotations

import math

import numpy as np

from embedkit._kernels import transformer as TK
from embedkit.downstream.config import check_heads
from embedkit.downstream.workspace import PooledLayer, Workspace
from embedkit.errors import ParameterError

_LAYER = ("ln1_g", "ln1_b", "Wqkv", "bqkv", "Wo", "bo", "ln2_g", "ln2_b", "W1", "b1", "W2",
          "b2")


def transformer_shapes(input_dim: int, width: int, layers: int, ff_dim: int) -> dict:
    """``{name: shape}`` of a Transformer encoder's parameters."""
    E, F = width, ff_dim
    out = {"tf_in_W": (input_dim, E), "tf_in_b": (E,)}
    per = {"ln1_g": (E,), "ln1_b": (E,), "Wqkv": (E, 3 * E), "bqkv": (3 * E,),
           "Wo": (E, E), "bo": (E,), "ln2_g": (E,), "ln2_b": (E,), "W1": (E, F), "b1": (F,),
           "W2": (F, E), "b2": (E,)}
    for n in range(1, layers + 1):
        out.update({f"tf{n}_{k}": s for k, s in per.items()})
    out["tf_lnf_g"] = (E,)
    out["tf_lnf_b"] = (E,)
    return out


def init_transformer(rng, input_dim: int, width: int, layers: int, ff_dim: int,
                     dtype=np.float32) -> dict:
    """Fresh parameters: Xavier-uniform projections (as ``torch.nn.MultiheadAttention``), the
    feed-forward weights uniform in +-1/sqrt(fan_in) (as ``torch.nn.Linear``), zero biases,
    layer-norm gains 1."""
    if input_dim < 1 or width < 1 or layers < 1 or ff_dim < 1:
        raise ParameterError(f"input_dim, width, layers and ff_dim must be >= 1, got "
                             f"{input_dim}, {width}, {layers}, {ff_dim}")
    p = {}
    for name, shape in transformer_shapes(input_dim, width, layers, ff_dim).items():
        key = name.split("_", 1)[1]
        if key in ("ln1_g", "ln2_g", "lnf_g"):
            p[name] = np.ones(shape, dtype)
        elif len(shape) == 1:
            p[name] = np.zeros(shape, dtype)
        elif key in ("in_W", "Wqkv", "Wo"):
            fan_in, fan_out = shape
            if key == "Wqkv":
                fan_out = fan_in  # torch: xavier over the (3E, E) matrix
            s = math.sqrt(6.0 / (fan_in + fan_out))
            p[name] = rng.uniform(-s, s, shape).astype(dtype)
        else:
            s = 1.0 / math.sqrt(shape[0])
            p[name] = rng.uniform(-s, s, shape).astype(dtype)
    return p


def sinusoid(T: int, E: int, dtype=np.float32) -> np.ndarray:
    """Sinusoidal position codes (T, E): ``sin(t / 10000^(2i/E))`` in even columns, ``cos``
    in odd ones (Vaswani et al. 2017)."""
    t = np.arange(T, dtype=np.float64)[:, None]
    i = np.arange(0, E, 2, dtype=np.float64)[None, :]
    ang = t / np.power(10000.0, i / E)
    pe = np.zeros((T, E))
    pe[:, 0::2] = np.sin(ang)
    pe[:, 1::2] = np.cos(ang[:, :E // 2])
    return pe.astype(dtype)


class TransformerEncoder(PooledLayer):
    """A stack of pre-LN Transformer encoder layers whose parameters live in a shared dict.

    Parameters
    ----------
    params, grads : dict
        Parameter arrays (see :func:`init_transformer`) and same-shaped gradient arrays.
    heads : int
        Attention heads (must divide the width).
    threads : int
        1 runs the batch as one slab, 2 as two slabs in parallel threads.
    dropout : float
        Dropout rate on the input sum and the residual branches during training.
    """

    def __init__(self, params: dict, grads: dict, heads: int, threads: int = 2,
                 dropout: float = 0.1, exact: bool = False):
        self.p = params
        self.g = grads
        self.D, self.E = params["tf_in_W"].shape
        self.L = sum(1 for k in params if k.startswith("tf") and k.endswith("_Wqkv"))
        self.F = params["tf1_W1"].shape[1]
        check_heads(self.E, heads)
        self.heads = int(heads)
        self.dropout = float(dropout)
        self._start_pool(threads)
        self._slabs = [Workspace(), Workspace()]
        self._pe = np.zeros((0, self.E), np.float32)
        self._cache = None

    @property
    def width(self) -> int:
        return self.E

    def _positions(self, T, dtype):
        if self._pe.shape[0] < T or self._pe.dtype != dtype:
            self._pe = sinusoid(max(T, 64), self.E, dtype)
        return self._pe

    def _parts(self, B):
        if self._pool is None or B < 2:
            return [(0, B)]
        h = (B + 1) // 2
        return [(0, h), (h, B)]

    def forward(self, X: np.ndarray, lengths: np.ndarray, rng=None) -> np.ndarray:
        """Encode ``X`` (T, B, D); dropout when ``rng`` is given. Returns (T, B, E)."""
        T, B, D = X.shape
        dtype = self.p["tf_in_W"].dtype
        Xb = np.ascontiguousarray(X.transpose(1, 0, 2), dtype=dtype)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        pe = self._positions(T, dtype)
        E, F, H, L = self.E, self.F, self.heads, self.L
        use_drop = rng is not None and self.dropout > 0
        masks = None
        if use_drop:
            keep = 1 - self.dropout
            masks = ((rng.random((2 * L + 1, B, T, E), dtype=np.float32) < keep)
                     .astype(dtype) / dtype.type(keep))
        out = np.empty((B, T, E), dtype)
        parts = self._parts(B)

        def run(i, b0, b1):
            s = self._slabs[i]
            nb = b1 - b0
            N = nb * T
            lens = lengths[b0:b1]
            dummy = s.buf("dummy", (1, 1), dtype)

            def m(k):
                return masks[k, b0:b1].reshape(N, E) if use_drop else dummy

            xin = Xb[b0:b1].reshape(N, D)
            X0 = s.buf("X_0", (N, E), dtype)
            TK.input_forward(xin, self.p["tf_in_W"], self.p["tf_in_b"], pe, T, m(0),
                             use_drop, X0, s.ib, s.buf("fb", (2,), dtype))
            x = X0
            for n in range(1, L + 1):
                q = {k: self.p[f"tf{n}_{k}"] for k in _LAYER}
                y = s.buf(f"X_{n}", (N, E), dtype)
                TK.layer_forward(
                    x, lens, T, H, q["ln1_g"], q["ln1_b"], q["Wqkv"], q["bqkv"], q["Wo"],
                    q["bo"], q["ln2_g"], q["ln2_b"], q["W1"], q["b1"], q["W2"], q["b2"],
                    use_drop, m(2 * n - 1), m(2 * n),
                    s.buf(f"Xh1_{n}", (N, E), dtype), s.buf(f"R1_{n}", (N,), dtype),
                    s.buf(f"A1_{n}", (N, E), dtype), s.buf(f"QKV_{n}", (N, 3 * E), dtype),
                    s.buf(f"P_{n}", (nb, H, T, T), dtype), s.buf(f"Ctx_{n}", (N, E), dtype),
                    s.buf(f"X1_{n}", (N, E), dtype), s.buf(f"Xh2_{n}", (N, E), dtype),
                    s.buf(f"R2_{n}", (N,), dtype), s.buf(f"A2_{n}", (N, E), dtype),
                    s.buf(f"Hf_{n}", (N, F), dtype), y, s.ib, s.buf("fb", (2,), dtype))
                x = y
            TK.output_forward(x, self.p["tf_lnf_g"], self.p["tf_lnf_b"], lens, T,
                              s.buf("Xhf", (N, E), dtype), s.buf("Rf", (N,), dtype),
                              out[b0:b1].reshape(N, E))

        self._run([lambda i=i, a=a, b=b: run(i, a, b) for i, (a, b) in enumerate(parts)])
        self._cache = (Xb, lengths, masks, use_drop, parts, T)
        return np.ascontiguousarray(out.transpose(1, 0, 2))

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        """Gradient wrt the input ``X`` given the gradient wrt the output (T, B, E)."""
        Xb, lengths, masks, use_drop, parts, T = self._cache
        B, _, D = Xb.shape
        dtype = Xb.dtype
        E, F, H, L = self.E, self.F, self.heads, self.L
        dO = np.ascontiguousarray(dOut.transpose(1, 0, 2), dtype=dtype)
        dX = np.empty((B, T, D), dtype)
        names = list(transformer_shapes(D, E, L, F))

        def run(i, b0, b1):
            s = self._slabs[i]
            nb = b1 - b0
            N = nb * T
            lens = lengths[b0:b1]
            fb = s.buf("fb", (2,), dtype)
            dummy = s.buf("dummy", (1, 1), dtype)
            g = {k: s.buf("g_" + k, self.p[k].shape, dtype) for k in names}

            def m(k):
                return masks[k, b0:b1].reshape(N, E) if use_drop else dummy

            dy = np.array(dO[b0:b1].reshape(N, E))
            dx = s.buf("dx", (N, E), dtype)
            TK.output_backward(dy, self.p["tf_lnf_g"], s.buf("Xhf", (N, E), dtype),
                               s.buf("Rf", (N,), dtype), lens, T, dx, g["tf_lnf_g"],
                               g["tf_lnf_b"])
            dy2 = s.buf("dy2", (N, E), dtype)
            for n in range(L, 0, -1):
                q = {k: self.p[f"tf{n}_{k}"] for k in _LAYER}
                gq = {k: g[f"tf{n}_{k}"] for k in _LAYER}
                dy, dx_new = dx, dy2
                TK.layer_backward(
                    dy, s.buf(f"X_{n - 1}", (N, E), dtype), lens, T, H, q["ln1_g"],
                    q["Wqkv"], q["Wo"], q["ln2_g"], q["W1"], q["W2"], use_drop,
                    m(2 * n - 1), m(2 * n),
                    s.buf(f"Xh1_{n}", (N, E), dtype), s.buf(f"R1_{n}", (N,), dtype),
                    s.buf(f"A1_{n}", (N, E), dtype), s.buf(f"QKV_{n}", (N, 3 * E), dtype),
                    s.buf(f"P_{n}", (nb, H, T, T), dtype), s.buf(f"Ctx_{n}", (N, E), dtype),
                    s.buf(f"Xh2_{n}", (N, E), dtype), s.buf(f"R2_{n}", (N,), dtype),
                    s.buf(f"A2_{n}", (N, E), dtype), s.buf(f"Hf_{n}", (N, F), dtype),
                    s.buf("dT", (N, E), dtype), s.buf("dHf", (N, F), dtype),
                    s.buf("dA", (N, E), dtype), s.buf("dQKV", (N, 3 * E), dtype),
                    s.buf("dS", (T * T,), dtype), s.buf("dX1", (N, E), dtype), dx_new,
                    gq["ln1_g"], gq["ln1_b"], gq["Wqkv"], gq["bqkv"], gq["Wo"], gq["bo"],
                    gq["ln2_g"], gq["ln2_b"], gq["W1"], gq["b1"], gq["W2"], gq["b2"],
                    s.ib, fb)
                dx, dy2 = dx_new, dy
            TK.input_backward(dx, Xb[b0:b1].reshape(N, D), self.p["tf_in_W"], m(0), use_drop,
                              g["tf_in_W"], g["tf_in_b"], dX[b0:b1].reshape(N, D), s.ib, fb)
            return g

        self._run([lambda i=i, a=a, b=b: run(i, a, b) for i, (a, b) in enumerate(parts)])
        for k in names:
            self.g[k][...] = self._slabs[0].flat["g_" + k][:self.g[k].size].reshape(
                self.g[k].shape)
            if len(parts) > 1:
                self.g[k] += self._slabs[1].flat["g_" + k][:self.g[k].size].reshape(
                    self.g[k].shape)
        return np.ascontiguousarray(dX.transpose(1, 0, 2))
