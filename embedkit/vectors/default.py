"""The default vectors shipped in the package, and how the CLI finds the vectors to query.

Resolution order: an explicit path (``--vectors``), else ``$EMBEDKIT_VECTORS``, else the
packaged default in ``embedkit/data/default/``.  The packaged form is a directory holding
``vectors.npy`` (float16, one row per word), ``words.json`` (the words in row order) and
``meta.json`` (how the vectors were made, and their evaluation scores).
"""

from __future__ import annotations

import json
import logging
import os
import pathlib

import numpy as np

from embedkit._io import write_atomic, write_json
from embedkit.errors import FormatError, MissingFileError

log = logging.getLogger(__name__)

ENV_VAR = "EMBEDKIT_VECTORS"
PACKED_MATRIX = "vectors.npy"
PACKED_WORDS = "words.json"
PACKED_META = "meta.json"


def default_vectors_dir() -> pathlib.Path:
    """Where the packaged default vectors live (``embedkit/data/default``)."""
    return pathlib.Path(__file__).resolve().parents[1] / "data" / "default"


def is_packed(path) -> bool:
    """Whether ``path`` is a directory in the packed (``vectors.npy`` + ``words.json``) form."""
    p = pathlib.Path(path)
    return p.is_dir() and (p / PACKED_MATRIX).is_file() and (p / PACKED_WORDS).is_file()


def has_default_vectors() -> bool:
    """Whether this installation ships default vectors."""
    return is_packed(default_vectors_dir())


def find_vectors(path=None, given_as: str = "--vectors") -> tuple[str, str]:
    """The vectors file to use and where that choice came from.

    Parameters
    ----------
    path : str or PathLike, optional
        An explicit path (the CLI's ``--vectors``); wins when given.
    given_as : str
        How the command line names ``path`` in messages (``--vectors``, or an argument
        like ``VECTORS``).

    Returns
    -------
    (path, source)
        ``source`` is ``"--vectors"``, ``"$EMBEDKIT_VECTORS"`` or ``"default"``.

    Raises
    ------
    MissingFileError
        The chosen path does not exist, or nothing was given and no default is installed;
        the message says how to fix it.
    """
    if path is not None:
        path, source = os.fspath(path), given_as
    elif os.environ.get(ENV_VAR):
        path, source = os.environ[ENV_VAR], f"${ENV_VAR}"
    elif has_default_vectors():
        return str(default_vectors_dir()), "default"
    else:
        raise MissingFileError(
            "no vectors to query: pass --vectors PATH, set $EMBEDKIT_VECTORS=PATH, or "
            "reinstall embedkit with its default vectors (embedkit/data/default is missing; "
            "`python benchmarks/make_default_vectors.py` makes them)")
    if not os.path.exists(path):
        from embedkit.vectors import pretrained

        if pretrained.is_name(path):  # a pretrained set's name, or "default"
            return pretrained.resolve(path), f"{source} (pretrained {path!r})"
        raise MissingFileError(f"vectors file {path} (from {source}) does not exist: "
                               "check the path, or train vectors with `embedkit train`")
    return path, source


def load_packed(directory, limit: int | None = None):
    """Read vectors in the packed form (float16 ``vectors.npy`` + ``words.json``) as float32.

    Parameters
    ----------
    directory : str or PathLike
    limit : int, optional
        Keep only the first ``limit`` words.

    Returns
    -------
    Vectors
    """
    from embedkit.vectors.core import Vectors

    d = pathlib.Path(directory)
    try:
        matrix = np.load(d / PACKED_MATRIX, allow_pickle=False)
        with open(d / PACKED_WORDS, encoding="utf-8") as f:
            words = json.load(f)
    except FileNotFoundError as exc:
        raise MissingFileError(f"{exc.filename} is missing: the packed vectors in {d} are "
                               "incomplete; remake them") from None
    except (ValueError, RecursionError, EOFError) as exc:
        raise FormatError(f"the packed vectors in {d} are unreadable ({exc}): remake them") from None
    if not isinstance(words, list) or matrix.ndim != 2 or len(words) != matrix.shape[0]:
        raise FormatError(f"the packed vectors in {d} are inconsistent ({len(words)} words, "
                          f"matrix {matrix.shape}): remake them")
    meta = {}
    if (d / PACKED_META).is_file():
        try:
            with open(d / PACKED_META, encoding="utf-8") as f:
                meta = json.load(f)
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"{d / PACKED_META} is unreadable ({exc}): remake it") from None
        if not isinstance(meta, dict):
            raise FormatError(f"{d / PACKED_META} must hold a JSON object: remake it")
    if limit is not None:
        words, matrix = words[:limit], matrix[:limit]
    return Vectors(words, matrix.astype(np.float32), metadata=meta)


def save_packed(vectors, directory, metadata: dict | None = None, dtype=np.float16) -> None:
    """Write ``vectors`` in the packed form (float16 by default), each file atomically."""
    d = pathlib.Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    matrix = np.ascontiguousarray(vectors.vectors, dtype=dtype)
    words = json.dumps(list(vectors.words), ensure_ascii=False, separators=(",", ":"))
    write_atomic(d / PACKED_MATRIX, lambda f: np.save(f, matrix, allow_pickle=False))
    write_atomic(d / PACKED_WORDS, lambda f: f.write(words.encode("utf-8")))
    write_json(d / PACKED_META, dict(metadata or vectors.metadata or {}))


def load_vectors(path=None, given_as: str = "--vectors"):
    """Load the vectors :func:`find_vectors` picks: packed directories here, files with
    :func:`embedkit.load` (every word2vec/GloVe/fastText/native format).

    Returns
    -------
    (Vectors, path)
    """
    path, source = find_vectors(path, given_as)
    log.debug("vectors from %s: %s", source, path)
    if is_packed(path):
        return load_packed(path), path
    from embedkit.vectors.loader import load

    return load(path), path
