"""``branchless.select``: ``a if cond else b`` as a conditional move."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from embedkit._kernels.branchless import select


@njit
def _pick_each(conds, a, b):
    out = np.empty(conds.shape[0], np.int64)
    for k in range(conds.shape[0]):
        out[k] = select(conds[k], a[k], b[k])
    return out


@njit
def _pick_mixed(c, x, y):
    return select(c, x, y)


def test_select_takes_the_first_value_when_true_and_the_second_when_false():
    conds = np.array([True, False, False, True])
    a = np.array([1, 2, 3, 4])
    b = np.array([-1, -2, -3, -4])
    assert _pick_each(conds, a, b).tolist() == [1, -2, -3, 4]


def test_select_refuses_values_of_different_types():
    with pytest.raises(TypingError, match="two values of one type"):
        _pick_mixed(True, 1, 2.0)
