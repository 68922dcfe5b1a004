"""``embedkit.load`` and ``embedkit.save``: every format behind one call, detected by content."""

from __future__ import annotations

import logging
import os
import pathlib

import numpy as np

from embedkit._params import check_count
from embedkit.errors import FormatError, ParameterError
from embedkit.vectors import binary, fasttext, gensim_io, native, native_reader, text
from embedkit.vectors._files import grow_rows
from embedkit.vectors.core import Vectors
from embedkit.vectors.formats import (  # noqa: F401 - FORMATS and format_from_extension
    FORMATS, canonical_format, detect_format, format_from_extension)  # stay importable here

log = logging.getLogger(__name__)


def _check_limit(limit):
    if limit is None:
        return None
    return check_count("limit", limit, hint=" (number of words)")


def load(path, format=None, limit=None, unicode_errors="replace", mmap=True, *, fvocab=None,
         encoding="utf-8", datatype=None, no_header=False) -> Vectors:
    """Load word vectors from any common format.

    Parameters
    ----------
    path : str or path-like
        A word2vec text or binary file, a GloVe text file, a fastText ``.vec`` file or
        ``.bin`` model (each optionally ``.gz``/``.bz2``/``.xz``), or a native ``.ekv``
        directory.  A fastText model gives vectors with :attr:`Vectors.subwords`: unseen
        words get vectors from their character n-grams, as in fastText.  Or the name of a
        pretrained set (``"glove-wiki-gigaword-100"``, ``"default"``; see
        :mod:`embedkit.vectors.pretrained`): downloaded and converted to ``.ekv`` once.
    format : str, optional
        One of ``word2vec-text``, ``word2vec-binary``, ``glove``, ``fasttext`` (``.vec``),
        ``fasttext-bin``, ``native``; detected from the content when omitted.
    limit : int, optional
        Read only the first ``limit`` words (the most frequent, in most files).
    unicode_errors : {"replace", "strict", "ignore"}
        Words that are not valid UTF-8 are repaired (default) and counted in a warning,
        or raise :class:`~embedkit.errors.FormatError` with ``"strict"``.
    mmap : bool
        Native format and fastText ``.bin``: memory-map the matrices (the word matrix of a
        native directory, the n-gram matrix of either) or read them into memory.
    fvocab : str or path-like, optional
        A counts file (``word count`` per line; word2vec.c's ``-save-vocab``, gensim's
        ``fvocab``): the counts of the loaded words.
    encoding : str
        The words' encoding (default UTF-8) in a text, binary or fastText ``.bin`` file
        (fastText stores the bytes it read; unseen words are hashed in the same encoding).
    datatype : np.float32 or np.float16, optional
        Round the values to this type, as gensim's ``datatype=`` (held as float32).
    no_header : bool
        The text file has no ``count dim`` line (gensim's ``no_header``; the same as
        ``format="glove"``).

    Returns
    -------
    Vectors
        Duplicate words keep their first vector (with a warning giving the count).

    Examples
    --------
    >>> v = embedkit.load("GoogleNews-vectors-negative300.bin.gz", limit=100_000)  # doctest: +SKIP
    """
    limit = _check_limit(limit)
    if unicode_errors not in text.UNICODE_ERRORS:
        raise ParameterError(f"unicode_errors must be one of {', '.join(text.UNICODE_ERRORS)},"
                             f" got {unicode_errors!r}")
    encoding = gensim_io.check_encoding(encoding)
    datatype = gensim_io.check_datatype(datatype)
    if not os.path.exists(os.fspath(path)):
        from embedkit.vectors import pretrained

        if pretrained.is_name(os.fspath(path)):  # "glove-wiki-gigaword-100", "default"
            if os.fspath(path) == pretrained.DEFAULT_NAME:
                from embedkit.vectors.default import default_vectors_dir, load_packed

                return load_packed(default_vectors_dir(), limit=limit)
            path = pretrained.resolve(os.fspath(path))
    path = pathlib.Path(os.fspath(path))
    if no_header:
        if format is not None and canonical_format(format) not in ("glove", "word2vec-text",
                                                                   "fasttext"):
            raise ParameterError(f"no_header is for text files, not format={format!r}")
        format = "glove"
    fmt = detect_format(path) if format is None else canonical_format(format)
    if fmt == "native":
        words, storage, counts, meta, index = native_reader.open_native(
            path, limit=limit, mmap=mmap, with_index=True)
        out = Vectors._trusted(words, None, counts=counts, metadata=meta, storage=storage,
                               word_index=index)
        if meta.get("subwords") is not None:
            from embedkit.vectors.subword import Subwords

            out.subwords = Subwords.from_native(path, meta["subwords"], out.dim, mmap=mmap)
        return _finish_gensim_options(out, fvocab, encoding, unicode_errors, datatype)
    if fmt == "fasttext-bin":
        out = _load_fasttext_bin(path, limit, unicode_errors, mmap, encoding)
        return _finish_gensim_options(out, fvocab, encoding, unicode_errors, datatype)
    if fmt == "word2vec-binary":
        words, matrix, info = binary.read_binary(path, limit=limit, unicode_errors=unicode_errors,
                                                 encoding=encoding)
    else:
        header = {"word2vec-text": True, "glove": False, "fasttext": True}[fmt]
        if format is None:
            header = None
        words, matrix, info = text.read_text(path, limit=limit, unicode_errors=unicode_errors,
                                             header=header, encoding=encoding)
    index = dict(zip(words, range(len(words))))
    if len(index) != len(words):
        first = dict(zip(reversed(words), range(len(words) - 1, -1, -1)))
        keep = np.fromiter(sorted(first.values()), dtype=np.int64, count=len(first))
        log.warning("%s: %d duplicate words; kept the first vector of each",
                    path, len(words) - len(index))
        from embedkit._kernels.vectors_io import compact_rows

        compact_rows(matrix, keep)
        matrix = grow_rows(matrix, len(keep))
        words = [words[i] for i in keep]
        index = {w: i for i, w in enumerate(words)}
    meta = {"source": str(path), "format": info["format"] if format is None else fmt}
    if info.get("repaired"):
        meta["repaired_words"] = info["repaired"]
    out = Vectors._trusted(words, matrix, index=index, metadata=meta)
    return _finish_gensim_options(out, fvocab, encoding, unicode_errors, datatype)


def _finish_gensim_options(vectors, fvocab, encoding, unicode_errors, datatype):
    """Apply ``load``'s gensim options: counts from ``fvocab``, rounding to ``datatype``."""
    if fvocab is not None:
        vectors.counts = gensim_io.read_fvocab(fvocab, vectors.words, encoding=encoding,
                                               unicode_errors=unicode_errors)
    if datatype is not np.float32:
        matrix = np.array(vectors.vectors, dtype=np.float32)
        gensim_io.apply_datatype(matrix, datatype)
        vectors._vectors, vectors._storage, vectors._normalized = matrix, None, None
        vectors.metadata["datatype"] = np.dtype(datatype).name
    return vectors


def _load_fasttext_bin(path, limit, unicode_errors, mmap, encoding) -> Vectors:
    words, matrix, counts, subwords, info = fasttext.read_fasttext_bin(
        path, limit=limit, encoding=encoding, unicode_errors=unicode_errors, mmap=mmap)
    index = dict(zip(words, range(len(words))))
    if len(index) != len(words):  # distinct byte strings repaired into the same text
        keep = np.asarray(sorted({w: i for i, w in reversed(list(enumerate(words)))}.values()),
                          dtype=np.int64)
        log.warning("%s: %d duplicate words after decoding; kept the first vector of each",
                    path, len(words) - len(keep))
        words = [words[i] for i in keep]
        matrix, counts = np.ascontiguousarray(matrix[keep]), counts[keep]
        index = {w: i for i, w in enumerate(words)}
    meta = {"source": str(path), "format": "fasttext-bin", "fasttext": info}
    if info.get("repaired"):
        meta["repaired_words"] = info["repaired"]
    out = Vectors._trusted(words, matrix, index=index, counts=counts, metadata=meta)
    out.subwords = subwords
    return out


def save(vectors: Vectors, path, format=None, precision=None, dtype=None, scale="row", *,
         fvocab=None, write_header=True) -> None:
    """Write ``vectors`` to ``path``.

    Parameters
    ----------
    vectors : Vectors
    path : str or path-like
        ``.ekv`` native directory, ``.bin`` word2vec binary, ``.txt``/``.vec`` word2vec
        text; add ``.gz``/``.bz2``/``.xz`` to compress a text or binary file.
    format : str, optional
        Overrides the extension: ``word2vec-text``, ``word2vec-binary``, ``glove``,
        ``fasttext``, ``native``.
    precision : int, optional
        Text formats: significant digits per value; by default the fewest that read back
        to exactly the same float32 (lossless).  A value is never rounded past float32's
        range: it reads back finite.
    dtype : {"float32", "float16", "int8"}, optional
        Native format only: how the matrix is stored (default: as it is stored now, float32
        for vectors not read from a ``.ekv``).  float16 halves the file, int8 quarters it
        (scalar quantisation); queries read either directly.
    scale : {"row", "dim"}, default "row"
        int8 only: one scale per row or per dimension.
    fvocab : str or path-like, optional
        Also write the counts there, ``word count`` per line in row order (gensim's
        ``fvocab``); the vectors must have counts.
    write_header : bool
        word2vec text: write the ``count dim`` line (default), or not (gensim's
        ``write_header=False``; read back with ``no_header=True``).
    """
    if not isinstance(vectors, Vectors):
        raise ParameterError(f"save needs a Vectors object, got {type(vectors).__name__}")
    path = pathlib.Path(os.fspath(path))
    from embedkit.vectors.output import check_output

    fmt = check_output(path, format)
    if fmt == "fasttext-bin":
        raise ParameterError("embedkit reads fastText .bin models but does not write them: "
                             "save to a .ekv directory, which keeps the n-gram vectors")
    if fvocab is not None and vectors.counts is None:
        raise ParameterError("cannot write fvocab: these vectors have no counts (set them with "
                             "set_vecattr or load them with fvocab=)")
    if not write_header and fmt in ("native", "word2vec-binary"):
        raise ParameterError(f"write_header=False is for text files; the {fmt} format needs "
                             "its header")
    subwords = getattr(vectors, "subwords", None)
    if fmt == "native":
        meta = dict(vectors.metadata)
        meta.pop("subwords", None)
        extra = None
        if subwords is not None:
            meta["subwords"] = subwords.to_metadata()
            extra = subwords.arrays()
        native.save_native(vectors.words, None, path, counts=vectors.counts,
                           metadata=meta, dtype=dtype, scale=scale,
                           storage=vectors.storage, extra_arrays=extra)
    elif dtype is not None:
        raise ParameterError(f"dtype applies to the native .ekv format only, not {fmt}")
    elif fmt == "word2vec-binary":
        binary.write_binary(vectors.words, vectors.vectors, path)
    else:
        text.write_text(vectors.words, vectors.vectors, path,
                        style="glove" if fmt == "glove" else "word2vec", precision=precision,
                        header=write_header)
    if subwords is not None and fmt != "native":
        log.warning("%s: the %s format holds no character n-grams: the vectors for unseen "
                    "words are not kept (save to a .ekv directory to keep them)", path, fmt)
    if fvocab is not None:
        gensim_io.write_fvocab(fvocab, vectors.words, vectors.counts)
    log.debug("saved %d x %d vectors to %s (%s)", len(vectors), vectors.dim, path, fmt)


def validate(path, format=None, max_duplicates: int = 20) -> dict:
    """Check a vectors file without loading its matrix; list every problem.

    Returns
    -------
    dict
        ``format``, ``count``, ``dim``, ``header_count``, ``errors`` (malformed lines or
        records: ``(where, what)`` pairs, e.g. ``("line 7", "2 numbers, expected 3 ...")``)
        and ``warnings`` (repairs a load would make: header count, duplicates, bad UTF-8).
    """
    path = pathlib.Path(os.fspath(path))
    report = {"path": str(path), "format": None, "count": 0, "dim": None,
              "header_count": None, "errors": [], "warnings": []}
    try:
        fmt = detect_format(path) if format is None else canonical_format(format)
        report["format"] = fmt
        if fmt == "native":
            from embedkit.vectors import native_reader as ekv
            from embedkit.vectors.storage import row_norms

            words, storage, _, _ = ekv.open_native(path, norms=False)
            report.update(count=len(words), dim=storage.dim)
            stored = None
            if (path / ekv.NORMS_FILE).exists():
                stored = ekv._read_norms(path / ekv.NORMS_FILE, len(words), False)
            block = max(1, (16 << 20) // (4 * max(storage.dim, 1)))
            off = 0
            for s in range(0, len(storage), block):
                rows = storage.decode(s, min(len(storage), s + block))
                want = row_norms(rows)
                bad = np.flatnonzero(~np.isfinite(want))
                for r in bad[:100]:
                    report["errors"].append((f"row {s + r + 1}", f"word {words[s + r]!r}: NaN "
                                             "or infinity in the vector (or values whose norm "
                                             "exceeds float32)"))
                if stored is not None:
                    got = stored[s:s + len(rows)]
                    with np.errstate(invalid="ignore"):
                        wrong = np.flatnonzero(~((got == want) | (
                            np.abs(got - want) <= ekv.NORM_RTOL * np.maximum(want, 1e-30))))
                    for r in wrong[:max(0, 100 - off)]:
                        report["errors"].append((f"row {s + r + 1}", f"{ekv.NORMS_FILE} says "
                                                 f"norm {got[r]:.6g}, the row has {want[r]:.6g}"))
                    off += len(wrong)
            if off:
                report["errors"].append(("norms", f"{off} stored norms disagree with the matrix: "
                                         f"rewrite them with `embedkit convert {path}`"))
            if storage.checksum:
                from embedkit.vectors.storage import vectors_checksum

                saved, storage.checksum = storage.checksum, None
                if vectors_checksum(Vectors._trusted(words, None, storage=storage)) != saved:
                    report["errors"].append(("checksum", f"{ekv.VOCAB_FILE}'s checksum does "
                                             "not match the matrix (edited after it was "
                                             "written?): save the vectors again"))
        elif fmt == "fasttext-bin":
            words, matrix, _, _, info = fasttext.read_fasttext_bin(path)
            report.update(count=len(words), dim=int(matrix.shape[1]))
            bad = np.flatnonzero(~np.isfinite(matrix).all(axis=1))
            for r in bad[:100]:
                report["errors"].append((f"word {r + 1}", f"{words[r]!r}: NaN or infinity in "
                                         "the vector"))
            if info.get("repaired"):
                report["warnings"].append(
                    ("words", f"{info['repaired']} words are not valid UTF-8 (a load repairs "
                              "them with unicode_errors='replace')"))
        else:
            problems: list = []
            if fmt == "word2vec-binary":
                words, _, info = binary.read_binary(path, problems=problems)
            else:
                header = None if format is None else fmt != "glove"
                words, _, info = text.read_text(path, header=header, problems=problems)
            report.update(count=info["rows"], dim=info["dim"], header_count=info["header_count"],
                          format=info["format"] if format is None else fmt)
            report["errors"].extend(problems)
            if info["header_count"] is not None and info["header_count"] != info["rows"]:
                report["warnings"].append(
                    ("line 1", f"the header says {info['header_count']} words but the file "
                               f"holds {info['rows']} (a load trusts the body)"))
            if info["repaired"]:
                report["warnings"].append(
                    ("words", f"{info['repaired']} words are not valid UTF-8 (a load repairs "
                              "them with unicode_errors='replace')"))
    except FormatError as exc:
        report["errors"].append(("file", str(exc).replace(f"{path}: ", "", 1)))
        return report
    seen: dict[str, int] = {}
    dups = 0
    for i, w in enumerate(words):
        j = seen.setdefault(w, i)
        if j != i:
            dups += 1
            if dups <= max_duplicates:
                report["warnings"].append((f"word {i + 1}", f"duplicate of word {j + 1} "
                                           f"({w!r}); a load keeps the first"))
    if dups > max_duplicates:
        report["warnings"].append(("words", f"{dups} duplicate words in all"))
    return report
