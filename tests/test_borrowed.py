"""``borrowed``: a view of an array that Numba does not reference-count."""

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from embedkit._kernels.borrowed import borrowed


@njit
def _write_through_view(a, value):
    v = borrowed(a)
    v[1, 2] = value
    return v.shape[0], v.shape[1], v.strides[0], v.strides[1], v[0, 0]


@njit
def _borrow_anything(x):
    return borrowed(x)


def test_a_borrowed_view_has_the_arrays_data_shape_and_strides():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    r0, r1, s0, s1, first = _write_through_view(a, np.float32(-7.0))
    assert (r0, r1, s0, s1) == (3, 4, 16, 4)
    assert first == 0.0
    assert a[1, 2] == -7.0  # written through the view, into the array's own memory


def test_borrowed_refuses_what_is_not_an_array():
    with pytest.raises(TypingError, match="takes an array"):
        _borrow_anything(3.0)
