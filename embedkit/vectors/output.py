"""Checks made *before* any long work that writes vectors (training, conversion).

A run that trains for hours and then fails on the output name throws the hours away, so
every writer resolves and checks its output first: :func:`check_output` raises the same
error the final write would raise, at once.
"""

from __future__ import annotations

import os
import pathlib

from embedkit.errors import MissingFileError, ParameterError

__all__ = ["check_output", "check_output_dir"]

_EXTENSIONS = ".ekv (native), .bin (word2vec binary), .txt or .vec (word2vec text)"


def _check_parent(path: pathlib.Path) -> None:
    parent = path.absolute().parent
    if not parent.is_dir():
        raise MissingFileError(f"cannot write {path}: directory {parent} does not exist "
                               "(create it first)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ParameterError(f"cannot write {path}: no permission to create files in "
                             f"{parent}; choose another directory")


def check_output(path, format=None) -> str:
    """Check that vectors can be written to ``path``, and return the format to use.

    Parameters
    ----------
    path : str or path-like
        Where the vectors will go (as for :func:`embedkit.save`).
    format : str, optional
        A format name overriding the extension (``word2vec-text``, ``word2vec-binary``,
        ``glove``, ``fasttext``, ``native`` or an alias such as ``bin``).

    Returns
    -------
    str
        The canonical format name.

    Raises
    ------
    ParameterError
        The format is unknown or cannot be told from the name, the combination cannot be
        written (a compressed native directory), the path is a directory where a file is
        expected (or a foreign file or directory where a native directory would go), or
        the directory is not writable.
    MissingFileError
        The directory the output goes in does not exist.

    Examples
    --------
    >>> from embedkit.vectors.output import check_output
    >>> check_output("vectors.txt.gz")                                   # doctest: +SKIP
    'word2vec-text'
    """
    from embedkit.vectors._files import strip_compression
    from embedkit.vectors.formats import canonical_format, format_from_extension

    if path is None or str(path) == "":
        raise ParameterError("an output path is needed, e.g. vectors.bin")
    path = pathlib.Path(os.fspath(path))
    if format is None:
        fmt = format_from_extension(path)
        if fmt is None:
            raise ParameterError(
                f"cannot tell the format from the name {path.name!r}: end it with "
                f"{_EXTENSIONS}, or choose the format explicitly")
    else:
        fmt = canonical_format(format)
    if fmt == "fasttext-bin":
        raise ParameterError("embedkit reads fastText .bin models but does not write them: "
                             "save to a .ekv directory, which keeps the n-gram vectors")
    compression = strip_compression(path.name)[1]
    if fmt == "native":
        if compression:
            raise ParameterError(
                f"cannot write {path}: native vectors are a directory and cannot be "
                f"compressed with .{compression}; drop the .{compression} suffix or choose a "
                "file format (word2vec-text, word2vec-binary, glove, fasttext)")
        if path.is_file():
            raise ParameterError(f"{path} is a file; the native format is a directory: "
                                 "remove the file or choose another path")
        if path.is_dir():
            from embedkit.vectors.native import is_native

            if not is_native(path) and any(path.iterdir()):
                raise ParameterError(f"{path} is a non-empty directory that is not embedkit "
                                     "vectors; choose another path")
    elif path.is_dir():
        raise ParameterError(f"cannot write {fmt} vectors to {path}: it is a directory; "
                             "choose a file name")
    elif path.exists() and not os.access(path, os.W_OK):
        raise ParameterError(f"cannot write {path}: the file is read-only")
    _check_parent(path)
    return fmt


def check_output_dir(path, *, marker: str | None = None) -> pathlib.Path:
    """Check that a model directory can be written to ``path`` (before training).

    Parameters
    ----------
    path : str or path-like
        The directory to create or replace.
    marker : str, optional
        A file name that marks a directory as one we wrote (e.g. ``model.json``): an
        existing non-empty directory without it is refused, never replaced.

    Returns
    -------
    pathlib.Path
    """
    if path is None or str(path) == "":
        raise ParameterError("an output directory is needed")
    path = pathlib.Path(os.fspath(path))
    if path.is_file():
        raise ParameterError(f"{path} is a file; a model is saved as a directory: remove the "
                             "file or choose another path")
    if path.is_dir() and any(path.iterdir()) and (marker is None
                                                  or not (path / marker).exists()):
        raise ParameterError(f"{path} is a non-empty directory that is not an embedkit model; "
                             "choose another path")
    _check_parent(path)
    return path
