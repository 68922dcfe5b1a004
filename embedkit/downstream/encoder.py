"""Bidirectional GRU encoder over padded, masked, time-major batches."""

from __future__ import annotations

import numpy as np

from embedkit._kernels import gru as K
from embedkit._params import check_positive
from embedkit.downstream.bidirectional import DIRECTIONS, BiLayer


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
    for d in DIRECTIONS:
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


class BiGRU(BiLayer):
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

    cell = "gru"

    _shapes = staticmethod(_shapes)
    forward_kernel, backward_kernel = staticmethod(K.gru_forward), staticmethod(K.gru_backward)
    param_names, backward_param_names = ("Wi", "bi", "WhT", "bhn"), ("Wi", "WhT")
    forward_buffers = ("Xs", "XP", "Hs", "R", "Z", "N", "HN", "Whh", "hp")
    backward_buffers = ("Xs", "Hs", "R", "Z", "N", "HN", "dHs", "G", "WhTp", "dh")

    def _hidden(self, params) -> int:
        return params["gru_f_WhT"].shape[0]
