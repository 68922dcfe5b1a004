"""Where an index is saved beside its vectors, and reading its files back (the writes are
:mod:`embedkit._io`'s, the checksum tying an index to its vectors is
:func:`embedkit.vectors.storage.vectors_checksum`)."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np


INDEX_SUFFIX = ".faiss"
META_SUFFIX = ".faiss.json"
CELLS_SUFFIX = ".faiss.npz"
FORMAT_NAME = "embedkit-index"
FORMAT_VERSION = 1

def index_paths(vectors_path: str | os.PathLike) -> tuple[str, str]:
    """The FAISS file and its JSON descriptor saved beside ``vectors_path``.

    ``vectors.ekv`` gets ``vectors.ekv.faiss`` and ``vectors.ekv.faiss.json``.
    """
    base = os.fspath(vectors_path).rstrip("/\\")
    return base + INDEX_SUFFIX, base + META_SUFFIX


def cells_path(vectors_path: str | os.PathLike) -> str:
    """The HNSW index's cell order and centroids (``.npz``) saved beside ``vectors_path``."""
    return os.fspath(vectors_path).rstrip("/\\") + CELLS_SUFFIX


def read_json(path: str) -> dict:
    """Read a JSON object; ``None`` when the file is missing or not valid JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def read_npz(path: str) -> dict:
    """Every array of an ``.npz`` (no pickles); ``None`` when missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception:  # noqa: BLE001 - any damage means "unreadable": the index is rebuilt
        return None


def file_checksum(path: str) -> str:
    """BLAKE2b digest of a file's bytes (``"blake2b:<hex>"``); ties an index file to its
    descriptor, so a damaged or replaced ``.faiss`` file is rebuilt, not trusted."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "blake2b:" + h.hexdigest()


def write_faiss(faiss, index, path: str) -> None:
    """``faiss.write_index``; its ``RuntimeError`` (disk full, permission) becomes an
    :class:`~embedkit.errors.WriteError` naming the file."""
    from embedkit.errors import WriteError

    try:
        faiss.write_index(index, path)
    except RuntimeError as exc:
        text = str(exc).strip().splitlines()
        why = next((t for t in text if "rror" in t or "failed" in t), text[-1] if text else "")
        raise WriteError(f"cannot write the index {path}: {why.strip()} (is the disk full?)"
                         ) from None


def mmap_flags(kind) -> int:
    """The FAISS ``read_index`` flags that map an index of ``kind`` instead of reading it.

    ``exact`` (IndexFlatIP) and ``hnsw`` (IndexHNSWFlat): the flat vector storage is mapped
    (``IO_FLAG_MMAP_IFC``), the HNSW links are not.  ``ivfpq``: the inverted lists are
    mapped (``IO_FLAG_MMAP``; the small coarse quantizer and PQ tables are read).  Other
    kinds, or a FAISS without the flags: 0 (read into memory).
    """
    import faiss

    name = {"exact": "IO_FLAG_MMAP_IFC", "hnsw": "IO_FLAG_MMAP_IFC",
            "ivfpq": "IO_FLAG_MMAP"}.get(kind)
    return int(getattr(faiss, name, 0)) if name else 0


def index_resident_bytes(kind, file_bytes: int, n: int, dim: int, params: dict) -> int:
    """Estimated bytes an index of ``kind`` (file of ``file_bytes``) reads into memory when
    loaded with :func:`mmap_flags` (the rest stays mapped)."""
    if kind == "exact":
        return 0
    if kind == "hnsw":  # the links and levels; the flat vectors are mapped
        return max(0, int(file_bytes) - 4 * n * dim)
    if kind == "ivfpq":  # coarse centroids and PQ tables; the inverted lists are mapped
        nlist = int(params.get("nlist") or 0)
        return min(int(file_bytes), 4 * dim * (nlist + 2 ** int(params.get("nbits") or 8)))
    return int(file_bytes)
