"""Registries of downloadable data, shared by the corpora (``embedkit.corpora``) and the
pretrained vectors (:mod:`embedkit.vectors.pretrained`).

A registry is a JSON file holding one object (``"corpora"`` or ``"vectors"``) that maps each
name to an entry: its URL, and its sizes and checksums where published.  An environment
variable may name a second file of entries in the same form, which extend or replace the
built-in ones.  An entry becomes a download :class:`~embedkit.corpus.download.Source`, its
URL optionally replaced by a mirror serving the same file names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from embedkit.corpus.download import NAME_PATTERN, Source
from embedkit.errors import FormatError, MissingFileError


def read_registry(path, *, key: str, what: str, env: str, check_names: bool = False) -> dict:
    """The entries of one registry file, checked.

    Parameters
    ----------
    path : path-like
        The JSON file.
    key : str
        The object holding the entries (``"corpora"``, ``"vectors"``).
    what : str
        What the registry lists, for messages (``"corpus"``, ``"vectors"``).
    env : str
        The environment variable that can name this file, for messages.
    check_names : bool
        Refuse names that are not identifiers (a name is a directory of the cache).

    Raises
    ------
    MissingFileError, FormatError
        Naming the file and the fix.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingFileError(f"{what} registry {path} does not exist; fix {env} or "
                               "unset it") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{what} registry {path} is not valid JSON ({exc}); fix the file") from None
    entries = data.get(key) if isinstance(data, dict) else None
    if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
        raise FormatError(f"{what} registry {path} must hold an object '{key}' mapping each "
                          "name to an entry object")
    if check_names:
        for name in entries:  # a name is a directory of the cache: never a path
            if not NAME_PATTERN.fullmatch(name) or ".." in name:
                raise FormatError(f"{what} registry {path}: the name {name!r} is not an "
                                  "identifier (letters, digits, '.', '_' and '-'; it names a "
                                  "cache directory)")
    return entries


def merged_registry(path, *, key: str, what: str, env: str, check_names: bool = False) -> dict:
    """The built-in registry ``path`` updated by the file ``$env`` names, if set."""
    options = dict(key=key, what=what, env=env, check_names=check_names)
    reg = dict(read_registry(path, **options))
    extra = os.environ.get(env)
    if extra:
        reg.update(read_registry(Path(extra).expanduser(), **options))
    return reg


def entry_source(name: str, entry: dict, mirror: str | None, *, what: str) -> Source:
    """The download :class:`Source` of registry entry ``name``; ``mirror`` (a base URL with
    the same file names) replaces the entry's URL.  A missing ``url`` raises
    :class:`FormatError`."""
    try:
        url = entry["url"]
    except KeyError as exc:
        raise FormatError(f"{what} registry entry {name!r} has no {exc.args[0]!r}; add it") from None
    filename = entry.get("filename") or Path(url.split("?")[0]).name
    if mirror:
        url = mirror.rstrip("/") + "/" + filename
    return Source(name=name, url=url, filename=filename, size=entry.get("size"),
                  checksums=entry.get("checksums") or {}, archive=entry.get("archive"),
                  member=entry.get("member"), output=entry.get("output"),
                  unpacked_size=entry.get("unpacked_size"),
                  unpacked_checksums=entry.get("unpacked_checksums") or {},
                  max_size=entry.get("max_size"),
                  max_unpacked_size=entry.get("max_unpacked_size"))
