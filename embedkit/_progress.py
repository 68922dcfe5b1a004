"""Progress bars shared by every long-running job (training, counting, encoding)."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

_ENABLED = True


def set_progress(enabled: bool) -> None:
    """Turn every embedkit progress bar on or off (the CLI's ``--quiet`` turns them off)."""
    global _ENABLED
    _ENABLED = bool(enabled)


def progress_enabled() -> bool:
    """Whether progress bars are shown."""
    return _ENABLED


def progress_bar(total=None, desc: str = "", unit: str = "it", disable: bool | None = None, **kwargs):
    """A ``tqdm`` bar on stderr, disabled when progress is off or ``disable`` is true."""
    if disable is None:
        disable = not _ENABLED
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, file=sys.stderr,
                dynamic_ncols=True, smoothing=0.1, **kwargs)
