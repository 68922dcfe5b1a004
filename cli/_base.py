"""Pieces every ``embedkit`` command module shares: groups that suggest spellings, path
parameters that follow the exit-code convention, JSON output, the ``--cache-dir`` option and
the listing tables of the download commands.

Exit codes (the same for every command):

* 0 -- success;
* 1 -- an error in the input, the data or the environment: a missing or malformed file,
  a value out of range, an unknown word, a failed write, an unexpected internal error;
* 2 -- the command line itself cannot be parsed: an unknown command or option, a missing
  argument, a value of the wrong type or not among the choices (click's convention);
* 130 -- interrupted with Ctrl-C.

A closed output pipe (``embedkit info v.bin | head -1``) ends the command quietly.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import click

from embedkit._io import format_bytes


class SuggestingGroup(click.Group):
    """A group that answers a mistyped sub-command with the closest names ("did you mean")."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else ""
        if (args and not name.startswith("-") and not ctx.resilient_parsing
                and self.get_command(ctx, name) is None):
            names = self.list_commands(ctx)
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
            if not close:  # a prefix: `embedkit ana` -> analogy
                close = [n for n in names if n.startswith(name)][:3]
            hint = (f" Did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else f" Commands: {', '.join(names)}.")
            ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)


class InputPath(click.Path):
    """``click.Path`` for an input that must exist, where a missing file is an error in the
    data (exit 1, like a missing file met later by the library), not a usage error (2)."""

    def __init__(self, *, dir_okay: bool = True, file_okay: bool = True, **kwargs):
        super().__init__(exists=False, dir_okay=dir_okay, file_okay=file_okay, **kwargs)
        self.must_exist = True

    def convert(self, value, param, ctx):
        from embedkit.errors import MissingFileError

        if value != "-" and not os.path.exists(os.fspath(value)):
            what = param.human_readable_name if param is not None else "path"
            raise MissingFileError(f"{what}: {value} does not exist")
        return super().convert(value, param, ctx)


def input_file(**kwargs) -> InputPath:
    """An existing input FILE (or directory when the format is one, e.g. native vectors)."""
    return InputPath(**kwargs)


def echo_json(obj) -> None:
    """Print ``obj`` as one line of JSON (non-ASCII kept as is)."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def stack(*decorators):
    """One decorator applying ``decorators`` as if they were written, in this order, above
    the function (so the options keep this order in ``--help``)."""

    def apply(f):
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return apply


cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Cache root (default: $EMBEDKIT_CACHE, $XDG_CACHE_HOME/embedkit or ~/.cache/embedkit).")


def download_options(mirror_variable: str):
    """NAME, ``--cache-dir``, ``--mirror`` (default: the environment variable
    ``mirror_variable``) and ``--timeout`` of a ``download`` command."""
    return stack(
        click.argument("name"),
        cache_dir_option,
        click.option("--mirror", metavar="URL", default=None,
                     help=f"Base URL serving the same file names (default: ${mirror_variable}, "
                          "else the registry's URL)."),
        click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=30.0,
                     show_default=True, help="Seconds to wait for the server."))


def human_bytes(n) -> str:
    """A download size as people read it (SI units), ``?`` when unknown."""
    return format_bytes(n, si=True)


def echo_table(header: tuple, rows: list, desc_width: int) -> None:
    """Print ``rows`` under ``header`` in left-aligned columns; the last column (a
    description) is not padded, and cut to ``desc_width`` characters."""
    n = len(header) - 1
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(n)]
    for row in [header, *rows]:
        cells = [row[i].ljust(widths[i]) for i in range(n)]
        desc = row[n] if len(row[n]) <= desc_width else row[n][:desc_width - 3].rstrip() + "..."
        click.echo("  ".join(cells) + "  " + desc)
