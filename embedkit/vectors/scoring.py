"""Scoring of stored rows: cosines with unit queries, exact top k, word combinations.

:class:`ScoringMixin` is the query half of :class:`~embedkit.vectors.storage.StoredMatrix`
(which holds the rows, their norms and scales).  Queries never build a unit-normalised copy
of the matrix: the cosines of unit query vectors with a block of rows are the dot products
with the rows as stored (a GEMM straight from the memory-mapped file for float32, from a
cache-sized float32 buffer the block is decoded into for float16 and int8, or a fused Numba
pass for a few queries), multiplied by a per-row factor (``1 / norm``; ``scale / norm`` for
int8 with per-row scales).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from embedkit._kernels import blockscore
from embedkit.errors import FormatError
from embedkit.vectors._decode import half_table, widen

#: A decoded (float16 or int8) block of rows is about this many float32 bytes: it stays in
#: the CPU cache between the decode and the GEMM that reads it.
DECODE_BYTES = 2 << 20
#: The dot products of a batch of queries with one block of rows take at most this much.
SCORE_BYTES = 16 << 20
#: float32 rows need no decoding; a block is a view of the (mapped) matrix of at most this
#: many rows (one BLAS matrix-vector product per block for a single query: a few calls
#: over 3 M rows, each streaming 1.2 GB of mapped rows, with 4 MB of dot products).
MAX_BLOCK_ROWS = 1 << 20
_MIN_BLOCK_ROWS = 256
#: Up to this many queries are searched by one fused pass of a Numba kernel over the stored
#: rows (:meth:`ScoringMixin._scan`: dot products, cosines and top k per row, parallel over
#: ranges of rows, no buffer); more go through a GEMM on (decoded) blocks.  For one query on
#: float32 rows the fused pass is about twice as fast as BLAS's matrix-vector product.
FEW_QUERIES = 4
#: Rows per block for the direct kernel (its dot products: ``4 * FEW_QUERIES`` bytes a row).
_DIRECT_ROWS = 1 << 16
#: A cosine above this means the stored norms disagree with the rows (a damaged file).
_COS_LIMIT = np.float32(1.0 + 1e-3)


class ScoringMixin:
    """Cosines and exact searches over the rows of a
    :class:`~embedkit.vectors.storage.StoredMatrix`.

    Uses the matrix's ``data``, ``dtype``, ``dim``, ``scales``, ``scale_axis``, ``norms``,
    ``rows``, ``decode`` and ``source``; keeps the per-row factors and the wide rows it
    derives from the norms in ``_factor`` and ``_wide`` (``None`` until first used).
    """

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

    @property
    def wide(self) -> np.ndarray:
        """Rows whose norm exceeds the float32 range (stored as ``inf``; finite values near
        3.4e38): their float32 dot products could overflow, so their cosines are computed
        in float64 (:meth:`exact_cosines`).  Usually empty."""
        if self._wide is None:
            self._wide = np.flatnonzero(self.norms == np.inf)
        return self._wide

    def exact_cosines(self, queries, ids) -> np.ndarray:
        """Cosines of unit ``queries`` with rows ``ids`` computed in float64 (float32 out)."""
        rows = self.rows(ids).astype(np.float64)
        norms = np.linalg.norm(rows, axis=1)
        norms[norms == 0] = 1.0
        q = np.atleast_2d(np.asarray(queries, dtype=np.float64))
        return ((q @ rows.T) / norms).astype(np.float32)

    def _cos_block(self, queries, b0, b1, dots) -> bool:
        """Turn ``dots`` of rows ``b0:b1`` into cosines in place when the block holds wide
        rows (exact for them); returns False (nothing done) otherwise."""
        wide = self.wide
        lo, hi = np.searchsorted(wide, [b0, b1])
        if lo == hi:
            return False
        with np.errstate(over="ignore", invalid="ignore"):
            dots *= self.factor[b0:b1]
        ids = wide[lo:hi]
        dots[:, ids - b0] = self.exact_cosines(queries, ids)
        return True


    # -- blocks and searches ------------------------------------------------------------------
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
        if self.dtype == "float32":
            # BLAS straight on views of the (mapped) rows: nothing is copied or decoded
            step = self.block_rows(len(q)) if rows is None else int(rows)
            for b0 in range(x0, x1, step):
                b1 = min(x1, b0 + step)
                block = self.data[b0:b1]
                with np.errstate(over="ignore", invalid="ignore"):  # wide rows: redone
                    if len(q) == 1:  # a matrix-vector product (sgemv), as gensim does
                        dots = np.dot(block, q[0])[None, :]
                    else:
                        dots = q @ block.T
                yield b0, b1, dots
            return
        if len(q) <= FEW_QUERIES:
            # a Numba kernel straight on the stored (mapped) rows: no buffer, no BLAS
            step = _DIRECT_ROWS if rows is None else int(rows)
            half = self.dtype == "float16"
            for b0 in range(x0, x1, step):
                b1 = min(x1, b0 + step)
                out = np.empty((len(q), b1 - b0), dtype=np.float32)
                if half:
                    blockscore.dots_half(self.data[b0:b1].view(np.uint16), half_table(), q, out)
                else:
                    blockscore.dots(self.data[b0:b1], q, out)
                yield b0, b1, out
            return
        rows = self.block_rows(len(q)) if rows is None else int(rows)
        buf = np.empty((min(rows, max(0, x1 - x0)), self.dim), dtype=np.float32)
        for b0 in range(x0, x1, rows):
            b1 = min(x1, b0 + rows)
            block = buf[:b1 - b0]
            widen(self.data[b0:b1], block)
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
            if not self._cos_block(queries, b0, b1, dots):
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
        if nq <= FEW_QUERIES and n_rows > 0 and not len(self.wide):
            ids, scores = self._scan(queries, k, exclude, n_rows)
            self._check_cosines(queries, ids, scores)
            scores[ids < 0] = -np.inf
            return ids, scores
        fold = blockscore.fold_topk_serial if nq < 4 else blockscore.fold_topk
        factor = self.factor
        for b0, b1, dots in self._raw_blocks(queries, 0, n_rows):
            if self._cos_block(queries, b0, b1, dots):
                fold(dots, np.ones(b1 - b0, dtype=np.float32), b0, exclude, k, ids, scores)
            else:
                fold(dots, factor[b0:b1], b0, exclude, k, ids, scores)
        self._check_cosines(queries, ids, scores)
        scores[ids < 0] = -np.inf
        return ids, scores

    def _scan(self, queries, k, exclude, n_rows) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`search` for a few queries: one fused pass over the stored rows.

        :func:`~embedkit._kernels.blockscore.scan_topk` reads each stored row once (no
        decode buffer, no dot-product array), in as many consecutive ranges as Numba has
        threads; the ranges' top k are merged here (a stable sort, so ties keep the lower
        row, as in the block-by-block fold).
        """
        import numba

        q = self._prepare(queries)
        nq = len(q)
        chunks = max(1, min(numba.get_num_threads(), n_rows // _MIN_BLOCK_ROWS))
        ids = np.full((chunks, nq, k), -1, dtype=np.int64)
        scores = np.full((chunks, nq, k), blockscore.EMPTY, dtype=np.float32)
        if self.dtype == "float16":
            blockscore.scan_topk_half(self.data.view(np.uint16), half_table(), q, self.factor,
                                      0, n_rows, exclude, ids, scores)
        else:
            blockscore.scan_topk(self.data, q, self.factor, 0, n_rows, exclude, ids, scores)
        ids = ids.transpose(1, 0, 2).reshape(nq, chunks * k)
        scores = scores.transpose(1, 0, 2).reshape(nq, chunks * k)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return (np.ascontiguousarray(np.take_along_axis(ids, order, axis=1)),
                np.ascontiguousarray(np.take_along_axis(scores, order, axis=1)))

    def _check_cosines(self, queries, ids, scores) -> None:
        """A cosine above 1 (times the query's length) means a stored norm is smaller than
        its row: refuse it rather than return a score that cannot be a cosine."""
        over = scores[:, 0] > _COS_LIMIT * np.linalg.norm(queries, axis=1)
        if over.any():
            q = int(np.flatnonzero(over)[0])
            r = int(ids[q, 0])
            raise FormatError(f"{self.source or 'the vectors'}: row {r + 1} scores a cosine of "
                              f"{float(scores[q, 0]):.4g}: its stored norm disagrees with the "
                              "row (the file was changed after it was written): run "
                              "`embedkit validate`, or rewrite the norms with `embedkit convert`")

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
