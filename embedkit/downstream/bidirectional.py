"""The bidirectional recurrent layer the BiGRU, BiLSTM and BiRNN encoders share.

:class:`BiLayer` reads padded, masked, time-major batches: ``forward(X, lengths)`` ->
``(T, B, 2H)`` (forward states, then backward states, zero past each length) and
``backward(dOut)`` -> ``dX`` with the parameter gradients written into the shared ``grads``
dict.  The two directions run in two threads (the kernels release the GIL); a subclass gives
its cell's parameter names, buffer shapes and the kernel calls of one direction.
"""

from __future__ import annotations

import numpy as np

from embedkit._kernels import gru as GK
from embedkit.downstream.workspace import PooledLayer, Workspace

DIRECTIONS = ("f", "b")


class BiLayer(PooledLayer):
    """A bidirectional recurrent layer whose parameters live in a shared dict.

    Parameters
    ----------
    params, grads : dict
        Parameter arrays (named ``{cell}_{direction}_...``) and same-shaped gradient arrays.
    threads : int
        1 runs the two directions one after the other, 2 in parallel (call it inside
        :func:`embedkit._threads.single_threaded_blas`).
    exact : bool
        Use the exact ``np.tanh`` (for float64 gradient checks).

    Notes
    -----
    A subclass sets ``cell`` (the parameter-name prefix), defines ``_shapes(T, B, D, H)``
    (its per-direction buffers) and names its kernels and their arguments: one direction's
    forward call is ``forward_kernel(X, rev, backward, *param_names, mask, exact, out, offset,
    *forward_buffers, ib, fb)`` and its backward call ``backward_kernel(dOut, offset, X, rev,
    backward, *backward_param_names, mask, *backward_buffers, dXs, *gradients of
    param_names, ib, fb)``.
    """

    cell = ""
    #: one direction's kernels (``staticmethod`` of the Numba functions)
    forward_kernel = backward_kernel = None
    #: parameter names after ``{cell}_{direction}_``: all of them, in the order the forward
    #: kernel takes them and the backward kernel their gradients
    param_names: tuple[str, ...] = ()
    #: the parameters the backward kernel reads
    backward_param_names: tuple[str, ...] = ()
    #: workspace buffers of each kernel, in argument order
    forward_buffers: tuple[str, ...] = ()
    backward_buffers: tuple[str, ...] = ()

    def __init__(self, params: dict, grads: dict, threads: int = 2, exact: bool = False):
        self.p = params
        self.g = grads
        self.H = self._hidden(params)
        self.D = params[f"{self.cell}_f_Wi"].shape[1]
        self.exact = bool(exact)
        self._ws = {d: Workspace(self._shapes) for d in DIRECTIONS}
        self._start_pool(threads)
        self._cache = None

    def _hidden(self, params) -> int:
        """The hidden size, from the shape of the recurrent weights."""
        return params[f"{self.cell}_f_Wh"].shape[1]

    @property
    def width(self) -> int:
        """Output features per position (2H)."""
        return 2 * self.H

    def forward(self, X: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Encode ``X`` (T, B, D) with sequence ``lengths`` (B,); returns (T, B, 2H)."""
        T, B, D = X.shape
        H = self.H
        dtype = self.p[f"{self.cell}_f_Wi"].dtype
        X = np.ascontiguousarray(X, dtype=dtype)
        lengths = np.ascontiguousarray(lengths, dtype=np.int64)
        rev = GK.reverse_index(lengths, T)
        mask = self._ws["f"].buf("mask", (T * B,), dtype)
        GK.step_mask(lengths, T, mask)
        out = np.empty((T, B, 2 * H), dtype)
        v = {d: self._ws[d].views(T, B, D, H, dtype) for d in DIRECTIONS}
        self._run([lambda: self._fwd("f", X, rev, mask, out, v["f"]),
                   lambda: self._fwd("b", X, rev, mask, out, v["b"])])
        self._cache = (X, rev, mask, v)
        return out

    def backward(self, dOut: np.ndarray) -> np.ndarray:
        """Gradient of the loss wrt the input ``X`` given the gradient wrt the output."""
        X, rev, mask, v = self._cache
        T, B, D = X.shape
        dOut = np.ascontiguousarray(dOut, dtype=X.dtype)
        dX = np.empty((T, B, D), X.dtype)
        self._run([lambda: self._bwd("f", dOut, X, rev, mask, dX.reshape(T * B, D), v["f"]),
                   lambda: self._bwd("b", dOut, X, rev, mask, v["b"]["dXs"], v["b"])])
        GK.add_unreversed(dX, v["b"]["dXs"], rev)
        return dX

    def _named(self, arrays: dict, d: str, names) -> list:
        return [arrays[f"{self.cell}_{d}_{name}"] for name in names]

    def _fwd(self, d, X, rev, mask, out, w):
        self.forward_kernel(X, rev, d == "b", *self._named(self.p, d, self.param_names), mask,
                            self.exact, out, 0 if d == "f" else self.H,
                            *(w[b] for b in self.forward_buffers), self._ws[d].ib, w["fb"])

    def _bwd(self, d, dOut, X, rev, mask, dXs, w):
        self.backward_kernel(dOut, 0 if d == "f" else self.H, X, rev, d == "b",
                             *self._named(self.p, d, self.backward_param_names), mask,
                             *(w[b] for b in self.backward_buffers), dXs,
                             *self._named(self.g, d, self.param_names), self._ws[d].ib, w["fb"])
