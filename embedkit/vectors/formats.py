"""The vectors formats by name, by file extension and by content (``detect_format``).

A file's format is sniffed from its first 64 KiB: an embedkit ``.ekv`` directory, a fastText
``.bin`` model, word2vec binary or text (a ``count dim`` header), or GloVe text (no header);
the text/binary decision is explained in :func:`_text_or_binary`.  Used by
:func:`embedkit.load`, :func:`embedkit.save` and ``embedkit validate``.
"""

from __future__ import annotations

import pathlib

import numpy as np

from embedkit._io import decompression_errors
from embedkit.errors import FormatError, MissingFileError, ParameterError
from embedkit.vectors import fasttext, native
from embedkit.vectors._files import open_input, strip_compression

FORMATS = ("word2vec-text", "word2vec-binary", "glove", "fasttext", "fasttext-bin", "native")
_ALIASES = {
    "word2vec-text": "word2vec-text", "text": "word2vec-text", "txt": "word2vec-text",
    "word2vec-binary": "word2vec-binary", "binary": "word2vec-binary", "bin": "word2vec-binary",
    "glove": "glove", "fasttext": "fasttext", "vec": "fasttext",
    "fasttext-bin": "fasttext-bin", "fasttext-binary": "fasttext-bin",
    "native": "native", "ekv": "native",
}
_TEXTY = set(b"0123456789.-+eE \t\r\nnNaAiIfFtTyY")


def canonical_format(fmt: str) -> str:
    """The canonical format name for ``fmt`` (aliases: text, bin, vec, ekv, ...)."""
    try:
        return _ALIASES[str(fmt).lower()]
    except KeyError:
        raise ParameterError(f"unknown vectors format {fmt!r}; choose one of "
                             f"{', '.join(FORMATS)}") from None


def format_from_extension(path) -> str | None:
    """Format implied by the file name: .bin binary, .txt/.vec text, .ekv native."""
    name = strip_compression(pathlib.Path(path).name)[0].lower()
    if name.endswith(".ekv"):
        return "native"
    if name.endswith(".bin"):
        return "word2vec-binary"
    if name.endswith(".vec"):
        return "fasttext"
    if name.endswith(".txt"):
        return "word2vec-text"
    return None


def detect_format(path) -> str:
    """Sniff a file's format from its content: native, word2vec-binary/-text or glove."""
    path = pathlib.Path(path)
    if path.is_dir():
        if native.is_native(path):
            return "native"
        from embedkit.downstream.io import describe_model_dir

        model = describe_model_dir(path)
        if model is not None:
            raise FormatError(f"{path} is {model}, not word vectors")
        raise FormatError(f"{path} is a directory without {native.VOCAB_FILE}: not embedkit "
                          "vectors")
    if not path.exists():
        raise MissingFileError(f"vectors file not found: {path}")
    with decompression_errors(path), open_input(path) as f:
        head = f.read(1 << 16)
    if not head.strip():
        raise FormatError(f"{path}: the file is empty; expected word vectors")
    if fasttext.sniff(head) is not None:
        return "fasttext-bin"
    nl = head.find(b"\n")
    first = head[:nl] if nl >= 0 else head
    toks = first.split()
    try:
        count, dim = (int(toks[0]), int(toks[1])) if len(toks) == 2 else (None, None)
    except ValueError:
        count = dim = None
    if count is None:
        if b"\x00" in head[:4096]:
            raise FormatError(f"{path}: not a recognised vectors format: binary data that is "
                              "neither word2vec binary (a 'count dim' text header) nor a "
                              "fastText .bin model (damaged, or another tool's format)")
        return "glove"
    body = head[nl + 1:]
    sp = body.find(b" ")
    if sp < 0 or dim < 1:
        return "word2vec-text"
    # text if the first record, up to its newline, looks like numbers; binary floats
    # almost never consist of digits and spaces only
    sample = body[sp + 1: sp + 1 + min(4 * max(dim, 1), 256)]
    sample = sample.split(b"\n", 1)[0]
    if set(sample) <= _TEXTY:
        return "word2vec-text"
    return _text_or_binary(body, count, dim, complete=len(head) < (1 << 16))


def _text_or_binary(body: bytes, count: int, dim: int, complete: bool) -> str:
    """Decide between word2vec text and binary for a body whose first record is not plainly
    numeric text.

    A first line that reads as text (valid UTF-8 without control bytes, a word and at least
    one more token) is text, and a malformed number in it is then a text error naming the
    line rather than binary garbage.  The one exception: a small file (wholly in ``body``)
    that has exactly the binary layout (``count`` records of a word, a space and
    ``4 * dim`` bytes, each followed by an optional newline, ending at the end of the file)
    and whose values look like real vectors (not the 1e-19 that ASCII bytes read as
    floats).  A first line that is not text is binary.
    """
    first = body.split(b"\n", 1)[0].rstrip(b"\r")
    if not _is_text_line(first):
        return "word2vec-binary"
    toks = first.decode("utf-8").split()
    nums = toks[-dim:] if len(toks) > dim else []
    if nums and all(_is_float(t) for t in nums):
        return "word2vec-text"
    if complete and _binary_layout(body, count, dim):
        return "word2vec-binary"
    return "word2vec-text"


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return "_" not in tok


def _is_text_line(line: bytes) -> bool:
    """Valid UTF-8, no control bytes but tab and CR, and at least two tokens."""
    if any((c < 32 and c not in (9, 13)) or c == 127 for c in line):
        return False
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return len(text.split()) >= 2


def _binary_layout(body: bytes, count: int, dim: int) -> bool:
    """Whether all of ``body`` is exactly ``count`` binary records of plausible floats."""
    rec = 4 * dim
    pos, n = 0, len(body)
    values = []
    for i in range(count):
        while i > 0 and pos < n and body[pos] in (10, 13):
            pos += 1
        sp = body.find(b" ", pos)
        if sp <= pos or sp + 1 + rec > n or any(c < 32 for c in body[pos:sp]):
            return False
        values.append(np.frombuffer(body, dtype="<f4", count=dim, offset=sp + 1))
        pos = sp + 1 + rec
    if body[pos:].strip(b"\r\n") or not values:
        return False
    vals = np.abs(np.concatenate(values).astype(np.float64))
    if not np.isfinite(vals).all():
        return False
    nonzero = vals[vals > 0]
    return nonzero.size == 0 or 1e-6 <= float(np.median(nonzero)) <= 1e6
