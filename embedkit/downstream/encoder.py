"""Bidirectional GRU encoder over padded, masked, time-major batches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedkit._kernels import gru as K
from embedkit.errors import ParameterError

_DIRS = ("f", "b")


def init_bigru(rng, input_dim: int, hidden: int, dtype=np.float32) -> dict:
    """Parameters of a bidirectional GRU, uniform in +-1/sqrt(hidden) like ``torch.nn.GRU``.

    Keys per direction ``d`` in ``("f", "b")``: ``gru_{d}_Wi`` (3H, D), ``gru_{d}_bi`` (3H,)
    (input biases with the recurrent ``b_hr, b_hz`` folded in), ``gru_{d}_WhT`` (H, 3H),
    ``gru_{d}_bhn`` (H,).
    """
    if input_dim < 1 or hidden < 1:
        raise ParameterError(f"input_dim and hidden must be >= 1, got {input_dim}, {hidden}")
    s = 1.0 / np.sqrt(hidden)
    p = {}
    for d in _DIRS:
        p[f"gru_{d}_Wi"] = rng.uniform(-s, s, (3 * hidden, input_dim)).astype(dtype)
        p[f"gru_{d}_bi"] = rng.uniform(-s, s, 3 * hidden).astype(dtype)
        p[f"gru_{d}_WhT"] = rng.uniform(-s, s, (hidden, 3 * hidden)).astype(dtype)
        p[f"gru_{d}_bhn"] = rng.uniform(-s, s, hidden).astype(dtype)
    return p


class _Workspace:
    """Per-direction buffers, grown to the largest (T, B) seen and reused."""

    def __init__(self):
        self.shape = None

    def ensure(self, T, B, D, H, dtype):
        if self.shape is not None and self.shape[0] >= T and self.shape[1] >= B \
                and self.shape[2:] == (D, H, dtype):
            return
        T = max(T, self.shape[0] if self.shape else 0)
        B = max(B, self.shape[1] if self.shape else 0)
        self.shape = (T, B, D, H, dtype)
        n = T * B
        self.flat = {
            "XP": np.empty(n * 3 * H, dtype), "Hs": np.empty(n * H, dtype),
            "R": np.empty(n * H, dtype), "Z": np.empty(n * H, dtype),
            "N": np.empty(n * H, dtype), "HN": np.empty(n * H, dtype),
            "dXP": np.empty(n * 3 * H, dtype), "dHP": np.empty(n * 3 * H, dtype),
            "dX": np.empty(n * D, dtype), "Xr": np.empty(n * D, dtype),
            "dHr": np.empty(n * H, dtype),
        }
        self.h = np.empty(B * H, dtype)
        self.hp = np.empty(B * 3 * H, dtype)
        self.dh = np.empty(B * H, dtype)

    def view(self, name, *shape):
        size = int(np.prod(shape))
        return self.flat[name][:size].reshape(shape)


class BiGRU:
    """A bidirectional GRU layer whose parameters live in a shared dict.

    ``forward(X, lengths)`` returns ``(T, B, 2H)`` (forward states, then backward
    states, both zero past each length); ``backward(dOut)`` returns ``dX`` and writes the
    parameter gradients into ``grads``.  The two directions run in two threads (the
    kernels release the GIL); call it inside :func:`embedkit._threads.single_threaded_blas`.

    Parameters
    ----------
    params, grads : dict
        Parameter arrays (see :func:`init_bigru`) and same-shaped gradient arrays.
    threads : int
        1 runs the directions one after the other, 2 in parallel.
    exact : bool
        Use the exact ``np.tanh`` (for float64 gradient checks).
    """

    def __init__(self, params: dict, grads: dict, threads: int = 2, exact: bool = False):
        self.p = params
        self.g = grads
        self.H = params["gru_f_WhT"].shape[0]
        self.D = params["gru_f_Wi"].shape[1]
        self.exact = bool(exact)
        self.threads = int(threads)
        self._ws = {d: _Workspace() for d in _DIRS}
        self._pool = ThreadPoolExecutor(2) if self.threads >= 2 else None
        self._cache = None

    def _run(self, fns):
        if self._pool is None:
            return [f() for f in fns]
        futs = [self._pool.submit(f) for f in fns]
        return [f.result() for f in futs]

    def forward(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Encode ``X`` (T, B, D) with sequence ``lengths`` (B,); returns (T, B, 2H)."""
        T, B, D = X.shape
        H = self.H
        dtype = self.p["gru_f_Wi"].dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        rev = K.reverse_index(lengths, T)
        out = np.empty((T, B, 2 * H), dtype)
        for d in _DIRS:
            self._ws[d].ensure(T, B, D, H, dtype)

        def run(d):
            w = self._ws[d]
            if d == "b":
                Xd = w.view("Xr", T, B, D)
                K.gather_time(X, rev, Xd)
            else:
                Xd = X
            Hs = w.view("Hs", T, B, H)
            K.gru_forward(Xd, self.p[f"gru_{d}_Wi"], self.p[f"gru_{d}_bi"],
                          self.p[f"gru_{d}_WhT"], self.p[f"gru_{d}_bhn"], lengths, self.exact,
                          w.view("XP", T, B, 3 * H), Hs, w.view("R", T, B, H),
                          w.view("Z", T, B, H), w.view("N", T, B, H), w.view("HN", T, B, H),
                          w.h[:B * H].reshape(B, H), w.hp[:B * 3 * H].reshape(B, 3 * H))
            return Hs

        hf, hb = self._run([lambda: run("f"), lambda: run("b")])
        out[:, :, :H] = hf
        tmp = np.empty((T, B, H), dtype)
        K.gather_time(hb, rev, tmp)
        out[:, :, H:] = tmp
        self._cache = (X, lengths, rev, T, B, D)
        return out

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        """Gradient of the loss wrt the input ``X`` given the gradient wrt the output."""
        X, lengths, rev, T, B, D = self._cache
        H = self.H
        dtype = X.dtype
        dOut = np.ascontiguousarray(dOut, dtype=dtype)

        def run(d):
            w = self._ws[d]
            if d == "b":
                dHs = w.view("dHr", T, B, H)
                K.gather_time(np.ascontiguousarray(dOut[:, :, H:]), rev, dHs)
                Xd = w.view("Xr", T, B, D)
            else:
                dHs = np.ascontiguousarray(dOut[:, :, :H])
                Xd = X
            dX = w.view("dX", T, B, D)
            K.gru_backward(dHs, Xd, self.p[f"gru_{d}_Wi"], self.p[f"gru_{d}_WhT"], lengths,
                           w.view("Hs", T, B, H), w.view("R", T, B, H), w.view("Z", T, B, H),
                           w.view("N", T, B, H), w.view("HN", T, B, H),
                           w.view("dXP", T, B, 3 * H), w.view("dHP", T, B, 3 * H),
                           w.dh[:B * H].reshape(B, H), dX,
                           self.g[f"gru_{d}_Wi"], self.g[f"gru_{d}_bi"],
                           self.g[f"gru_{d}_WhT"], self.g[f"gru_{d}_bhn"])
            return dX

        dxf, dxb = self._run([lambda: run("f"), lambda: run("b")])
        dX = np.empty((T, B, D), dtype)
        K.gather_time(dxb, rev, dX)
        dX += dxf
        return dX

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
