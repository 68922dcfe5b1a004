"""float16 and int8 rows widened to float32: the one decoding step of stored rows.

Shared by :class:`~embedkit.vectors.storage.StoredMatrix` (decoding rows) and its scoring
(:mod:`embedkit.vectors.scoring`, decoding blocks and the float16 kernels' lookup table).
"""

from __future__ import annotations

import numpy as np

from embedkit._kernels import blockscore

_HALF_TABLE: list[np.ndarray] = []


def half_table() -> np.ndarray:
    """The float32 value of every float16 bit pattern (65,536 entries, built once)."""
    if not _HALF_TABLE:
        _HALF_TABLE.append(np.arange(1 << 16, dtype=np.uint16).view(np.float16)
                           .astype(np.float32))
    return _HALF_TABLE[0]


def widen(block: np.ndarray, out: np.ndarray) -> None:
    """Copy float16 or int8 rows into the float32 buffer ``out`` (same shape)."""
    if block.dtype == np.float16:
        blockscore.widen_half(block.view(np.uint16), half_table(), out)
    else:
        np.copyto(out, block, casting="unsafe")
