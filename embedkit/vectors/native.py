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
import tempfile

import numpy as np

from embedkit import _validate as V
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


def save_native(words, matrix, path, *, counts=None, metadata=None) -> None:
    """Write a native ``.ekv`` directory atomically (temp directory, then rename)."""
    path = pathlib.Path(path)
    _check_replaceable(path)
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
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        np.save(tmp / VECTORS_FILE, np.ascontiguousarray(matrix, dtype=np.float32),
                allow_pickle=False)
        (tmp / VOCAB_FILE).write_text(text, encoding="utf-8")
        _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: every file a native directory may hold; a directory holding anything else is not
#: replaced (its other files would be lost)
OWN_FILES = {VECTORS_FILE, VOCAB_FILE}


def _check_replaceable(path: pathlib.Path) -> None:
    """Refuse to replace ``path`` unless it is absent, an empty directory, or a native
    directory (its ``vocab.json`` says ``"format": "embedkit-vectors"``) holding only
    native files."""
    if not os.path.lexists(path):
        return
    if path.is_symlink():
        raise ParameterError(f"{path} is a symbolic link; it is not replaced: choose another "
                             "path")
    if not path.is_dir():
        raise ParameterError(f"{path} is a file; the native format is a directory: "
                             "remove the file or choose another path")
    entries = sorted(p.name for p in path.iterdir())
    if not entries:
        return
    try:
        with open(path / VOCAB_FILE, encoding="utf-8") as f:
            ours = json.load(f).get("format") == FORMAT_NAME
    except (OSError, ValueError, AttributeError, RecursionError):
        ours = False
    if not ours:
        shown = ", ".join(entries[:8]) + (f" and {len(entries) - 8} more"
                                          if len(entries) > 8 else "")
        raise ParameterError(f"{path} is a non-empty directory that is not embedkit vectors "
                             f"(it holds {shown}); it is not replaced: choose another path")
    foreign = [e for e in entries if e not in OWN_FILES]
    if foreign:
        shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more"
                                          if len(foreign) > 8 else "")
        raise ParameterError(f"{path} holds embedkit vectors and other files ({shown}) that "
                             "replacing it would delete; move them out or choose another path")


def _swap_in(tmp: pathlib.Path, path: pathlib.Path) -> None:
    """Rename directory ``tmp`` to ``path``; an old ``path`` is deleted only once the new
    one is in place (if the second rename fails, the old directory is put back)."""
    if not os.path.lexists(path):
        os.replace(tmp, path)
        return
    old = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
    os.rmdir(old)
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)  # put the old copy back
        raise
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
    vocab_file = path / VOCAB_FILE
    vocab = V.read_json(vocab_file)
    if not isinstance(vocab, dict) or vocab.get("format") != FORMAT_NAME:
        raise FormatError(f"{vocab_file}: not an embedkit vocabulary "
                          f"(expected \"format\": \"{FORMAT_NAME}\")")
    version = V.field(vocab, "format_version", int, file=vocab_file, default=0)
    if version > FORMAT_VERSION:
        raise FormatError(f"{path}: format version {vocab['format_version']} is newer than "
                          f"this embedkit reads ({FORMAT_VERSION}); upgrade embedkit")
    if not (path / VECTORS_FILE).exists():
        raise MissingFileError(f"{path / VECTORS_FILE} is missing")
    matrix = V.read_npy(path / VECTORS_FILE, mmap=mmap)
    words = V.string_list(vocab.get("words"), file=vocab_file, name="words")
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise FormatError(f"{path}: {len(words)} words but the matrix has shape "
                          f"{matrix.shape}; the directory is inconsistent")
    V.check_array(matrix, file=path / VECTORS_FILE, name="vectors", ndim=2, kind="fiu")
    for key, want in (("count", len(words)), ("dim", int(matrix.shape[1]))):
        got = V.field(vocab, key, int, file=vocab_file, default=want)
        if got != want:
            raise FormatError(f"{vocab_file}: {key!r} is {got} but the directory holds "
                              f"{len(words)} x {matrix.shape[1]} vectors; it is inconsistent")
    counts = vocab.get("counts")
    if counts is not None:
        counts = V.count_list(counts, len(words), file=vocab_file, name="counts")
    metadata = V.field(vocab, "metadata", (dict, type(None)), file=vocab_file, default=None)
    _check_unique(words, vocab_file)
    if limit is not None:
        words = words[:limit]
        matrix = matrix[:limit]
        counts = None if counts is None else counts[:limit]
    if matrix.dtype != np.float32:
        matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    bad = V.first_nonfinite_row(matrix)
    if bad is not None:
        raise FormatError(f"{path / VECTORS_FILE}: row {bad + 1} (word {words[bad]!r}) holds "
                          "NaN or infinity (or a value too large for float32); fix or drop it")
    return words, matrix, counts, metadata or {}


def _check_unique(words, vocab_file) -> None:
    if len(set(words)) != len(words):
        seen: dict[str, int] = {}
        for i, w in enumerate(words):
            j = seen.setdefault(w, i)
            if j != i:
                raise FormatError(f"{vocab_file}: word {i + 1} ({w!r}) is a duplicate of word "
                                  f"{j + 1}; a native vocabulary holds each word once")
