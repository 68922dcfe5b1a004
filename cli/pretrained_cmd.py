"""``embedkit vectors``: list the pretrained vector sets and download them by name."""

from __future__ import annotations

import click

from embedkit.cli._base import cache_dir_option, download_options, echo_table, human_bytes


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


@vectors.command("list")
@cache_dir_option
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
        rows.append((p.name, "shipped" if p.name == "default" else human_bytes(p.size),
                     str(p.dim or "?"), f"{p.count:,}" if p.count else "?",
                     "yes" if p.cached else "no", ", ".join(p.verified_by) or "none",
                     p.description))
    header = ("name", "download", "dim", "words", "here", "checks", "description")
    echo_table(header, rows, desc_width=60)


@vectors.command("download")
@download_options("EMBEDKIT_VECTORS_MIRROR")
@click.option("--keep-download", is_flag=True,
              help="Keep the downloaded file after converting it to .ekv.")
def download_command(name, cache_dir, mirror, timeout, keep_download):
    """Download pretrained vectors NAME (once), verify, convert to .ekv, print its path."""
    from embedkit.vectors.pretrained import download

    path = download(name, cache_dir=cache_dir, mirror=mirror, timeout=timeout,
                    keep_download=keep_download)
    click.echo(str(path))
