"""Bidirectional GRU encoder over padded, masked, time-major batches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedkit._kernels import gru as K
from embedkit._params import check_positive

_DIRS = ("f", "b")


def init_bigru(rng, input_dim: int, hidden: int, dtype=np.float32) -> dict:
    """Parameters of a bidirectional GRU, uniform in +-1/sqrt(hidden) like ``torch.nn.GRU``.

    Keys per direction ``d`` in ``("f", "b")``: ``gru_{d}_Wi`` (3H, D), ``gru_{d}_bi`` (3H,)
    (input biases with the recurrent ``b_hr, b_hz`` folded in), ``gru_{d}_WhT`` (H, 3H),
    ``gru_{d}_bhn`` (H,).
    """
    check_positive("input_dim", input_dim, integer=True)
    check_positive("hidden", hidden, integer=True)
    s = 1.0 / np.sqrt(hidden)
    p = {}
    for d in _DIRS:
        p[f"gru_{d}_Wi"] = rng.uniform(-s, s, (3 * hidden, input_dim)).astype(dtype)
        p[f"gru_{d}_bi"] = rng.uniform(-s, s, 3 * hidden).astype(dtype)
        p[f"gru_{d}_WhT"] = rng.uniform(-s, s, (hidden, 3 * hidden)).astype(dtype)
        p[f"gru_{d}_bhn"] = rng.uniform(-s, s, hidden).astype(dtype)
    return p


def _shapes(T, B, D, H):
    """Per-direction buffer shapes (see :func:`embedkit._kernels.gru.gru_forward`)."""
    TB = T * B
    return {
        "Xs": (TB, D), "XP": (3 * H, TB), "Hs": (H, TB + B), "R": (T, H, B), "Z": (T, H, B),
        "N": (T, H, B), "HN": (T, H, B), "dHs": (T, H, B), "G": (4 * H, TB), "dXs": (TB, D),
        "hp": (3 * H, B), "dh": (H, B), "Whh": (3 * H, H), "WhTp": (H, 3 * H), "fb": (2,),
    }


class _Workspace:
    """Per-direction buffers, grown to the largest batch seen and reused (no page faults)."""

    def __init__(self):
        self.flat = {}
        self.ib = np.zeros(8, np.int32)
        self._last = (None, None)

    def view(self, name, dtype, shape):
        n = int(np.prod(shape))
        buf = self.flat.get(name)
        if buf is None or buf.size < n or buf.dtype != dtype:
            buf = self.flat[name] = np.empty(n, dtype)
        return buf[:n].reshape(shape)

    def views(self, T, B, D, H, dtype):
        key = (T, B, D, H, np.dtype(dtype))
        if self._last[0] != key:
            self._last = (key, {k: self.view(k, dtype, shape)
                                for k, shape in _shapes(T, B, D, H).items()})
        return self._last[1]


class BiGRU:
    """A bidirectional GRU layer whose parameters live in a shared dict.

    ``forward(X, lengths)`` returns ``(T, B, 2H)`` (forward states, then backward
    states, both zero past each length); ``backward(dOut)`` returns ``dX`` and writes the
    parameter gradients into ``grads``.  With ``threads=2`` the two directions run in two
    threads (the kernels release the GIL); call it inside
    :func:`embedkit._threads.single_threaded_blas`.

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

    def _run(self, f, b):
        """Run ``f()`` and ``b()``: in the two pool threads, or one after the other."""
        if self._pool is None:
            f()
            b()
            return
        # both in the pool while this thread waits: measured faster under load than running
        # one direction here (no GIL hand-back to a thread the OS has descheduled)
        futs = [self._pool.submit(f), self._pool.submit(b)]
        for fut in futs:
            fut.result()

    def forward(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Encode ``X`` (T, B, D) with sequence ``lengths`` (B,); returns (T, B, 2H)."""
        T, B, D = X.shape
        H = self.H
        dtype = self.p["gru_f_Wi"].dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        rev = K.reverse_index(lengths, T)
        mask = self._ws["f"].view("mask", dtype, (T * B,))
        K.step_mask(lengths, T, mask)
        out = np.empty((T, B, 2 * H), dtype)
        v = {d: self._ws[d].views(T, B, D, H, dtype) for d in _DIRS}

        def run(d):
            w = v[d]
            K.gru_forward(X, rev, d == "b", self.p[f"gru_{d}_Wi"], self.p[f"gru_{d}_bi"],
                          self.p[f"gru_{d}_WhT"], self.p[f"gru_{d}_bhn"], mask, self.exact,
                          out, 0 if d == "f" else H, w["Xs"], w["XP"], w["Hs"], w["R"],
                          w["Z"], w["N"], w["HN"], w["Whh"], w["hp"], self._ws[d].ib, w["fb"])

        self._run(lambda: run("f"), lambda: run("b"))
        self._cache = (X, rev, mask, v)
        return out

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        """Gradient of the loss wrt the input ``X`` given the gradient wrt the output."""
        X, rev, mask, v = self._cache
        T, B, D = X.shape
        H = self.H
        dOut = np.ascontiguousarray(dOut, dtype=X.dtype)
        dX = np.empty((T, B, D), X.dtype)

        def run(d):
            w = v[d]
            dXs = dX.reshape(T * B, D) if d == "f" else w["dXs"]
            K.gru_backward(dOut, 0 if d == "f" else H, X, rev, d == "b",
                           self.p[f"gru_{d}_Wi"], self.p[f"gru_{d}_WhT"], mask, w["Xs"],
                           w["Hs"], w["R"], w["Z"], w["N"], w["HN"], w["dHs"], w["G"],
                           w["WhTp"], w["dh"], dXs, self.g[f"gru_{d}_Wi"],
                           self.g[f"gru_{d}_bi"], self.g[f"gru_{d}_WhT"],
                           self.g[f"gru_{d}_bhn"], self._ws[d].ib, w["fb"])

        self._run(lambda: run("f"), lambda: run("b"))
        K.add_unreversed(dX, v["b"]["dXs"], rev)
        return dX

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
