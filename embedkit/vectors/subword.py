"""Vectors for unseen words from character n-grams: the :class:`Subwords` a
:class:`~embedkit.vectors.Vectors` holds when it comes from a fastText model.

The n-gram matrix is kept as read (memory-mapped when the file allows it); a word's vector is
the mean of the rows its n-grams hash to, exactly as fastText's ``get_word_vector`` computes
it for a word outside the vocabulary.  The kernels are in :mod:`embedkit._kernels.subword`.
"""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from embedkit._kernels import subword as K
from embedkit.errors import FormatError, ParameterError

log = logging.getLogger(__name__)

#: name of the n-gram matrix inside a native ``.ekv`` directory
NGRAMS_FILE = "ngrams.npy"
#: the hashing scheme this module implements (recorded in saved metadata)
HASH_NAME = "fasttext-fnv1a-int8"
EOS = "</s>"
_EMPTY_REMAP = np.empty(0, dtype=np.int64)


#: the longest n-gram (in characters) accepted, as fastText's own argument checks allow
MAX_N = 1000


def _check_int(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low \
            or (high is not None and value > high):
        within = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ParameterError(f"{name} must be an integer {within}, got {value!r}")
    return int(value)


class Subwords:
    """Character n-gram vectors of a fastText model: a vector for any word.

    Parameters
    ----------
    ngrams : ndarray of float32, shape (rows, dim)
        The n-gram (bucket) rows of fastText's input matrix.  May be memory-mapped.
    minn, maxn : int
        Shortest and longest n-gram, in characters (the ``<`` and ``>`` markers count).
    bucket : int
        Number of hash buckets; an n-gram's row is ``hash % bucket``.
    encoding : str
        How words are turned into the bytes that are hashed (the model's file encoding).
    remap : ndarray of int64, optional
        Pruned models only: bucket -> row (``-1``: the n-gram was pruned).
    source : str, optional
        The file the n-gram rows come from (named when a row turns out to hold NaN or
        infinity).

    Examples
    --------
    >>> v = embedkit.load("cc.en.300.bin")          # doctest: +SKIP
    >>> v.subwords.vector("sharkado").shape          # doctest: +SKIP
    (300,)
    """

    def __init__(self, ngrams, minn: int, maxn: int, bucket: int, encoding: str = "utf-8",
                 remap=None, source: str = ""):
        ngrams = np.asanyarray(ngrams)
        if ngrams.ndim != 2 or ngrams.dtype != np.float32:
            raise ParameterError(f"ngrams must be a float32 matrix, got {ngrams.dtype} with "
                                 f"shape {ngrams.shape}")
        self.minn = _check_int("minn", minn, 0, MAX_N)
        self.maxn = _check_int("maxn", maxn, 0, MAX_N)
        self.bucket = _check_int("bucket", bucket, 1)
        if remap is None:
            if ngrams.shape[0] != self.bucket:
                raise ParameterError(f"the n-gram matrix has {ngrams.shape[0]} rows but bucket "
                                     f"is {self.bucket}: they must be equal")
            remap = _EMPTY_REMAP
        else:
            remap = np.ascontiguousarray(remap, dtype=np.int64)
            if remap.shape != (self.bucket,) or (remap.size and (
                    remap.min() < -1 or remap.max() >= ngrams.shape[0])):
                raise ParameterError("remap must map each of the bucket ids to an n-gram row "
                                     "or -1")
        if not isinstance(encoding, str):
            raise ParameterError(f"encoding must be a codec name, got {encoding!r}")
        try:
            "".encode(encoding)
        except (LookupError, ValueError):
            raise ParameterError(f"unknown encoding {encoding!r}") from None
        self.ngrams = ngrams
        self.encoding = encoding
        self.remap = remap
        self.source = str(source)

    @property
    def dim(self) -> int:
        """Number of dimensions."""
        return int(self.ngrams.shape[1])

    def __repr__(self) -> str:
        return (f"Subwords({self.ngrams.shape[0]} n-gram rows, dim {self.dim}, "
                f"n-grams of {self.minn}-{self.maxn} characters)")

    def _wrapped(self, words):
        encoded = [b"<" + w.encode(self.encoding, errors="replace") + b">" for w in words]
        lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        buf = np.frombuffer(b"".join(encoded), dtype=np.uint8) if encoded else \
            np.empty(0, dtype=np.uint8)
        return buf, offsets

    def ngram_rows(self, word: str) -> np.ndarray:
        """Rows of :attr:`ngrams` that ``word``'s n-grams hash to, in fastText's order."""
        if not isinstance(word, str):
            raise ParameterError(f"words are strings, got {type(word).__name__}")
        buf, offsets = self._wrapped([word])
        out = np.empty(max(len(buf) * max(self.maxn, 1), 1), dtype=np.int64)
        n = K.ngram_buckets(buf, 0, len(buf), self.minn, self.maxn, self.bucket, self.remap, out)
        return out[:n].copy()

    def ngrams_of(self, word: str) -> list[str]:
        """The character n-grams of ``word`` (with the ``<``/``>`` markers), in order."""
        w = f"<{word}>"
        out = []
        for i in range(len(w)):
            for n in range(max(self.minn, 1), self.maxn + 1):
                if i + n > len(w):
                    break
                if n == 1 and (i == 0 or i + n == len(w)):
                    continue
                out.append(w[i:i + n])
        return out

    def vectors(self, words) -> np.ndarray:
        """Vectors of ``words`` from their n-grams only, shape ``(len(words), dim)``.

        Each is the mean of its n-gram rows (fastText's vector for a word outside the
        vocabulary); a word with no n-gram (shorter than ``minn``) gets zeros, as in
        fastText, with a warning.
        """
        words = [words] if isinstance(words, str) else list(words)
        for w in words:
            if not isinstance(w, str):
                raise ParameterError(f"words are strings, got {type(w).__name__}")
        buf, offsets = self._wrapped(words)
        out = np.empty((len(words), self.dim), dtype=np.float32)
        counts = np.empty(len(words), dtype=np.int64)
        own = np.full(len(words), -1, dtype=np.int64)
        K.compose_vectors(buf, offsets, own, self.ngrams[:1], self.ngrams, self.minn, self.maxn,
                          self.bucket, self.remap, out, counts)
        if not np.isfinite(out).all():
            self._refuse_nonfinite(words, out)
        empty = np.flatnonzero(counts == 0)
        if empty.size:
            log.warning("%d word(s) have no character n-gram of %d-%d characters (e.g. %r); "
                        "their vectors are zeros, as in fastText", empty.size, self.minn,
                        self.maxn, words[int(empty[0])])
        return out

    def _refuse_nonfinite(self, words, out):
        """A composed vector is not finite: a FormatError naming the file and the n-gram row
        (rows are checked when used, so a memory-mapped matrix is never read whole)."""
        k = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        rows = self.ngram_rows(words[k])
        bad = [int(r) for r in rows if not np.isfinite(self.ngrams[r]).all()]
        where = self.source or "the n-gram matrix"
        if bad:
            raise FormatError(f"{where}: n-gram row {bad[0]} (used by {words[k]!r}) holds NaN "
                              "or infinity; the file is damaged: download or convert it again")
        raise FormatError(f"{where}: the n-gram rows of {words[k]!r} hold values so large "
                          "that their sum overflows float32; the file is damaged")

    def vector(self, word: str) -> np.ndarray:
        """The vector of one word from its n-grams (see :meth:`vectors`)."""
        if not isinstance(word, str):
            raise ParameterError(f"words are strings, got {type(word).__name__}")
        return self.vectors([word])[0]

    # -- persistence in the native format ---------------------------------------------------
    def to_metadata(self) -> dict:
        """The JSON description stored beside :data:`NGRAMS_FILE` in a ``.ekv`` directory."""
        return {"hash": HASH_NAME, "minn": self.minn, "maxn": self.maxn, "bucket": self.bucket,
                "encoding": self.encoding, "rows": int(self.ngrams.shape[0]),
                "pruned": bool(self.remap.size)}

    def arrays(self) -> dict:
        """Arrays to store in a ``.ekv`` directory (file name -> array)."""
        out = {NGRAMS_FILE: self.ngrams}
        if self.remap.size:
            out["ngram_remap.npy"] = self.remap
        return out

    @classmethod
    def from_native(cls, directory, info, dim: int, mmap: bool = True) -> "Subwords":
        """Open the n-gram matrix of a ``.ekv`` directory described by ``info`` (metadata)."""
        directory = pathlib.Path(directory)
        where = directory / NGRAMS_FILE
        if not isinstance(info, dict) or info.get("hash") != HASH_NAME:
            raise FormatError(f"{directory}: the subword metadata names an unknown hashing "
                              f"scheme ({info.get('hash') if isinstance(info, dict) else info!r}); "
                              f"this embedkit reads {HASH_NAME!r}")
        from embedkit import _validate as V
        from embedkit.errors import MissingFileError

        try:
            matrix = V.read_npy(where, mmap=mmap)
            remap = None
            if info.get("pruned"):
                remap = V.read_npy(directory / "ngram_remap.npy")
                V.check_array(remap, file=directory / "ngram_remap.npy", name="ngram_remap",
                              ndim=1, kind="iu")
        except MissingFileError as exc:
            raise FormatError(f"{directory}: its metadata describes subword vectors but "
                              f"{exc}") from None
        if matrix.ndim != 2 or matrix.dtype != np.float32 or matrix.shape[1] != dim:
            raise FormatError(f"{where}: expected a float32 matrix with {dim} columns, got "
                              f"{matrix.dtype} {matrix.shape}")
        try:
            return cls(matrix, info.get("minn"), info.get("maxn"), info.get("bucket"),
                       encoding=info.get("encoding", "utf-8"), remap=remap, source=str(where))
        except ParameterError as exc:
            raise FormatError(f"{directory}: bad subword data in {directory / 'vocab.json'} "
                              f"({exc})") from None
