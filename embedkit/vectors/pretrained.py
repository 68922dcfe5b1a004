"""Pretrained vectors by name: ``embedkit.load("glove-wiki-gigaword-100")``.

The registry is ``pretrained.json`` beside this module: every set's URL, and its size and
checksums with the public source of each figure (``null`` where none is published; the
download then says what it cannot verify).  A download goes through the corpus downloader
(:func:`embedkit.corpus.download.fetch`: resumable, verified, renamed into place only when
complete), is converted once to a native ``.ekv`` directory in the cache, and every later
load is a memory-mapped open.

``default`` names the vectors shipped inside the package.

Two environment variables adjust the registry, as for corpora:

``EMBEDKIT_VECTORS_MIRROR``
    a base URL serving the same file names, used instead of each entry's own URL (the
    registry's sizes and checksums are still checked).
``EMBEDKIT_VECTORS_REGISTRY``
    a JSON file of further entries in the same form (its ``vectors`` object); an entry there
    replaces the built-in one of the same name.

The cache is ``vectors/<name>/`` under the user cache directory (``$EMBEDKIT_CACHE``, else
``$XDG_CACHE_HOME/embedkit``, else ``~/.cache/embedkit``).
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from embedkit.errors import ParameterError

log = logging.getLogger(__name__)

REGISTRY_PATH = Path(__file__).resolve().with_name("pretrained.json")
MIRROR_ENV = "EMBEDKIT_VECTORS_MIRROR"
REGISTRY_ENV = "EMBEDKIT_VECTORS_REGISTRY"
DEFAULT_NAME = "default"
EKV_SUFFIX = ".ekv"


@dataclass(frozen=True)
class PretrainedInfo:
    """One named vector set and whether it is on this machine.

    Attributes
    ----------
    name, description, licence, homepage : str
    dim, count : int or None
        Dimensions and number of words, as published (None when not published).
    size : int or None
        Bytes to download; None when not published.
    verified_by : tuple of str
        Checks a download passes (``('md5',)``); empty when no checksum is published.
    cached : bool
        Converted and ready (a load is a memory-mapped open).
    path : pathlib.Path
        The ``.ekv`` directory (or the packaged directory for ``default``).
    """

    name: str
    description: str
    licence: str
    homepage: str
    dim: int | None
    count: int | None
    size: int | None
    verified_by: tuple[str, ...]
    cached: bool
    path: Path


def vectors_cache_dir(cache_dir=None) -> Path:
    """``<cache_dir or user cache>/vectors``."""
    from embedkit._cache import user_cache_dir

    return (Path(cache_dir).expanduser() if cache_dir is not None else user_cache_dir()) / "vectors"


def registry() -> dict[str, dict]:
    """Every registry entry by name (the built-in file, then ``$EMBEDKIT_VECTORS_REGISTRY``)."""
    from embedkit.corpus.registry import merged_registry

    return merged_registry(REGISTRY_PATH, key="vectors", what="vectors", env=REGISTRY_ENV)


def is_name(text) -> bool:
    """Whether ``text`` names a pretrained set (``default`` or a registry entry)."""
    if not isinstance(text, str) or os.sep in text or "/" in text:
        return False
    return text == DEFAULT_NAME or text in registry()


def _entry(name: str) -> dict:
    reg = registry()
    if name not in reg:
        close = difflib.get_close_matches(str(name), list(reg) + [DEFAULT_NAME], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ParameterError(f"unknown pretrained vectors {name!r}.{hint} See `embedkit vectors "
                             "list` for the names")
    return reg[name]


def _source(name: str, entry: dict, mirror: str | None):
    from embedkit.corpus.registry import entry_source

    return entry_source(name, entry, mirror, what="vectors")


def ekv_path(name: str, cache_dir=None) -> Path:
    """Where the converted vectors of ``name`` live (whether or not they exist yet)."""
    if name == DEFAULT_NAME:
        from embedkit.vectors.default import default_vectors_dir

        return default_vectors_dir()
    return vectors_cache_dir(cache_dir) / name / (name + EKV_SUFFIX)


def info(name: str, cache_dir=None) -> PretrainedInfo:
    """The :class:`PretrainedInfo` of one name."""
    if name == DEFAULT_NAME:
        from embedkit.vectors.default import default_vectors_dir, has_default_vectors

        return PretrainedInfo(DEFAULT_NAME, "the vectors shipped with embedkit", "see the package",
                              "", None, None, 0, (), has_default_vectors(), default_vectors_dir())
    entry = _entry(name)
    source = _source(name, entry, None)
    path = ekv_path(name, cache_dir)
    from embedkit.vectors.native import is_native

    return PretrainedInfo(name, entry.get("description", ""), entry.get("licence") or "",
                          entry.get("homepage") or "", entry.get("dim"), entry.get("count"),
                          source.size, tuple(source.verified_by), is_native(path), path)


def list_pretrained(cache_dir=None) -> list[PretrainedInfo]:
    """``default`` and every registry entry, in registry order."""
    return [info(DEFAULT_NAME)] + [info(n, cache_dir) for n in registry()]


def download(name: str, cache_dir=None, progress: bool = True, *, mirror: str | None = None,
             timeout: float = 30.0, keep_download: bool = False) -> Path:
    """Download ``name`` (once), verify it, convert it to ``.ekv`` and return that path.

    Parameters
    ----------
    name : str
        A name from :func:`list_pretrained`, e.g. ``"glove-wiki-gigaword-100"``.
    cache_dir : path-like, optional
        Cache root (default: the user cache directory).
    progress : bool
        Progress bars.
    mirror : str, optional
        Base URL with the same file names (default ``$EMBEDKIT_VECTORS_MIRROR``).
    timeout : float
        Seconds to wait for the server.
    keep_download : bool
        Keep the downloaded file after the conversion (default: delete it, the ``.ekv``
        holds everything).

    Returns
    -------
    pathlib.Path
        The ``.ekv`` directory (the packaged directory for ``default``).

    Raises
    ------
    ParameterError
        Unknown name.
    DownloadError, ChecksumError
        As :func:`embedkit.corpus.download.fetch` (run again to resume).
    """
    target = ekv_path(name, cache_dir)
    if name == DEFAULT_NAME:
        return target
    from embedkit.corpus.download import DownloadError, fetch
    from embedkit.vectors.native import is_native

    entry = _entry(name)
    if is_native(target):
        return target
    mirror = mirror if mirror is not None else os.environ.get(MIRROR_ENV)
    source = _source(name, entry, mirror)
    if not source.checksums and not source.unpacked_checksums:
        log.warning("%s: no checksum is published for %s; the download cannot be verified "
                    "(%s)", name, source.filename,
                    (entry.get("citations") or {}).get("checksums", "see the registry"))
    try:
        raw = fetch(source, target.parent, progress=progress, timeout=timeout)
    except DownloadError as exc:  # the downloader names the corpus mirror variable
        raise type(exc)(str(exc).replace("EMBEDKIT_CORPUS_MIRROR", MIRROR_ENV)) from None
    from embedkit.vectors.loader import load, save

    log.info("%s: converting %s to %s (once)", name, raw.name, target)
    vectors = load(raw, format=entry.get("format"))
    vectors.metadata.update(pretrained=name, url=source.url, description=entry.get("description"))
    save(vectors, target, format="native")
    if not keep_download and raw.exists():
        raw.unlink()
    return target


def resolve(path_or_name, cache_dir=None, download_missing: bool = True) -> str:
    """An existing path as given; a pretrained name as the path of its (downloaded) vectors."""
    text = os.fspath(path_or_name)
    if os.path.exists(text) or not is_name(text):
        return text
    if text == DEFAULT_NAME:
        return str(ekv_path(DEFAULT_NAME))
    target = ekv_path(text, cache_dir)
    from embedkit.vectors.native import is_native

    if is_native(target) or not download_missing:
        return str(target)
    return str(download(text, cache_dir))
