"""How a vector matrix is stored and scored: float32, float16 or int8 rows and their norms.

:class:`StoredMatrix` is the one place that reads rows.  Queries never build a unit-normalised
copy of the matrix: the cosines of unit query vectors with a block of rows are the dot products
with the rows as stored (a GEMM straight from the memory-mapped file for float32, from a
cache-sized float32 buffer the block is decoded into for float16 and int8), multiplied by a
per-row factor (``1 / norm``; ``scale / norm`` for int8 with per-row scales).  The row norms
are stored in the ``.ekv`` file, or computed once here, streamed, when a file lacks them.
"""

from __future__ import annotations

import logging
from typing import Iterator, Literal

import numpy as np

from embedkit._kernels import blockscore
from embedkit.errors import ParameterError

log = logging.getLogger(__name__)

DTYPES = ("float32", "float16", "int8")
SCALE_AXES = ("row", "dim")
StorageDtype = Literal["float32", "float16", "int8"]
ScaleAxis = Literal["row", "dim"]

#: A decoded (float16 or int8) block of rows is about this many float32 bytes: it stays in
#: the CPU cache between the decode and the GEMM that reads it.
DECODE_BYTES = 2 << 20
#: The dot products of a batch of queries with one block of rows take at most this much.
SCORE_BYTES = 16 << 20
#: float32 rows need no decoding; a block is a view of the (mapped) matrix of at most this
#: many rows.
MAX_BLOCK_ROWS = 1 << 18
_MIN_BLOCK_ROWS = 256
#: Rows whose norms are computed together when a file lacks stored norms.
_NORM_ROWS = 1 << 16


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


_HALF_TABLE: list[np.ndarray] = []
#: Up to this many queries are scored by a Numba kernel reading the stored block directly
#: (no decode buffer, no BLAS call per block); more go through a GEMM on decoded blocks.
FEW_QUERIES = 4
#: Rows per block for the direct kernel (its dot products: ``4 * FEW_QUERIES`` bytes a row).
_DIRECT_ROWS = 1 << 16


def _half_table() -> np.ndarray:
    if not _HALF_TABLE:  # the float32 value of every float16 bit pattern
        _HALF_TABLE.append(np.arange(1 << 16, dtype=np.uint16).view(np.float16)
                           .astype(np.float32))
    return _HALF_TABLE[0]


def _widen(block: np.ndarray, out: np.ndarray) -> None:
    """Copy float16 or int8 rows into the float32 buffer ``out`` (same shape)."""
    if block.dtype == np.float16:
        blockscore.widen_half(block.view(np.uint16), _half_table(), out)
    else:
        np.copyto(out, block, casting="unsafe")


class StoredMatrix:
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
    Arrays are trusted: the loader (:mod:`embedkit.vectors.native`) validates them first.
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
        #: the checksum saved with the rows (``None``: computed when needed)
        self.checksum: str | None = None

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

        Block by block, ``np.linalg.norm(rows, axis=1)`` gives the same float32 values as
        over the whole matrix (the sum runs along each row alone).
        """
        from embedkit._progress import progress_bar

        n = len(self)
        out = np.empty(n, dtype=np.float32)
        step = _NORM_ROWS
        with progress_bar(total=n, desc="row norms", unit="row", leave=False,
                          disable=None if n >= 4 * step else True) as bar:
            for x0 in range(0, n, step):
                x1 = min(n, x0 + step)
                out[x0:x1] = np.linalg.norm(self.decode(x0, x1), axis=1)
                bar.update(x1 - x0)
        return out

    @property
    def factor(self) -> np.ndarray:
        """Per-row factor turning a dot product with the stored block into a cosine.

        ``1 / norm`` (0 for a zero row), times the row's scale for per-row int8.
        """
        if self._factor is None:
            norms = self.norms
            inv = np.zeros(len(norms), dtype=np.float32)
            np.divide(np.float32(1.0), norms, out=inv, where=norms > 0)
            if self.scales is not None and self.scale_axis == "row":
                inv *= self.scales
            self._factor = inv
        return self._factor

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
        _widen(block, out)
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
        return (rows / norms).astype(np.float32, copy=False)

    # -- scoring ----------------------------------------------------------------------------
    def block_rows(self, n_queries: int) -> int:
        """Rows per block for ``n_queries`` queries (a cache-sized decode buffer, bounded
        dot products)."""
        rows = SCORE_BYTES // (4 * max(1, n_queries))
        if self.dtype == "float32":
            rows = min(rows, MAX_BLOCK_ROWS)
        else:
            rows = min(rows, DECODE_BYTES // (4 * max(1, self.dim)))
        return int(max(_MIN_BLOCK_ROWS, rows))

    def _prepare(self, queries: np.ndarray) -> np.ndarray:
        """Queries to multiply with the stored (undecoded, unscaled) blocks."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.scales is not None and self.scale_axis == "dim":
            q = q * self.scales  # (q * s) . codes == q . (s * codes)
        return q

    def _raw_blocks(self, queries, x0, x1, rows=None) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(b0, b1, dots)``: dot products of prepared ``queries`` with the stored blocks
        (multiply by ``factor[b0:b1]`` for cosines)."""
        q = self._prepare(queries)
        if len(q) <= FEW_QUERIES:
            # a Numba kernel straight on the stored (mapped) rows: no buffer, no BLAS
            step = _DIRECT_ROWS if rows is None else int(rows)
            half = self.dtype == "float16"
            for b0 in range(x0, x1, step):
                b1 = min(x1, b0 + step)
                out = np.empty((len(q), b1 - b0), dtype=np.float32)
                if half:
                    blockscore.dots_half(self.data[b0:b1].view(np.uint16), _half_table(), q, out)
                else:
                    blockscore.dots(self.data[b0:b1], q, out)
                yield b0, b1, out
            return
        rows = self.block_rows(len(q)) if rows is None else int(rows)
        buf = None
        if self.dtype != "float32":
            buf = np.empty((min(rows, max(0, x1 - x0)), self.dim), dtype=np.float32)
        for b0 in range(x0, x1, rows):
            b1 = min(x1, b0 + rows)
            if buf is None:
                block = self.data[b0:b1]
            else:
                block = buf[:b1 - b0]
                _widen(self.data[b0:b1], block)
            yield b0, b1, q @ block.T

    def cosine_blocks(self, queries, x0: int = 0, x1: int | None = None,
                      rows: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(b0, b1, cos)`` for consecutive blocks of rows ``x0:x1``.

        ``cos[i, j]`` is the cosine of the unit query ``i`` with row ``b0 + j``; each block
        is a fresh float32 array of at most ``rows`` columns (default :meth:`block_rows`).
        """
        x1 = len(self) if x1 is None else x1
        factor = self.factor
        for b0, b1, dots in self._raw_blocks(queries, x0, x1, rows):
            dots *= factor[b0:b1]
            yield b0, b1, dots

    def cosines(self, queries, x0: int = 0, x1: int | None = None,
                out: np.ndarray | None = None) -> np.ndarray:
        """Cosines of unit ``queries`` with rows ``x0:x1``: ``(n_queries, x1 - x0)`` float32."""
        x1 = len(self) if x1 is None else x1
        queries = np.atleast_2d(queries)
        if out is None:
            out = np.empty((len(queries), x1 - x0), dtype=np.float32)
        for b0, b1, cos in self.cosine_blocks(queries, x0, x1):
            out[:, b0 - x0:b1 - x0] = cos
        return out

    def dots(self, vector, x0: int = 0, x1: int | None = None) -> np.ndarray:
        """Dot products of one raw ``vector`` with the decoded rows ``x0:x1`` (float32).

        For float32 storage this is one ``matrix[x0:x1] @ vector`` on the mapped rows.
        """
        x1 = len(self) if x1 is None else x1
        if self.dtype == "float32":
            return np.dot(self.data[x0:x1], vector)
        out = np.empty(x1 - x0, dtype=np.float32)
        step = self.block_rows(1)
        buf = np.empty((min(step, max(0, x1 - x0)), self.dim), dtype=np.float32)
        for b0 in range(x0, x1, step):
            b1 = min(x1, b0 + step)
            out[b0 - x0:b1 - x0] = self.decode(b0, b1, buf) @ vector
        return out

    def search(self, queries, k: int, exclude: np.ndarray | None = None,
               n_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top ``k`` rows by cosine with each unit query, block by block.

        Parameters
        ----------
        queries : float32 (q, dim)
            Unit query vectors.
        k : int
            Results per query.
        exclude : int64 (q, e), optional
            Per query, rows never returned (``-1`` padded).
        n_rows : int, optional
            Only rows ``0 .. n_rows - 1`` are candidates.

        Returns
        -------
        ids : int64 (q, k)
            Best first; ties keep the lower row; ``-1`` where fewer than ``k`` rows remain.
        scores : float32 (q, k)
            Cosines; ``-inf`` where ``ids`` is ``-1``.
        """
        queries = np.atleast_2d(queries)
        nq = len(queries)
        n_rows = len(self) if n_rows is None else min(int(n_rows), len(self))
        if exclude is None:
            exclude = np.full((nq, 0), -1, dtype=np.int64)
        exclude = np.ascontiguousarray(exclude, dtype=np.int64)
        ids = np.full((nq, k), -1, dtype=np.int64)
        scores = np.full((nq, k), blockscore.EMPTY, dtype=np.float32)
        if nq == 0:
            return ids, scores
        fold = blockscore.fold_topk_serial if nq < 4 else blockscore.fold_topk
        factor = self.factor
        for b0, b1, dots in self._raw_blocks(queries, 0, n_rows):
            fold(dots, factor[b0:b1], b0, exclude, k, ids, scores)
        scores[ids < 0] = -np.inf
        return ids, scores

    def combination_search(self, terms, pos, neg, scale, exclude, k, method, epsilon,
                           n_rows=None, rows=None, ids=None, scores=None):
        """Exact top ``k`` of signed word combinations (3CosAdd or 3CosMul) over the rows.

        ``terms`` are unit vectors; ``pos``/``neg`` (int32, ``-1`` padded) index them per
        query; see :func:`embedkit._kernels.search.combination_topk` for the rest.  The
        cosines of the terms with one block of rows at a time are folded into the running
        top k; the terms x vocabulary matrix is never stored.
        """
        from embedkit._kernels import search as kernels

        nq = len(pos)
        n_rows = len(self) if n_rows is None else min(int(n_rows), len(self))
        if ids is None:
            ids = np.full((nq, k), -1, dtype=np.int64)
            scores = np.full((nq, k), kernels._EMPTY, dtype=np.float32)
        for b0, _, tile in self.cosine_blocks(terms, 0, n_rows, rows):
            kernels.combination_topk(tile, b0, pos, neg, scale, exclude, k, method, epsilon,
                                     ids, scores)
        return ids, scores

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
