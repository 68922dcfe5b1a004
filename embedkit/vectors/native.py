"""The native format: a ``.ekv`` directory holding ``vectors.npy`` and ``vocab.json``.

``vectors.npy`` is the C-order matrix (opened memory-mapped, so opening is instant and the
pages are shared between processes): float32, or float16 / int8 when saved with ``dtype=``;
``norms.npy`` holds each row's Euclidean norm (float32), so queries never need a normalised
copy; an int8 matrix comes with ``scales.npy`` (per-row or per-dimension float32 scales).
``vocab.json`` holds the words, their counts, the storage (``dtype``, ``scale``) and the
metadata (dim, training parameters, corpus, embedkit version).  No pickle.

A float32 directory keeps format version 1 (an older embedkit reads it and ignores
``norms.npy``); a float16 or int8 one is version 2, which an older embedkit refuses.
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
FORMAT_VERSION = 2
VECTORS_FILE = "vectors.npy"
VOCAB_FILE = "vocab.json"
NORMS_FILE = "norms.npy"
SCALES_FILE = "scales.npy"
#: rows whose stored norm is recomputed when a directory is opened (evenly spaced)
NORM_SAMPLE_ROWS = 64
#: Matrices up to this size are read whole when opened with stored norms (every row checked
#: finite); larger ones are left mapped and untouched until queried (`embedkit validate`
#: reads every row).
FULL_CHECK_BYTES = 64 << 20
#: relative tolerance of that check (norms written by other tools in float64 pass)
NORM_RTOL = 1e-5


def is_native(path) -> bool:
    """Whether ``path`` is a native vectors directory."""
    path = pathlib.Path(path)
    return path.is_dir() and (path / VOCAB_FILE).exists()


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


def load_native(path, *, limit=None, mmap=True):
    """Open a native directory; returns ``(words, matrix, counts, metadata)``.

    The float32 matrix is memory-mapped read-only unless ``mmap`` is False; float16 and int8
    matrices are decoded into a new float32 matrix (:func:`open_native` does not).
    """
    words, storage, counts, meta = open_native(path, limit=limit, mmap=mmap)
    matrix = storage.data
    if storage.dtype != "float32":
        matrix = np.empty(storage.shape, dtype=np.float32)
        step = storage.block_rows(1)
        for x0 in range(0, len(storage), step):
            storage.decode(x0, min(len(storage), x0 + step), matrix[x0:x0 + step])
    return words, matrix, counts, meta


def open_native(path, *, limit=None, mmap=True, norms=True, with_index=False):
    """Open a native directory without decoding it: ``(words, storage, counts, metadata)``.

    ``storage`` is a :class:`~embedkit.vectors.storage.StoredMatrix` over the (memory-mapped
    unless ``mmap`` is False) rows, with the stored norms.  When the directory has none,
    they are computed here, streamed, and a row they show to be unscorable is refused;
    ``norms=False`` ignores stored norms and leaves both to the caller.  With
    ``with_index`` a fifth item is the :class:`~embedkit.vectors.wordindex.WordIndex` of
    the words (None with a ``limit``).

    With stored norms the matrix itself is not read when opening (it stays mapped and
    untouched until a query): the norms are checked instead (one finite, non-negative
    value per row; 64 evenly spaced rows recomputed).

    Raises
    ------
    FormatError
        An unknown ``dtype``; a matrix whose dtype is not the declared one; an int8 matrix
        whose ``scales.npy`` is missing, of the wrong shape, or holds a zero, negative or
        non-finite scale; ``norms.npy`` of the wrong length, negative or non-finite, or
        disagreeing with the rows it is checked against (64 evenly spaced rows); without
        stored norms, a row holding NaN or infinity (with stored norms, the same for
        matrices up to ``FULL_CHECK_BYTES``; `embedkit validate` reads larger ones whole).
    """
    from embedkit.vectors.storage import DTYPES, SCALE_AXES, StoredMatrix, first_unscorable

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
    dtype = vocab.get("dtype")
    if dtype is not None and dtype not in DTYPES:
        raise FormatError(f"{path / VOCAB_FILE}: unknown dtype {dtype!r}; this embedkit reads "
                          f"{', '.join(DTYPES)}: upgrade embedkit or convert the file")
    if not (path / VECTORS_FILE).exists():
        raise MissingFileError(f"{path / VECTORS_FILE} is missing")
    matrix = _read_npy(path / VECTORS_FILE, mmap)
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
    if dtype is None:  # written before the dtype field: float32, or anything to convert
        if matrix.dtype != np.float32:
            matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    elif matrix.dtype != np.dtype(dtype):
        raise FormatError(f"{path / VECTORS_FILE}: the matrix is {matrix.dtype} but "
                          f"{VOCAB_FILE} says {dtype}; the directory is inconsistent")
    scales = scale_axis = None
    if dtype == "int8":
        scale_axis = vocab.get("scale")
        if scale_axis not in SCALE_AXES:
            raise FormatError(f"{path / VOCAB_FILE}: an int8 matrix needs \"scale\": \"row\" "
                              f"or \"dim\", got {scale_axis!r}")
        if not (path / SCALES_FILE).exists():
            raise FormatError(f"{path}: the int8 matrix has no {SCALES_FILE} (its scales); "
                              "the directory is incomplete: convert the original vectors again")
        scales = _read_npy(path / SCALES_FILE, False)
        want = len(words) if scale_axis == "row" else matrix.shape[1]
        if scales.shape != (want,) or scales.dtype.kind != "f":
            raise FormatError(f"{path / SCALES_FILE}: expected {want} float scales (one per "
                              f"{scale_axis}), got {scales.dtype} of shape {scales.shape}")
        scales = scales.astype(np.float32, copy=False)
        if not (np.isfinite(scales).all() and (scales > 0).all()):
            bad = int(np.flatnonzero(~(np.isfinite(scales) & (scales > 0)))[0])
            raise FormatError(f"{path / SCALES_FILE}: scale {bad} is {scales[bad]}; int8 scales "
                              "must be finite and > 0: convert the original vectors again")
    counts = vocab.get("counts")
    if counts is not None:
        counts = V.count_list(counts, len(words), file=vocab_file, name="counts")
    metadata = V.field(vocab, "metadata", (dict, type(None)), file=vocab_file, default=None)
    word_index = _check_unique(words, vocab_file)
    stored = None
    if norms and (path / NORMS_FILE).exists():
        stored = _read_norms(path / NORMS_FILE, len(words), mmap)
    storage = StoredMatrix(matrix, stored, scales, scale_axis)
    storage.source = str(path)
    checksum = vocab.get("checksum")
    if isinstance(checksum, str) and checksum.startswith("blake2b:") and dtype is not None:
        storage.checksum = checksum  # written with the rows; `embedkit validate` re-checks it
    if stored is not None:
        _check_norm_sample(storage, path / NORMS_FILE)
        if matrix.nbytes <= FULL_CHECK_BYTES:  # small: reading every row costs nothing
            _check_finite_rows(matrix, path / VECTORS_FILE, words)
    if limit is not None:
        words = words[:limit]
        storage = storage.head(limit)
        counts = None if counts is None else counts[:limit]
        word_index = None
    if stored is None and norms:
        # No stored norms: compute them now, one streamed pass that also finds the rows a
        # query could not score (NaN or infinity).  With stored norms only a small matrix
        # is read (above); a larger one is not read at all: the writer refused such rows,
        # the norms are checked (finite, one per row, 64 rows recomputed) and `embedkit
        # validate` reads everything.
        bad = first_unscorable(storage.norms, storage.data)
        if bad is not None:
            raise FormatError(f"{path / VECTORS_FILE}: row {bad + 1} (word {words[bad]!r}) "
                              "holds NaN or infinity; fix or drop it")
    if with_index:
        return words, storage, counts, metadata or {}, word_index
    return words, storage, counts, metadata or {}


def _check_unique(words, vocab_file):
    """The :class:`~embedkit.vectors.wordindex.WordIndex` of ``words``; a repeated word is
    a :class:`FormatError` naming both rows."""
    from embedkit.vectors.wordindex import WordIndex

    index = WordIndex(words)
    dup = index.first_duplicate()
    if dup is not None:
        j, i = dup
        raise FormatError(f"{vocab_file}: word {i + 1} ({words[i]!r}) is a duplicate of word "
                          f"{j + 1}; a native vocabulary holds each word once")
    return index


def _read_npy(file, mmap):
    return V.read_npy(file, mmap=mmap)


def _read_norms(file, n, mmap):
    norms = _read_npy(file, mmap)
    if norms.shape != (n,) or norms.dtype.kind != "f":
        raise FormatError(f"{file}: expected {n} float row norms (one per word), got "
                          f"{norms.dtype} of shape {norms.shape}: run `embedkit convert "
                          f"{file.parent}` to rewrite them")
    if norms.dtype != np.float32:
        norms = norms.astype(np.float32)
    bad = np.flatnonzero(~(norms >= 0))  # negative or NaN (+inf: a wide row, see storage)
    if len(bad):
        bad = int(bad[0])
        raise FormatError(f"{file}: the norm of row {bad + 1} is {norms[bad]} (negative or "
                          "NaN), so the matrix or the norms are damaged: run "
                          f"`embedkit validate {file.parent}`, or `embedkit convert "
                          f"{file.parent}` to recompute the norms")
    return norms


def _check_finite_rows(matrix, file, words) -> None:
    """A :class:`FormatError` naming the first row of ``matrix`` holding NaN or infinity."""
    if matrix.dtype.kind != "f":
        return
    bad = V.first_nonfinite_row(matrix, block_bytes=1 << 20)  # 1 MB of rows at a time
    if bad is not None:
        raise FormatError(f"{file}: row {bad + 1} (word {words[bad]!r}) holds NaN or "
                          "infinity; fix or drop it")


def _check_norm_sample(storage, file) -> None:
    """Recompute the norms of evenly spaced rows; a mismatch is a :class:`FormatError`."""
    n = len(storage)
    if n == 0:
        return
    from embedkit.vectors.storage import row_norms

    rows = np.unique(np.linspace(0, n - 1, num=min(n, NORM_SAMPLE_ROWS)).astype(np.int64))
    want = row_norms(storage.rows(rows)).astype(np.float64)  # float64 fallback: no overflow
    got = storage.norms[rows].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        off = ~((got == want) | (np.abs(got - want) <= NORM_RTOL * np.maximum(want, 1e-30)))
    if off.any():
        i = int(np.flatnonzero(off)[0])
        r = int(rows[i])
        raise FormatError(f"{file} disagrees with the matrix: row {r + 1} has norm "
                          f"{want[i]:.6g} but {NORMS_FILE} says {got[i]:.6g}; rewrite the "
                          f"norms with `embedkit convert {file.parent}`")
