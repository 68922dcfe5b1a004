"""``embedkit cache``: list and clear the encoded-corpus cache."""

from __future__ import annotations

import time

import click

from embedkit._io import format_bytes
from embedkit.cli._base import cache_dir_option


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
@cache_dir_option
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
        click.echo(f"{e['key']}  {format_bytes(e['bytes']):>10}  {used}  {e['source'] or '?'}")
    total = sum(e["bytes"] for e in rows)
    click.echo(f"{len(rows)} encodings, {format_bytes(total)} in {root} "
               f"(bound {format_bytes(_cache.cache_limit())})")


@cache.command("clear")
@cache_dir_option
def clear_command(cache_dir):
    """Remove every cached encoding (they are rebuilt on the next use)."""
    from embedkit import _cache
    from embedkit.corpus.encode import cache_root

    root = cache_root(cache_dir)
    n, size = _cache.clear(root)
    click.echo(f"removed {n} cached encodings ({format_bytes(size)}) from {root}")
