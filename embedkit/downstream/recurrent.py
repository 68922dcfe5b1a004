"""Bidirectional LSTM and plain-RNN encoders over padded, masked, time-major batches.

Each is one layer with the interface of :class:`embedkit.downstream.encoder.BiGRU`:
``forward(X, lengths)`` -> ``(T, B, 2H)`` (forward states, then backward states, zero
past each length), ``backward(dOut)`` -> ``dX`` with the parameter gradients written into
the shared ``grads`` dict.  The two directions run in two threads (the kernels release the
GIL); stacking is done by the model, which gives each layer its own parameter-name prefix.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedkit._kernels import gru as GK
from embedkit._kernels import lstm as LK
from embedkit._kernels import rnn as RK
from embedkit._params import check_positive

_DIRS = ("f", "b")


def _check_dims(input_dim, hidden):
    check_positive("input_dim", input_dim, integer=True)
    check_positive("hidden", hidden, integer=True)


def init_bilstm(rng, input_dim: int, hidden: int, dtype=np.float32) -> dict:
    """Parameters of a bidirectional LSTM, uniform in +-1/sqrt(hidden) like ``torch.nn.LSTM``,
    with the forget-gate bias set to 1 (Jozefowicz et al. 2015: the cell remembers by default).

    Keys per direction ``d`` in ``("f", "b")``: ``lstm_{d}_Wi`` (4H, D), ``lstm_{d}_Wh``
    (4H, H), ``lstm_{d}_b`` (4H,), gate order ``i, f, g, o``.
    """
    _check_dims(input_dim, hidden)
    s = 1.0 / np.sqrt(hidden)
    p = {}
    for d in _DIRS:
        p[f"lstm_{d}_Wi"] = rng.uniform(-s, s, (4 * hidden, input_dim)).astype(dtype)
        p[f"lstm_{d}_Wh"] = rng.uniform(-s, s, (4 * hidden, hidden)).astype(dtype)
        b = rng.uniform(-s, s, 4 * hidden).astype(dtype)
        b[hidden:2 * hidden] = 1
        p[f"lstm_{d}_b"] = b
    return p


def init_birnn(rng, input_dim: int, hidden: int, dtype=np.float32) -> dict:
    """Parameters of a bidirectional tanh RNN, uniform in +-1/sqrt(hidden) like ``torch.nn.RNN``.

    Keys per direction: ``rnn_{d}_Wi`` (H, D), ``rnn_{d}_Wh`` (H, H), ``rnn_{d}_b`` (H,).
    """
    _check_dims(input_dim, hidden)
    s = 1.0 / np.sqrt(hidden)
    p = {}
    for d in _DIRS:
        p[f"rnn_{d}_Wi"] = rng.uniform(-s, s, (hidden, input_dim)).astype(dtype)
        p[f"rnn_{d}_Wh"] = rng.uniform(-s, s, (hidden, hidden)).astype(dtype)
        p[f"rnn_{d}_b"] = rng.uniform(-s, s, hidden).astype(dtype)
    return p


def recurrent_shapes(cell: str, input_dim: int, hidden: int) -> dict:
    """``{name: shape}`` of the parameters :func:`init_bilstm` / :func:`init_birnn` make."""
    g = 4 if cell == "lstm" else 1
    out = {}
    for d in _DIRS:
        out[f"{cell}_{d}_Wi"] = (g * hidden, input_dim)
        out[f"{cell}_{d}_Wh"] = (g * hidden, hidden)
        out[f"{cell}_{d}_b"] = (g * hidden,)
    return out


class _Workspace:
    """Per-direction buffers, grown to the largest batch seen and reused."""

    def __init__(self, shapes):
        self.shapes = shapes
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
                                for k, shape in self.shapes(T, B, D, H).items()})
        return self._last[1]


def _lstm_shapes(T, B, D, H):
    TB = T * B
    return {"Xs": (TB, D), "XP": (4 * H, TB), "Hs": (H, TB + B), "Cs": (H, TB + B),
            "TC": (T, H, B), "dy": (H, B), "WhT": (H, 4 * H), "dh": (H, B), "dc": (H, B),
            "dXs": (TB, D), "fb": (2,)}


def _rnn_shapes(T, B, D, H):
    TB = T * B
    return {"Xs": (TB, D), "XP": (H, TB), "Hs": (H, TB + B), "hp": (H, B), "dHs": (T, H, B),
            "GG": (H, TB), "dh": (H, B), "dXs": (TB, D), "fb": (2,)}


class _BiRecurrent:
    """A bidirectional recurrent layer whose parameters live in a shared dict.

    Parameters
    ----------
    params, grads : dict
        Parameter arrays (see :func:`init_bilstm`, :func:`init_birnn`) and same-shaped
        gradient arrays.
    threads : int
        1 runs the two directions one after the other, 2 in parallel (call it inside
        :func:`embedkit._threads.single_threaded_blas`).
    exact : bool
        Use the exact ``np.tanh`` (for float64 gradient checks).
    """

    cell = ""
    gates = 1

    def __init__(self, params: dict, grads: dict, threads: int = 2, exact: bool = False):
        self.p = params
        self.g = grads
        c = self.cell
        self.H = params[f"{c}_f_Wh"].shape[1]
        self.D = params[f"{c}_f_Wi"].shape[1]
        self.exact = bool(exact)
        self.threads = int(threads)
        self._ws = {d: _Workspace(self._shapes) for d in _DIRS}
        self._pool = ThreadPoolExecutor(2) if self.threads >= 2 else None
        self._cache = None

    @property
    def width(self) -> int:
        """Output features per position (2H)."""
        return 2 * self.H

    def _run(self, f, b):
        if self._pool is None:
            f()
            b()
            return
        futs = [self._pool.submit(f), self._pool.submit(b)]
        for fut in futs:
            fut.result()

    def forward(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Encode ``X`` (T, B, D) with sequence ``lengths`` (B,); returns (T, B, 2H)."""
        T, B, D = X.shape
        H = self.H
        dtype = self.p[f"{self.cell}_f_Wi"].dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        rev = GK.reverse_index(lengths, T)
        mask = self._ws["f"].view("mask", dtype, (T * B,))
        GK.step_mask(lengths, T, mask)
        out = np.empty((T, B, 2 * H), dtype)
        v = {d: self._ws[d].views(T, B, D, H, dtype) for d in _DIRS}
        self._run(lambda: self._fwd("f", X, rev, mask, out, v["f"]),
                  lambda: self._fwd("b", X, rev, mask, out, v["b"]))
        self._cache = (X, rev, mask, v)
        return out

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        """Gradient of the loss wrt the input ``X`` given the gradient wrt the output."""
        X, rev, mask, v = self._cache
        T, B, D = X.shape
        dOut = np.ascontiguousarray(dOut, dtype=X.dtype)
        dX = np.empty((T, B, D), X.dtype)
        self._run(lambda: self._bwd("f", dOut, X, rev, mask, dX.reshape(T * B, D), v["f"]),
                  lambda: self._bwd("b", dOut, X, rev, mask, v["b"]["dXs"], v["b"]))
        GK.add_unreversed(dX, v["b"]["dXs"], rev)
        return dX

    def close(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


class BiLSTM(_BiRecurrent):
    """Bidirectional LSTM layer (no peepholes); see :class:`_BiRecurrent`."""

    cell = "lstm"

    @staticmethod
    def _shapes(T, B, D, H):
        return _lstm_shapes(T, B, D, H)

    def _fwd(self, d, X, rev, mask, out, w):
        p = self.p
        LK.lstm_forward(X, rev, d == "b", p[f"lstm_{d}_Wi"], p[f"lstm_{d}_b"],
                        p[f"lstm_{d}_Wh"], mask, self.exact, out, 0 if d == "f" else self.H,
                        w["Xs"], w["XP"], w["Hs"], w["Cs"], w["TC"], self._ws[d].ib, w["fb"])

    def _bwd(self, d, dOut, X, rev, mask, dXs, w):
        p, g = self.p, self.g
        LK.lstm_backward(dOut, 0 if d == "f" else self.H, X, rev, d == "b",
                         p[f"lstm_{d}_Wi"], p[f"lstm_{d}_Wh"], mask, w["Xs"], w["XP"],
                         w["Hs"], w["Cs"], w["TC"], w["dy"], w["WhT"], w["dh"], w["dc"], dXs,
                         g[f"lstm_{d}_Wi"], g[f"lstm_{d}_b"], g[f"lstm_{d}_Wh"],
                         self._ws[d].ib, w["fb"])


class BiRNN(_BiRecurrent):
    """Bidirectional tanh (Elman) RNN layer; see :class:`_BiRecurrent`."""

    cell = "rnn"

    @staticmethod
    def _shapes(T, B, D, H):
        return _rnn_shapes(T, B, D, H)

    def _fwd(self, d, X, rev, mask, out, w):
        p = self.p
        RK.rnn_forward(X, rev, d == "b", p[f"rnn_{d}_Wi"], p[f"rnn_{d}_b"], p[f"rnn_{d}_Wh"],
                       mask, self.exact, out, 0 if d == "f" else self.H, w["Xs"], w["XP"],
                       w["Hs"], w["hp"], self._ws[d].ib, w["fb"])

    def _bwd(self, d, dOut, X, rev, mask, dXs, w):
        p, g = self.p, self.g
        RK.rnn_backward(dOut, 0 if d == "f" else self.H, X, rev, d == "b", p[f"rnn_{d}_Wi"],
                        p[f"rnn_{d}_Wh"], mask, w["Xs"], w["Hs"], w["dHs"], w["GG"], w["dh"],
                        dXs, g[f"rnn_{d}_Wi"], g[f"rnn_{d}_b"], g[f"rnn_{d}_Wh"],
                        self._ws[d].ib, w["fb"])
