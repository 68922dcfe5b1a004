"""Shared fixtures.  Tests never read ../shared: they use tests/data or make their data."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
