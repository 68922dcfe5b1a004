"""The :class:`Index`: a FAISS inner-product index over unit-normalized word vectors."""

from __future__ import annotations

import logging
import os

import numpy as np

from embedkit._kernels import search as kernels
from embedkit._io import write_atomic_path, write_json, write_npz
from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit.search import store
from embedkit.search.cells import _nearest_centroid, _read_cells, _spherical_kmeans
from embedkit.search.results import (_check_int, _empty_to_neg_inf, _rerank, exclusion_matrix,
                                     ids_to_words)
from embedkit.vectors.storage import vectors_checksum

log = logging.getLogger(__name__)

KINDS = ("auto", "exact", "hnsw", "ivfpq")
#: ``kind="auto"`` picks HNSW from this many words on, exact below.
AUTO_HNSW_MIN_WORDS = 200_000

_DEFAULTS = {
    "hnsw": {"hnsw_m": 32, "ef_construction": 80, "ef_search": 256, "rerank": 2,
             "clusters": None, "seed": 0},
    "ivfpq": {"nlist": None, "pq_m": None, "nbits": None, "nprobe": 16, "train_size": None,
              "rerank": 8, "seed": 0},
    "exact": {},
}


#: Batches of at least this many queries are searched in locality order (see ``clusters``).
LOCALITY_MIN_QUERIES = 64
#: FAISS's minimum of training rows per k-means centroid (it warns below).
_FAISS_ROWS_PER_CENTROID = 39
#: Below this many words an IVF-PQ index with default settings is refused: its smallest
#: codebooks (16 codes) cannot be trained, and exact search is as fast at that size.
IVFPQ_MIN_WORDS = _FAISS_ROWS_PER_CENTROID * 16
#: Below this many words an IVF-PQ index is built but the log says exact/hnsw would do.
IVFPQ_USEFUL_WORDS = 100_000


def resolve_kind(kind: str, n_words: int) -> str:
    """The concrete kind for ``kind`` (``"auto"``: exact below 200,000 words, HNSW above)."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "auto":
        return "hnsw" if n_words >= AUTO_HNSW_MIN_WORDS else "exact"
    return kind


class faiss_messages_to_log:
    """Route what FAISS's C++ code prints on stderr (k-means warnings such as "please
    provide at least 9984 training points", once per sub-quantizer) to the log: one warning
    per distinct message with its count, never the raw lines."""

    def __enter__(self):
        import sys
        import tempfile

        self._file = None
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
        except (OSError, ValueError, AttributeError):  # no file descriptor 2 (embedded use)
            return self
        self._file = tempfile.TemporaryFile()
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        if self._file is None:
            return False
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._file.seek(0)
        text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        counts: dict[str, int] = {}
        for line in text.splitlines():
            line = " ".join(line.split())
            if line:
                counts[line] = counts.get(line, 0) + 1
        for line, count in counts.items():
            log.warning("FAISS: %s%s", line[:300], f" ({count} times)" if count > 1 else "")
        return False


def _largest_divisor_at_most(dim: int, limit: int) -> int:
    for m in range(max(1, min(dim, limit)), 0, -1):
        if dim % m == 0:
            return m
    return 1


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
        self.vectors = vectors
        self.requested_kind = kind
        self.kind = resolve_kind(kind, len(vectors))
        if len(vectors) == 0:
            raise ParameterError("cannot index an empty vocabulary: load vectors with words first")
        self.params = self._validate(self.kind, params, len(vectors), vectors.dim)
        self.checksum = vectors_checksum(vectors)
        self.locality = True
        self._faiss = self._build()

    # -- construction -------------------------------------------------------------------------
    @staticmethod
    def _validate(kind, params, n, dim):
        allowed = _DEFAULTS[kind]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ParameterError(
                f"{', '.join(unknown)} is not a parameter of a {kind} index; "
                f"it takes {', '.join(sorted(allowed)) or 'no parameters'}")
        out = dict(allowed)
        out.update({k: v for k, v in params.items() if v is not None})
        if kind == "hnsw":
            out["hnsw_m"] = _check_int("hnsw_m", out["hnsw_m"], 2)
            out["ef_construction"] = _check_int("ef_construction", out["ef_construction"], 1)
            out["ef_search"] = _check_int("ef_search", out["ef_search"], 1)
            out["rerank"] = _check_int("rerank", out["rerank"], 1)
            out["seed"] = _check_int("seed", out["seed"], 0)
            if out["clusters"] is None:
                out["clusters"] = min(1024, n // 64) if n >= 8 * 64 else 0
            out["clusters"] = _check_int("clusters", out["clusters"], 0)
            if out["clusters"] > n:
                raise ParameterError(f"clusters must be <= the number of words ({n}), got "
                                     f"{out['clusters']}: use fewer cells or 0")
        elif kind == "ivfpq":
            if n < IVFPQ_MIN_WORDS and params.get("nbits") is None:
                raise ParameterError(
                    f"an ivfpq index cannot help over {n} words (its codebooks need at least "
                    f"{IVFPQ_MIN_WORDS} rows to train): use kind 'exact' (exact, and as fast "
                    "at this size) or 'hnsw'")
            # settings FAISS can train without warnings: 39 rows per coarse cell and per
            # PQ code (4 * sqrt(n) cells and 8-bit codes from 9,984 words on)
            rows = n // _FAISS_ROWS_PER_CENTROID
            if out["nlist"] is None:
                out["nlist"] = int(np.clip(min(4 * np.sqrt(n), rows), 1, 65536))
            if out["nbits"] is None:
                out["nbits"] = int(np.clip(np.floor(np.log2(max(rows, 1))), 1, 8))
            out["nlist"] = _check_int("nlist", out["nlist"], 1)
            if out["nlist"] > n:
                raise ParameterError(f"nlist must be <= the number of words ({n}), got "
                                     f"{out['nlist']}: use fewer IVF cells")
            if out["pq_m"] is None:
                out["pq_m"] = _largest_divisor_at_most(dim, max(1, dim // 4))
            out["pq_m"] = _check_int("pq_m", out["pq_m"], 1)
            if dim % out["pq_m"]:
                raise ParameterError(f"pq_m must divide the dimension {dim}, got {out['pq_m']}")
            out["nbits"] = _check_int("nbits", out["nbits"], 1)
            if out["nbits"] > 16:
                raise ParameterError(f"nbits must be <= 16, got {out['nbits']}")
            out["nprobe"] = _check_int("nprobe", out["nprobe"], 1)
            out["rerank"] = _check_int("rerank", out["rerank"], 1)
            out["seed"] = _check_int("seed", out["seed"], 0)
            if out["train_size"] is None:
                out["train_size"] = min(n, max(64 * out["nlist"], (2 ** out["nbits"]) * 64))
            out["train_size"] = _check_int("train_size", out["train_size"], 1)
            need = max(out["nlist"], 2 ** out["nbits"])
            if out["train_size"] < need or n < need:
                raise ParameterError(
                    f"an ivfpq index needs at least {need} training rows (nlist and 2**nbits), "
                    f"got {min(out['train_size'], n)}: lower nlist/nbits or use kind='hnsw'")
        return out

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
        self.vectors = vectors
        self.requested_kind = kind
        self.kind = kind
        self.params = params
        self.checksum = checksum
        self._faiss = raw
        self.locality = True
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
                and meta["kind"] in _DEFAULTS and isinstance(meta.get("params") or {}, dict):
            kind = meta["kind"]  # rebuild a stale index as it was built
            params = {k: v for k, v in (meta.get("params") or {}).items()
                      if k in _DEFAULTS[kind]}
            try:
                cls._validate(kind, params, len(vectors), vectors.dim)
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
    if not isinstance(kind, str) or kind not in _DEFAULTS:
        raise FormatError(f"{meta_path}: unknown index kind {kind!r} (expected one of "
                          f"{', '.join(_DEFAULTS)}): rebuild the index with `embedkit index build`")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise FormatError(f"{meta_path}: 'params' must be an object: rebuild the index")
    try:
        params = Index._validate(kind, params, n, dim)
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
