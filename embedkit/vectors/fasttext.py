"""Reader of fastText's native ``.bin`` model files (Facebook's binary format).

Layout (little-endian, as fastText writes it on every common machine):

* header: ``int32 magic = 793712314``, ``int32 version`` (11 or 12), then the training
  arguments: 12 ``int32`` (dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket,
  minn, maxn, lrUpdateRate) and a ``float64`` (t).  Files from before the magic number was
  introduced ("old header") start directly with the arguments.
* dictionary: ``int32`` size, nwords, nlabels, ``int64`` ntokens, (current header only)
  ``int64`` pruneidx_size; then ``size`` records ``word bytes, NUL, int64 count, int8 type``
  (0 word, 1 label); then (current header only) ``pruneidx_size`` pairs of ``int32``.
* input matrix: (current header only) ``bool`` quantised, ``int64`` rows, ``int64`` cols, the
  float32 values; the first ``nwords`` rows are words, the next ``bucket`` rows n-grams.
* the output matrix, in the same form (not needed for word vectors, only checked).

A word's vector is the mean of its own row and of the rows of its character n-grams (see
:mod:`embedkit._kernels.subword`); an unseen word's vector the mean of its n-gram rows.
"""

from __future__ import annotations

import logging
import pathlib
import struct

import numpy as np

from embedkit import _validate as V
from embedkit._kernels import subword as K
from embedkit.errors import FormatError, ParameterError
from embedkit._io import compression_of
from embedkit.vectors._files import open_input
from embedkit.vectors.subword import EOS, Subwords

log = logging.getLogger(__name__)

MAGIC = 793712314
VERSIONS = (11, 12)
FORMAT = "fasttext-bin"
_ARGS = ("dim", "ws", "epoch", "min_count", "neg", "word_ngrams", "loss", "model", "bucket",
         "minn", "maxn", "lr_update_rate")
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
MODELS = {1: "cbow", 2: "skipgram", 3: "supervised"}
_ARGS_STRUCT = struct.Struct("<12id")
_DICT_STRUCT = struct.Struct("<3iq")


def _plausible_args(a: dict) -> bool:
    return (0 < a["dim"] <= 100_000 and 0 < a["ws"] <= 100_000 and 0 <= a["epoch"]
            and a["loss"] in LOSSES and a["model"] in MODELS and a["bucket"] >= 0
            and 0 <= a["minn"] <= 1000 and 0 <= a["maxn"] <= 1000 and 0 <= a["neg"]
            and a["word_ngrams"] >= 0 and np.isfinite(a["t"]) and 0 <= a["t"] <= 1)


def sniff(head: bytes) -> str | None:
    """``"current"`` or ``"old"`` when ``head`` (the file's first bytes) starts a fastText
    ``.bin`` model with that header, else None."""
    if len(head) >= 8 and struct.unpack_from("<i", head)[0] == MAGIC:
        return "current"
    if len(head) < _ARGS_STRUCT.size + _DICT_STRUCT.size:
        return None
    args = dict(zip(_ARGS + ("t",), _ARGS_STRUCT.unpack_from(head)))
    size, nwords, nlabels, ntokens = _DICT_STRUCT.unpack_from(head, _ARGS_STRUCT.size)
    if _plausible_args(args) and size == nwords + nlabels and nwords >= 0 and nlabels >= 0 \
            and ntokens >= 0:
        return "old"
    return None


def _map_file(path: pathlib.Path, mmap: bool) -> tuple[np.ndarray, bool]:
    """The file's bytes as a uint8 array (memory-mapped when plain); and whether mapped."""
    if compression_of(path) is not None:
        with open_input(path) as f:
            try:
                data = f.read()
            except (OSError, EOFError, ValueError) as exc:
                raise FormatError(f"{path}: cannot decompress ({exc})") from None
        return np.frombuffer(data, dtype=np.uint8), False
    if mmap and path.stat().st_size > 0:
        return np.memmap(path, dtype=np.uint8, mode="r"), True
    return np.fromfile(path, dtype=np.uint8), False


class _Cursor:
    """Reads fixed-size fields from the byte array, with bounds checks naming the file."""

    def __init__(self, path, data):
        self.path, self.data, self.pos = path, data, 0

    def take(self, fmt: struct.Struct, what: str):
        end = self.pos + fmt.size
        if end > len(self.data):
            raise FormatError(f"{self.path}: the file ends inside the {what} (byte {self.pos}); "
                              "it is truncated: download or copy it again")
        out = fmt.unpack(self.data[self.pos:end].tobytes())
        self.pos = end
        return out


def read_header(path, data) -> tuple[dict, _Cursor]:
    """Parse the header and training arguments; returns ``(args, cursor after them)``."""
    cur = _Cursor(path, data)
    head = data[:8].tobytes()
    kind = sniff(data[:_ARGS_STRUCT.size + _DICT_STRUCT.size].tobytes())
    if kind is None:
        raise FormatError(f"{path}: not a fastText .bin model (no magic number and no plausible "
                          "training arguments at the start)")
    version = None
    if kind == "current":
        _, version = struct.unpack("<2i", head)
        cur.pos = 8
        if version not in VERSIONS:
            raise FormatError(f"{path}: fastText file version {version} is not supported (this "
                              f"embedkit reads versions {', '.join(map(str, VERSIONS))})")
    values = cur.take(_ARGS_STRUCT, "training arguments")
    args = dict(zip(_ARGS + ("t",), values))
    if not _plausible_args(args):
        raise FormatError(f"{path}: implausible fastText training arguments "
                          f"(dim {args['dim']}, loss {args['loss']}, model {args['model']}, "
                          f"bucket {args['bucket']}, minn {args['minn']}, maxn {args['maxn']}); "
                          "the file is damaged or not a fastText model")
    args["version"] = version
    args["header"] = kind
    if version == 11 and args["model"] == 3:
        args["maxn"] = 0  # as fastText: supervised models of version 11 use no character n-grams
    return args, cur


def read_fasttext_bin(path, *, limit=None, encoding="utf-8", unicode_errors="replace",
                      mmap=True):
    """Read a fastText ``.bin`` model.

    Parameters
    ----------
    path : path-like
        The model (optionally ``.gz``/``.bz2``/``.xz``; those are read into memory).
    limit : int, optional
        Keep only the first ``limit`` words (the n-gram matrix is kept whole).
    encoding : str
        Encoding of the words in the file (fastText writes the bytes it read; almost always
        UTF-8).  Unseen words are encoded the same way before hashing.
    unicode_errors : {"replace", "strict", "ignore"}
        What to do with words that are not valid in ``encoding``.
    mmap : bool
        Memory-map the n-gram matrix from the file (uncompressed files only).

    Returns
    -------
    words : list of str
        The vocabulary in file order (labels of supervised models excluded).
    matrix : ndarray of float32, shape (len(words), dim)
        fastText's word vectors (own row and n-gram rows averaged).
    counts : ndarray of int64
    subwords : Subwords or None
        None when the model has no character n-grams (``maxn == 0``).
    info : dict
        The training arguments, ``ntokens``, the labels, the number of repaired words.
    """
    path = pathlib.Path(path)
    try:
        "".encode(encoding)
    except LookupError:
        raise ParameterError(f"unknown encoding {encoding!r}; give a Python codec name such "
                             "as 'utf-8' or 'cp852'") from None
    data, _ = _map_file(path, mmap)
    args, cur = read_header(path, data)
    current = args["header"] == "current"
    size, nwords, nlabels, ntokens = cur.take(_DICT_STRUCT, "dictionary header")
    prune_size = cur.take(struct.Struct("<q"), "dictionary header")[0] if current else -1
    if nwords < 0 or nlabels < 0 or size != nwords + nlabels or ntokens < 0 or prune_size < -1:
        raise FormatError(f"{path}: inconsistent dictionary header (size {size}, nwords {nwords}, "
                          f"nlabels {nlabels}, pruned n-grams {prune_size}); the file is damaged")
    if 10 * size > len(data) - cur.pos:  # a record is at least a NUL, a count and a type
        raise FormatError(f"{path}: the dictionary header announces {size:,} entries but the "
                          f"file holds only {len(data) - cur.pos:,} bytes after it; the file is "
                          "truncated or damaged")
    starts = np.empty(size, dtype=np.int64)
    ends = np.empty(size, dtype=np.int64)
    counts = np.empty(size, dtype=np.int64)
    types = np.empty(size, dtype=np.uint8)
    status, bad, pos = K.scan_dictionary(data, cur.pos, size, starts, ends, counts, types)
    if status != K.SCAN_OK:
        why = {K.SCAN_TRUNCATED: "the file ends inside it (truncated)",
               K.SCAN_BAD_TYPE: "its type is neither word (0) nor label (1)"}[status]
        raise FormatError(f"{path}: dictionary entry {bad + 1} of {size} is malformed: {why}")
    cur.pos = int(pos)
    if np.any(types[:nwords] != 0) or np.any(types[nwords:] != 1):
        raise FormatError(f"{path}: the dictionary does not list its {nwords} words before its "
                          f"{nlabels} labels; the file is damaged")
    remap = None
    if prune_size >= 0:
        need = 8 * prune_size
        if cur.pos + need > len(data):
            raise FormatError(f"{path}: the file ends inside the pruned n-gram index; truncated")
        pairs = np.frombuffer(data[cur.pos:cur.pos + need].tobytes(), dtype="<i4").reshape(-1, 2)
        cur.pos += need
        remap = pairs
    if current:
        quant = cur.take(struct.Struct("<?"), "input matrix header")[0]
        if quant:
            raise FormatError(f"{path}: a quantised fastText model (.ftz); embedkit reads only "
                              "full models: use the .bin file, or export vectors with "
                              "`fasttext print-word-vectors`")
    rows, cols = cur.take(struct.Struct("<2q"), "input matrix header")
    dim, bucket = args["dim"], args["bucket"]
    ngram_rows = bucket if remap is None else len(remap)
    if cols != dim or rows != nwords + ngram_rows:
        raise FormatError(f"{path}: the input matrix is {rows} x {cols} but the header implies "
                          f"{nwords + ngram_rows} x {dim} ({nwords} words + {ngram_rows} n-gram "
                          "rows); the file is damaged")
    start = cur.pos
    end = start + 4 * rows * cols
    if end > len(data):
        raise FormatError(f"{path}: the file holds {len(data):,} bytes but its input matrix "
                          f"needs {end:,}; it is truncated: download or copy it again")
    _check_output_matrix(path, data, end, current, dim)
    # a view, even when unaligned (numpy and Numba read unaligned float32 arrays): no copy
    full = data[start:end].view(np.float32).reshape(rows, cols)
    if not np.little_endian:  # pragma: no cover - fastText files are little-endian
        full = full.byteswap()

    keep = nwords if limit is None else min(nwords, int(limit))
    words, repaired = _decode_words(path, data, starts[:keep], ends[:keep], encoding,
                                    unicode_errors)
    labels = []
    if nlabels:
        labels, _ = _decode_words(path, data, starts[nwords:], ends[nwords:], encoding,
                                  "replace")
    word_rows = full[:nwords]
    ngrams = full[nwords:]
    if remap is not None:
        table = np.full(bucket, -1, dtype=np.int64)
        ids, where = remap[:, 0].astype(np.int64), remap[:, 1].astype(np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= bucket or where.min() < 0
                         or where.max() >= ngram_rows):
            raise FormatError(f"{path}: the pruned n-gram index points outside the matrix")
        table[ids] = where
        remap = table
    with_subwords = args["maxn"] > 0 and bucket > 0
    matrix = np.empty((keep, dim), dtype=np.float32)
    if with_subwords and keep:
        wrapped = np.empty(int((ends[:keep] - starts[:keep]).sum()) + 2 * keep, dtype=np.uint8)
        offsets = np.empty(keep + 1, dtype=np.int64)
        K.wrap_words(data, starts[:keep], ends[:keep], wrapped, offsets)
        used = np.empty(keep, dtype=np.int64)
        K.compose_vectors(wrapped, offsets, np.arange(keep, dtype=np.int64), word_rows, ngrams,
                          args["minn"], args["maxn"], bucket,
                          K_EMPTY if remap is None else remap, matrix, used)
        # fastText (every version with the current header) gives the end-of-sentence token
        # no n-grams: its vector is its own row.  The fastText that wrote old-header files
        # did not make that exception (its own .vec output shows it), nor does gensim.
        if current:
            for i, w in enumerate(words):
                if w == EOS:
                    matrix[i] = word_rows[i]
                    break
    else:
        matrix[:] = word_rows[:keep]
    bad = V.first_nonfinite_row(matrix)
    if bad is not None:
        raise FormatError(f"{path}: the vector of word {bad + 1} ({words[bad]!r}) holds NaN or "
                          "infinity (its own row or one of its n-gram rows, or values so large "
                          "that their mean overflows); the file is damaged")
    subwords = None
    if with_subwords:
        subwords = Subwords(ngrams, args["minn"], args["maxn"], bucket, encoding=encoding,
                            remap=remap, source=str(path))
    info = {k: args[k] for k in _ARGS + ("t", "version", "header")}
    info.update(loss=LOSSES[args["loss"]], model=MODELS[args["model"]], ntokens=int(ntokens),
                nwords=int(nwords), encoding=encoding)
    if labels:
        info["labels"] = labels
    if repaired:
        info["repaired"] = repaired
    return words, matrix, counts[:keep].copy(), subwords, info


K_EMPTY = np.empty(0, dtype=np.int64)


def _check_output_matrix(path, data, pos, current, dim) -> None:
    """The output matrix after the input one must be complete (a truncated file fails here)."""
    need = pos + (1 if current else 0) + 16
    if need > len(data):
        raise FormatError(f"{path}: the file ends before its output matrix; it is truncated: "
                          "download or copy it again")
    p = pos + (1 if current else 0)
    quant = bool(data[pos]) if current else False
    rows, cols = struct.unpack("<2q", data[p:p + 16].tobytes())
    if quant:
        return  # a quantised output matrix: its size is not simply rows * cols
    if rows < 0 or cols != dim:
        raise FormatError(f"{path}: the output matrix header is inconsistent ({rows} x {cols}, "
                          f"dim {dim}); the file is damaged")
    end = p + 16 + 4 * rows * cols
    if end > len(data):
        raise FormatError(f"{path}: the file holds {len(data):,} bytes but needs {end:,}; it is "
                          "truncated: download or copy it again")
    if end < len(data):
        log.warning("%s: %d bytes after the end of the model are ignored", path,
                    len(data) - end)


def _decode_words(path, data, starts, ends, encoding, errors):
    """Decode the word byte ranges; returns ``(words, number repaired)``."""
    n = len(starts)
    if n == 0:
        return [], 0
    total = int((ends - starts).sum()) + n
    blob = np.empty(total, dtype=np.uint8)
    K.gather_words(data, starts, ends, 10, blob)
    raw = blob.tobytes()
    try:
        text = raw.decode(encoding)
        words = text.split("\n")[:-1]
        if len(words) == n:
            return words, 0
    except UnicodeDecodeError:
        pass
    # slow path: a word holds a newline or invalid bytes; decode word by word
    words, repaired = [], 0
    pieces = bytes(raw)
    p = 0
    for k in range(n):
        length = int(ends[k] - starts[k])
        b = pieces[p:p + length]
        p += length + 1
        try:
            words.append(b.decode(encoding))
        except UnicodeDecodeError as exc:
            if errors == "strict":
                raise FormatError(f"{path}: word {k + 1} ({b!r}) is not valid {encoding} "
                                  f"({exc.reason}); pass encoding= or "
                                  "unicode_errors='replace'") from None
            words.append(b.decode(encoding, errors=errors))
            repaired += 1
    if repaired:
        log.warning("%s: %d words are not valid %s; repaired with unicode_errors=%r", path,
                    repaired, encoding, errors)
    return words, repaired
