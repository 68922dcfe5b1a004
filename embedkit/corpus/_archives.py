"""Unpacking a downloaded ``zip`` or ``gz`` archive into a temporary file beside its target,
bounded in size (no decompression bombs) and checked against the unpacked size and
checksums when they are published, then renamed into place."""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from embedkit._progress import progress_bar
from embedkit.corpus._transfer import _CHUNK, _check_digests, _hashers
from embedkit.errors import ChecksumError, DownloadError

if TYPE_CHECKING:  # annotations only
    from embedkit.corpus.download import Source

log = logging.getLogger(__name__)


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
