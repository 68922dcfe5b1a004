"""word2vec binary format: ``count dim`` header line, then ``word SP <dim float32> [LF]``.

word2vec.c ends every record with a newline; other writers (and gensim's reader) allow it to
be missing.  Both are read; the newline is written, as word2vec.c does.
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np

from embedkit._kernels import vectors_io as K
from embedkit.errors import FormatError
from embedkit._io import decompression_errors, stream_is_plain
from embedkit.vectors._files import (ChunkReader, ChunkRows, alloc_matrix, atomic_output,
                                     check_header, open_input, strip_compression)
from embedkit.vectors.text import WordDecoder, encode_words, excerpt

log = logging.getLogger(__name__)


def read_header(reader: ChunkReader, path) -> tuple[int, int, int]:
    """``(count, dim, offset after the header line)`` from the first line of the buffer."""
    if reader.n == 0:
        raise FormatError(f"{path}: the file is empty; expected a word2vec binary file")
    head = reader.buf[: min(reader.n, 200)].tobytes()
    nl = head.find(b"\n")
    line = head[:nl] if nl >= 0 else head
    toks = line.split()
    try:
        if nl < 0 or len(toks) != 2:
            raise ValueError
        count, dim = int(toks[0]), int(toks[1])
    except ValueError:
        raise FormatError(f"{path}: line 1: the header must be two integers 'count dim', "
                          f"got {excerpt(line.strip())}") from None
    check_header(count, dim, path, f"{count} {dim}")
    return count, dim, nl + 1


def read_binary(path, *, limit=None, unicode_errors="replace", problems=None, encoding="utf-8"):
    """Read a word2vec binary file (optionally compressed).

    Returns ``(words, matrix, info)`` like :func:`embedkit.vectors.text.read_text`,
    including its validation mode (``problems``: ``("record N (byte B)", message)``) and
    the words' ``encoding``.
    """
    validating = problems is not None
    if sys.byteorder != "little":  # pragma: no cover
        raise FormatError("reading word2vec binary needs a little-endian machine")
    decoder = WordDecoder(unicode_errors, encoding)
    with decompression_errors(path), open_input(path) as stream:
        reader = ChunkReader(stream, path=None if problems is not None else path)
        reader.fill(0)
        count, dim, pos = read_header(reader, path)
        capacity = count if limit is None else min(count, limit)
        exact = stream_is_plain(stream)
        if exact:  # a header cannot promise more records than the file holds
            most = (os.path.getsize(path) - pos) // (4 * dim + 2)
            exact = capacity <= most
            capacity = min(capacity, most)
        if validating:
            capacity, exact = min(capacity, 4096), False
        rows = ChunkRows(reader, alloc_matrix(max(capacity, 1), dim, exact=exact, path=path),
                         limit, validating, decoder, f"{path}: record")
        while pos is not None:
            wbuf, wlens = rows.buffers()
            status, pos, row, wpos, a = K.parse_binary_chunk(
                reader.buf, reader.n, pos, reader.eof, dim, rows.matrix.view(np.uint8),
                rows.matrix, rows.row, rows.target(), wbuf, 0, wlens)
            rows.parsed(row, wpos)
            where = f"record {rows.done + rows.row + 1} (byte {reader.base + a})"
            if status == K.ERR_TRUNCATED:
                what = (f"truncated: the record needs a word, a space and {4 * dim} bytes of "
                        f"numbers but the file ends {reader.n - a} bytes later")
                if not validating:
                    raise FormatError(f"{path}: {where}: {what}")
                problems.append((where, what))
                break
            if status == K.ERR_BIN_NONFINITE:
                what = "NaN or infinity in the vector: fix or drop the record"
                if not validating:
                    raise FormatError(f"{path}: {where}: {what}")
                problems.append((where, what))
                rows.done += 1
                continue
            if status == K.ERR_WORD_TOO_LONG:
                what = ("no space within 65536 bytes: is this a word2vec binary file "
                        "(or is the header's dim wrong)?")
                if not validating:
                    raise FormatError(f"{path}: {where}: {what}")
                problems.append((where, what))
                break
            pos = rows.advance(status, pos)
        reader.close()
    matrix, n_rows = rows.finish(path, count, unicode_errors)
    return decoder.words, matrix, {"format": "word2vec-binary", "header_count": count,
                                   "dim": dim, "rows": n_rows, "repaired": decoder.repaired}


def write_binary(words, matrix, path, *, newline=True):
    """Write word2vec binary exactly as word2vec.c does (``newline=False`` omits the LF)."""
    n, dim = matrix.shape
    block = max(1, (8 << 20) // (dim * 4 + 32))
    end = b"\n" if newline else b""
    with atomic_output(path, strip_compression(str(path))[1]) as f:
        f.write(f"{n} {dim}\n".encode())
        for s in range(0, n, block):
            rows = np.ascontiguousarray(matrix[s:s + block], dtype="<f4")
            encode_words(words[s:s + block])  # rejects words with whitespace
            f.write(b"".join(w.encode("utf-8") + b" " + r.tobytes() + end
                             for w, r in zip(words[s:s + block], rows)))
