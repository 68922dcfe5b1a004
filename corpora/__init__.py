"""Corpora that ship with embedkit or that it can download (installed as ``embedkit.corpora``).

>>> from embedkit.corpora import default_corpus_path, list_corpora, download
>>> default_corpus_path().name
'classics_small.txt.xz'
>>> [c.name for c in list_corpora()][:2]
['classics_small', 'text8']
>>> download("text8")                     # doctest: +SKIP
PosixPath('/home/me/.cache/embedkit/corpora/text8/text8')

The registry is ``registry.json`` beside this file: every size and checksum in it names the
public source it was taken from.  Two environment variables adjust it:

``EMBEDKIT_CORPUS_MIRROR``
    a base URL that serves the same file names (``$MIRROR/text8.zip``); used instead of each
    entry's own URL.  The files are still checked against the registry's sizes and checksums.
``EMBEDKIT_CORPUS_REGISTRY``
    a JSON file of further entries, in the same form as ``registry.json`` (its ``corpora``
    object); an entry there replaces the built-in one of the same name.

Downloads go to ``corpora/<name>/`` under the user cache directory (``$EMBEDKIT_CACHE``, else
``$XDG_CACHE_HOME/embedkit``, else ``~/.cache/embedkit``).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

from embedkit.corpus.download import (ChecksumError, DownloadError, Source, fetch, is_cached,
                                      user_cache_dir)
from embedkit.corpus.registry import entry_source, merged_registry
from embedkit.errors import MissingFileError, ParameterError

__all__ = [
    "CorpusInfo",
    "DownloadError",
    "ChecksumError",
    "DEFAULT_CORPUS",
    "default_corpus_path",
    "list_corpora",
    "corpus_info",
    "download",
    "corpora_cache_dir",
]

_HERE = Path(__file__).resolve().parent
REGISTRY_PATH = _HERE / "registry.json"
DEFAULT_CORPUS = "classics_small"
MIRROR_ENV = "EMBEDKIT_CORPUS_MIRROR"
REGISTRY_ENV = "EMBEDKIT_CORPUS_REGISTRY"


@dataclass(frozen=True)
class CorpusInfo:
    """One corpus of the registry, and whether it is on this machine.

    Attributes
    ----------
    name, description, licence, homepage : str
        What the corpus is and where it comes from.
    builtin : bool
        Shipped inside the package (no download).
    size : int or None
        Bytes to download (the packed size for the built-in corpus); None if not published.
    unpacked_size : int or None
        Bytes of the corpus file once unpacked; None if not published.
    verified_by : tuple of str
        The checks a download passes, e.g. ``('sha256', 'sha1', 'unpacked sha1')``; empty
        when no checksum is published (the download then warns that it is unverified).
    cached : bool
        Ready to use without a download.
    path : pathlib.Path
        Where the corpus file is, or will be once downloaded.
    """

    name: str
    description: str
    licence: str
    homepage: str
    builtin: bool
    size: int | None
    unpacked_size: int | None
    verified_by: tuple[str, ...]
    cached: bool
    path: Path


def default_corpus_path() -> Path:
    """Path of the built-in corpus (``classics_small.txt.xz``, xz-compressed UTF-8 text).

    7 public-domain books, one paragraph per line, 0.9 M tokens; the corpus of
    ``embedkit train`` when none is given.  embedkit's readers open ``.xz`` directly.
    """
    entry = _registry()[DEFAULT_CORPUS]
    path = _HERE / entry["file"]
    if not path.is_file():
        raise MissingFileError(f"the built-in corpus {path} is missing from the installation; "
                               "reinstall embedkit (pip install --force-reinstall embedkit)")
    return path


def corpora_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Directory that holds downloaded corpora: ``<cache_dir or user cache>/corpora``."""
    return (Path(cache_dir).expanduser() if cache_dir is not None else user_cache_dir()) / "corpora"


def list_corpora(cache_dir: str | os.PathLike | None = None) -> list[CorpusInfo]:
    """Every corpus in the registry, in registry order (the built-in one first).

    Parameters
    ----------
    cache_dir : path-like, optional
        Cache root to look in (default: the user cache directory).
    """
    reg = _registry()
    names = sorted(reg, key=lambda n: not reg[n].get("builtin", False))  # stable: file order
    return [corpus_info(n, cache_dir) for n in names]


def corpus_info(name: str, cache_dir: str | os.PathLike | None = None) -> CorpusInfo:
    """The :class:`CorpusInfo` of one corpus; unknown names raise :class:`ParameterError`."""
    entry = _entry(name)
    if entry.get("builtin"):
        path = _HERE / entry["file"]
        verified = tuple(a for a in ("sha256", "sha1", "md5") if a in entry.get("checksums", {}))
        return CorpusInfo(name, entry.get("description", ""), entry.get("licence", ""),
                          entry.get("homepage", ""), True, entry.get("size"),
                          entry.get("unpacked_size"), verified, path.is_file(), path)
    source = _source(name, entry, mirror=None)
    directory = corpora_cache_dir(cache_dir) / name
    return CorpusInfo(name, entry.get("description", ""), entry.get("licence", ""),
                      entry.get("homepage", ""), False, source.size, source.unpacked_size,
                      tuple(source.verified_by), is_cached(source, directory),
                      directory / source.target)


def download(name: str, cache_dir: str | os.PathLike | None = None, progress: bool = True, *,
             mirror: str | None = None, timeout: float = 30.0,
             deadline: float | None = None) -> Path:
    """Download a corpus of the registry (once) and return the path of its text file.

    The file goes to ``corpora/<name>/`` under ``cache_dir`` (default: the user cache
    directory).  An interrupted download resumes; the result is checked against the
    registry's sizes and checksums before it is put in place; archives are unpacked.  The
    built-in corpus needs no download: its path is returned.

    Parameters
    ----------
    name : str
        A name from :func:`list_corpora`, e.g. ``"text8"``.
    cache_dir : path-like, optional
        Cache root (default ``$EMBEDKIT_CACHE``, ``$XDG_CACHE_HOME/embedkit`` or
        ``~/.cache/embedkit``).
    progress : bool
        Show a progress bar.
    mirror : str, optional
        Base URL serving the same file names; default ``$EMBEDKIT_CORPUS_MIRROR``, else the
        registry's URL.
    timeout : float
        Seconds to wait for the server.
    deadline : float, optional
        Seconds the whole download may take (see :func:`embedkit.corpus.download.fetch`).

    Returns
    -------
    pathlib.Path
        The corpus file.

    Raises
    ------
    ParameterError
        Unknown name (the message lists the known ones).
    DownloadError
        Network or server failure (run again to resume).
    ChecksumError
        The file differs from the published one (it is deleted).
    """
    entry = _entry(name)
    if entry.get("builtin"):
        return default_corpus_path() if name == DEFAULT_CORPUS else _HERE / entry["file"]
    source = _source(name, entry, mirror if mirror is not None else os.environ.get(MIRROR_ENV))
    return fetch(source, corpora_cache_dir(cache_dir) / name, progress=progress, timeout=timeout,
                 deadline=deadline)


# -- registry ------------------------------------------------------------------------------

def _registry() -> dict[str, dict]:
    return merged_registry(REGISTRY_PATH, key="corpora", what="corpus", env=REGISTRY_ENV,
                           check_names=True)


def _entry(name: str) -> dict:
    reg = _registry()
    if not isinstance(name, str) or name not in reg:
        close = difflib.get_close_matches(str(name), list(reg), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"unknown corpus {name!r}.{hint} Known corpora: "
                             f"{', '.join(sorted(reg))} (see `embedkit corpora list`)")
    return reg[name]


def _source(name: str, entry: dict, mirror: str | None) -> Source:
    return entry_source(name, entry, mirror, what="corpus")
