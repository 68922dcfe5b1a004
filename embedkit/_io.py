"""Small file helpers every reader and writer shares: atomic writes by callback, opening
compressed files by their content, and human-readable byte counts.

The atomic-write primitive is :mod:`embedkit._atomic` (a temporary file renamed over the
target); these are the wrappers trainers, model savers and the index store use::

    write_atomic(path, lambda f: np.savez(f, **arrays), fsync=True)
    with open_file(path, "rt", encoding="utf-8") as f:   # .gz / .bz2 / .xz by content
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import hashlib
import json
import lzma
import os
import zlib
from typing import BinaryIO, Callable

import numpy as np

from embedkit._atomic import atomic_file, atomic_path
from embedkit.errors import FormatError

__all__ = ["COMPRESSED_SUFFIXES", "compression_of", "decompression_errors", "format_bytes",
           "matrix_checksum", "open_compressed", "open_file", "stream_is_plain",
           "wrap_compressed", "write_atomic", "write_atomic_path", "write_json", "write_npz"]

_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz")


# -- atomic writes ---------------------------------------------------------------------------
def write_atomic(path, write: Callable[[BinaryIO], object], mode: str = "wb",
                 fsync: bool = False) -> None:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file that replaces ``path``
    only when it returns (``fsync``: flushed to disk first, for checkpoints)."""
    with atomic_file(os.fspath(path), mode, fsync=fsync) as f:
        write(f)


def write_npz(path, arrays: dict, fsync: bool = False) -> None:
    """Write ``arrays`` to an uncompressed ``.npz``, atomically."""
    write_atomic(path, lambda f: np.savez(f, **arrays), fsync=fsync)


def write_json(path, data, indent: int | None = 2) -> None:
    """Write ``data`` as JSON (indented, keys sorted, a final newline), atomically."""
    text = json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + "\n"
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_atomic_path(path, write: Callable[[str], object]) -> None:
    """Write ``path`` atomically through a library that wants a file name: ``write(tmp)``
    writes the temporary path that then replaces ``path``."""
    with atomic_path(os.fspath(path)) as tmp:
        write(tmp)


# -- compressed files ------------------------------------------------------------------------
def _kind(head: bytes) -> str | None:
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def compression_of(path) -> str | None:
    """``"gz"``, ``"bz2"``, ``"xz"`` from the file's first bytes, or ``None``."""
    with open(path, "rb") as f:
        return _kind(f.read(6))


def open_compressed(path, buffering: int = -1) -> tuple[BinaryIO, BinaryIO]:
    """Open ``path`` for binary reading, decompressing by content (not by extension).

    Returns ``(stream, raw)``: the decompressed stream and the file under it (whose
    position tells how much of the file was read, for progress); close both.
    ``buffering`` is that of the raw file.
    """
    return wrap_compressed(open(path, "rb", buffering=buffering))


def wrap_compressed(raw: BinaryIO) -> tuple[BinaryIO, BinaryIO]:
    """``(stream, raw)`` for an open, seekable binary file ``raw`` (local or remote): the
    stream decompresses it when its first bytes say ``.gz``, ``.bz2`` or ``.xz``."""
    try:
        head = raw.read(6)
        raw.seek(0)
    except BaseException:
        raw.close()
        raise
    kind = _kind(head)
    if kind == "gz":
        return gzip.GzipFile(fileobj=raw), raw
    if kind == "bz2":
        return bz2.BZ2File(raw), raw
    if kind == "xz":
        return lzma.LZMAFile(raw), raw
    return raw, raw


_OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def open_file(path, mode: str = "rb", buffering: int = -1, encoding: str | None = None,
              errors: str | None = None):
    """Open ``path`` for reading (``mode`` ``"rb"`` or ``"rt"``), decompressing ``.gz``,
    ``.bz2`` and ``.xz`` by content; the returned file owns the file under it.
    ``buffering`` applies to a plain file (0: unbuffered, for ``readinto``)."""
    kind = compression_of(path)
    if kind is None:
        return open(path, mode, buffering=buffering, encoding=encoding, errors=errors)
    return _OPENERS[kind](path, mode, encoding=encoding, errors=errors)


def stream_is_plain(stream) -> bool:
    """Whether ``stream`` reads the file as is (no decompression)."""
    return not isinstance(stream, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))


@contextlib.contextmanager
def decompression_errors(path):
    """Turn the errors of a truncated or corrupt ``.gz``/``.bz2``/``.xz`` stream (``EOFError``,
    ``zlib.error``, ``lzma.LZMAError``, ``OSError`` without an errno) into a
    :class:`FormatError` naming the file."""
    try:
        yield
    except (EOFError, zlib.error, lzma.LZMAError) as exc:
        raise FormatError(f"{path}: the compressed file is truncated or corrupt "
                          f"({type(exc).__name__}: {exc or 'ends early'}); download or "
                          "compress it again") from None
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise FormatError(f"{path}: the compressed file is truncated or corrupt ({exc}); "
                          "download or compress it again") from None


# -- checksums and sizes -----------------------------------------------------------------------------------
_CHECKSUM_ROWS = 1 << 14


def matrix_checksum(matrix: np.ndarray) -> str:
    """BLAKE2b digest of a vector matrix: its shape, dtype and every value, row by row
    (``"blake2b:<hex>"``); works on memory-mapped matrices without loading them whole.
    A saved index records it (through
    :func:`embedkit.vectors.storage.vectors_checksum`) to know its vectors."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{matrix.shape}|{matrix.dtype.str}".encode())
    for start in range(0, matrix.shape[0], _CHECKSUM_ROWS):
        h.update(np.ascontiguousarray(matrix[start:start + _CHECKSUM_ROWS]).data)
    return "blake2b:" + h.hexdigest()


def format_bytes(n: float | None, si: bool = False) -> str:
    """Human-readable byte count: ``"1.5 GiB"`` (powers of 1024), or with ``si`` powers of
    1000 (``"1.6 GB"``, as download sizes are quoted); ``"?"`` for an unknown size."""
    if n is None:
        return "?"
    base, units = (1000.0, ("B", "kB", "MB", "GB", "TB")) if si else \
        (1024.0, ("B", "KiB", "MiB", "GiB", "TiB"))
    for unit in units:
        if abs(n) < base or unit == units[-1]:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= base
    return f"{n:.1f} {units[-1]}"  # pragma: no cover
