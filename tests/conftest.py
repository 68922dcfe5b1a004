"""Shared fixtures.  Tests never read ../shared: they use tests/data or make their data."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _reset_embedkit_logging():
    """The CLI configures the 'embedkit' logger for a process; undo it after each test."""
    import logging

    yield
    logger = logging.getLogger("embedkit")
    logger.handlers[:] = [logging.NullHandler()]
    logger.setLevel(logging.NOTSET)
    logger.propagate = True


@pytest.fixture(scope="module")
def dask_client():
    """A 2-process Dask LocalCluster per test module (skipped without dask); closed after the
    module, so its background threads never run during other modules' tests (allocation
    measurements)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
