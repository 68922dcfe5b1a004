"""Central finite differences (in float64): the check every hand-written gradient passes."""

import numpy as np


def central_difference(loss, param, i, h=1e-6):
    """``(loss(param[i] + h) - loss(param[i] - h)) / 2h``; ``param`` is restored."""
    old = param[i]
    param[i] = old + h
    lp = loss()
    param[i] = old - h
    lm = loss()
    param[i] = old
    return (lp - lm) / (2 * h)


def numeric_gradient(loss, param, h=1e-6):
    """The central-difference gradient of ``loss()`` with respect to every entry of ``param``."""
    g = np.zeros_like(param)
    for i in np.ndindex(param.shape):
        g[i] = central_difference(loss, param, i, h)
    return g


def spread(shape, count):
    """About ``count`` indices of an array of ``shape``, evenly spread over it."""
    idx = list(np.ndindex(shape))
    return idx[::max(1, len(idx) // count)]


def check_gradient(loss, param, grad, indices, name="", h=1e-6, atol=1e-6, rtol=1e-5):
    """Assert ``grad[i]`` is the central difference of ``loss()`` in ``param[i]`` at each index."""
    for i in indices:
        num = central_difference(loss, param, i, h)
        assert abs(num - grad[i]) < atol + rtol * abs(grad[i]), (name, i)
