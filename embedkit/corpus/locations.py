"""Where a sharded corpus lives: local paths and fsspec URLs (``s3://``, ``gs://``, ...).

Reading and writing whole files, ``.npy`` arrays written in appended chunks
(:class:`NpyStream`) and memory-mapped reading of a possibly remote ``.npy``.  Every write
is whole or not at all (a rename locally, one upload on an object store); errors name the
file and, inside a Dask worker, the worker.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from embedkit._atomic import atomic_file
from embedkit.errors import CorpusError, FormatError, MissingFileError

def is_url(path) -> bool:
    """Whether ``path`` is an fsspec URL (``s3://``, ``gs://``, ``file://`` ...)."""
    return isinstance(path, str) and "://" in path


def filesystem(path):
    """``(filesystem, path)`` for a URL (fsspec) or ``(None, path)`` for a local path."""
    if not is_url(path):
        return None, os.fspath(path)
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with the dask extra
        raise CorpusError(f"{path}: reading URLs needs fsspec: pip install 'embedkit[dask]'")
    fs, p = fsspec.core.url_to_fs(path)
    return fs, p


def join(base, *parts) -> str:
    """``base/parts`` for a local path or a URL."""
    base = os.fspath(base)
    if is_url(base):
        return "/".join([base.rstrip("/"), *parts])
    return os.path.join(base, *parts)


def worker_name() -> str:
    """`` on worker ADDRESS`` inside a Dask worker, else ``""``."""
    try:
        from distributed import get_worker

        return f" on worker {get_worker().address}"
    except (ImportError, ValueError):
        return ""


def write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (rename locally, one PUT on a store)."""
    try:
        fs, p = filesystem(path)
        if fs is None:
            with atomic_file(p, "wb") as f:
                f.write(data)
        elif fs.protocol in ("file", "local") or "file" in tuple(fs.protocol):
            with atomic_file(p, "wb") as f:
                f.write(data)
        else:
            fs.pipe_file(p, data)
    except OSError as exc:
        raise CorpusError(f"cannot write {path}{worker_name()}: {exc.strerror or exc}; give an "
                          "output location every worker can write") from None


def read_bytes(path) -> bytes:
    """The whole content of a local file or a URL."""
    fs, p = filesystem(path)
    if fs is None:
        with open(p, "rb") as f:
            return f.read()
    return fs.cat_file(p)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (no pickle)."""
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def load_npy(path) -> np.ndarray:
    """A ``.npy`` array read whole from a local path or a URL; errors name the file."""
    try:
        if not is_url(path):
            return np.load(path, allow_pickle=False)
        return np.load(io.BytesIO(read_bytes(path)), allow_pickle=False)
    except FileNotFoundError:
        raise MissingFileError(f"{path} is missing{worker_name()}: prepare the corpus again") \
            from None
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{path} is not a valid .npy file ({exc}): prepare the corpus "
                          "again") from None


_NPY_HEADER = 128  # fixed-size header of a streamed .npy, rewritten once the length is known


def _npy_header(n: int, dtype) -> bytes:
    text = repr({"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                 "fortran_order": False, "shape": (int(n),)})
    text = text.ljust(_NPY_HEADER - 11) + "\n"
    return b"\x93NUMPY\x01\x00" + (_NPY_HEADER - 10).to_bytes(2, "little") + \
        text.encode("latin1")


def is_local_fs(fs) -> bool:
    """Whether the fsspec filesystem ``fs`` is the local disk."""
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


class NpyStream:
    """A 1-D ``.npy`` file written in appended chunks, whole or not at all.

    Locally the chunks go to a temporary file beside ``path`` renamed into place by
    :meth:`close`; for an fsspec URL to a local temporary file uploaded in one piece.
    Either way the task holds one chunk, not the array, and a re-run writes the same
    bytes under its own temporary name.
    """

    def __init__(self, path, dtype):
        import tempfile

        self.path, self.dtype, self.n = path, np.dtype(dtype), 0
        fs, p = filesystem(path)
        self._fs = None if fs is None or is_local_fs(fs) else fs
        self._p = p
        try:
            fd, self._tmp = tempfile.mkstemp(
                prefix=f".{os.path.basename(p)}.", suffix=".part",
                dir=(os.path.dirname(p) or ".") if self._fs is None else None)
        except OSError as exc:
            raise CorpusError(f"cannot write {path}{worker_name()}: {exc.strerror or exc}; "
                              "give an output location every worker can write") from None
        self._f = os.fdopen(fd, "wb")
        self._f.write(_npy_header(0, self.dtype))

    def write(self, array) -> None:
        array = np.ascontiguousarray(array, dtype=self.dtype)
        self._f.write(memoryview(array).cast("B"))
        self.n += array.shape[0]

    def close(self) -> None:
        try:
            self._f.seek(0)
            self._f.write(_npy_header(self.n, self.dtype))
            self._f.close()
            if self._fs is None:
                os.replace(self._tmp, self._p)
            else:
                self._fs.put_file(self._tmp, self._p)
                os.unlink(self._tmp)
        except OSError as exc:
            self.abort()
            raise CorpusError(f"cannot write {self.path}{worker_name()}: "
                              f"{exc.strerror or exc}; give an output location every worker "
                              "can write") from None

    def abort(self) -> None:
        """Close and delete the unfinished file."""
        try:
            self._f.close()
        finally:
            if os.path.exists(self._tmp):
                os.unlink(self._tmp)


@contextlib.contextmanager
def all_or_none(*streams: NpyStream):
    """Write ``streams`` in the ``with`` block: all are closed (put in place) at its end, or
    all aborted (deleted) if the block or a close raises."""
    try:
        yield streams
        for stream in streams:
            stream.close()
    except BaseException:
        for stream in streams:
            stream.abort()
        raise


def open_npy(local, name) -> np.ndarray:
    """``local`` memory-mapped; errors name ``name`` (the file's location)."""
    try:
        return np.load(local, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise MissingFileError(f"{name} is missing{worker_name()}: prepare the corpus "
                               "again") from None
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(f"{name} is not a valid .npy file ({exc}): prepare the corpus "
                          "again") from None


@contextlib.contextmanager
def local_copy(path, fix="prepare the corpus again"):
    """A local path holding ``path``'s bytes (the path itself, or a download of a URL,
    removed afterwards), so it can be memory-mapped; a missing remote file is a
    :class:`MissingFileError` ending with ``fix`` (what to do)."""
    fs, p = filesystem(path)
    if fs is None or is_local_fs(fs):
        yield p
        return
    import tempfile

    fd, tmp = tempfile.mkstemp(suffix=".npy")
    os.close(fd)
    try:
        try:
            fs.get_file(p, tmp)
        except FileNotFoundError:
            raise MissingFileError(f"{path} is missing{worker_name()}: {fix}") from None
        yield tmp
    finally:
        os.unlink(tmp)
