"""Where embedkit caches things (downloaded corpora, encoded corpora), and the cache's bound.

Encoded corpora live in ``<cache>/encoded/<key>/``; each entry is a directory embedkit
wrote (its name is a 24-digit hex key and it holds ``info.json``).  The encoded cache is
bounded: after a new entry is written, the least recently used entries are removed until
the total is at most :func:`cache_limit` bytes (``$EMBEDKIT_CACHE_MAX``, default 20G).
Only directories that are recognisably entries are ever removed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 20 << 30
_KEY = re.compile(r"[0-9a-f]{24}")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*", re.I)
_STALE_TEMP_SECONDS = 24 * 3600


def user_cache_dir() -> Path:
    """embedkit's cache directory.

    ``$EMBEDKIT_CACHE`` if set, else ``$XDG_CACHE_HOME/embedkit``, else ``~/.cache/embedkit``.
    The directory is not created.
    """
    env = os.environ.get("EMBEDKIT_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "embedkit"
    return Path.home() / ".cache" / "embedkit"


def parse_size(text) -> int:
    """Bytes from ``"500M"``, ``"20G"``, ``"1.5T"`` or a plain number."""
    from embedkit.errors import ParameterError

    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    m = _SIZE.fullmatch(str(text))
    if not m:
        raise ParameterError(f"cache size must be a byte count such as 500M or 20G, got {text!r}")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def cache_limit() -> int:
    """The encoded-corpus cache bound in bytes (``$EMBEDKIT_CACHE_MAX``, default 20G)."""
    env = os.environ.get("EMBEDKIT_CACHE_MAX")
    return parse_size(env) if env else DEFAULT_LIMIT


def is_entry(path: Path) -> bool:
    """Whether ``path`` is a cache entry embedkit wrote (hex key name, ``info.json``)."""
    return (_KEY.fullmatch(path.name) is not None and path.is_dir()
            and not path.is_symlink() and (path / "info.json").is_file())


def _dir_bytes(path: Path) -> int:
    total = 0
    for p in path.rglob("*"):
        try:
            st = p.lstat()
        except OSError:
            continue
        if not p.is_symlink() and p.is_file():
            total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
    return total


def touch(entry: Path) -> None:
    """Mark a cache entry as just used (its directory's mtime is its last use)."""
    try:
        os.utime(entry)
    except OSError:  # a read-only cache still works
        pass


def entries(root: Path) -> list[dict]:
    """The entries under ``root``, least recently used first.

    Each is a dict: ``path``, ``key``, ``bytes``, ``last_used`` (epoch seconds), ``source``.
    """
    import json

    root = Path(root)
    out = []
    if not root.is_dir():
        return out
    for p in root.iterdir():
        if not is_entry(p):
            continue
        try:
            with open(p / "info.json", encoding="utf-8") as f:
                info = json.load(f)
            source = info.get("source") if isinstance(info, dict) else None
        except (OSError, ValueError, RecursionError):
            source = None
        out.append({"path": p, "key": p.name, "bytes": _dir_bytes(p),
                    "last_used": p.stat().st_mtime, "source": source})
    out.sort(key=lambda e: e["last_used"])
    return out


def evict(root: Path, keep: Path | None = None, limit: int | None = None) -> list[Path]:
    """Remove least recently used entries of ``root`` until they total <= ``limit`` bytes.

    ``keep`` (the entry just written or opened) is never removed; unfinished temporary
    directories (``.<key>-*``) older than a day are removed too.  Returns what was removed.
    """
    root = Path(root)
    limit = cache_limit() if limit is None else limit
    removed = []
    if not root.is_dir():
        return removed
    now = time.time()
    for p in root.iterdir():  # leftovers of killed encodings
        if p.name.startswith(".") and _KEY.fullmatch(p.name[1:25] or "") and p.is_dir() \
                and not p.is_symlink() and now - p.stat().st_mtime > _STALE_TEMP_SECONDS:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    all_entries = entries(root)
    total = sum(e["bytes"] for e in all_entries)
    for e in all_entries:
        if total <= limit:
            break
        if keep is not None and e["path"] == Path(keep):
            continue
        shutil.rmtree(e["path"], ignore_errors=True)
        total -= e["bytes"]
        removed.append(e["path"])
        log.info("cache: removed the least recently used encoding %s (%s, %d bytes) to stay "
                 "under %d bytes ($EMBEDKIT_CACHE_MAX)", e["path"].name, e["source"],
                 e["bytes"], limit)
    return removed


def clear(root: Path) -> tuple[int, int]:
    """Remove every entry of ``root``; returns ``(entries, bytes)`` removed."""
    n = size = 0
    for e in entries(root):
        shutil.rmtree(e["path"], ignore_errors=True)
        n += 1
        size += e["bytes"]
    return n, size
