"""Streaming corpus readers.

A corpus source is a text file (plain, ``.gz``, ``.bz2`` or ``.xz``), a directory of such
files, ``"-"`` for standard input, or (handled by :mod:`embedkit.corpus.encode`) an iterable
of token lists.  Text is read in fixed-size blocks and handed on as lines, so a corpus
larger than memory streams through, and so does a corpus that is one enormous line (as
text8 is): a line longer than a block is passed on in pieces, each marked as continuing.
"""

from __future__ import annotations

import codecs
import gzip
import logging
import lzma
import os
import pathlib
import sys
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from embedkit._io import open_compressed
from embedkit.errors import CorpusError, MissingFileError

log = logging.getLogger(__name__)

BLOCK_BYTES = 1 << 22  # bytes read per block
TEXT_SUFFIXES = {".txt", ".text", ".tok", ".tokens", ".raw", ".gz", ".bz2", ".xz", ""}

# undecodable bytes are replaced by U+FFFD and counted here
_replaced = [0]


def _count_and_replace(exc: UnicodeDecodeError):
    _replaced[0] += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error("embedkit_replace", _count_and_replace)


@dataclass
class ReadStats:
    """What reading a source met: files, lines, repaired bytes."""

    files: list[str] = field(default_factory=list)
    lines: int = 0
    replaced_bytes: int = 0


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


def decode(block: bytes, stats: ReadStats | None = None) -> str:
    """Decode UTF-8, replacing undecodable bytes with U+FFFD and counting them in ``stats``."""
    before = _replaced[0]
    text = block.decode("utf-8", errors="embedkit_replace")
    if stats is not None:
        stats.replaced_bytes += _replaced[0] - before
    return text


def _blocks(stream: BinaryIO, name: str, block_bytes: int) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(block, continues)`` from a binary stream.

    Each block ends at a newline, except when a line is longer than a block: then the
    block ends at the last space or tab and ``continues`` is true (the line goes on in
    the next block).  Cutting only at ASCII whitespace never splits a token or a UTF-8
    sequence.  The end of the stream ends its last line: a stream whose last line has no
    newline gets one, so a file's last line is never joined with the next file's first.
    """
    carry = b""
    open_line = False  # the last block yielded ended inside a line
    while True:
        chunk = stream.read(block_bytes)
        if not chunk:
            break
        block = carry + chunk if carry else chunk
        cut = max(block.rfind(b"\n"), block.rfind(b"\r"))
        if cut >= 0:
            carry = block[cut + 1:]
            open_line = False
            yield block[:cut + 1], False
            continue
        ws = max(block.rfind(b" "), block.rfind(b"\t"))
        if ws < 0:
            if len(block) > 64 * block_bytes:
                raise CorpusError(f"{name}: over {len(block):,} bytes without any "
                                  "whitespace: is this a text corpus?")
            carry = block
            continue
        carry = block[ws + 1:]
        open_line = True
        yield block[:ws + 1], True
    if carry or open_line:
        yield carry + b"\n", False


def iter_blocks(source, stats: ReadStats | None = None, progress=None,
                block_bytes: int | None = None) -> Iterator[tuple[bytes, bool]]:
    """Stream a path source or ``"-"`` as blocks of raw bytes (see :func:`_blocks`).

    Parameters
    ----------
    source : str or path-like
        A file, a directory of files, or ``"-"`` for standard input.
    stats : ReadStats, optional
        Filled in while reading (the files read).
    progress : tqdm bar, optional
        Advanced by the number of bytes read from disk (compressed bytes for archives).
    block_bytes : int, optional
        Block size (default ``BLOCK_BYTES``).
    """
    stats = stats if stats is not None else ReadStats()
    block_bytes = block_bytes or BLOCK_BYTES
    if str(source) == "-":
        stats.files.append("<stdin>")
        for block in _blocks(sys.stdin.buffer, "<stdin>", block_bytes):
            if progress is not None:
                progress.update(len(block[0]))
            yield block
        return
    for path in resolve_files(source):
        stats.files.append(str(path))
        stream, raw = open_compressed(path)
        with stream, raw:
            last = 0
            try:
                for block in _blocks(stream, str(path), block_bytes):
                    pos = raw.tell()
                    if progress is not None:
                        progress.update(pos - last)
                    last = pos
                    yield block
            except (EOFError, gzip.BadGzipFile, lzma.LZMAError, zlib.error, OSError) as exc:
                if type(exc) is OSError and exc.errno is not None:
                    raise
                raise CorpusError(f"{path}: the compressed file is corrupt or truncated "
                                  f"({exc}); download or compress it again") from None


def iter_lines(source, stats: ReadStats | None = None, progress=None,
               block_bytes: int | None = None) -> Iterator[tuple[list[str], bool]]:
    """Stream a path source as ``(lines, last_continues)``: decoded blocks split into lines.

    ``\r\n`` and a lone ``\r`` end lines as ``\n`` does.  When ``last_continues`` is
    true the last line goes on in the next block.
    """
    stats = stats if stats is not None else ReadStats()
    for block, cont in iter_blocks(source, stats, progress, block_bytes):
        text = decode(block, stats).replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if not cont:
            lines.pop()  # the block ended with a newline (or the stream ended)
            if not text.endswith("\n"):
                lines.append(text[text.rfind("\n") + 1:])
        stats.lines += len(lines) - int(cont)
        yield lines, cont
    warn_replaced(str(source), stats.replaced_bytes)


def warn_replaced(name: str, replaced: int) -> None:
    """Log how many undecodable bytes reading ``name`` replaced, if any."""
    if replaced:
        log.warning("%s: replaced %d undecodable bytes with U+FFFD (the corpus is not valid "
                    "UTF-8; convert it with iconv to read it exactly)", name, replaced)


def source_size(source) -> int | None:
    """Total bytes on disk of a path source (for a progress bar), or None for stdin."""
    if str(source) == "-":
        return None
    return sum(os.path.getsize(p) for p in resolve_files(source))


def prefetch(iterator, depth: int = 2):
    """Run ``iterator`` in a background thread, ``depth`` items ahead of the consumer.

    Reading and decompressing (zlib, bz2 and lzma release the GIL) then overlaps with the
    consumer's work (the Numba tokenizer releases it too).  An exception in the reader is
    raised in the consumer; closing the generator stops the reader.
    """
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run():
        try:
            for item in iterator:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put((done, None))
        except BaseException as exc:  # handed to the consumer
            q.put((done, exc))

    thread = threading.Thread(target=run, name="embedkit-reader", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()
