"""Adam with ``lazy=False``: the dense step of torch.optim.Adam over row-sparse gradients."""

import numpy as np
import pytest

from embedkit.downstream.optim import Adam


def _problem(dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = {"w": rng.standard_normal((6, 3)).astype(dtype),
              "b": rng.standard_normal(5).astype(dtype),
              "e": rng.standard_normal((7, 2)).astype(dtype)}
    steps = []
    for _ in range(6):
        rows = np.sort(rng.choice(7, 3, replace=False))
        steps.append(({"w": rng.standard_normal((6, 3)).astype(dtype)},
                      {"e": (rows, rng.standard_normal((3, 2)).astype(dtype)),
                       "b": (np.array([1, 4]), rng.standard_normal(2).astype(dtype))}))
    return params, steps


def _scatter(shape, rows, g):
    d = np.zeros(shape, g.dtype)
    d[rows] = g
    return d


def test_dense_adam_equals_adam_on_the_scattered_gradients():
    params, steps = _problem(np.float64)
    ref = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in ref.items()}
    v = {k: np.zeros_like(x) for k, x in ref.items()}
    fused = Adam(params, lr=0.01, clip=0.5, lazy=False)
    for t, (dense, sparse) in enumerate(steps, 1):
        full = dict(dense)
        full.update({k: _scatter(params[k].shape, r, g) for k, (r, g) in sparse.items()})
        norm = np.sqrt(sum(np.sum(g * g) for g in full.values()))
        assert fused.step(dense, sparse) == pytest.approx(norm, rel=1e-12)
        s = min(1.0, 0.5 / norm)
        lr_t = 0.01 * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
        for k, g in full.items():  # the textbook step, in float64
            m[k] = 0.9 * m[k] + 0.1 * s * g
            v[k] = 0.999 * v[k] + 0.001 * (s * g) ** 2
            ref[k] -= lr_t * m[k] / (np.sqrt(v[k]) + 1e-8)
    for k in params:
        np.testing.assert_allclose(params[k], ref[k], rtol=1e-12, atol=1e-14)


def test_untouched_rows_move_with_dense_adam_and_stay_with_lazy_adam():
    for lazy, moved in ((True, False), (False, True)):
        params, steps = _problem(np.float32)
        opt = Adam(params, lr=0.01, lazy=lazy)
        opt.step(*steps[0])
        untouched = steps[0][1]["e"][0][0]  # a row of step 1, left out of step 2
        before = params["e"][untouched].copy()
        opt.step({}, {"e": (np.array([r for r in range(7) if r != untouched]),
                            np.ones((6, 2), np.float32))})
        assert (not np.array_equal(params["e"][untouched], before)) == moved


def test_dense_adam_matches_torch_adam():
    torch = pytest.importorskip("torch")
    params, steps = _problem(np.float32, seed=3)
    tp = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in params.items()}
    opt = Adam(params, lr=0.01, clip=0.5, lazy=False)
    topt = torch.optim.Adam(list(tp.values()), lr=0.01)
    for dense, sparse in steps:
        opt.step(dense, sparse)
        tp["w"].grad = torch.from_numpy(dense["w"])
        for k, (r, g) in sparse.items():
            tp[k].grad = torch.from_numpy(_scatter(params[k].shape, r, g))
        torch.nn.utils.clip_grad_norm_(list(tp.values()), 0.5)
        topt.step()
    for k in params:  # eps sits inside the bias correction in torch: agreement to ~1e-5
        np.testing.assert_allclose(params[k], tp[k].detach().numpy(), atol=5e-5)


def test_dense_adam_on_two_threads_equals_one_thread():
    params1, steps = _problem(np.float32)
    params2 = {k: v.copy() for k, v in params1.items()}
    one = Adam(params1, lr=0.01, clip=0.5, lazy=False)
    two = Adam(params2, lr=0.01, clip=0.5, lazy=False, threads=2)
    for dense, sparse in steps:
        one.step(dense, sparse)
        two.step(dense, sparse)
    for k in params1:
        np.testing.assert_allclose(params2[k], params1[k], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(two.m[k], one.m[k], rtol=1e-6, atol=1e-7)


def test_adam_threads_below_one_is_a_parameter_error():
    from embedkit.errors import ParameterError

    with pytest.raises(ParameterError, match="threads"):
        Adam({"w": np.zeros(3)}, threads=0)
