"""Checks of the parameters a user passes, one rule each, every failure a
:class:`~embedkit.errors.ParameterError` that names the parameter, the value and the fix.

Used by every public entry point instead of hand-written ``if x < 1: raise ...`` lines::

    self.dim = int(check_positive("dim", dim, integer=True))      # "dim must be >= 1, got 0"
    check_fraction("dropout", dropout)                           # "dropout must be in [0, 1)"
"""

from __future__ import annotations

import math
import os

import numpy as np

from embedkit.errors import MissingFileError, ParameterError

__all__ = ["check_count", "check_fraction", "check_non_negative", "check_out_path",
           "check_positive", "check_workers"]


def _check_number(name, value, integer):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ParameterError(f"{name} must be a whole number, got {value}")
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value}")


def check_positive(name: str, value, integer: bool = False, hint: str = ""):
    """Return ``value`` if it is > 0, else raise :class:`ParameterError` naming it.

    Parameters
    ----------
    name : str
        The parameter name as the user spells it (e.g. ``"window"``).
    value : int or float
        The value to check.
    integer : bool
        Also require an integer (the message then says ``>= 1``).
    hint : str
        Extra advice appended to the message.
    """
    _check_number(name, value, integer)
    if not value > 0:
        raise ParameterError(f"{name} must be {'>= 1' if integer else '> 0'}, got {value}{hint}")
    return value


def check_non_negative(name: str, value, integer: bool = False, hint: str = ""):
    """Return ``value`` if it is >= 0, else raise :class:`ParameterError` naming it."""
    _check_number(name, value, integer)
    if not value >= 0:
        raise ParameterError(f"{name} must be >= 0, got {value}{hint}")
    return value


def check_fraction(name: str, value, hint: str = ""):
    """Return ``value`` if it is in ``[0, 1)`` (a dropout rate, a probability that must
    leave something), else raise :class:`ParameterError` naming it."""
    _check_number(name, value, False)
    if not 0 <= value < 1:
        raise ParameterError(f"{name} must be in [0, 1), got {value}{hint}")
    return value


def check_workers(workers) -> int:
    """Resolve ``workers`` (None -> CPU count) and check it is >= 1."""
    from embedkit._threads import cpu_count

    if workers is None:
        return cpu_count()
    check_positive("workers", workers, integer=True)
    return int(workers)


def check_out_path(path) -> str | None:
    """Check that the directory of an output path exists (None passes through)."""
    if path is None:
        return None
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise MissingFileError(
            f"cannot write {path}: directory {parent} does not exist (create it first)")
    return path


def check_count(name: str, value, hint: str = "") -> int:
    """Return ``value`` as an int if it is an integer >= 1 (a bool is not), else raise
    :class:`ParameterError`: ``"topn must be a positive integer, got 0"``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be a positive integer{hint}, got {value!r}")
    return int(value)
