"""The HTTP side of :func:`embedkit.corpus.download.fetch`: a resumable transfer into a
``.part`` file (``Range`` requests, same-scheme redirects only, a deadline, no symbolic
links), and the checks of a finished file against its published size and checksums."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from embedkit._io import format_bytes
from embedkit._progress import progress_bar
from embedkit._version import __version__
from embedkit.errors import ChecksumError, DownloadError

if TYPE_CHECKING:  # annotations only
    from embedkit.corpus.download import Source

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
#: strongest first: the order in which checksums are reported
_STRENGTH = ("sha512", "sha256", "sha1", "md5")


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
