"""The native format: a ``.ekv`` directory holding ``vectors.npy`` and ``vocab.json``.

``vectors.npy`` is the C-order matrix (opened memory-mapped, so opening is instant and the
pages are shared between processes): float32, or float16 / int8 when saved with ``dtype=``;
``norms.npy`` holds each row's Euclidean norm (float32), so queries never need a normalised
copy; an int8 matrix comes with ``scales.npy`` (per-row or per-dimension float32 scales).
``vocab.json`` holds the words, their counts, the storage (``dtype``, ``scale``) and the
metadata (dim, training parameters, corpus, embedkit version).  No pickle.

A float32 directory keeps format version 1 (an older embedkit reads it and ignores
``norms.npy``); a float16 or int8 one is version 2, which an older embedkit refuses.

This module is the writer (:func:`save_native`, :func:`write_norms`); the reader and its
checks are :mod:`embedkit.vectors.native_reader`, whose names are public here too.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from embedkit._version import __version__
from embedkit.errors import FormatError, MissingFileError, ParameterError

# The format's names and the reader, public here too (they were defined here before the split).
from embedkit.vectors.native_reader import (  # noqa: F401
    FORMAT_NAME, FORMAT_VERSION, FULL_CHECK_BYTES, NORM_RTOL, NORM_SAMPLE_ROWS, NORMS_FILE,
    SCALES_FILE, VECTORS_FILE, VOCAB_FILE, is_native, load_native, open_native)


def save_native(words, matrix, path, *, counts=None, metadata=None, dtype=None,
                scale="row", storage=None, extra_arrays=None) -> None:
    """Write a native ``.ekv`` directory atomically (temp directory, then rename).

    Parameters
    ----------
    words : list of str
    matrix : ndarray (n, dim) or None
        The rows (any float dtype); or None when ``storage`` is given.
    dtype : {"float32", "float16", "int8"}, optional
        How to store the rows (default float32, or ``storage``'s dtype).  int8 is scalar
        quantisation: ``code = round(x / scale)`` in [-127, 127] with one float32 scale per
        row (``scale="row"``, ``max |x_r| / 127``) or per dimension (``scale="dim"``).
    storage : StoredMatrix, optional
        The rows as stored by a loaded ``.ekv``; copied without decoding when the dtype (and
        scale) stay the same.
    extra_arrays : dict of str to ndarray, optional
        Further ``.npy`` files to save in the directory (file name -> array): the n-gram
        matrix of fastText vectors, see :mod:`embedkit.vectors.subword`.

    The row norms of the stored values are computed block by block while writing and saved
    as ``norms.npy``; nothing full-size is held in memory.
    """
    from embedkit.vectors.storage import SCALE_AXES, StoredMatrix, check_dtype

    path = pathlib.Path(path)
    _check_replaceable(path)
    if not path.parent.exists():
        raise MissingFileError(f"directory does not exist: {path.parent}")
    if storage is None:
        storage = StoredMatrix(np.ascontiguousarray(matrix, dtype=np.float32)
                               if matrix.dtype != np.float32 or not matrix.flags.c_contiguous
                               else matrix)
    dtype = storage.dtype if dtype is None else check_dtype(dtype)
    if dtype == "int8" and scale not in SCALE_AXES:
        raise ParameterError(f"scale must be 'row' or 'dim' (one int8 scale per row or per "
                             f"dimension), got {scale!r}")
    meta = dict(metadata or {})
    meta.setdefault("embedkit_version", __version__)
    vocab = {
        "format": FORMAT_NAME,
        "format_version": 1 if dtype == "float32" else 2,
        "count": len(words),
        "dim": int(storage.dim),
        "dtype": dtype,
        "words": list(words),
        "counts": None if counts is None else [int(c) for c in counts],
        "metadata": meta,
    }
    if dtype == "int8":
        vocab["scale"] = scale
    try:
        json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    except TypeError as exc:
        raise ParameterError(f"metadata must be JSON-serialisable: {exc}") from None
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        vocab["checksum"] = _write_rows(storage, tmp, dtype, scale, words)
        text = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
        for name, array in (extra_arrays or {}).items():
            np.save(tmp / name, np.asanyarray(array), allow_pickle=False)
        (tmp / VOCAB_FILE).write_text(text, encoding="utf-8")
        _swap_in(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


#: every file a native directory may hold; a directory holding anything else is not
#: replaced (its other files would be lost)
OWN_FILES = {VECTORS_FILE, VOCAB_FILE, NORMS_FILE, SCALES_FILE}


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


def _write_rows(storage, directory, dtype, scale, words) -> str:
    """Write ``vectors.npy``, ``norms.npy`` (and ``scales.npy``) of ``storage`` as ``dtype``,
    a block of rows at a time; return the checksum of the stored values (the one
    :func:`embedkit.vectors.storage.vectors_checksum` computes, so that a saved index is
    matched to these vectors without reading the whole matrix again)."""
    import hashlib

    from numpy.lib.format import open_memmap

    from embedkit._kernels.blockscore import abs_max_columns, quantize_columns, quantize_rows
    from embedkit.vectors.storage import StoredMatrix, first_unscorable, row_norms

    n, dim = storage.shape
    step = max(1, (16 << 20) // (4 * max(1, dim)))
    same = storage.dtype == dtype and (dtype != "int8" or storage.scale_axis == scale)
    out = open_memmap(directory / VECTORS_FILE, mode="w+", dtype=np.dtype(dtype), shape=(n, dim))
    scales = None
    if dtype == "int8":
        if same:
            scales = np.array(storage.scales, dtype=np.float32)
        elif scale == "dim":
            top = np.zeros(dim, dtype=np.float32)
            for x0 in range(0, n, step):
                abs_max_columns(storage.decode(x0, min(n, x0 + step)), top)
            scales = np.where(top > 0, top / np.float32(127.0), np.float32(1.0)).astype(np.float32)
        else:
            scales = np.empty(n, dtype=np.float32)
    written = StoredMatrix(out, scales=scales, scale_axis=scale if dtype == "int8" else None)
    norms = np.empty(n, dtype=np.float32)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{(n, dim)}|{out.dtype.str}".encode())
    for x0 in range(0, n, step):
        x1 = min(n, x0 + step)
        if same:
            out[x0:x1] = storage.data[x0:x1]
        elif dtype == "int8":
            rows = storage.decode(x0, x1)
            if scale == "row":
                quantize_rows(np.ascontiguousarray(rows), out[x0:x1], scales[x0:x1])
            else:
                quantize_columns(np.ascontiguousarray(rows), scales, out[x0:x1])
        else:
            with np.errstate(over="ignore"):  # beyond float16: refused just below
                out[x0:x1] = storage.decode(x0, x1)
        decoded = written.decode(x0, x1)
        norms[x0:x1] = row_norms(decoded)
        bad = first_unscorable(norms[x0:x1], decoded)
        if bad is not None:
            r = x0 + bad
            raise ParameterError(
                f"row {r + 1} (word {words[r]!r}) holds NaN or infinity"
                + (" (as float16: float16 holds at most 65504)" if dtype == "float16" else "")
                + ": fix or drop that row before saving")
        digest.update(np.ascontiguousarray(out[x0:x1]).data)
    out.flush()
    del out, written
    np.save(directory / NORMS_FILE, norms, allow_pickle=False)
    checksum = "blake2b:" + digest.hexdigest()
    if scales is not None:
        np.save(directory / SCALES_FILE, scales, allow_pickle=False)
        from embedkit._io import matrix_checksum

        checksum += "+" + matrix_checksum(scales[None, :]).split(":", 1)[1]
    return checksum


def write_norms(path) -> bool:
    """Compute the row norms of the ``.ekv`` directory ``path`` and store them in place.

    The matrix is read a block at a time; ``norms.npy`` is written to a temporary file and
    renamed, so the directory is never half-written.  Stored norms that disagree with the
    matrix are replaced.  Returns False when correct norms were already stored.
    """
    from embedkit._atomic import atomic_file
    from embedkit.vectors.storage import first_unscorable

    path = pathlib.Path(path)
    try:
        _, storage, _, _ = open_native(path)
    except FormatError:
        _, storage, _, _ = open_native(path, norms=False)  # bad stored norms: rewrite them
    else:
        if storage.norms_stored:
            return False
    norms = storage.compute_norms()
    bad = first_unscorable(norms, storage.data)
    if bad is not None:
        raise FormatError(f"{path / VECTORS_FILE}: row {bad + 1} holds NaN or infinity; fix "
                          "or drop it")
    with atomic_file(path / NORMS_FILE) as f:
        np.save(f, norms, allow_pickle=False)
    return True
