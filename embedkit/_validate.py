"""One validation layer for everything embedkit reads back from disk.

Numba kernels index without bounds checks, so an array read from a file must be checked
(shape, dtype, finiteness, id ranges, monotone offsets) before any kernel sees it.  Every
reader (vectors, checkpoints, corpus caches, downstream models, search indexes) goes
through these helpers, and every failure is a :class:`~embedkit.errors.FormatError` that
names the file and the array or field.

The readers' own exceptions (``EOFError``, ``zlib.error``, ``lzma.LZMAError``,
``OSError`` from bz2, ``zipfile.BadZipFile``, ``UnicodeDecodeError``,
``json.JSONDecodeError``, ``RecursionError`` on deeply nested JSON) are caught here,
at the boundary, and re-raised as ``FormatError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import pathlib
import zipfile
import zlib

import numpy as np

from embedkit.errors import FormatError, MissingFileError

#: exceptions a corrupt or truncated file makes a reader raise
READ_ERRORS = (EOFError, zlib.error, lzma.LZMAError, zipfile.BadZipFile, UnicodeDecodeError,
               json.JSONDecodeError, RecursionError, ValueError, OSError, OverflowError,
               MemoryError)

_HINT = ""


def describe(exc: BaseException) -> str:
    """A short, one-line description of a reader exception."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8 at byte {exc.start} ({exc.reason})"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    if isinstance(exc, EOFError):
        return "the file ends early (truncated)"
    if isinstance(exc, MemoryError):
        return "a size in the file is larger than fits in memory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip().splitlines()
    text = text[0] if text else ""
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def corrupt(path, exc: BaseException, what: str = "", fix: str = "") -> FormatError:
    """A :class:`FormatError` for file ``path`` that a reader could not parse."""
    where = f"{path}" + (f" ({what})" if what else "")
    msg = f"{where}: cannot read the file: {describe(exc)}"
    if fix:
        msg += f"; {fix}"
    return FormatError(msg)


def existing_path(path, missing: str, directory: str | None = None,
                  directory_error: type = FormatError) -> pathlib.Path:
    """``path`` as a :class:`pathlib.Path`, checked to exist (and not to be a directory).

    Parameters
    ----------
    path : str or path-like
        The input to check.
    missing : str
        Message of the :class:`MissingFileError` raised when ``path`` does not exist;
        ``{path}`` in it stands for the path (``{path!r}`` for it quoted).
    directory : str, optional
        Message of the error raised when ``path`` is a directory (``{path}`` as above);
        by default a directory is accepted.
    directory_error : type, default FormatError
        The class of that error.

    Returns
    -------
    pathlib.Path
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise MissingFileError(missing.format(path=str(path)))
    if directory is not None and path.is_dir():
        raise directory_error(directory.format(path=str(path)))
    return path


# -- readers ----------------------------------------------------------------------------------

def read_json(path, *, fix: str = "", what: str = ""):
    """Parse a JSON file; any failure is a :class:`FormatError` naming it.

    Raises
    ------
    MissingFileError
        The file does not exist.
    FormatError
        It is not valid UTF-8 JSON (or nests too deeply).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise MissingFileError(f"{path} is missing" + (f"; {fix}" if fix else "")) from None
    except OSError as exc:
        raise corrupt(path, exc, what, fix) from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise corrupt(path, exc, what, fix) from None


def read_npy(path, *, mmap: bool = False, fix: str = ""):
    """``np.load`` of a ``.npy`` file without pickles; failures are a :class:`FormatError`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path} is missing" + (f"; {fix}" if fix else ""))
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - whatever numpy's header parser meets
        raise corrupt(path, exc, fix=fix) from None
    if not isinstance(arr, np.ndarray):
        raise FormatError(f"{path}: not a .npy array file" + (f"; {fix}" if fix else ""))
    return arr


def read_npz(path, *, fix: str = "") -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (no pickles); failures are a :class:`FormatError`.

    Each member is read whole, so zip's CRC check covers it.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path} is missing" + (f"; {fix}" if fix else ""))
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise FormatError(f"{path}: not an .npz archive" + (f"; {fix}" if fix else ""))
            return {k: data[k] for k in data.files}
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever zipfile or numpy's parser meets
        raise corrupt(path, exc, fix=fix) from None


def file_digest(path, algorithm: str = "sha256") -> str:
    """``"<algorithm>:<hex>"`` digest of a file's bytes."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return f"{algorithm}:{h.hexdigest()}"


# -- arrays -----------------------------------------------------------------------------------

_KINDS = {"f": "floating-point", "i": "signed integer", "u": "unsigned integer",
          "iu": "integer", "b": "boolean"}


def check_array(arr, *, file, name: str, shape=None, ndim: int | None = None,
                kind: str | None = None, finite: bool = False, fix: str = ""):
    """Check one array read from ``file``; return it.

    Parameters
    ----------
    arr : ndarray or None
        The array (None: missing from the file).
    file, name : str
        Named in the message: ``"<file>: array '<name>' ..."``.
    shape : tuple, optional
        Expected shape; ``None`` entries match any length.
    ndim : int, optional
        Expected number of dimensions (when ``shape`` is not given).
    kind : str, optional
        Allowed dtype kinds: ``"f"`` float, ``"iu"`` integer, ...  Complex, object and
        string arrays are always refused.
    finite : bool
        Refuse NaN and infinity (floating arrays only).
    """
    where = f"{file}: array {name!r}"
    tail = f"; {fix}" if fix else ""
    if arr is None:
        raise FormatError(f"{where} is missing{tail}")
    if not isinstance(arr, np.ndarray):
        raise FormatError(f"{where} is not an array{tail}")
    if arr.dtype.kind not in "fiub":
        raise FormatError(f"{where} has dtype {arr.dtype}, expected "
                          f"{_KINDS.get(kind or 'f', kind)} numbers{tail}")
    if kind is not None and arr.dtype.kind not in kind:
        raise FormatError(f"{where} has dtype {arr.dtype}, expected "
                          f"{_KINDS.get(kind, kind)} numbers{tail}")
    if shape is not None:
        ok = arr.ndim == len(shape) and all(s is None or int(s) == a
                                            for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise FormatError(f"{where} has shape {arr.shape}, expected {want}{tail}")
    elif ndim is not None and arr.ndim != ndim:
        raise FormatError(f"{where} has {arr.ndim} dimensions, expected {ndim}{tail}")
    if finite and arr.dtype.kind == "f":
        bad = first_nonfinite_row(arr)
        if bad is not None:
            raise FormatError(f"{where} holds NaN or infinity (first at index {bad}){tail}")
    return arr


def first_nonfinite_row(arr, block_bytes: int = 16 << 20):
    """Index of the first row (along axis 0) of ``arr`` holding NaN or infinity, or None.

    Works block by block, so a memory-mapped matrix is never loaded whole.
    """
    if arr.size == 0:
        return None
    if arr.ndim == 0:
        return None if np.isfinite(arr) else 0
    per_row = max(1, arr[:1].nbytes)
    block = max(1, block_bytes // per_row)
    for s in range(0, arr.shape[0], block):
        part = arr[s:s + block]
        ok = np.isfinite(part)
        if not ok.all():
            rows = ok.reshape(len(part), -1).all(axis=1)
            return s + int(np.flatnonzero(~rows)[0])
    return None


def check_ids(arr, *, file, name: str, high: int, low: int = 0, fix: str = ""):
    """Check that integer array ``arr`` holds ids in ``[low, high)``; return it."""
    check_array(arr, file=file, name=name, kind="iu", fix=fix)
    if arr.size:
        lo, hi = _min_max(arr)
        if lo < low or hi >= high:
            bad = lo if lo < low else hi
            raise FormatError(f"{file}: array {name!r} holds the id {bad}, outside "
                              f"[{low}, {high}){'; ' + fix if fix else ''}")
    return arr


def _min_max(arr, block: int = 1 << 24):
    lo, hi = None, None
    flat = arr.reshape(-1)
    for s in range(0, flat.shape[0], block):
        part = flat[s:s + block]
        a, b = int(part.min()), int(part.max())
        lo = a if lo is None else min(lo, a)
        hi = b if hi is None else max(hi, b)
    return lo, hi


def check_offsets(arr, *, file, name: str, total: int, fix: str = ""):
    """Check sentence/row offsets: 1-D integers from 0 to ``total``, never decreasing."""
    check_array(arr, file=file, name=name, ndim=1, kind="iu", fix=fix)
    tail = f"; {fix}" if fix else ""
    if arr.shape[0] < 1:
        raise FormatError(f"{file}: array {name!r} is empty; it needs at least one offset{tail}")
    if int(arr[0]) != 0 or int(arr[-1]) != int(total):
        raise FormatError(f"{file}: array {name!r} runs from {int(arr[0])} to {int(arr[-1])}, "
                          f"expected 0 to {total}{tail}")
    if arr.shape[0] > 1 and bool((np.diff(arr) < 0).any()):
        raise FormatError(f"{file}: array {name!r} decreases somewhere; offsets must never "
                          f"decrease{tail}")
    return arr


# -- JSON fields ------------------------------------------------------------------------------

_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", int: "an integer",
               float: "a number", bool: "true or false"}


def field(obj, key: str, types, *, file, default=..., fix: str = ""):
    """``obj[key]`` checked to be of ``types`` (``int`` excludes ``bool``; ``float`` accepts
    ints); a missing key returns ``default`` or, without one, is a :class:`FormatError`."""
    tail = f"; {fix}" if fix else ""
    if not isinstance(obj, dict):
        raise FormatError(f"{file}: expected a JSON object, got {type(obj).__name__}{tail}")
    if key not in obj:
        if default is not ...:
            return default
        raise FormatError(f"{file}: field {key!r} is missing{tail}")
    value = obj[key]
    if not isinstance(types, tuple):
        types = (types,)
    if value is None and type(None) in types:
        return value
    ok = False
    for t in types:
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        elif t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            ok = True
        elif t not in (int, float) and t is not type(None) and isinstance(value, t):
            ok = True
    if not ok:
        want = " or ".join(_TYPE_NAMES.get(t, getattr(t, "__name__", str(t))) for t in types
                           if t is not type(None))
        raise FormatError(f"{file}: field {key!r} must be {want}, got {_short(value)}{tail}")
    return value


def string_list(value, *, file, name: str, fix: str = "") -> list:
    """Check that ``value`` is a list of strings; return it."""
    tail = f"; {fix}" if fix else ""
    if not isinstance(value, list):
        raise FormatError(f"{file}: {name!r} must be a list of strings, got "
                          f"{_short(value)}{tail}")
    for i, w in enumerate(value):
        if not isinstance(w, str):
            raise FormatError(f"{file}: {name!r} entry {i} is {_short(w)}, not a string{tail}")
    return value


def count_list(value, n: int, *, file, name: str, fix: str = "") -> np.ndarray:
    """Check ``value`` is a list of ``n`` non-negative integers; return it as int64."""
    tail = f"; {fix}" if fix else ""
    if not isinstance(value, list) or len(value) != n:
        got = f"{len(value)} entries" if isinstance(value, list) else _short(value)
        raise FormatError(f"{file}: {name!r} must be a list of {n} integers, got {got}{tail}")
    for i, c in enumerate(value):
        if isinstance(c, bool) or not isinstance(c, int) or c < 0 or c >= 1 << 63:
            raise FormatError(f"{file}: {name!r} entry {i} is {_short(c)}, not a count "
                              f"(an integer >= 0){tail}")
    return np.asarray(value, dtype=np.int64).reshape(n)


def _short(value) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"
