"""Fault tolerance comes from Dask: a worker process killed in the middle of a run loses its
tasks' results, Dask re-runs them, and the output is still identical (tasks are idempotent
and write atomically)."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from embedkit.corpus import prepare
from shards import write_shards

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def own_cluster(dask_client):
    """A cluster of its own: these tests kill its workers (the nannies restart them); the
    ``dask_client`` fixture starts one per test module."""
    return dask_client


def _kill_when(client, prefix: str, run: threading.Thread, timeout: float = 60.0) -> bool:
    """SIGKILL the worker holding the first finished task named ``prefix...`` while ``run``
    is still going; returns whether the kill happened mid-run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.is_alive():
        held = {k: v for k, v in client.who_has().items() if str(k).startswith(prefix) and v}
        if held:
            address = sorted(next(iter(held.values())))[0]
            pid = client.run(os.getpid, workers=[address])[address]
            alive = run.is_alive()
            os.kill(pid, signal.SIGKILL)
            return alive
        time.sleep(0.01)
    return False


def test_killing_a_worker_mid_preparation_gives_the_identical_result(tmp_path, own_cluster):
    src = tmp_path / "src"
    write_shards(src, n_shards=16, lines=600, seed=7)
    single = prepare(src, min_count=2, cache=False)
    out = tmp_path / "enc"
    result, errors = {}, []

    def go():
        try:
            result["enc"] = prepare(src, min_count=2, out=out, client=own_cluster)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    run = threading.Thread(target=go)
    run.start()
    killed_mid_run = _kill_when(own_cluster, "embedkit-count-", run)
    run.join(120)
    assert not errors, errors
    assert killed_mid_run
    enc = result["enc"]
    assert enc.vocab.words == single.vocab.words
    np.testing.assert_array_equal(enc.vocab.counts, single.vocab.counts)
    np.testing.assert_array_equal(enc.ids, single.ids)
    np.testing.assert_array_equal(enc.offsets, single.offsets)


def test_killing_a_worker_mid_counting_gives_the_identical_counts(tmp_path, own_cluster):
    from embedkit.training.cooccur import count_cooccurrences
    from embedkit.training.cooccur_partitioned import count_sharded

    write_shards(tmp_path / "src", n_shards=12, lines=600, seed=11)
    enc = prepare(tmp_path / "src", min_count=1, out=tmp_path / "enc")
    ref = count_cooccurrences(enc.ids, enc.offsets, len(enc.vocab), window=5, workers=1,
                              progress=False)
    result, errors = {}, []

    def go():
        try:
            result["pc"] = count_sharded(enc, tmp_path / "co", window=5, n_partitions=6,
                                         client=own_cluster)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    run = threading.Thread(target=go)
    run.start()
    killed_mid_run = _kill_when(own_cluster, "embedkit-cooc-map-", run)
    run.join(120)
    assert not errors, errors
    assert killed_mid_run
    co = result["pc"].load()
    np.testing.assert_array_equal(co.keys, ref.keys)
    np.testing.assert_array_equal(co.values.view(np.uint32), ref.values.view(np.uint32))
