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

Standard library only (``urllib``).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from embedkit._cache import user_cache_dir  # noqa: F401  (re-exported)
from embedkit._progress import progress_bar
from embedkit._version import __version__
from embedkit.errors import CorpusError, ParameterError

log = logging.getLogger(__name__)

#: checksum algorithms a registry entry may name, with the length of their hex digest
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128, "sha1": 40, "md5": 32}
#: strongest first: the order in which checksums are reported
_STRENGTH = ("sha512", "sha256", "sha1", "md5")
ARCHIVES = ("zip", "gz")
_CHUNK = 1 << 20
#: a corpus name: it names a directory of the cache, so no separators and no ".."
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: ceiling on a download whose size nothing states
DEFAULT_MAX_BYTES = 16 << 30
#: ceiling on unpacked bytes per archive byte when no unpacked size is stated
MAX_RATIO = 64
#: a download slower than this on average (bytes/s) is stopped by the default deadline
MIN_RATE = 32 << 10


class DownloadError(CorpusError):
    """A corpus could not be downloaded: network, server, disk or archive problem."""


class ChecksumError(DownloadError):
    """A downloaded or unpacked file does not match its published size or checksum."""


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


def _describe(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.netloc or url


def _open(source: Source, offset: int, timeout: float):
    headers = {"User-Agent": f"embedkit/{__version__}", "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(source.url, headers=headers)
    opener = urllib.request.build_opener(_SameSchemeRedirects(source))
    try:
        return opener.open(request, timeout=timeout)  # noqa: S310 (http/https only)
    except DownloadError:
        raise
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            return None  # the range starts at or past the end: the .part is complete or stale
        raise DownloadError(f"cannot download {source.name}: {_describe(source.url)} answered "
                            f"HTTP {exc.code} {exc.reason} for {source.url}; check the URL, or set "
                            "EMBEDKIT_CORPUS_MIRROR to a server that has "
                            f"{source.filename}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot download {source.name}: {_describe(source.url)} is not "
                            f"reachable ({reason}); check the network connection, or set "
                            "EMBEDKIT_CORPUS_MIRROR to a server that has "
                            f"{source.filename}") from None


class _SameSchemeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s) URLs of the same scheme (or from http up to https):
    never to ``file:``, ``ftp:`` or from https down to http."""

    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        old = urllib.parse.urlsplit(req.full_url).scheme.lower()
        new = urllib.parse.urlsplit(newurl).scheme.lower()
        if new not in ("http", "https") or (new != old and not (old == "http"
                                                                and new == "https")):
            raise DownloadError(f"cannot download {self.source.name}: {_describe(req.full_url)} "
                                f"redirects to {newurl!r}; only redirects to http(s) URLs of "
                                "the same scheme are followed")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _open_part(part: Path, mode: str):
    """Open the ``.part`` file for appending or writing, never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    flags |= os.O_APPEND if mode == "ab" else os.O_TRUNC
    try:
        fd = os.open(part, flags, 0o644)
    except OSError as exc:
        if part.is_symlink():
            raise DownloadError(f"{part} is a symbolic link; the downloader does not write "
                                "through links: remove it and run the download again") from None
        raise
    return os.fdopen(fd, mode)


def _transfer(source: Source, part: Path, progress: bool, timeout: float,
              deadline: float = float("inf")) -> None:
    """Bring ``part`` to the full size of the remote file, resuming what is there.

    Stops at the first byte past :attr:`Source.size_limit` (deleting the ``.part``) and
    when ``deadline`` (a ``time.monotonic()`` value) passes (keeping it)."""
    offset = part.stat().st_size if part.exists() else 0
    if source.size is not None and offset > source.size:
        log.warning("%s: %s is larger than the expected %d bytes; starting again", source.name,
                    part.name, source.size)
        part.unlink()
        offset = 0
    if source.size is not None and offset == source.size:
        return  # complete already: only verification is left
    response = _open(source, offset, timeout)
    if response is None:  # 416 on a resume
        if source.size is None:
            return  # the server says the .part already holds everything; verification decides
        part.unlink()
        offset = 0
        response = _open(source, 0, timeout)
    with response:
        total = None
        status = getattr(response, "status", 200)
        if offset and status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset:
                part.unlink()
                raise DownloadError(f"{_describe(source.url)} answered the resume of {source.name} "
                                    "with a different byte range; the partial file was deleted, "
                                    "run the download again")
            total = None if match.group(3) == "*" else int(match.group(3))
            mode = "ab"
            log.info("%s: resuming at byte %d", source.name, offset)
        else:
            if offset:
                log.info("%s: the server does not resume downloads; starting again", source.name)
            offset = 0
            mode = "wb"
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if source.size is not None and total is not None and total != source.size:
            if part.exists():
                part.unlink()
            raise ChecksumError(f"{source.name}: {source.url} is {total:,} bytes but "
                                f"{source.filename} should be {source.size:,} bytes; the server "
                                "(or mirror) serves a different file. Nothing was kept.")
        limit = source.size_limit
        if total is not None and total > limit:
            if part.exists():
                part.unlink()
            raise ChecksumError(f"{source.name}: {source.url} is {total:,} bytes, more than the "
                                f"{limit:,} bytes {source.filename} may have; the server (or "
                                "mirror) serves a different file. Nothing was kept.")
        expected = source.size if source.size is not None else total
        if source.size is None and total is not None:  # the server's size, known only now
            free = shutil.disk_usage(part.parent).free
            if total - offset > free:
                from embedkit._io import format_bytes

                raise DownloadError(f"{source.name} needs {format_bytes(total - offset, si=True)}"
                                    f" in {part.parent} but only {format_bytes(free, si=True)} "
                                    "are free; free some space or set EMBEDKIT_CACHE to another "
                                    "disk")
        written = offset
        read = getattr(response, "read1", response.read)  # one recv at a time: the deadline
        with _open_part(part, mode) as out, progress_bar(
                total=expected, initial=offset, desc=source.name, unit="B", unit_scale=True,
                unit_divisor=1024, disable=None if progress else True) as bar:
            while True:
                if time.monotonic() > deadline:
                    out.flush()
                    raise DownloadError(_broken(source, written, expected,
                                                "the download passed its deadline"))
                try:
                    chunk = read(_CHUNK)
                except (OSError, http.client.HTTPException, socket.timeout) as exc:
                    out.flush()
                    raise DownloadError(_broken(source, written, expected, exc)) from None
                if not chunk:
                    break
                if written + len(chunk) > limit:
                    out.close()
                    part.unlink()
                    raise ChecksumError(f"{source.name}: the server sent more than the "
                                        f"{limit:,} bytes {source.filename} may have; the "
                                        "partial file was deleted. The server (or mirror) serves "
                                        "a different file.")
                out.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
                if expected is not None and written > expected:
                    out.close()
                    part.unlink()
                    raise ChecksumError(f"{source.name}: the server sent more than the expected "
                                        f"{expected:,} bytes of {source.filename}; the partial file "
                                        "was deleted. The server (or mirror) serves a different "
                                        "file.")
    if expected is not None and written < expected:
        raise DownloadError(_broken(source, written, expected, "the connection closed early"))


def _broken(source: Source, written: int, expected: int | None, why) -> str:
    of = f" of {expected:,}" if expected is not None else ""
    return (f"downloading {source.name} stopped after {written:,}{of} bytes ({why}); run the same "
            "command again to resume from there")


def _hashers(checksums: Mapping[str, str]) -> dict:
    return {alg: hashlib.new(alg) for alg in checksums}


def _check_digests(source: Source, path: Path, hashers: dict, checksums: Mapping[str, str],
                   what: str, cleanup: list[Path]) -> None:
    for alg in _STRENGTH:
        if alg not in checksums:
            continue
        got = hashers[alg].hexdigest()
        if got != checksums[alg]:
            for p in cleanup:
                if p.exists():
                    p.unlink()
            raise ChecksumError(f"{source.name}: {alg.upper()} mismatch for {what}: expected "
                                f"{checksums[alg]}, got {got}. The file was deleted; run the "
                                "download again, and if it fails again the server (or mirror) "
                                "serves a different or damaged file.")


def _verify(source: Source, path: Path, size: int | None, checksums: Mapping[str, str],
            what: str) -> None:
    actual = path.stat().st_size
    if size is not None and actual != size:
        path.unlink()
        raise ChecksumError(f"{source.name}: {what} is {actual:,} bytes, expected {size:,}. "
                            "The file was deleted; run the download again.")
    if not checksums:
        return
    hashers = _hashers(checksums)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            for h in hashers.values():
                h.update(chunk)
    _check_digests(source, path, hashers, checksums, what, cleanup=[path])


def _unpack(source: Source, archive: Path, target: Path, progress: bool) -> None:
    """Unpack ``archive`` into ``target`` through a temporary file; verify what comes out."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    hashers = _hashers(source.unpacked_checksums)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                limit = source.unpacked_limit(archive.stat().st_size)
                if source.archive == "zip":
                    with zipfile.ZipFile(archive) as zf:
                        info = _zip_member(source, zf)
                        with zf.open(info) as src:
                            _copy(source, src, out, hashers, info.file_size, progress, limit)
                else:
                    with gzip.open(archive, "rb") as src:
                        _copy(source, src, out, hashers, source.unpacked_size, progress, limit)
            except _TooBig as exc:
                archive.unlink()
                raise ChecksumError(f"{source.name}: {archive.name} unpacks to more than the "
                                    f"{exc.args[0]:,} bytes {source.target} may have (a "
                                    "decompression bomb or a different file); stopped at that "
                                    "byte and deleted it. Run the download again, or use "
                                    "another mirror.") from None
            except (zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error) as exc:
                archive.unlink()
                raise ChecksumError(f"{source.name}: {archive.name} is not a valid "
                                    f"{source.archive} archive ({exc}); it was deleted. Run the "
                                    "download again.") from None
        _verify_unpacked(source, tmp, hashers, archive)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def _zip_member(source: Source, zf: zipfile.ZipFile) -> zipfile.ZipInfo:
    files = [i for i in zf.infolist() if not i.is_dir()]
    if source.member is None:
        if len(files) != 1:
            raise DownloadError(f"{source.name}: the zip holds {len(files)} files "
                                f"({', '.join(i.filename for i in files[:5])}); the registry entry "
                                "must name the one to use as 'member'")
        return files[0]
    try:
        return zf.getinfo(source.member)
    except KeyError:
        raise DownloadError(f"{source.name}: the zip has no file {source.member!r}; it holds "
                            f"{', '.join(i.filename for i in files[:5])}") from None


class _TooBig(Exception):
    """Unpacking passed its ceiling (args: the ceiling)."""


def _copy(source: Source, src, out, hashers: dict, total: int | None, progress: bool,
          limit: int | None = None) -> None:
    done = 0
    with progress_bar(total=total, desc=f"unpack {source.name}", unit="B", unit_scale=True,
                      unit_divisor=1024, disable=None if progress else True) as bar:
        while chunk := src.read(_CHUNK if limit is None else min(_CHUNK, limit + 1 - done)):
            done += len(chunk)
            if limit is not None and done > limit:
                raise _TooBig(limit)
            out.write(chunk)
            for h in hashers.values():
                h.update(chunk)
            bar.update(len(chunk))


def _verify_unpacked(source: Source, tmp: Path, hashers: dict, archive: Path) -> None:
    what = f"the unpacked {source.target}"
    size = tmp.stat().st_size
    if source.unpacked_size is not None and size != source.unpacked_size:
        tmp.unlink()
        archive.unlink()
        raise ChecksumError(f"{source.name}: {what} is {size:,} bytes, expected "
                            f"{source.unpacked_size:,}. The download was deleted; run it again.")
    _check_digests(source, tmp, hashers, source.unpacked_checksums, what,
                   cleanup=[tmp, archive])
