"""Atomic writes: every file embedkit writes appears whole or not at all.

A temporary file is made beside the target, written, given the usual file mode (the
process umask applied to 0666; ``mkstemp`` alone would leave it 0600) and renamed over the
target.  On any error, Ctrl-C included, the temporary file is removed and the target is
left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

_MODE: list[int] = []


def _file_mode() -> int:
    if not _MODE:  # read the umask once (setting it back and forth is process-global)
        umask = os.umask(0o022)
        os.umask(umask)
        _MODE.append(0o666 & ~umask)
    return _MODE[0]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block ends
    without error, delete it otherwise."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, _file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_file(path, mode: str = "wb", encoding: str | None = None, fsync: bool = False):
    """Yield an open file that replaces ``path`` atomically when the block ends."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=encoding) as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
