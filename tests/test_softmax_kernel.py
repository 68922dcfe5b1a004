"""The float32 full-softmax kernel of exact perplexity (vectorised exponential) against a
float64 NumPy reference."""

import numpy as np
import pytest

from embedkit._kernels.softmax import (
    _CHUNK,
    _sum_exp_f32,
    softmax_nll_rows_f32,
    softmax_nll_rows_f32_parallel,
)


def _reference_nll(L, b, tgt):
    z = L.astype(np.float64) + b.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return lse - z[np.arange(len(tgt)), tgt]


def test_exponential_relative_error_below_1e7_over_its_range():
    x = np.linspace(-87.0, 0.0, 200_001).astype(np.float32)
    frac = np.empty(_CHUNK, np.float32)
    bits = np.empty(_CHUNK, np.int32)
    zero = np.zeros(1, np.float32)
    worst = 0.0
    for v in x[::997]:
        got = _sum_exp_f32(np.array([v], np.float32), zero, np.float32(0.0), frac, bits)
        want = np.exp(np.float64(v))
        worst = max(worst, abs(got - want) / want)
    assert worst < 1e-7


@pytest.mark.parametrize("kernel", [softmax_nll_rows_f32, softmax_nll_rows_f32_parallel])
def test_nll_rows_match_float64_reference(kernel):
    rng = np.random.default_rng(3)
    n, V = 7, 3 * _CHUNK + 17  # several chunks and a partial one
    L = (rng.standard_normal((n, V)) * 4).astype(np.float32)
    L[0, 5] = 60.0   # one dominant logit: the rest underflow
    L[1] -= 200.0    # every logit far below zero
    b = rng.standard_normal(V).astype(np.float32)
    tgt = rng.integers(0, V, n)
    out = np.empty(n)
    kernel(L, b, tgt, out)
    np.testing.assert_allclose(out, _reference_nll(L, b, tgt), rtol=1e-6, atol=1e-5)
