"""Fetch a corpus over HTTP: resumable, verified, written atomically, unpacked.

The registry of corpora (names, URLs, sizes, checksums) lives in :mod:`embedkit.corpora`; this
module only knows how to bring one :class:`Source` onto the disk safely:

1. the download goes to ``<file>.part``; an existing ``.part`` is resumed with an HTTP
   ``Range`` request (a server that ignores ``Range`` makes it start again);
2. the finished file is checked against the expected size and every published checksum;
   on a mismatch the ``.part`` is deleted and :class:`ChecksumError` says so;
3. only then is it renamed into place (``os.replace``), so a final file is never partial;
4. a ``zip`` or ``gz`` archive is unpacked into a temporary file next to the target, checked
   against the unpacked size and checksums when they are published, and renamed into place.

Standard library only (``urllib``).  The HTTP transfer and the checks of a finished file
are in :mod:`embedkit.corpus._transfer`, unpacking in :mod:`embedkit.corpus._archives`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from embedkit._cache import user_cache_dir  # noqa: F401  (re-exported)
from embedkit.corpus._archives import _unpack
from embedkit.corpus._transfer import _STRENGTH, _transfer, _verify
from embedkit.errors import ChecksumError, DownloadError, ParameterError

log = logging.getLogger(__name__)

__all__ = ["ALGORITHMS", "ChecksumError", "DownloadError", "Source", "fetch", "is_cached",
           "user_cache_dir"]

#: checksum algorithms a registry entry may name, with the length of their hex digest
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128, "sha1": 40, "md5": 32}
ARCHIVES = ("zip", "gz")
#: a corpus name: it names a directory of the cache, so no separators and no ".."
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: ceiling on a download whose size nothing states
DEFAULT_MAX_BYTES = 16 << 30
#: ceiling on unpacked bytes per archive byte when no unpacked size is stated
MAX_RATIO = 64
#: a download slower than this on average (bytes/s) is stopped by the default deadline
MIN_RATE = 32 << 10


@dataclass(frozen=True)
class Source:
    """One downloadable file and what it must look like.

    Parameters
    ----------
    name : str
        Corpus name, used in messages and on the progress bar.
    url : str
        Where to fetch the file (``http``, ``https`` or ``file``).
    filename : str
        Name of the downloaded file in the target directory (``text8.zip``).
    size : int or None
        Exact size in bytes of the downloaded file, when published.
    checksums : mapping of str to str
        Published hex digests of the downloaded file, by algorithm (``sha256``, ``sha1``,
        ``md5``, ``sha512``).  Every one given is checked.
    archive : {"zip", "gz"} or None
        Unpack the download; None keeps it as it is.
    member : str or None
        The file to take out of a zip archive; None takes its only file.
    output : str or None
        Name of the unpacked corpus file; defaults to ``filename`` without its archive suffix.
    unpacked_size, unpacked_checksums
        The same checks for the unpacked file, when published.
    """

    name: str
    url: str
    filename: str
    size: int | None = None
    checksums: Mapping[str, str] = field(default_factory=dict)
    archive: str | None = None
    member: str | None = None
    output: str | None = None
    unpacked_size: int | None = None
    unpacked_checksums: Mapping[str, str] = field(default_factory=dict)
    max_size: int | None = None
    max_unpacked_size: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not NAME_PATTERN.fullmatch(self.name) \
                or ".." in self.name:
            raise ParameterError(f"corpus name {self.name!r} is not an identifier: use letters, "
                                 "digits, '.', '_' and '-' (it names a cache directory)")
        if not self.url or not self.filename:
            raise ParameterError(f"corpus {self.name!r}: a download needs a url and a filename")
        scheme = urllib.parse.urlsplit(str(self.url)).scheme.lower()
        if scheme not in ("http", "https"):
            raise ParameterError(f"corpus {self.name!r}: only http and https URLs are "
                                 f"downloaded, got {self.url!r}")
        if Path(self.filename).name != self.filename or (
                self.output is not None and Path(self.output).name != self.output):
            raise ParameterError(f"corpus {self.name!r}: filename and output must be plain "
                                 f"file names, got {self.filename!r} / {self.output!r}")
        if self.archive is not None and self.archive not in ARCHIVES:
            raise ParameterError(f"corpus {self.name!r}: archive must be one of "
                                 f"{', '.join(ARCHIVES)} or null, got {self.archive!r}")
        for what, size in (("size", self.size), ("unpacked_size", self.unpacked_size),
                           ("max_size", self.max_size),
                           ("max_unpacked_size", self.max_unpacked_size)):
            if size is not None and (not isinstance(size, int) or size < 0):
                raise ParameterError(f"corpus {self.name!r}: {what} must be a byte count "
                                     f">= 0 or null, got {size!r}")
        for what, sums in (("checksums", self.checksums),
                           ("unpacked_checksums", self.unpacked_checksums)):
            for alg, value in sums.items():
                if alg not in ALGORITHMS:
                    raise ParameterError(f"corpus {self.name!r}: unknown {what} algorithm "
                                         f"{alg!r}; use one of {', '.join(ALGORITHMS)}")
                if not re.fullmatch(f"[0-9a-f]{{{ALGORITHMS[alg]}}}", str(value)):
                    raise ParameterError(f"corpus {self.name!r}: {what}.{alg} must be "
                                         f"{ALGORITHMS[alg]} lowercase hex digits, got {value!r}")

    @property
    def target(self) -> str:
        """File name of the finished corpus in the target directory."""
        if self.archive is None:
            return self.filename
        if self.output:
            return self.output
        stem = self.filename
        for suffix in (".zip", ".gz", ".gzip"):
            if stem.lower().endswith(suffix):
                return stem[: -len(suffix)] or self.name
        return stem + ".unpacked"

    @property
    def size_limit(self) -> int:
        """Ceiling on the downloaded bytes: ``size``, else ``max_size``, else the unpacked
        size of an archive (plus 1% and 1 MiB), else :data:`DEFAULT_MAX_BYTES`."""
        if self.size is not None:
            return self.size
        if self.max_size is not None:
            return self.max_size
        if self.archive and self.unpacked_size is not None:
            return self.unpacked_size + self.unpacked_size // 100 + (1 << 20)
        return DEFAULT_MAX_BYTES

    def unpacked_limit(self, archive_bytes: int) -> int:
        """Ceiling on the unpacked bytes: ``unpacked_size``, else ``max_unpacked_size``, else
        :data:`MAX_RATIO` times the archive (text rarely packs tighter)."""
        if self.unpacked_size is not None:
            return self.unpacked_size
        if self.max_unpacked_size is not None:
            return self.max_unpacked_size
        return max(MAX_RATIO * archive_bytes, 1 << 20)

    @property
    def verified_by(self) -> list[str]:
        """Checks that will vouch for the result, e.g. ``['sha256', 'sha1', 'unpacked sha1']``."""
        out = [a for a in _STRENGTH if a in self.checksums]
        out += [f"unpacked {a}" for a in _STRENGTH if a in self.unpacked_checksums]
        return out


def is_cached(source: Source, directory: str | os.PathLike) -> bool:
    """Whether ``source`` is already downloaded (and unpacked) into ``directory``."""
    return _cached_target(source, Path(directory)) is not None


def fetch(source: Source, directory: str | os.PathLike, progress: bool = True,
          timeout: float = 30.0, deadline: float | None = None) -> Path:
    """Download, verify and (if archived) unpack ``source`` into ``directory``.

    A finished corpus already in ``directory`` is returned at once.

    Parameters
    ----------
    source : Source
        What to fetch and how to check it.
    directory : path-like
        Where the corpus goes; created if needed.
    progress : bool
        Show a progress bar (still subject to the global ``--quiet`` switch).
    timeout : float
        Seconds to wait for the server to connect or send data.
    deadline : float, optional
        Seconds the whole transfer may take (the ``.part`` file is kept, so running again
        resumes); default 10 minutes plus the time the size ceiling takes at 32 KiB/s.

    Returns
    -------
    pathlib.Path
        The corpus file, ready to read.

    Raises
    ------
    DownloadError
        The server is unreachable, answers with an error or drops the connection (the
        ``.part`` file is kept, so running again resumes).
    ChecksumError
        The file does not match its published size or checksums (the bad file is deleted).
    """
    directory = Path(directory)
    if timeout <= 0:
        raise ParameterError(f"timeout must be > 0 seconds, got {timeout}")
    if deadline is None:
        deadline = 600.0 + source.size_limit / MIN_RATE
    if not deadline > 0:
        raise ParameterError(f"deadline must be > 0 seconds, got {deadline}")
    done = _cached_target(source, directory)
    if done is not None:
        log.info("%s: already downloaded: %s", source.name, done)
        return done
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create the cache directory {directory} ({exc.strerror or exc}); "
                            "set EMBEDKIT_CACHE to a writable directory") from None
    if not source.checksums and not source.unpacked_checksums:
        log.warning("%s: no published checksum is known for %s; the download is checked only "
                    "for its size and cannot be verified", source.name, source.filename)

    with _lock(source, directory):
        done = _cached_target(source, directory)  # another process may have finished it
        if done is not None:
            return done
        download = directory / source.filename
        _refuse_link(source, download)
        if not (source.archive and download.is_file()):  # kept from an interrupted unpack
            part = directory / (source.filename + ".part")
            _refuse_link(source, part)
            _check_free_space(source, directory, part)
            _transfer(source, part, progress, timeout, time.monotonic() + deadline)
            _verify(source, part, source.size, source.checksums, what=source.filename)
            os.replace(part, download)
        if source.archive is None:
            log.info("%s: downloaded and verified (%s): %s", source.name,
                     ", ".join(source.verified_by) or "size only", download)
            return download

        target = directory / source.target
        _unpack(source, download, target, progress)
        download.unlink()
        log.info("%s: downloaded, verified (%s) and unpacked: %s", source.name,
                 ", ".join(source.verified_by) or "size only", target)
        return target


# -- internals -----------------------------------------------------------------------------

def _refuse_link(source: Source, path: Path) -> None:
    """Files the downloader writes are never opened through a symbolic link."""
    if path.is_symlink():
        raise DownloadError(f"{source.name}: {path} is a symbolic link; the downloader does not "
                            "write through links: remove it and run the download again")


def _cached_target(source: Source, directory: Path) -> Path | None:
    target = directory / source.target
    if target.is_symlink() or not target.is_file():
        return None
    expected = source.unpacked_size if source.archive else source.size
    if expected is not None and target.stat().st_size != expected:
        log.warning("%s: %s has %d bytes, expected %d; downloading it again", source.name,
                    target, target.stat().st_size, expected)
        return None
    return target


@contextmanager
def _lock(source: Source, directory: Path):
    """One download of a file at a time: ``<file>.lock`` holds the owner's pid.

    A lock whose process is gone (killed download) is taken over.
    """
    lock = directory / (source.filename + ".lock")
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _lock_owner(lock)
            if owner is not None and owner != os.getpid() and _alive(owner):
                raise DownloadError(f"another process (pid {owner}) is downloading "
                                    f"{source.name} into {directory}; wait for it to finish, or "
                                    f"delete {lock} if that process is gone") from None
            log.info("%s: removing the stale lock %s", source.name, lock)
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        break
    else:  # pragma: no cover (a third process raced us twice)
        raise DownloadError(f"cannot lock {lock}; run the download again")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_owner(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _check_free_space(source: Source, directory: Path, part: Path) -> None:
    need = 0
    if source.size is not None:
        have = part.stat().st_size if part.exists() else 0
        need += max(source.size - have, 0)
    if source.archive and source.unpacked_size is not None:
        need += source.unpacked_size
    free = shutil.disk_usage(directory).free
    if need > free:
        raise DownloadError(f"{source.name} needs {need / 1e6:,.0f} MB in {directory} but only "
                            f"{free / 1e6:,.0f} MB are free; free some space or set EMBEDKIT_CACHE "
                            "to another disk")
