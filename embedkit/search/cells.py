"""The locality cells of an HNSW index: spherical k-means over the unit rows orders the
vectors cell by cell, so a batch of queries sorted by nearest centroid reads neighbouring
rows (``clusters`` in :class:`~embedkit.search.index.Index`); the order and centroids are
saved beside the index and checked when read back."""

from __future__ import annotations

import numpy as np

from embedkit.errors import FormatError
from embedkit.search import store

#: k-means training rows per cluster (FAISS asks for at least 39).
_ROWS_PER_CLUSTER = 40
_ASSIGN_CHUNK = 8192


def _spherical_kmeans(storage, clusters, seed):
    """Unit centroids of ``clusters`` spherical k-means cells and every row's cell."""
    import faiss

    n, dim = storage.shape
    size = min(n, _ROWS_PER_CLUSTER * clusters)
    rng = np.random.default_rng(seed)
    sample = storage.unit_rows(np.sort(rng.choice(n, size=size, replace=False)) if size < n
                               else np.arange(n))
    km = faiss.Kmeans(dim, clusters, niter=10, seed=seed, spherical=True,
                      max_points_per_centroid=_ROWS_PER_CLUSTER, verbose=False)
    km.train(np.ascontiguousarray(sample, dtype=np.float32))
    centroids = np.ascontiguousarray(km.centroids, dtype=np.float32)
    return centroids, _nearest_centroid(storage, centroids)


def _nearest_centroid(rows, centroids):
    """Index of the largest inner product with ``centroids`` for each row (chunked GEMMs).

    ``rows`` is a matrix of unit rows or a stored matrix (its unit rows, a chunk at a time).
    """
    unit = getattr(rows, "unit_rows", None)
    out = np.empty(len(rows), dtype=np.int64)
    for a in range(0, len(rows), _ASSIGN_CHUNK):
        b = min(len(rows), a + _ASSIGN_CHUNK)
        chunk = unit(np.arange(a, b)) if unit is not None else rows[a:b]
        out[a:b] = np.argmax(chunk @ centroids.T, axis=1)
    return out


def _read_cells(path, vectors, clusters):
    """The saved cell order and centroids of an HNSW index, checked against ``vectors``."""
    data = store.read_npz(path)
    if data is None:
        raise FormatError(f"the HNSW index's cell file {path} is missing or unreadable: "
                          "rebuild the index with `embedkit index build`")
    ids, centroids = data.get("ids"), data.get("centroids")
    n, dim = len(vectors), vectors.dim
    if (ids is None or centroids is None or ids.shape != (n,)
            or centroids.shape != (clusters, dim) or ids.dtype.kind not in "iu"
            or ids.min(initial=0) < 0 or ids.max(initial=0) >= n
            or np.bincount(ids.astype(np.int64), minlength=n).max(initial=0) != 1):  # permutation
        raise FormatError(f"the HNSW index's cell file {path} does not match the index "
                          f"({n} words, {clusters} cells of dim {dim}): rebuild the index")
    return ids.astype(np.int64), np.ascontiguousarray(centroids, dtype=np.float32)
