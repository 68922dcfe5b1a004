"""The native format: a ``.ekv`` directory holding ``vectors.npy`` and ``vocab.json``.

``vectors.npy`` is the float32 C-order matrix (opened memory-mapped, so opening is
instant and the pages are shared between processes); ``vocab.json`` holds the words, their
counts and the metadata (dim, training parameters, corpus, embedkit version).  No pickle.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import numpy as np

from embedkit._version import __version__
from embedkit.errors import FormatError, MissingFileError, ParameterError

FORMAT_NAME = "embedkit-vectors"
FORMAT_VERSION = 1
VECTORS_FILE = "vectors.npy"
VOCAB_FILE = "vocab.json"


def is_native(path) -> bool:
    """Whether ``path`` is a native vectors directory."""
    path = pathlib.Path(path)
    return path.is_dir() and (path / VOCAB_FILE).exists()


def save_native(words, matrix, path, *, counts=None, metadata=None, extra_arrays=None) -> None:
    """Write a native ``.ekv`` directory atomically (temp directory, then rename).

    ``extra_arrays`` (file name -> array) are saved as further ``.npy`` files in it (the
    n-gram matrix of fastText vectors, see :mod:`embedkit.vectors.subword`).
    """
    path = pathlib.Path(path)
    if path.exists() and not is_native(path):
        if path.is_dir() and any(path.iterdir()):
            raise ParameterError(f"{path} is a non-empty directory that is not embedkit "
                                 "vectors; choose another path")
        if path.is_file():
            raise ParameterError(f"{path} is a file; the native format is a directory: "
                                 "remove the file or choose another path")
    if not path.parent.exists():
        raise MissingFileError(f"directory does not exist: {path.parent}")
    meta = dict(metadata or {})
    meta.setdefault("embedkit_version", __version__)
    vocab = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "count": len(words),
        "dim": int(matrix.shape[1]),
        "words": list(words),
        "counts": None if counts is None else [int(c) for c in counts],
        "metadata": meta,
    }
    try:
        text = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    except TypeError as exc:
        raise ParameterError(f"metadata must be JSON-serialisable: {exc}") from None
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    old = path.with_name(f".{path.name}.old-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        np.save(tmp / VECTORS_FILE, np.ascontiguousarray(matrix, dtype=np.float32),
                allow_pickle=False)
        for name, array in (extra_arrays or {}).items():
            np.save(tmp / name, np.asanyarray(array), allow_pickle=False)
        (tmp / VOCAB_FILE).write_text(text, encoding="utf-8")
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def load_native(path, *, limit=None, mmap=True):
    """Open a native directory; returns ``(words, matrix, counts, metadata)``.

    The matrix is memory-mapped read-only unless ``mmap`` is False.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(f"vectors not found: {path}")
    if not is_native(path):
        raise FormatError(f"{path} is not a native vectors directory (it needs {VOCAB_FILE} "
                          f"and {VECTORS_FILE})")
    try:
        vocab = json.loads((path / VOCAB_FILE).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path / VOCAB_FILE}: invalid JSON at line {exc.lineno} "
                          f"column {exc.colno}: {exc.msg}") from None
    if not isinstance(vocab, dict) or vocab.get("format") != FORMAT_NAME:
        raise FormatError(f"{path / VOCAB_FILE}: not an embedkit vocabulary "
                          f"(expected \"format\": \"{FORMAT_NAME}\")")
    if vocab.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(f"{path}: format version {vocab['format_version']} is newer than "
                          f"this embedkit reads ({FORMAT_VERSION}); upgrade embedkit")
    if not (path / VECTORS_FILE).exists():
        raise MissingFileError(f"{path / VECTORS_FILE} is missing")
    try:
        matrix = np.load(path / VECTORS_FILE, mmap_mode="r" if mmap else None,
                         allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"{path / VECTORS_FILE}: {exc}") from None
    words = vocab.get("words")
    if not isinstance(words, list):
        raise FormatError(f"{path / VOCAB_FILE}: \"words\" must be a list of strings")
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise FormatError(f"{path}: {len(words)} words but the matrix has shape "
                          f"{matrix.shape}; the directory is inconsistent")
    if matrix.dtype != np.float32:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    counts = vocab.get("counts")
    if counts is not None:
        counts = np.asarray(counts, dtype=np.int64)
    if limit is not None:
        words = words[:limit]
        matrix = matrix[:limit]
        counts = None if counts is None else counts[:limit]
    return words, matrix, counts, vocab.get("metadata") or {}
