"""The :class:`Index`: a FAISS inner-product index over unit-normalized word vectors."""

from __future__ import annotations

import logging
import os

import numpy as np

from embedkit._kernels import search as kernels
from embedkit._io import write_atomic_path, write_json, write_npz
from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit.search import store
from embedkit.search.faiss_log import faiss_messages_to_log  # noqa: F401 - re-exported
from embedkit.search.params import (  # noqa: F401 - re-exported
    AUTO_HNSW_MIN_WORDS, DEFAULTS, IVFPQ_MIN_WORDS, IVFPQ_USEFUL_WORDS, KINDS, check_params,
    resolve_kind)
from embedkit.search.cells import _nearest_centroid, _read_cells, _spherical_kmeans
from embedkit.search.results import (_check_int, _empty_to_neg_inf, _rerank, exclusion_matrix,
                                     ids_to_words)
from embedkit.vectors.storage import vectors_checksum

log = logging.getLogger(__name__)

#: Batches of at least this many queries are searched in locality order (see ``clusters``).
LOCALITY_MIN_QUERIES = 64
class Index:
    """A nearest-neighbour index over the unit rows of a :class:`~embedkit.Vectors`.

    Inner product on unit vectors is cosine similarity.  Approximate kinds fetch extra
    candidates and re-rank them with exact cosines, so returned scores are always exact.

    Parameters
    ----------
    vectors : Vectors
        The vocabulary and its matrix; the index keeps a reference for re-ranking and words.
    kind : {"auto", "exact", "hnsw", "ivfpq"}
        ``exact`` is FAISS ``IndexFlatIP``; ``hnsw`` is ``IndexHNSWFlat``; ``ivfpq`` is an
        inverted file with product quantization (for millions of words), trained on a
        seeded sample.  ``auto`` is exact below 200,000 words and HNSW from there on.
    hnsw_m : int, default 32
        HNSW graph degree (FAISS's ``M``).
    ef_construction, ef_search : int, default 80, 256
        HNSW beam widths when building and searching (raised to the candidate count).
        A wider search beam is more accurate and slower; the recall measured at several
        widths is in ``docs/benchmarks/query_speed.md``.
    nlist : int, optional
        IVF cells; default ``min(4 * sqrt(n), n // 39)`` clipped to [1, 65536] (FAISS
        trains each cell's centroid on at least 39 rows).
    pq_m : int, optional
        PQ sub-quantizers (must divide ``dim``); default the largest divisor <= dim / 4.
    nbits : int, optional
        Bits per PQ code; default 8, fewer below 9,984 words (``2 ** nbits * 39`` rows
        train the codebooks).  With the defaults an IVF-PQ index over fewer than 624 words
        is refused: use ``"exact"``.
    nprobe : int, default 16
        IVF cells visited per query.
    train_size : int, optional
        IVF-PQ training sample; default ``max(64 * nlist, 2 ** nbits * 64)`` rows, at most n.
    rerank : int
        Approximate kinds fetch ``rerank * (k + excluded)`` candidates and keep the exact best.
    clusters : int, optional
        HNSW only: spherical k-means cells (default ``min(1024, n // 64)``; 0 turns this
        off).  The graph's vectors are stored cell by cell, and a batch of queries is searched
        in the order of each query's nearest cell, so consecutive queries walk the same part
        of the graph while it is still in the CPU caches: 1.4-1.6x the queries/s on the
        benchmark's 100,000 x 300 set, whose words are not sorted by frequency, and no change
        on a frequency-sorted real vocabulary (``benchmarks/query_speed.py --unordered``).
        Results do not change.
        Set the attribute ``locality = False`` to search batches in the order given.
    seed : int, default 0
        Seeds the IVF-PQ training sample and k-means, and the HNSW cells' k-means.

    Examples
    --------
    >>> import numpy as np, embedkit
    >>> from embedkit.search import Index
    >>> v = embedkit.Vectors(["a", "b", "c"], np.eye(3, dtype=np.float32) + 0.1)
    >>> ids, scores = Index(v, "exact").search(v.unit(["a"]), k=1, exclude=[[0]])
    >>> int(ids[0, 0]) in (1, 2)
    True
    """

    def __init__(self, vectors, kind: str = "auto", **params):
        resolved = resolve_kind(kind, len(vectors))
        if len(vectors) == 0:
            raise ParameterError("cannot index an empty vocabulary: load vectors with words first")
        params = check_params(resolved, params, len(vectors), vectors.dim)
        self._set(vectors, kind, resolved, params, vectors_checksum(vectors))
        self._faiss = self._build()

    def _set(self, vectors, requested_kind: str, kind: str, params: dict, checksum: str) -> None:
        """The attributes an index built here and one loaded from disk share."""
        self.vectors = vectors
        self.requested_kind = requested_kind
        self.kind = kind
        self.params = params
        self.checksum = checksum
        self.locality = True

    # -- construction -------------------------------------------------------------------------
    def _build(self):
        import faiss

        st = self.vectors.storage
        n, dim = st.shape
        p = self.params
        log.info("building a %s index over %d words (dim %d)", self.kind, n, dim)
        if self.kind == "exact":
            index = faiss.IndexFlatIP(dim)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, p["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = p["ef_construction"]
            index.hnsw.efSearch = p["ef_search"]
        else:
            if n < IVFPQ_USEFUL_WORDS:
                log.warning("an IVF-PQ index pays off on millions of words; over %d words "
                            "an exact index is exact and about as fast (hnsw if not)", n)
            index = faiss.index_factory(dim, f"IVF{p['nlist']},PQ{p['pq_m']}x{p['nbits']}",
                                        faiss.METRIC_INNER_PRODUCT)
            ivf = faiss.extract_index_ivf(index)
            ivf.cp.seed = p["seed"]
            rng = np.random.default_rng(p["seed"])
            size = min(p["train_size"], n)
            sample = st.unit_rows(np.sort(rng.choice(n, size=size, replace=False)))
            with faiss_messages_to_log():
                index.train(sample)
            ivf.nprobe = p["nprobe"]
        # unit rows a block at a time: FAISS keeps its own copy, embedkit none
        for x0 in range(0, n, ADD_ROWS):
            index.add(st.unit_rows(np.arange(x0, min(n, x0 + ADD_ROWS))))
        self._ids = self._centroids = None
        if self.kind == "hnsw" and p["clusters"]:
            self._centroids, labels = _spherical_kmeans(st, p["clusters"], p["seed"])
            order = np.argsort(labels, kind="stable").astype(np.int64)
            # entry i of the permuted graph is word order[i]: each cell's vectors are adjacent
            index.permute_entries(order)
            self._ids = order
        return index

    # -- queries ------------------------------------------------------------------------------
    @property
    def approximate(self) -> bool:
        """Whether candidates come from an approximate search (and are re-ranked exactly)."""
        return self.kind != "exact"

    def __len__(self) -> int:
        return int(self._faiss.ntotal)

    def __repr__(self) -> str:
        return f"Index({self.kind}, {len(self)} words, dim {self.vectors.dim})"

    def _prepare_queries(self, queries) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.vectors.dim:
            raise ParameterError(f"queries must have shape (n, {self.vectors.dim}), "
                                 f"got {np.shape(queries)}")
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return np.ascontiguousarray(q / norms, dtype=np.float32)

    def search(self, queries, k: int = 10, exclude=None):
        """The ``k`` most similar rows of each query, excluded rows removed.

        Parameters
        ----------
        queries : array of shape (n, dim) or (dim,)
            Query vectors (normalized here; scores are cosines).
        k : int, default 10
            Results per query.
        exclude : sequence of sequences of int, optional
            Per query, row ids never to return (usually the query words).

        Returns
        -------
        ids : int64 ndarray (n, k)
            Row ids best first; ``-1`` where fewer than ``k`` rows remain.
        scores : float32 ndarray (n, k)
            Exact cosines; ``-inf`` in empty slots.
        """
        k = _check_int("k", k, 1)
        q = self._prepare_queries(queries)
        excl = exclusion_matrix(exclude, len(q))
        width = k + excl.shape[1]
        out_ids = np.empty((len(q), k), dtype=np.int64)
        out_scores = np.empty((len(q), k), dtype=np.float32)
        if len(q) == 0:
            return out_ids, out_scores
        if not self.approximate:
            scores, cand = self._faiss.search(q, min(width, len(self)))
            _check_labels(cand, len(self))
            kernels.filter_sorted(cand, scores, excl, k, out_ids, out_scores)
            return out_ids, _empty_to_neg_inf(out_ids, out_scores)
        fetch = min(len(self), self.params["rerank"] * width)
        if self.kind == "hnsw":
            self._faiss.hnsw.efSearch = max(self.params["ef_search"], fetch)
        cand = self._approximate_candidates(q, fetch)
        _rerank(self.vectors.storage, q, cand, excl, k, out_ids, out_scores)
        return out_ids, _empty_to_neg_inf(out_ids, out_scores)

    def _approximate_candidates(self, q, fetch):
        """FAISS candidates (word rows, ``-1`` for none), batches in locality order."""
        if self._centroids is None or not self.locality or len(q) < LOCALITY_MIN_QUERIES:
            _, cand = self._faiss.search(q, fetch)
        else:
            order = np.argsort(_nearest_centroid(q, self._centroids), kind="stable")
            _, found = self._faiss.search(q[order], fetch)
            cand = np.empty_like(found)
            cand[order] = found
        _check_labels(cand, len(self._ids) if self._ids is not None else len(self))
        if self._ids is not None:
            cand = np.where(cand >= 0, self._ids[np.maximum(cand, 0)], -1)
        return cand

    def search_words(self, queries, k: int = 10, exclude=None) -> list[list[tuple[str, float]]]:
        """Like :meth:`search`, as lists of ``(word, score)`` pairs best first."""
        ids, scores = self.search(queries, k, exclude)
        return ids_to_words(self.vectors, ids, scores)

    # -- persistence --------------------------------------------------------------------------
    def save(self, vectors_path) -> str:
        """Write the index beside ``vectors_path`` (``<path>.faiss`` + ``<path>.faiss.json``).

        Returns the FAISS file's path.  Both files are written to temporary files in the same
        directory and renamed, so a crash never leaves a half-written index.
        """
        import faiss

        index_path, meta_path = store.index_paths(vectors_path)
        write_atomic_path(index_path, lambda tmp: store.write_faiss(faiss, self._faiss, tmp))
        cells_path = store.cells_path(vectors_path)
        if self._centroids is not None:
            write_npz(cells_path, {"ids": self._ids, "centroids": self._centroids})
        elif os.path.exists(cells_path):
            os.remove(cells_path)  # left by an earlier index with cells
        write_json(meta_path, {
            "format": store.FORMAT_NAME, "version": store.FORMAT_VERSION,
            "kind": self.kind, "params": self.params, "words": len(self),
            "dim": self.vectors.dim, "checksum": self.checksum,
            "faiss": faiss.__version__, "index_checksum": store.file_checksum(index_path),
        })
        log.info("saved the %s index to %s", self.kind, index_path)
        return index_path

    @classmethod
    def load(cls, vectors_path, vectors, mmap: bool = True) -> "Index":
        """Read the index saved beside ``vectors_path`` for ``vectors``.

        With ``mmap`` (default) the vectors FAISS stores are memory-mapped from the file, not
        read into memory, where FAISS can: the flat storage of ``exact`` and ``hnsw`` indexes
        (``IO_FLAG_MMAP_IFC``) and the inverted lists of ``ivfpq`` (``IO_FLAG_MMAP``).  An
        HNSW graph's links are always read into memory (``8 * hnsw_m`` bytes per word for
        the bottom layer); FAISS cannot map them.

        Raises
        ------
        MissingFileError
            No index beside the vectors.
        FormatError
            The index was built from other vectors (checksum mismatch) or is unreadable.
        """
        import faiss

        index_path, meta_path = store.index_paths(vectors_path)
        if not os.path.exists(index_path):
            raise MissingFileError(f"no index beside {vectors_path} ({index_path}): "
                                   "build one with `embedkit index build`")
        meta = store.read_json(meta_path)
        if not meta or meta.get("format") != store.FORMAT_NAME:
            raise FormatError(f"{meta_path} is missing or not an embedkit index descriptor: "
                              "rebuild the index with `embedkit index build`")
        kind, params = _checked_meta(meta, meta_path, len(vectors), vectors.dim)
        checksum = vectors_checksum(vectors)
        if meta.get("checksum") != checksum:
            raise FormatError(f"the index {index_path} was built from other vectors "
                              "(checksum mismatch): rebuild it with `embedkit index build`")
        if meta.get("index_checksum") != store.file_checksum(index_path):
            raise FormatError(f"the index {index_path} is not the file its descriptor "
                              f"{meta_path} was written with (damaged, replaced, or saved by "
                              "an older embedkit): rebuild it with `embedkit index build`")
        try:
            raw = faiss.read_index(index_path, store.mmap_flags(kind) if mmap else 0)
        except RuntimeError as exc:
            raise FormatError(f"cannot read the index {index_path} ({exc}): "
                              "rebuild it with `embedkit index build`") from None
        if raw.ntotal != len(vectors) or raw.d != vectors.dim:
            raise FormatError(f"the index {index_path} holds {raw.ntotal} x {raw.d} vectors, "
                              f"not {len(vectors)} x {vectors.dim}: rebuild it")
        _check_faiss_kind(faiss, raw, kind, index_path)
        self = cls.__new__(cls)
        self._set(vectors, kind, kind, params, checksum)
        self._faiss = raw
        self._ids = self._centroids = None
        if self.kind == "hnsw" and self.params.get("clusters"):
            self._ids, self._centroids = _read_cells(store.cells_path(vectors_path), vectors,
                                                     self.params["clusters"])
        return self

    @classmethod
    def open(cls, vectors, vectors_path, kind: str = "auto", save: bool = True,
             **params) -> "Index":
        """The index beside ``vectors_path`` if it matches ``vectors``, else a fresh build.

        A saved index is used only when its checksum matches the vectors (and its kind matches
        ``kind`` unless ``kind="auto"``); a stale one is rebuilt and, with ``save``, rewritten.
        """
        index_path, meta_path = store.index_paths(vectors_path)
        meta = store.read_json(meta_path)
        if meta and os.path.exists(index_path) and (
                kind == "auto" or meta.get("kind") == resolve_kind(kind, len(vectors))):
            try:
                index = cls.load(vectors_path, vectors)
            except FormatError as exc:
                log.warning("%s; rebuilding it", exc)
            else:
                log.info("using the %s index %s", index.kind, index_path)
                return index
        if meta and kind == "auto" and not params and isinstance(meta.get("kind"), str) \
                and meta["kind"] in DEFAULTS and isinstance(meta.get("params") or {}, dict):
            kind = meta["kind"]  # rebuild a stale index as it was built
            params = {k: v for k, v in (meta.get("params") or {}).items()
                      if k in DEFAULTS[kind]}
            try:
                check_params(kind, params, len(vectors), vectors.dim)
            except ParameterError:  # a damaged descriptor: default parameters
                params = {}
        index = cls(vectors, kind, **params)
        if save:
            try:
                index.save(vectors_path)
            except OSError as exc:
                log.warning("could not save the index beside %s (%s); using it in memory",
                            vectors_path, exc.strerror or exc)
        return index


#: unit rows handed to FAISS per ``add`` call when building (a bounded buffer)
ADD_ROWS = 1 << 18


# -- validation of a saved index (issue 21) ---------------------------------------------------

_FAISS_CLASSES = {"exact": ("IndexFlatIP", "IndexFlat"), "hnsw": ("IndexHNSWFlat",),
                  "ivfpq": ("IndexIVFPQ",)}


def _checked_meta(meta: dict, meta_path, n: int, dim: int) -> tuple[str, dict]:
    """The kind and parameters of an index descriptor; any unknown or ill-typed value is a
    :class:`FormatError` (so :meth:`Index.open` rebuilds)."""
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in DEFAULTS:
        raise FormatError(f"{meta_path}: unknown index kind {kind!r} (expected one of "
                          f"{', '.join(DEFAULTS)}): rebuild the index with `embedkit index build`")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise FormatError(f"{meta_path}: 'params' must be an object: rebuild the index")
    try:
        params = check_params(kind, params, n, dim)
    except (ParameterError, TypeError, ValueError) as exc:
        raise FormatError(f"{meta_path}: invalid index parameters ({exc}): rebuild the index "
                          "with `embedkit index build`") from None
    return kind, params


def _check_faiss_kind(faiss, raw, kind: str, index_path) -> None:
    """The FAISS object read must be the structure ``kind`` names, over inner products."""
    name = type(faiss.downcast_index(raw)).__name__
    if name not in _FAISS_CLASSES[kind] or raw.metric_type != faiss.METRIC_INNER_PRODUCT:
        raise FormatError(f"the index {index_path} is a {name} but its descriptor says "
                          f"{kind!r}: rebuild it with `embedkit index build`")


def _check_labels(labels: np.ndarray, n: int) -> None:
    """FAISS answers must be rows ``-1 .. n-1`` before a kernel indexes with them."""
    if labels.size and (int(labels.min()) < -1 or int(labels.max()) >= n):
        raise FormatError("the index returned row ids outside the vectors (a damaged index "
                          "file): rebuild it with `embedkit index build`")
