"""``embedkit corpora``: list the known corpora and download public ones."""

from __future__ import annotations

import click

from embedkit.cli._base import (SuggestingGroup, cache_dir_option, download_options,
                                echo_table, human_bytes)


@click.group("corpora", cls=SuggestingGroup)
def corpora():
    """List the built-in and downloadable corpora, and download them.

    \b
    Downloads go to corpora/NAME/ under the user cache directory ($EMBEDKIT_CACHE, else
    $XDG_CACHE_HOME/embedkit, else ~/.cache/embedkit), resume when interrupted and are
    checked against published checksums before use.

    \b
    Examples:
      embedkit corpora list
      embedkit corpora download text8
      CORPUS=$(embedkit -q corpora download text8)
    """


@corpora.command("list")
@cache_dir_option
def list_command(cache_dir):
    """Show every corpus: name, download size, unpacked size, whether it is here, description.

    \b
    The 'here' column says 'built-in' for the corpus shipped with embedkit, 'yes' for a
    corpus already downloaded and unpacked, 'no' otherwise.  'checks' names the checksums
    a download is verified with ('none' means no published checksum is known).
    """
    from embedkit.corpora import list_corpora

    rows = []
    for c in list_corpora(cache_dir):
        here = "built-in" if c.builtin else ("yes" if c.cached else "no")
        checks = ", ".join(c.verified_by) or "none"
        rows.append((c.name, human_bytes(c.size), human_bytes(c.unpacked_size), here, checks,
                     c.description))
    header = ("name", "download", "unpacked", "here", "checks", "description")
    echo_table(header, rows, desc_width=70)


@corpora.command("download")
@download_options("EMBEDKIT_CORPUS_MIRROR")
def download_command(name, cache_dir, mirror, timeout):
    """Download corpus NAME (once), verify it, unpack it and print its path.

    \b
    An interrupted download resumes where it stopped when run again.  A file that does
    not match its published size or checksum is deleted and reported.  The built-in
    corpus needs no download: its path is printed.
    """
    from embedkit.corpora import download

    path = download(name, cache_dir=cache_dir, mirror=mirror, timeout=timeout)
    click.echo(str(path))
