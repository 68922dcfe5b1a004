"""Small vector sets the tests share (never read from ../shared)."""

import numpy as np

import embedkit


def mixed_vectors(rng, n=60, dim=7):
    """Vectors whose values span many magnitudes, with exact zeros, extremes and non-ASCII words."""
    m = (rng.standard_normal((n, dim)) * np.exp(rng.uniform(-12, 4, (n, dim)))).astype(np.float32)
    m[0, :3] = [0.0, 1e-30, -3.4e38]
    m[1, :2] = [1.0, -0.5]
    words = [f"w{i}" for i in range(n - 3)] + ["été", "日本", "naïve"]
    return embedkit.Vectors(words, m)


def query_vectors(rng, n=300, dim=16):
    """Random Gaussian vectors with a few named words ("King", "king", "queen", "Paris") last."""
    words = [f"w{i}" for i in range(n - 4)] + ["King", "king", "queen", "Paris"]
    return embedkit.Vectors(words, rng.standard_normal((n, dim)).astype(np.float32))
