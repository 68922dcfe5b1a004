"""Thread-related helpers: CPU count and pinning BLAS to one thread around Numba kernels."""

from __future__ import annotations

import contextlib
import os


def cpu_count() -> int:
    """Usable CPUs (respects the process affinity mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def single_threaded_blas():
    """Limit every BLAS pool (numpy's and SciPy's OpenBLAS) to one thread inside the block.

    Worker threads are the parallelism in embedkit's kernels; a BLAS pool spinning
    beside them slows ``np.dot`` inside ``@njit`` code by an order of magnitude.
    """
    # threadpoolctl only limits libraries already loaded: load SciPy's BLAS (the one np.dot
    # inside @njit calls) first, or it starts later with a full, spinning thread pool.
    import scipy.linalg.cython_blas  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def one_blas_thread(func):
    """Decorator: run ``func`` inside :func:`single_threaded_blas`.

    For the generators' entry points, whose NumPy products are small (one step, one
    batch): a multi-threaded BLAS pool spinning on them is 10-40x slower on a busy machine.
    """
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return func(*args, **kwargs)

    return wrapper
