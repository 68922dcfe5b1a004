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


def check_encoder_gradients(enc, params, grads, X, lengths, W):
    """An encoder layer's parameter gradients and ``dX`` against central differences of
    ``sum(forward(X) * W)``; returns ``dX``."""

    def loss():
        return float((enc.forward(X, lengths) * W).sum())

    loss()
    dX = enc.backward(W)
    for name in params:
        num = numeric_gradient(loss, params[name])
        np.testing.assert_allclose(grads[name], num, rtol=1e-6, atol=1e-8, err_msg=name)
    np.testing.assert_allclose(dX, numeric_gradient(loss, X), rtol=1e-6, atol=1e-8)
    return dX


def check_model_gradients(m, X, y, count):
    """A (float64) downstream model's gradients on the first four examples against central
    differences, at about ``count`` entries of each parameter (the sparse embedding
    gradient made dense first)."""
    from embedkit.downstream.features import make_batch

    idx = [0, 1, 2, 3]
    batch = make_batch([m.featurizer.encode(X[i]) for i in idx], False)
    ys = [y[i] for i in idx]
    _, sparse = m._loss_grad(batch, ys, None)
    grads = {k: g.copy() for k, g in m.grads.items()}
    rows, gemb = sparse["emb"]
    full = np.zeros_like(m.params["emb"])
    full[rows] = gemb
    grads["emb"] = full

    def loss():
        return m._loss_grad(batch, ys, None)[0]

    for name, g in grads.items():
        a = m.params[name]
        check_gradient(loss, a, g, spread(a.shape, count), name)
