"""Running embedkit's data-side work on a Dask cluster (the optional ``embedkit[dask]``).

Dask (``dask.distributed``) schedules the tasks, moves their small results and re-runs
the tasks of a lost worker; embedkit only supplies idempotent tasks that write their
output atomically.  See ``docs/design/distributed.md``.

* :func:`connect` turns ``tcp://HOST:8786`` or ``local:N`` into a ``Client``;
* :func:`embedkit.distributed.prepare.prepare_sharded` counts and encodes shards
  (``embedkit.corpus.prepare(sources, out=DIR, client=...)``);
* :func:`embedkit.distributed.cooccur.run_plan` counts GloVe co-occurrences as a
  map over shards and a reduce over key-range partitions;
* :mod:`embedkit.distributed.query` maps batches of analogy / similarity queries.
"""

from __future__ import annotations

import contextlib
import re

from embedkit.errors import EmbedkitError, ParameterError


class SchedulerError(EmbedkitError, ConnectionError):
    """The Dask scheduler cannot be reached, or the dask extra is not installed."""


def require_dask():
    """Import ``distributed`` or raise a :class:`SchedulerError` saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise SchedulerError("running on a Dask cluster needs the dask extra: "
                             "pip install 'embedkit[dask]'") from None
    return distributed


def _probe(scheduler: str, timeout: float) -> None:
    """Fail fast, naming the address, when nothing listens at a ``tcp://HOST:PORT``."""
    import socket

    m = re.fullmatch(r"(?:tcp://)?\[?([^\]/]+?)\]?:(\d+)/?", scheduler.strip())
    if m is None:
        return  # another protocol (tls://, ucx://, ...): let Dask try
    try:
        socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout).close()
    except OSError as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler} "
                             f"({exc.strerror or exc}): start it with `dask scheduler` or use "
                             "--scheduler local:N") from None


@contextlib.contextmanager
def connect(scheduler: str, timeout: float = 10.0):
    """A Dask ``Client`` for ``scheduler``, closed (with its ``LocalCluster``) on exit.

    Parameters
    ----------
    scheduler : str
        ``tcp://HOST:PORT`` (or any address Dask accepts) of a running scheduler, or
        ``local:N`` to start a ``LocalCluster`` of ``N`` worker processes (one thread
        each) on this machine.
    timeout : float
        Seconds to wait for the scheduler.

    Raises
    ------
    ParameterError
        ``local:N`` with N < 1 or not a number.
    SchedulerError
        Dask is not installed, or the scheduler does not answer (the message names it).
    """
    distributed = require_dask()
    m = re.fullmatch(r"local(?::(\w*))?", scheduler.strip())
    if m is not None:
        n = m.group(1) or "2"
        if not n.isdigit() or int(n) < 1:
            raise ParameterError(f"--scheduler {scheduler!r}: use local:N with N >= 1 worker "
                                 "processes, e.g. local:2")
        cluster = distributed.LocalCluster(n_workers=int(n), threads_per_worker=1,
                                           processes=True, dashboard_address=":0")
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    _probe(scheduler, timeout)
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {scheduler} ({exc}): start "
                             "it with `dask scheduler` or use --scheduler local:N") from None
    try:
        yield client
    finally:
        client.close()
