"""The memory budget of co-occurrence counting: parsing it (``"4G"``), checking it against
the machine's RAM and the temporary directory's free space, and splitting it between each
worker's dense table of frequent pairs and its buffer of the others (:func:`dense_layout`).

The dense table holds the pairs ``i <= j`` with ``(i + 1) * (j + 1) <= P``, ``P`` as large
as the budget allows (capped so that the table stays in cache); the rest of a worker's
share is its buffer, which spills a sorted run to disk when full.  Used by
:func:`embedkit.training.cooccur.count_cooccurrences`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile

import numpy as np

from embedkit._io import format_bytes
from embedkit.errors import ParameterError

log = logging.getLogger(__name__)

_BYTES_PER_CODE = 24         # 8 for the code + 16 for the reduced (key, sum) it may become
_MIN_RUN = 1024              # smallest buffer (pairs per worker) a budget must allow
_DENSE_MAX_CELLS = 1 << 19   # a dense table that stays in cache (4 MB of float64) counts fastest
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def physical_memory() -> int | None:
    """This machine's RAM in bytes, or None where it cannot be known."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory_budget(memory) -> int:
    """Parse ``memory`` and refuse a budget above this machine's RAM (counting in it would
    swap for hours instead of spilling to disk); returns the budget in bytes."""
    budget = parse_memory(memory)
    ram = physical_memory()
    if ram is not None and budget > ram:
        raise ParameterError(f"memory budget {memory!r} is more than this machine's "
                             f"{format_bytes(ram)} of RAM: give at most about half of it (e.g. "
                             f"--memory {max(1, (ram // 2) >> 30)}G); beyond the budget, "
                             "counting spills to disk")
    return budget


def _check_spill_space(tmp_dir, n_tokens: int, window: int, budget: int) -> None:
    """Warn before counting when the spill could outgrow the free space of ``tmp_dir``
    (an upper bound: 12 bytes per pair a token makes within the window)."""
    bound = 2 * window * n_tokens * 12
    if bound <= budget:
        return
    where = tmp_dir or tempfile.gettempdir()
    try:
        free = shutil.disk_usage(where).free
    except OSError:
        return
    if bound > free:
        log.warning("co-occurrence counting may spill up to %s to %s, which has %s free; if "
                    "it fills, raise --memory or point TMPDIR at a larger disk",
                    format_bytes(bound), where, format_bytes(free))


def parse_memory(value) -> int:
    """Parse a memory budget such as ``"4G"``, ``"512M"``, ``"64K"`` or ``1000000`` (bytes).

    Suffixes are binary (K = 1024 bytes) and case-insensitive; ``"4GB"`` and ``"4GiB"``
    are accepted too.

    Parameters
    ----------
    value : str or int
        The budget.

    Returns
    -------
    int
        Bytes.

    Raises
    ------
    ParameterError
        If the text cannot be parsed or the budget is not positive.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        nbytes = int(value)
    else:
        text = str(value).strip()
        m = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*([kmgtb]?)(?:i?b)?", text, flags=re.I)
        if m is None:
            raise ParameterError(
                f"cannot parse memory budget {value!r}: use a number of bytes with an optional "
                "K, M or G suffix, e.g. '4G' or '512M'")
        nbytes = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    if nbytes <= 0:
        raise ParameterError(f"memory budget must be positive, got {value!r}; e.g. '4G'")
    return nbytes


# -- layout and budget ------------------------------------------------------------------------

def _row_lengths(vocab_size: int, product: int) -> np.ndarray:
    i = np.arange(vocab_size, dtype=np.int64)
    return np.maximum(0, np.minimum(vocab_size, product // (i + 1)) - i)


def dense_layout(vocab_size: int, max_cells: int):
    """Row layout of the dense table: pairs ``i <= j`` with ``(i+1)(j+1) <= P``, ``P`` maximal.

    Returns ``(row_start, row_len, product)``; the table has ``row_len.sum() <= max_cells``
    cells.
    """
    V = int(vocab_size)
    full = V * (V + 1) // 2
    if max_cells >= full:
        product = V * V
    elif max_cells <= 0:
        product = 0
    else:
        lo, hi = 0, V * V  # total(lo) <= max_cells < total(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if int(_row_lengths(V, mid).sum()) <= max_cells:
                lo = mid
            else:
                hi = mid
        product = lo
    row_len = _row_lengths(V, product)
    row_start = np.zeros(V, dtype=np.int64)
    if V > 1:
        np.cumsum(row_len[:-1], out=row_start[1:])
    return row_start, row_len, product


def _plan(budget: int, workers: int, dense_fraction: float, vocab_size: int, window: int,
          memory_text):
    """Split the budget into per-worker dense cells and buffer capacity."""
    per_worker = budget // workers
    dense_cells = min(_DENSE_MAX_CELLS, int(per_worker * dense_fraction) // 8)
    row_start, row_len, product = dense_layout(vocab_size, dense_cells)
    used = int(row_len.sum()) * 8
    capacity = (per_worker - used) // _BYTES_PER_CODE
    need = max(_MIN_RUN, window)
    if capacity < need:
        minimum = int(workers * need * _BYTES_PER_CODE / max(1e-9, 1.0 - dense_fraction)) + 1
        raise ParameterError(
            f"memory budget {memory_text!r} is too small to hold even one sorted run of "
            f"{need} pairs per worker ({workers} workers): give at least "
            f"{format_bytes(minimum)}, e.g. --memory 64M")
    return row_start, row_len, product, capacity
