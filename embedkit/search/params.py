"""The kinds of :class:`~embedkit.search.Index` and the checks of their parameters.

Every value a user passes (or a saved index descriptor holds) goes through
:func:`check_params` before FAISS sees it; the defaults chosen from the vocabulary size
(IVF cells, PQ sub-quantizers and bits) are ones FAISS can train without warnings.
"""

from __future__ import annotations

import numpy as np

from embedkit.errors import ParameterError
from embedkit.search.results import _check_int

KINDS = ("auto", "exact", "hnsw", "ivfpq")
#: ``kind="auto"`` picks HNSW from this many words on, exact below.
AUTO_HNSW_MIN_WORDS = 200_000

DEFAULTS = {
    "hnsw": {"hnsw_m": 32, "ef_construction": 80, "ef_search": 256, "rerank": 2,
             "clusters": None, "seed": 0},
    "ivfpq": {"nlist": None, "pq_m": None, "nbits": None, "nprobe": 16, "train_size": None,
              "rerank": 8, "seed": 0},
    "exact": {},
}


#: FAISS's minimum of training rows per k-means centroid (it warns below).
FAISS_ROWS_PER_CENTROID = 39
#: Below this many words an IVF-PQ index with default settings is refused: its smallest
#: codebooks (16 codes) cannot be trained, and exact search is as fast at that size.
IVFPQ_MIN_WORDS = FAISS_ROWS_PER_CENTROID * 16
#: Below this many words an IVF-PQ index is built but the log says exact/hnsw would do.
IVFPQ_USEFUL_WORDS = 100_000


def resolve_kind(kind: str, n_words: int) -> str:
    """The concrete kind for ``kind`` (``"auto"``: exact below 200,000 words, HNSW above)."""
    if kind not in KINDS:
        raise ParameterError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "auto":
        return "hnsw" if n_words >= AUTO_HNSW_MIN_WORDS else "exact"
    return kind


def _largest_divisor_at_most(dim: int, limit: int) -> int:
    """The largest divisor of ``dim`` not above ``limit`` (PQ sub-quantizers must divide it)."""
    for m in range(max(1, min(dim, limit)), 0, -1):
        if dim % m == 0:
            return m
    return 1


def check_params(kind: str, params: dict, n: int, dim: int) -> dict:
    """The full parameters of a ``kind`` index over ``n`` vectors of dimension ``dim``:
    ``params`` checked (one :class:`ParameterError` per rule, saying what to change) and
    completed with the defaults, some of which depend on ``n`` and ``dim``."""
    allowed = DEFAULTS[kind]
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
        rows = n // FAISS_ROWS_PER_CENTROID
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
