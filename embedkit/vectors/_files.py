"""Opening vector files (compressed ones by content, :mod:`embedkit._io`), header bounds,
matrix allocation, chunked reading, atomic compressed output."""

from __future__ import annotations

import bz2
import contextlib
import dataclasses
import logging
import gzip
import lzma
import mmap
import os
import pathlib

import numpy as np

from embedkit._atomic import atomic_path
from embedkit._io import COMPRESSED_SUFFIXES, open_file, stream_is_plain
from embedkit._validate import existing_path
from embedkit.errors import FormatError, MissingFileError

CHUNK = 4 << 20
PROGRESS_MIN_BYTES = 64 << 20


def open_input(path):
    """Open ``path`` for binary reading, decompressing by content (not by extension)."""
    path = existing_path(path, "vectors file not found: {path}",
                         "{path} is a directory, not a vectors file (a native .ekv directory "
                         "holds vectors.npy and vocab.json)", MissingFileError)
    return open_file(path, "rb", buffering=0)


log = logging.getLogger(__name__)

POPULATE_MIN_BYTES = 64 << 20
#: bounds on a header's ``count dim``: a larger figure is a damaged or hostile header
MAX_DIM = 1 << 20
MAX_COUNT = 1 << 48


def check_header(count: int, dim: int, path, text) -> None:
    """Refuse a ``count dim`` header outside ``0 <= count <= 2**48``, ``1 <= dim <= 2**20``."""
    if count < 0 or dim < 1:
        raise FormatError(f"{path}: line 1: header 'count dim' must have count >= 0 and "
                          f"dim >= 1, got {text!r}")
    if count > MAX_COUNT or dim > MAX_DIM:
        raise FormatError(f"{path}: line 1: header 'count dim' promises {count} words of "
                          f"dimension {dim}, more than any vectors file holds (at most "
                          f"{MAX_COUNT} words, dimension {MAX_DIM}): the header is damaged")
_empty = np.empty  # (tests replace it to simulate a failed allocation)


def alloc_matrix(rows: int, dim: int, exact: bool, path=None) -> np.ndarray:
    """An uninitialised float32 ``(rows, dim)`` matrix for a reader to fill.

    When ``exact`` (the row count is known and checked against the file size) and the
    matrix is big, it is an anonymous mapping created with ``MAP_POPULATE``: the kernel
    commits every page in one call instead of one page fault at a time, which takes a
    quarter to a third off loading a large binary file.  Otherwise ``np.empty``.
    """
    nbytes = rows * dim * 4
    if exact and nbytes >= POPULATE_MIN_BYTES and hasattr(mmap, "MAP_POPULATE"):
        try:
            mm = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                           | mmap.MAP_POPULATE)
            return np.frombuffer(mm, dtype=np.float32).reshape(rows, dim)
        except (OSError, ValueError):  # pragma: no cover - fall back to the heap
            pass
    try:
        return _empty((rows, dim), dtype=np.float32)
    except (MemoryError, ValueError, OverflowError):
        raise FormatError(f"{path}: the header promises {rows} x {dim} vectors "
                          f"({nbytes / 2**30:.1f} GiB), more than fits in memory; pass "
                          "limit= or fix the header") from None


def finish_read(path, matrix, done, row, count, limit, validating, decoder, unicode_errors):
    """Trim the matrix to the ``done + row`` rows read; warn about a wrong header count and
    repaired words (not while validating).  Returns the matrix and the row count."""
    if row < matrix.shape[0]:
        matrix = grow_rows(matrix, row)
    rows = done + row
    if count is not None and rows != count and not validating \
            and (limit is None or rows < min(limit, count)):
        log.warning("%s: the header says %d words but the file holds %d; using %d",
                    path, count, rows, rows)
    if decoder.repaired and not validating:
        log.warning("%s: repaired %d words that were not valid UTF-8 (unicode_errors=%r)",
                    path, decoder.repaired, unicode_errors)
    return matrix, rows


@dataclasses.dataclass
class ChunkRows:
    """The rows a chunk parser of the text and binary readers fills, chunk after chunk.

    Holds the matrix (grown by half when full), the word bytes of each chunk handed to the
    ``decoder`` (``label`` names a word's place in its messages: ``f"{label} {n}"``), ``row``
    (rows in the matrix) and ``done`` (rows parsed and dropped: in validation mode each
    chunk's rows are dropped after it is parsed).
    """

    reader: ChunkReader
    matrix: np.ndarray
    limit: int | None
    validating: bool
    decoder: object
    label: str
    row: int = 0
    done: int = 0
    wbuf: np.ndarray | None = None
    wlens: np.ndarray | None = None

    def __post_init__(self):
        from embedkit._kernels.vectors_io import OK_ROWS_FULL  # not at import: no Numba

        self._rows_full = OK_ROWS_FULL

    def buffers(self) -> tuple[np.ndarray, np.ndarray]:
        """The parser's word bytes and word lengths, as large as the reader's buffer."""
        if self.wbuf is None or len(self.wbuf) < len(self.reader.buf) + 1:
            self.wbuf = np.empty(len(self.reader.buf) + 1, dtype=np.uint8)
            self.wlens = np.empty(len(self.reader.buf) + 1, dtype=np.int64)
        return self.wbuf, self.wlens

    def target(self) -> int:
        """The row the parser may fill up to (the matrix's end, or the limit)."""
        target = self.matrix.shape[0]
        return target if self.limit is None else min(target, self.limit - self.done)

    def parsed(self, row: int, wpos: int) -> None:
        """Take a chunk's result: rows up to ``row``, ``wpos`` bytes of their words."""
        first = self.done + self.row
        self.decoder.add(self.wbuf[:wpos].tobytes(),
                         lambda i, fr=first: f"{self.label} {fr + i + 1}",
                         self.wlens[:row - self.row])
        self.row = row
        if self.validating:
            self.done += row
            self.row = 0

    @property
    def limit_reached(self) -> bool:
        return self.limit is not None and self.done + self.row >= self.limit

    def advance(self, status: int, pos: int) -> int | None:
        """After a chunk that ended with ``status`` at ``pos``: where to parse next (the
        matrix grown, or the reader refilled), or None when reading is over."""
        if status == self._rows_full:
            if self.limit_reached:
                return None
            if not self.validating:
                self.matrix = grow_rows(self.matrix, max(16, int(self.matrix.shape[0] * 1.5)))
            return pos
        if self.reader.eof or self.limit_reached:
            return None
        self.reader.fill(pos)
        return 0

    def finish(self, path, count, unicode_errors) -> tuple[np.ndarray, int]:
        """:func:`finish_read` of these rows."""
        return finish_read(path, self.matrix, self.done, self.row, count, self.limit,
                           self.validating, self.decoder, unicode_errors)


def grow_rows(matrix: np.ndarray, rows: int) -> np.ndarray:
    """Resize in place (realloc: no second copy of the matrix in memory when possible).

    A matrix that does not own its memory (see ``alloc_matrix``) is sliced when it
    shrinks and copied when it grows.
    """
    if matrix.base is not None:
        if rows <= matrix.shape[0]:
            return matrix[:rows]
        new = np.empty((rows, matrix.shape[1]), dtype=matrix.dtype)
        new[: len(matrix)] = matrix
        return new
    matrix.resize((rows, matrix.shape[1]), refcheck=False)
    return matrix


def strip_compression(name: str) -> tuple[str, str | None]:
    """Split ``"x.txt.gz"`` into ``("x.txt", "gz")``."""
    for suffix in COMPRESSED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix[1:]
    return name, None


class ChunkReader:
    """Reads a stream into a reusable uint8 buffer, keeping the unparsed tail of each chunk."""

    def __init__(self, stream, size: int = CHUNK, path=None):
        self.stream = stream
        self.buf = np.empty(size, dtype=np.uint8)
        self.n = 0          # valid bytes in buf
        self.base = 0       # file offset of buf[0]
        self.eof = False
        self.bar = None
        if path is not None:  # a progress bar (bytes) for big files
            size_on_disk = os.path.getsize(path)
            if size_on_disk >= PROGRESS_MIN_BYTES:
                from embedkit._progress import progress_bar

                total = size_on_disk if stream_is_plain(stream) else None
                self.bar = progress_bar(total=total, desc=f"loading {pathlib.Path(path).name}",
                                        unit="B", unit_scale=True, unit_divisor=1024)

    def close(self) -> None:
        """Close the progress bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def fill(self, keep_from: int) -> None:
        """Drop ``buf[:keep_from]``, then read until the buffer is full or the stream ends."""
        tail = self.n - keep_from
        if keep_from > 0:
            self.buf[:tail] = self.buf[keep_from:self.n]
            self.base += keep_from
        elif tail == len(self.buf):  # one record longer than the buffer: grow it
            self.buf = np.concatenate([self.buf, np.empty(len(self.buf), dtype=np.uint8)])
        self.n = tail
        view = memoryview(self.buf)
        while self.n < len(self.buf):
            got = self.stream.readinto(view[self.n:])
            if not got:
                self.eof = True
                break
            self.n += got
            if self.bar is not None:
                self.bar.update(got)


@contextlib.contextmanager
def atomic_output(path, compress: str | None = None):
    """Yield a binary file object writing to a temp file next to ``path``; replace on success."""
    path = pathlib.Path(path)
    if path.parent and not path.parent.exists():
        raise MissingFileError(f"directory does not exist: {path.parent}")
    with atomic_path(path) as tmp:
        raw = open(tmp, "wb")
        if compress == "gz":
            f = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, filename="", mtime=0)
        elif compress == "bz2":
            f = bz2.BZ2File(raw, "wb")
        elif compress == "xz":
            f = lzma.LZMAFile(raw, "wb")
        else:
            f = raw
        try:
            yield f
        finally:
            if f is not raw:
                f.close()
            raw.close()
