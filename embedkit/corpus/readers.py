"""Streaming corpus readers.

A corpus source is a text file (plain, ``.gz``, ``.bz2`` or ``.xz``), a directory of such
files, ``"-"`` for standard input, or (handled by :mod:`embedkit.corpus.encode`) an iterable
of token lists.  Text is read in fixed-size blocks and handed on as lines, so a corpus
larger than memory streams through, and so does a corpus that is one enormous line (as
text8 is): a line longer than a block is passed on in pieces, each marked as continuing.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import logging
import lzma
import os
import pathlib
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from embedkit.errors import CorpusError, MissingFileError

log = logging.getLogger(__name__)

BLOCK_CHARS = 1 << 22  # characters decoded per block
TEXT_SUFFIXES = {".txt", ".text", ".tok", ".tokens", ".raw", ".gz", ".bz2", ".xz", ""}
_MAGIC = {b"\x1f\x8b": "gz", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}

# undecodable bytes are replaced by U+FFFD and counted here
_replaced = [0]


def _count_and_replace(exc: UnicodeDecodeError):
    _replaced[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error("embedkit_replace", _count_and_replace)


@dataclass
class ReadStats:
    """What reading a source met: files, bytes, lines, repaired bytes."""

    files: list[str] = field(default_factory=list)
    bytes_read: int = 0
    lines: int = 0
    replaced_bytes: int = 0


def _compression(path: pathlib.Path, head: bytes) -> str | None:
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    return None


def _open_binary(path: pathlib.Path) -> tuple[BinaryIO, BinaryIO]:
    """Open ``path``, decompressing by magic bytes; returns (stream, raw file for progress)."""
    raw = open(path, "rb")
    head = raw.read(6)
    raw.seek(0)
    kind = _compression(path, head)
    if kind == "gz":
        return gzip.GzipFile(fileobj=raw), raw
    if kind == "bz2":
        return bz2.BZ2File(raw), raw
    if kind == "xz":
        return lzma.LZMAFile(raw), raw
    return raw, raw


def resolve_files(source) -> list[pathlib.Path]:
    """The files a path source stands for (one file, or the text files of a directory).

    Raises
    ------
    MissingFileError
        If the path does not exist.
    CorpusError
        If it is a directory with no text files in it.
    """
    path = pathlib.Path(source).expanduser()
    if not path.exists():
        raise MissingFileError(
            f"corpus {str(source)!r} does not exist: give the path of a text file "
            "(.txt, .gz, .bz2, .xz), a directory of them, or '-' for standard input")
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CorpusError(f"corpus {str(source)!r} is neither a file nor a directory")
    files, skipped = [], []
    for p in sorted(path.rglob("*")):
        if not p.is_file() or any(part.startswith(".") for part in p.relative_to(path).parts):
            continue
        suffix = p.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            files.append(p)
        else:
            skipped.append(p.name)
    if skipped:
        log.debug("skipped %d non-text files in %s: %s", len(skipped), path, skipped[:10])
    if not files:
        raise CorpusError(
            f"directory {str(source)!r} has no text files (looked for "
            f"{', '.join(sorted(s for s in TEXT_SUFFIXES if s))} or no extension"
            + (f"; found only {', '.join(skipped[:5])}" if skipped else "") + ")")
    return files


def _iter_stream_lines(stream: BinaryIO, stats: ReadStats, name: str,
                       block_chars: int) -> Iterator[tuple[list[str], bool]]:
    """Yield ``(lines, last_continues)`` from a binary stream, block by block.

    ``lines`` are complete lines without their newline, except that when
    ``last_continues`` is true the last item is the head of a line that goes on in the
    next block (cut at whitespace, so no token is split).
    """
    before = _replaced[0]
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="embedkit_replace", newline=None)
    try:
        yield from _split_blocks(text, stats, name, block_chars)
    finally:
        text.detach()  # leave the underlying stream (maybe stdin) open for its owner
    repaired = _replaced[0] - before
    if repaired:
        stats.replaced_bytes += repaired
        log.warning("%s: replaced %d undecodable bytes with U+FFFD (the file is not valid "
                    "UTF-8; convert it with iconv to read it exactly)", name, repaired)


def _split_blocks(text, stats, name, block_chars):
    carry = ""
    while True:
        block = text.read(block_chars)
        if not block:
            break
        block = carry + block
        cut = block.rfind("\n")
        if cut >= 0:
            carry = block[cut + 1:]
            lines = block[:cut].split("\n")
            stats.lines += len(lines)
            yield lines, False
            continue
        # no newline in the whole block: pass the head on as a continuing piece
        ws = max(block.rfind(" "), block.rfind("\t"))
        if ws < 0:
            if len(block) > 64 * block_chars:
                raise CorpusError(f"{name}: over {len(block):,} characters without any "
                                  "whitespace: is this a text corpus?")
            carry = block
            continue
        carry = block[ws + 1:]
        yield [block[:ws]], True
    if carry:
        stats.lines += 1
        yield [carry], False


def iter_lines(source, stats: ReadStats | None = None, progress=None,
               block_chars: int = BLOCK_CHARS) -> Iterator[tuple[list[str], bool]]:
    """Stream a path source or ``"-"`` as blocks of lines (see :func:`_iter_stream_lines`).

    Parameters
    ----------
    source : str or path-like
        A file, a directory of files, or ``"-"`` for standard input.
    stats : ReadStats, optional
        Filled in while reading.
    progress : tqdm bar, optional
        Advanced by the number of (compressed) bytes read.
    """
    stats = stats if stats is not None else ReadStats()
    if str(source) == "-":
        stats.files.append("<stdin>")
        yield from _iter_stream_lines(sys.stdin.buffer, stats, "<stdin>", block_chars)
        return
    for path in resolve_files(source):
        stats.files.append(str(path))
        stream, raw = _open_binary(path)
        with stream, raw:
            last = 0
            try:
                for item in _iter_stream_lines(stream, stats, str(path), block_chars):
                    pos = raw.tell()
                    stats.bytes_read += pos - last
                    if progress is not None:
                        progress.update(pos - last)
                    last = pos
                    yield item
            except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError) as exc:
                if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) \
                        and exc.errno is not None:
                    raise
                raise CorpusError(f"{path}: the compressed file is corrupt or truncated "
                                  f"({exc}); download or compress it again") from None


def source_size(source) -> int | None:
    """Total bytes on disk of a path source (for a progress bar), or None for stdin."""
    if str(source) == "-":
        return None
    return sum(os.path.getsize(p) for p in resolve_files(source))
