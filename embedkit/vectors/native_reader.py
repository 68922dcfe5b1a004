"""Reading a native ``.ekv`` directory: every file checked before a query sees it.

:func:`open_native` opens the directory without decoding it (the rows stay memory-mapped in a
:class:`~embedkit.vectors.storage.StoredMatrix`); :func:`load_native` decodes float16 and int8
rows into a float32 matrix.  The format itself and its writer are
:mod:`embedkit.vectors.native`, which re-exports these names.
"""

from __future__ import annotations

import pathlib

import numpy as np

from embedkit import _validate as V
from embedkit.errors import FormatError, MissingFileError

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
