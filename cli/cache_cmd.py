"""``embedkit cache``: list and clear the encoded-corpus cache."""

from __future__ import annotations

import time
from pathlib import Path

import click

from embedkit._io import format_bytes

_cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Cache root (default: $EMBEDKIT_CACHE, $XDG_CACHE_HOME/embedkit or ~/.cache/embedkit).")


_human = format_bytes  # (also used by the corpora and vectors commands)


@click.group("cache")
def cache():
    """Show or empty the cache of encoded corpora.

    \b
    `embedkit train` encodes a corpus once and keeps the result under encoded/ in the
    cache directory ($EMBEDKIT_CACHE, else $XDG_CACHE_HOME/embedkit, else
    ~/.cache/embedkit).  The least recently used encodings are removed when the total
    passes $EMBEDKIT_CACHE_MAX (default 20G).  Downloaded corpora are not touched.

    \b
    Examples:
      embedkit cache list
      embedkit cache clear
    """


@cache.command("list")
@_cache_dir_option
def list_command(cache_dir):
    """List the cached encodings, least recently used first: key, size, last use, source."""
    from embedkit import _cache
    from embedkit.corpus.encode import cache_root

    root = cache_root(cache_dir)
    rows = _cache.entries(root)
    if not rows:
        click.echo(f"no cached encodings in {root}")
        return
    for e in rows:
        used = time.strftime("%Y-%m-%d %H:%M", time.localtime(e["last_used"]))
        click.echo(f"{e['key']}  {_human(e['bytes']):>10}  {used}  {e['source'] or '?'}")
    total = sum(e["bytes"] for e in rows)
    click.echo(f"{len(rows)} encodings, {_human(total)} in {root} "
               f"(bound {_human(_cache.cache_limit())})")


@cache.command("clear")
@_cache_dir_option
def clear_command(cache_dir):
    """Remove every cached encoding (they are rebuilt on the next use)."""
    from embedkit import _cache
    from embedkit.corpus.encode import cache_root

    root = cache_root(cache_dir)
    n, size = _cache.clear(root)
    click.echo(f"removed {n} cached encodings ({_human(size)}) from {root}")
