"""Where embedkit caches things (downloaded corpora, encoded corpora)."""

from __future__ import annotations

import os
from pathlib import Path


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
