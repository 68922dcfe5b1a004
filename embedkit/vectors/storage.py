"""How a vector matrix is stored: float32, float16 or int8 rows, their scales and norms.

:class:`StoredMatrix` is the one place that reads rows.  It holds the stored rows (often
memory-mapped), decodes them to float32, and keeps their norms: stored in the ``.ekv`` file,
or computed once here, streamed, when a file lacks them.  Scoring queries against the rows
(cosines block by block, exact top k, word combinations) is its other half,
:class:`~embedkit.vectors.scoring.ScoringMixin`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from embedkit._io import matrix_checksum
from embedkit.errors import FormatError, ParameterError
from embedkit.vectors._decode import widen
# The scoring constants were defined here before the split: still importable from here.
from embedkit.vectors.scoring import (  # noqa: F401
    DECODE_BYTES, FEW_QUERIES, MAX_BLOCK_ROWS, SCORE_BYTES, ScoringMixin)

DTYPES = ("float32", "float16", "int8")
SCALE_AXES = ("row", "dim")
StorageDtype = Literal["float32", "float16", "int8"]
ScaleAxis = Literal["row", "dim"]

#: Rows whose norms are computed together when a file lacks stored norms.
_NORM_ROWS = 1 << 16
#: Below this a float32 sum of squares may underflow (``sqrt`` of the smallest normal).
_TINY_NORM = np.float32(2.0 ** -63)


def check_dtype(dtype) -> str:
    """The storage dtype name for ``dtype`` (``"float32"``, ``"float16"`` or ``"int8"``)."""
    name = getattr(np.dtype(dtype), "name", None) if _is_dtype_like(dtype) else None
    if name not in DTYPES:
        raise ParameterError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return name


def _is_dtype_like(dtype) -> bool:
    try:
        np.dtype(dtype)
    except (TypeError, ValueError):
        return False
    return True


def row_norms(block: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of the float32 ``block``, as float32.

    ``np.linalg.norm(block, axis=1)`` (float32 sums, bit for bit) for ordinary rows; a row
    whose float32 sum of squares overflows (a value above about 1e19) or underflows is
    recomputed in float64.  The result is ``inf`` only for a row holding infinity or whose
    norm exceeds the float32 range (values near 3.4e38; such a "wide" row is scored in
    float64, see :attr:`StoredMatrix.wide`), NaN only for a row holding NaN.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        out = np.linalg.norm(block, axis=1)
        redo = ~(out >= _TINY_NORM) | (out == np.inf)  # NaN, inf, underflow
        if redo.any():
            rows = np.flatnonzero(redo)
            out[rows] = np.linalg.norm(block[rows].astype(np.float64), axis=1).astype(np.float32)
    return out


def first_unscorable(norms: np.ndarray, data: np.ndarray | None = None) -> int | None:
    """Index of the first row that cannot be scored, or None (block by block).

    A norm that is negative or NaN; ``inf`` too, unless ``data`` (the stored rows) shows
    the row is finite (a wide row, whose norm only exceeds the float32 range).
    """
    step = 1 << 20
    for x0 in range(0, len(norms), step):
        part = norms[x0:x0 + step]
        bad = ~(part >= 0)  # negative or NaN
        if data is not None:
            for r in np.flatnonzero(part == np.inf):
                bad[r] = not np.isfinite(data[x0 + r]).all()
        else:
            bad |= part == np.inf
        if bad.any():
            return x0 + int(np.flatnonzero(bad)[0])
    return None


def vectors_checksum(vectors) -> str:
    """The checksum tying a saved index to ``vectors``: of the rows as stored (float32 files
    give the same checksum as before stored norms existed), plus int8 scales."""
    saved = getattr(vectors.storage, "checksum", None)
    if saved:  # computed while the .ekv was written: no pass over the matrix
        return saved
    parts = vectors.storage.checksum_arrays()
    digest = matrix_checksum(parts[0])
    for extra in parts[1:]:
        digest += "+" + matrix_checksum(extra).split(":", 1)[1]
    return digest


class StoredMatrix(ScoringMixin):
    """A matrix of word vectors as stored, with its row norms; scores queries block by block.

    Parameters
    ----------
    data : ndarray (n, dim) of float32, float16 or int8
        The stored rows (often memory-mapped); never copied.
    norms : ndarray (n,) of float32, optional
        Euclidean norm of each (decoded) row; computed once, streamed, when omitted.
    scales : ndarray of float32, optional
        int8 only: ``(n,)`` per-row or ``(dim,)`` per-dimension scales; a row's values are
        its codes times the scales.
    scale_axis : {"row", "dim"}, optional
        int8 only: which of the two ``scales`` holds.

    Notes
    -----
    Arrays are trusted: the loader (:mod:`embedkit.vectors.native_reader`) validates them first.
    """

    def __init__(self, data: np.ndarray, norms: np.ndarray | None = None,
                 scales: np.ndarray | None = None, scale_axis: ScaleAxis | None = None):
        self.data = data
        self.dtype: str = data.dtype.name
        if self.dtype not in DTYPES:
            raise ParameterError(f"stored vectors must be one of {', '.join(DTYPES)}, "
                                 f"got {self.dtype}")
        if (self.dtype == "int8") != (scales is not None):
            raise ParameterError("int8 storage needs scales, and only int8 storage has them")
        self.scales = scales
        self.scale_axis = scale_axis if scales is not None else None
        self._norms = norms
        self.norms_stored = norms is not None
        self._factor = None
        self._wide = None
        #: the checksum saved with the rows (``None``: computed when needed)
        self.checksum: str | None = None
        #: the file the rows were read from (named in errors about damaged rows), if any
        self.source: str | None = None

    # -- shape ------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.data.shape)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def dim(self) -> int:
        return int(self.data.shape[1])

    @property
    def nbytes(self) -> int:
        """Bytes of the stored rows, norms and scales."""
        extra = 0 if self._norms is None else self._norms.nbytes
        extra += 0 if self.scales is None else self.scales.nbytes
        return int(self.data.nbytes) + int(extra)

    def __repr__(self) -> str:
        scale = f", {self.scale_axis} scales" if self.scales is not None else ""
        return f"StoredMatrix({len(self)} x {self.dim} {self.dtype}{scale})"

    def head(self, n: int) -> "StoredMatrix":
        """The first ``n`` rows (views: a mapped matrix stays mapped)."""
        scales = self.scales
        if scales is not None and self.scale_axis == "row":
            scales = scales[:n]
        out = StoredMatrix(self.data[:n], None if self._norms is None else self._norms[:n],
                           scales, self.scale_axis)
        out.norms_stored = self.norms_stored
        out.source = self.source
        return out

    # -- norms ------------------------------------------------------------------------------
    @property
    def norms(self) -> np.ndarray:
        """Row norms (float32, ``(n,)``): stored, or computed once, streamed, on first use."""
        if self._norms is None:
            self._norms = self.compute_norms()
        return self._norms

    def compute_norms(self) -> np.ndarray:
        """Each decoded row's Euclidean norm, a block of rows at a time (no full-size copy).

        Block by block, :func:`row_norms` gives the same float32 values as
        ``np.linalg.norm`` over the whole matrix (the sum runs along each row alone), and
        finite norms for rows whose float32 sum of squares would overflow.  A row holding
        NaN or infinity gets a NaN or infinite norm (the loader refuses such files).
        """
        from embedkit._progress import progress_bar

        n = len(self)
        out = np.empty(n, dtype=np.float32)
        step = _NORM_ROWS
        with progress_bar(total=n, desc="row norms", unit="row", leave=False,
                          disable=None if n >= 4 * step else True) as bar:
            for x0 in range(0, n, step):
                x1 = min(n, x0 + step)
                out[x0:x1] = row_norms(self.decode(x0, x1))
                bar.update(x1 - x0)
        return out

    # -- rows -------------------------------------------------------------------------------
    def decode(self, x0: int, x1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``x0:x1`` as float32 values (a view for float32 storage, else ``out``)."""
        block = self.data[x0:x1]
        if self.dtype == "float32":
            return block
        if out is None:
            out = np.empty(block.shape, dtype=np.float32)
        else:
            out = out[:x1 - x0]
        widen(block, out)
        if self.scales is not None:
            if self.scale_axis == "row":
                out *= self.scales[x0:x1, None]
            else:
                out *= self.scales
        return out

    def rows(self, ids) -> np.ndarray:
        """Decoded float32 rows ``ids`` (a fresh array)."""
        ids = np.asarray(ids, dtype=np.int64)
        block = self.data[ids]
        if self.dtype == "float32":
            return block if block.flags.c_contiguous else np.ascontiguousarray(block)
        out = block.astype(np.float32)
        if self.scales is not None:
            out *= self.scales[ids, None] if self.scale_axis == "row" else self.scales
        return out

    def unit_rows(self, ids) -> np.ndarray:
        """Rows ``ids`` scaled to unit length (zero rows stay zero), float32.

        Row for row the same values as ``Vectors.normalized[ids]``.
        """
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.rows(ids)
        norms = self.norms[ids]
        norms = np.where(norms == 0, np.float32(1.0), norms)[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            out = (rows / norms).astype(np.float32, copy=False)
        for i in np.flatnonzero(norms[:, 0] == np.inf):  # wide rows: divide in float64
            r64 = rows[i].astype(np.float64)
            out[i] = r64 / np.linalg.norm(r64)
        if not np.isfinite(out).all():
            bad = int(ids[np.flatnonzero(~np.isfinite(out).all(axis=1))[0]])
            raise FormatError(f"{self.source or 'the vectors'}: row {bad + 1} holds NaN or "
                              "infinity, or disagrees with its stored norm (the file was "
                              "changed after it was written): run `embedkit validate`")
        return out

    # -- identity ---------------------------------------------------------------------------
    def checksum_arrays(self) -> list[np.ndarray]:
        """The arrays whose bytes define the stored values (data, then scales if any)."""
        return [self.data] if self.scales is None else [self.data, self.scales[None, :]]

    def resident_estimate(self) -> dict:
        """Bytes a brute-force query touches: the stored rows, the norms and factors, and the
        decode buffer (pages of a mapped file count once, shared between processes)."""
        n = len(self)
        buf = 0 if self.dtype == "float32" else self.block_rows(1) * self.dim * 4
        return {"matrix": int(self.data.nbytes), "norms": 8 * n,
                "scales": 0 if self.scales is None else int(self.scales.nbytes),
                "buffer": int(buf)}
