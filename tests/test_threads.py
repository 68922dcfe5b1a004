"""Thread helpers: which BLAS pools a block limits."""

import os

import numpy as np
from threadpoolctl import threadpool_info

from embedkit._threads import numpy_blas_threads


def _pools():
    return {i["filepath"]: i["num_threads"] for i in threadpool_info()
            if i["user_api"] == "blas"}


def test_numpy_blas_threads_keeps_the_other_pools_on_one_and_restores_them():
    before = _pools()
    numpy_dir = os.path.dirname(os.path.dirname(os.path.abspath(np.__file__)))
    with numpy_blas_threads(2):
        inside = _pools()
    others = [n for f, n in inside.items()
              if not os.path.abspath(f).startswith((os.path.join(numpy_dir, "numpy.libs"),
                                                     os.path.join(numpy_dir, "numpy") + os.sep))]
    assert len(others) >= 1  # SciPy's BLAS, loaded by the helper
    assert all(n == 1 for n in others)
    assert {f: n for f, n in _pools().items() if f in before} == before
