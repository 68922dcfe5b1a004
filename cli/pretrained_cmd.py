"""``embedkit vectors``: list the pretrained vector sets and download them by name."""

from __future__ import annotations

from pathlib import Path

import click

from embedkit._io import format_bytes


def _human(n) -> str:
    return format_bytes(n, si=True)


@click.group("vectors")
def vectors():
    """List pretrained vectors (GloVe, word2vec, fastText, ...) and download them by name.

    \b
    A name works wherever vectors are accepted:
      embedkit similar --vectors glove-wiki-gigaword-100 king
      EMBEDKIT_VECTORS=default embedkit similar france
      python -c 'import embedkit; embedkit.load("glove-wiki-gigaword-100")'
    The first use downloads the set (resumable, verified against its published size and
    checksum where one is published) into vectors/NAME/ under the user cache directory
    ($EMBEDKIT_CACHE, else $XDG_CACHE_HOME/embedkit, else ~/.cache/embedkit) and converts it
    once to .ekv; later loads are memory-mapped opens.
    """


_cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Cache root (default: $EMBEDKIT_CACHE, $XDG_CACHE_HOME/embedkit or ~/.cache/embedkit).")


@vectors.command("list")
@_cache_dir_option
def list_command(cache_dir):
    """Show every name: download size, dimensions, words, whether it is here, checks.

    \b
    'here' is 'yes' when the set is downloaded and converted (or shipped: `default`);
    'checks' names the published checksums a download is verified with ('none': no
    checksum is published, the download is unverified and says so).
    """
    from embedkit.vectors.pretrained import list_pretrained

    rows = []
    for p in list_pretrained(cache_dir):
        rows.append((p.name, "shipped" if p.name == "default" else _human(p.size),
                     str(p.dim or "?"), f"{p.count:,}" if p.count else "?",
                     "yes" if p.cached else "no", ", ".join(p.verified_by) or "none",
                     p.description))
    header = ("name", "download", "dim", "words", "here", "checks", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(6)]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(6)]
        desc = row[6] if len(row[6]) <= 60 else row[6][:57].rstrip() + "..."
        click.echo("  ".join(cells) + "  " + desc)


@vectors.command("download")
@click.argument("name")
@_cache_dir_option
@click.option("--mirror", metavar="URL", default=None,
              help="Base URL serving the same file names (default: $EMBEDKIT_VECTORS_MIRROR, "
                   "else the registry's URL).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Seconds to wait for the server.")
@click.option("--keep-download", is_flag=True,
              help="Keep the downloaded file after converting it to .ekv.")
def download_command(name, cache_dir, mirror, timeout, keep_download):
    """Download pretrained vectors NAME (once), verify, convert to .ekv, print its path."""
    from embedkit.vectors.pretrained import download

    path = download(name, cache_dir=cache_dir, mirror=mirror, timeout=timeout,
                    keep_download=keep_download)
    click.echo(str(path))
