"""Bidirectional LSTM and plain-RNN encoders over padded, masked, time-major batches.

Each is one :class:`~embedkit.downstream.bidirectional.BiLayer` (the interface of
:class:`embedkit.downstream.encoder.BiGRU`): its cell's parameters, buffer shapes and kernel
calls.  Stacking is done by the model, which gives each layer its own parameter-name prefix.
"""

from __future__ import annotations

import numpy as np

from embedkit._kernels import lstm as LK
from embedkit._kernels import rnn as RK
from embedkit._params import check_positive
from embedkit.downstream.bidirectional import DIRECTIONS, BiLayer


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
    for d in DIRECTIONS:
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
    for d in DIRECTIONS:
        p[f"rnn_{d}_Wi"] = rng.uniform(-s, s, (hidden, input_dim)).astype(dtype)
        p[f"rnn_{d}_Wh"] = rng.uniform(-s, s, (hidden, hidden)).astype(dtype)
        p[f"rnn_{d}_b"] = rng.uniform(-s, s, hidden).astype(dtype)
    return p


def recurrent_shapes(cell: str, input_dim: int, hidden: int) -> dict:
    """``{name: shape}`` of the parameters :func:`init_bilstm` / :func:`init_birnn` make."""
    g = 4 if cell == "lstm" else 1
    out = {}
    for d in DIRECTIONS:
        out[f"{cell}_{d}_Wi"] = (g * hidden, input_dim)
        out[f"{cell}_{d}_Wh"] = (g * hidden, hidden)
        out[f"{cell}_{d}_b"] = (g * hidden,)
    return out


def _lstm_shapes(T, B, D, H):
    TB = T * B
    return {"Xs": (TB, D), "XP": (4 * H, TB), "Hs": (H, TB + B), "Cs": (H, TB + B),
            "TC": (T, H, B), "dy": (H, B), "WhT": (H, 4 * H), "dh": (H, B), "dc": (H, B),
            "dXs": (TB, D), "fb": (2,)}


def _rnn_shapes(T, B, D, H):
    TB = T * B
    return {"Xs": (TB, D), "XP": (H, TB), "Hs": (H, TB + B), "hp": (H, B), "dHs": (T, H, B),
            "GG": (H, TB), "dh": (H, B), "dXs": (TB, D), "fb": (2,)}


class BiLSTM(BiLayer):
    """Bidirectional LSTM layer (no peepholes); see :class:`~embedkit.downstream.bidirectional.BiLayer`."""

    cell = "lstm"

    _shapes = staticmethod(_lstm_shapes)
    forward_kernel, backward_kernel = staticmethod(LK.lstm_forward), staticmethod(LK.lstm_backward)
    param_names, backward_param_names = ("Wi", "b", "Wh"), ("Wi", "Wh")
    forward_buffers = ("Xs", "XP", "Hs", "Cs", "TC")
    backward_buffers = ("Xs", "XP", "Hs", "Cs", "TC", "dy", "WhT", "dh", "dc")


class BiRNN(BiLayer):
    """Bidirectional tanh (Elman) RNN layer; see :class:`~embedkit.downstream.bidirectional.BiLayer`."""

    cell = "rnn"

    _shapes = staticmethod(_rnn_shapes)
    forward_kernel, backward_kernel = staticmethod(RK.rnn_forward), staticmethod(RK.rnn_backward)
    param_names, backward_param_names = ("Wi", "b", "Wh"), ("Wi", "Wh")
    forward_buffers = ("Xs", "XP", "Hs", "hp")
    backward_buffers = ("Xs", "Hs", "dHs", "GG", "dh")
