"""Attention heat map (matplotlib is an optional extra: ``pip install 'embedkit[plot]'``)."""

from __future__ import annotations

import numpy as np

from embedkit.errors import EmbedkitError


class MissingDependencyError(EmbedkitError, ImportError):
    """An optional dependency is not installed; the message says how to install it."""


def save_attention(path, source_tokens, output_tokens, weights: np.ndarray) -> None:
    """Draw ``weights`` (len(output), len(source)) as a heat map: source tokens across,
    output tokens down; write it to ``path`` (PNG, SVG or PDF by extension)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise MissingDependencyError(
            "drawing attention needs matplotlib: pip install 'embedkit[plot]' "
            "(or pip install matplotlib)") from None
    from embedkit._atomic import atomic_path

    h, w = weights.shape
    fig, ax = plt.subplots(figsize=(max(3, 0.35 * w + 1.5), max(2.5, 0.35 * h + 1.2)))
    ax.imshow(weights, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(w))
    ax.set_xticklabels([t if t.strip() else "␣" for t in source_tokens], rotation=90)
    ax.set_yticks(range(h))
    ax.set_yticklabels(output_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.tight_layout()
    import os
    fmt = os.path.splitext(str(path))[1].lstrip(".").lower() or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    plt.close(fig)
