"""Text vector formats: word2vec text (``count dim`` header), GloVe (no header), fastText .vec.

Reading runs a Numba parser over raw byte chunks straight into the preallocated matrix;
writing formats numbers in Numba with the fewest digits that read back exactly.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embedkit._kernels import vectors_io as K
from embedkit._threads import cpu_count
from embedkit.errors import FormatError, ParameterError
from embedkit._io import decompression_errors, stream_is_plain
from embedkit.vectors._files import (ChunkReader, ChunkRows, alloc_matrix, atomic_output,
                                     check_header, open_input, strip_compression)

log = logging.getLogger(__name__)

UNICODE_ERRORS = ("replace", "strict", "ignore")
# longest formatted value plus its separator: " -0.0000" and 9 digits (1e-5 <= |x| < 1e-4)
MAX_VALUE_BYTES = 17
GROW_START = 1 << 16  # first guess of the rows of a header-less compressed file


class WordDecoder:
    """Decodes NUL-separated words (UTF-8 unless told), counting the words that needed repair."""

    def __init__(self, unicode_errors: str, encoding: str = "utf-8"):
        if unicode_errors not in UNICODE_ERRORS:
            raise ParameterError(f"unicode_errors must be one of {', '.join(UNICODE_ERRORS)}, "
                                 f"got {unicode_errors!r}")
        self.errors = unicode_errors
        self.encoding = encoding
        self._shown = "UTF-8" if encoding.replace("_", "-").lower() in ("utf-8", "utf8") \
            else encoding
        self.repaired = 0
        self.words: list[str] = []

    def add(self, raw: bytes, where, lengths=None) -> None:
        """Append the words in ``raw`` (each followed by NUL); ``where(i)`` names word i.

        ``lengths`` (the byte length of each word) splits words that hold NUL bytes
        themselves: rows and words never disagree.
        """
        if lengths is not None:
            try:
                words = raw.decode(self.encoding).split("\x00")[:-1]
                if len(words) == len(lengths):
                    self.words.extend(words)
                    return
            except UnicodeDecodeError:
                pass
            parts, at = [], 0
            for n in lengths.tolist():
                parts.append(raw[at:at + n])
                at += n + 1
        else:
            try:
                self.words.extend(raw.decode(self.encoding).split("\x00")[:-1])
                return
            except UnicodeDecodeError:
                pass
            parts = raw.split(b"\x00")[:-1]
        for i, part in enumerate(parts):
            try:
                self.words.append(part.decode(self.encoding))
            except UnicodeDecodeError as exc:
                if self.errors == "strict":
                    raise FormatError(
                        f"{where(i)}: word {part!r} is not valid {self._shown} "
                        f"({exc.reason}); pass unicode_errors='replace' to repair it") from None
                self.repaired += 1
                self.words.append(part.decode(self.encoding, self.errors))


def _reads_as(tok: str, kind=float) -> bool:
    """Whether ``kind(tok)`` succeeds: ``int`` a whole number, ``float`` (default) any."""
    try:
        kind(tok)
        return True
    except ValueError:
        return False


_BINARY_HINT = ("; this is binary data: for a word2vec .bin file give --format "
                "word2vec-binary, or no --format to detect it")


def excerpt(raw: bytes, limit: int = 40) -> str:
    """A short, escaped quotation of ``raw`` for a message: the text when it is printable
    UTF-8, else the bytes escaped (``'\\x00\\x01binary\\xff'``), cut at ``limit`` bytes."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "replace")
    cut = raw[:limit]
    try:
        text = cut.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    shown = repr(text) if text is not None and text.isprintable() else repr(cut)[1:]
    return shown + ("..." if len(raw) > limit else "")


def looks_binary(raw: bytes) -> bool:
    """NUL bytes, or many control bytes or invalid UTF-8: not a text vectors file."""
    if b"\0" in raw:
        return True
    text = raw.decode("utf-8", "replace")
    odd = sum(1 for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\t\r\n"))
    return odd > max(2, len(text) // 20)


def parse_first_line(line: bytes, path, expect_header: bool | None):
    """Decide from the first line whether there is a ``count dim`` header.

    Returns ``(count or None, dim)``; ``dim`` is None for a header-less file until the
    caller counts the numbers in the first record (done here for GloVe-style lines).
    """
    text = line.decode("utf-8", "replace").strip()
    toks = text.split()
    if not toks:
        raise FormatError(f"{path}: line 1 is blank; expected a 'count dim' header or "
                          "'word v1 v2 ...'")
    looks_header = len(toks) == 2 and _reads_as(toks[0], int) and _reads_as(toks[1], int)
    if expect_header is None:
        if len(toks) == 1 or (len(toks) == 2 and _reads_as(toks[0], int)
                              and not _reads_as(toks[1])):
            expect_header = True
        else:
            expect_header = looks_header
    if expect_header:
        if not looks_header:
            raise FormatError(f"{path}: line 1: the header must be two integers 'count dim', "
                              f"got {excerpt(line.strip())}"
                              + (_BINARY_HINT if looks_binary(line) else ""))
        count, dim = int(toks[0]), int(toks[1])
        check_header(count, dim, path, text)
        return count, dim
    dim = 0
    for tok in reversed(toks[1:]):
        if not _reads_as(tok):
            break
        dim += 1
    if dim == 0:
        raise FormatError(f"{path}: line 1: no numbers after the word "
                          f"{excerpt(line.strip().split()[0])}; expected 'word v1 v2 ...'"
                          + (_BINARY_HINT if looks_binary(line) else ""))
    return None, dim


def read_text(path, *, limit=None, unicode_errors="replace", header=None, problems=None,
              encoding="utf-8"):
    """Read a word2vec text / GloVe / fastText ``.vec`` file.

    Parameters
    ----------
    path : str or path-like
        The file, optionally ``.gz``/``.bz2``/``.xz`` compressed.
    limit : int, optional
        Read only the first ``limit`` words.
    unicode_errors : {"replace", "strict", "ignore"}
        What to do with words that are not valid UTF-8.
    header : bool, optional
        True: a ``count dim`` header is required (word2vec); False: none (GloVe);
        None: detect.
    problems : list, optional
        Validation mode: instead of raising at the first malformed line, append
        ``("line N", message)`` for each one, skip it, and keep no matrix (the
        returned matrix has 0 rows; ``info["rows"]`` counts the good lines).
    encoding : str
        The words' encoding (numbers are ASCII in any case).

    Returns
    -------
    words : list of str
    matrix : ndarray of float32, shape (len(words), dim)
    info : dict
        ``format``, ``header_count``, ``dim``, ``rows``, ``repaired`` (words with bad UTF-8).
    """
    decoder = WordDecoder(unicode_errors, encoding)
    validating = problems is not None
    with decompression_errors(path), open_input(path) as stream:
        reader = ChunkReader(stream, path=None if problems is not None else path)
        reader.fill(0)
        if not K.has_content(reader.buf, reader.n):
            raise FormatError(f"{path}: the file is empty; expected word vectors")
        # first line (grow the buffer until it holds one full line)
        while True:
            end = K.find_byte(reader.buf, 0, reader.n, 10)
            if end < reader.n or reader.eof:
                break
            reader.fill(0)
        bom = 3 if reader.buf[:3].tobytes() == b"\xef\xbb\xbf" else 0
        first = reader.buf[bom:end].tobytes()
        count, dim = parse_first_line(first, path, header)
        pos = end + 1 if count is not None else bom
        line_base = 1 if count is not None else 0   # lines before buf[pos]
        plain = stream_is_plain(stream)
        size = os.path.getsize(path) if plain else 0
        if validating:
            capacity = 4096
        elif count is not None:
            # trust the header, but it cannot promise more rows than the file can hold
            capacity = min(count, size // (2 * dim + 1) + 1) if size else count
        else:
            capacity = int(size / max(len(first), 1) * 1.05) + 16 if size else GROW_START
        if limit is not None:
            capacity = min(capacity, limit)
        capacity = max(1, min(capacity, 1 << 28))
        matrix = alloc_matrix(capacity, dim, exact=count is not None and bool(size)
                              and not validating and capacity == count, path=path)
        rows = ChunkRows(reader, matrix, limit, validating, decoder, f"{path}: word")
        while pos is not None:
            wbuf, wlens = rows.buffers()
            status, pos, row, wpos, lines, a, b = K.parse_text_chunk(
                reader.buf, reader.n, pos, reader.eof, dim, rows.matrix, rows.row,
                rows.target(), wbuf, 0, wlens)
            rows.parsed(row, wpos)
            if status >= K.ERR_TOO_FEW:
                line_no = line_base + lines + 1
                what = _text_error(status, reader, pos, a, b, dim)
                if not validating:
                    raise FormatError(f"{path}: line {line_no}: {what}")
                problems.append((f"line {line_no}", what))
                while pos < reader.n and reader.buf[pos] != 10:
                    pos += 1
                pos += 1
                line_base += lines + 1
                continue
            line_base += lines
            pos = rows.advance(status, pos)
        reader.close()
    matrix, n_rows = rows.finish(path, count, unicode_errors)
    info = {"format": "word2vec-text" if count is not None else "glove",
            "header_count": count, "dim": dim, "rows": n_rows, "repaired": decoder.repaired}
    return decoder.words, matrix, info


def _text_error(status, reader, pos, a, b, dim) -> str:
    """What is wrong with the line starting at ``reader.buf[pos]``."""
    end = pos
    buf = reader.buf
    while end < reader.n and buf[end] != 10:
        end += 1
    raw = buf[pos:end].tobytes().rstrip()
    shown = excerpt(raw, 60)
    hint = _BINARY_HINT if looks_binary(raw) else ""
    if status in (K.ERR_TOO_FEW, K.ERR_TOO_MANY):
        msg = (f"{a} numbers, expected {dim}: every line is a word and {dim} numbers "
               f"({shown}){hint}")
    elif status == K.ERR_NOT_NUMBER:
        msg = f"{excerpt(buf[a:b].tobytes(), 24)} is not a number ({shown}){hint}"
    elif status == K.ERR_NONFINITE:
        tok = buf[a:b].tobytes().decode("utf-8", "replace")
        msg = f"non-finite value {tok!r} (NaN or infinity): fix or drop the line"
    elif status == K.ERR_WORD_TOO_LONG:
        msg = "the word is longer than 65536 bytes: is this a vectors file?"
    else:  # pragma: no cover
        msg = f"cannot parse (status {status})"
    return msg


def encode_words(words) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 words back to back (uint8) and their start offsets (int64, len + 1)."""
    encoded = [w.encode("utf-8") for w in words]
    for w in encoded:
        if b" " in w or b"\n" in w or b"\t" in w:
            raise FormatError(f"word {w.decode('utf-8', 'replace')!r} contains whitespace; "
                              "text and binary formats cannot store it (use the native .ekv)")
    lengths = np.fromiter((len(w) for w in encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), starts


def write_text(words, matrix, path, *, style="word2vec", precision=None, header=True):
    """Write word2vec text (``style="word2vec"``) or GloVe text (``style="glove"``).

    word2vec.c layout: a ``count dim`` header line, then ``word v1 v2 ... vn `` (each value
    followed by a space) per line.  GloVe layout: no header, ``word v1 ... vn``.  Values
    get ``precision`` significant digits, or (default) the fewest that read back to the
    same float32.  A ``.gz``/``.bz2``/``.xz`` suffix compresses.
    """
    if style not in ("word2vec", "glove"):
        raise ParameterError(f"style must be 'word2vec' or 'glove', got {style!r}")
    if precision is not None and not 1 <= int(precision) <= 9:
        raise ParameterError(f"precision must be between 1 and 9 digits, got {precision}")
    prec = 0 if precision is None else int(precision)
    glove = style == "glove"
    n, dim = matrix.shape
    per_row = dim * MAX_VALUE_BYTES + 2
    block = max(1, (4 << 20) // (per_row + 64))
    compress = strip_compression(str(path))[1]
    def format_block(s):
        wb, starts = encode_words(words[s:s + block])
        rows = np.ascontiguousarray(matrix[s:s + block], dtype=np.float32)
        out = np.empty(len(wb) + len(rows) * per_row, dtype=np.uint8)
        return out[:K.format_text_rows(wb, starts, rows, prec, glove, out)]

    # the kernel releases the GIL: format blocks on every core, write them in order,
    # holding at most two blocks per thread in memory
    workers = cpu_count() if n > 4 * block else 1
    with atomic_output(path, compress) as f, ThreadPoolExecutor(workers) as pool:
        if header and not glove:
            f.write(f"{n} {dim}\n".encode())
        starts_all = list(range(0, n, block))
        for b in range(0, len(starts_all), 2 * workers):
            for chunk in pool.map(format_block, starts_all[b:b + 2 * workers]):
                f.write(chunk)
