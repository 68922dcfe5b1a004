"""Render the command-line reference (``docs/cli.md``) from the click commands themselves.

The page is generated, never edited by hand::

    python -m embedkit.cli.reference --write docs/cli.md

and ``tests/test_docs.py`` fails when the committed page differs from what the commands say.
"""

from __future__ import annotations

import inspect
import sys

import click

HEADER = """\
# Command-line reference

Generated from the click commands by `python -m embedkit.cli.reference --write docs/cli.md`;
do not edit by hand (a test fails when this page is stale). `embedkit COMMAND --help` prints
the same text.
"""


def _option_row(ctx: click.Context, param: click.Parameter) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    if isinstance(param, click.Option) and param.is_flag:
        kind = "flag"
    else:
        kind = param.make_metavar(ctx) if isinstance(param, click.Option) else param.type.name
        if isinstance(param.type, click.Choice):
            kind = " | ".join(str(c) for c in param.type.choices)
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = ""
    value = param.default
    if isinstance(param, click.Option) and param.is_flag:
        default = "on" if value is True else ""
    elif (isinstance(param, click.Option) and value is not None and not callable(value)
          and value != () and type(value).__name__ != "Sentinel"):
        default = f"`{value}`"
    cells = [names, kind, default, help_text]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _help_lines(text: str) -> list[str]:
    """Help text as Markdown: ``\\b`` paragraphs (kept verbatim by click) become code blocks."""
    out = []
    for para in inspect.cleandoc(text).split("\n\n"):
        para = para.strip("\n")
        if para.startswith("\b"):
            body = para[2:].strip("\n")
            out += ["```", *body.splitlines(), "```", ""]
        elif para:
            out += [" ".join(para.split()), ""]
    return out


def _render_command(lines: list[str], cmd: click.Command, path: list[str],
                    parent: click.Context | None) -> None:
    name = " ".join(path)
    ctx = click.Context(cmd, info_name=path[-1], parent=parent)
    lines.append(f"{'#' * min(len(path) + 1, 4)} `{name}`")
    lines.append("")
    pieces = " ".join(cmd.collect_usage_pieces(ctx))
    lines.append("```")
    lines.append(f"{name} {pieces}".rstrip())
    lines.append("```")
    lines.append("")
    if cmd.help:
        lines.extend(_help_lines(cmd.help))
    options = [p for p in cmd.get_params(ctx)
               if isinstance(p, click.Option) and not p.hidden and "--help" not in p.opts]
    arguments = [p for p in cmd.get_params(ctx) if isinstance(p, click.Argument)]
    if arguments:
        lines.append("Arguments: " + ", ".join(f"`{a.make_metavar(ctx)}`" for a in arguments))
        lines.append("")
    if options:
        lines.append("| option | value | default | description |")
        lines.append("|---|---|---|---|")
        lines.extend(_option_row(ctx, p) for p in options)
        lines.append("")
    if isinstance(cmd, click.Group):
        for sub in cmd.list_commands(ctx):
            sub_cmd = cmd.get_command(ctx, sub)
            if sub_cmd is not None and not sub_cmd.hidden:
                _render_command(lines, sub_cmd, [*path, sub], ctx)


def render_markdown() -> str:
    """Return the whole command-line reference as Markdown.

    Returns
    -------
    str
        One section per command and sub-command, in the order ``--help`` lists them:
        usage line, help text, arguments and a table of options with their defaults.
    """
    from embedkit.cli.main import cli

    lines = [HEADER]
    _render_command(lines, cli, ["embedkit"], None)
    return "\n".join(lines).rstrip() + "\n"


@click.command()
@click.option("--write", "path", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write the reference to FILE instead of standard output.")
def _main(path):
    """Print (or write) the Markdown command-line reference."""
    text = render_markdown()
    if path is None:
        sys.stdout.write(text)
        return
    from embedkit._atomic import atomic_file  # noqa: PLC0415 (only needed here)

    with atomic_file(path, "w") as fh:
        fh.write(text)


if __name__ == "__main__":  # pragma: no cover
    _main()
