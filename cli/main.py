"""Root ``embedkit`` group: global options, lazy command loading, error handling."""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys

import click

from embedkit._version import __version__
from embedkit.cli._base import SuggestingGroup

# command name -> "module:attribute" (relative to embedkit.cli); imported on first use.
COMMANDS: dict[str, str] = {
    "cache": "cache_cmd:cache",
    "evaluate": "evaluate_cmd:evaluate_cmd",
    "corpora": "corpora_cmd:corpora",
    "corpus": "corpus_cmd:corpus",
    "convert": "vectors_cmd:convert",
    "info": "vectors_cmd:info",
    "validate": "vectors_cmd:validate",
    "vector": "vectors_cmd:vector",
    "vectors": "pretrained_cmd:vectors",
    "train": "train_cmd:train",
    "analogy": "query_cmd:analogy",
    "similar": "query_cmd:similar",
    "similarity": "query_cmd:similarity",
    "index": "index_cmd:index",
    "sentiment": "sentiment_cmd:sentiment",
    "ner": "ner_cmd:ner",
    "bleu": "bleu_cmd:bleu_cmd",
    "lm": "lm_cmd:lm",
    "seq2seq": "seq2seq_cmd:seq2seq",
}

log = logging.getLogger("embedkit")


class LazyGroup(SuggestingGroup):
    """A group whose sub-commands are imported only when listed in help or invoked.

    It is also where every error ends: an :class:`~embedkit.errors.EmbedkitError` is one
    line and exit 1; anything unexpected is one line, "run with -v for details" (the
    traceback only with ``-v``) and exit 1; a closed output pipe ends quietly; Ctrl-C
    exits 130.  See :mod:`embedkit.cli._base` for the exit-code convention.
    """

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(f"embedkit.cli.{module}"), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        from embedkit.errors import EmbedkitError

        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _quiet_broken_pipe()
        except (click.ClickException, click.exceptions.Exit):
            raise
        except (click.Abort, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except EmbedkitError as exc:
            log.debug("traceback", exc_info=True)
            if type(exc).__name__ == "TrainingInterrupted":  # Ctrl-C during training
                click.echo(f"Error: {one_line(exc)}", err=True)
                ctx.exit(130)
            raise click.ClickException(one_line(exc)) from None
        except MemoryError:
            raise click.ClickException(
                "out of memory: lower --dim, raise --min-count or use a smaller vocabulary") from None
        except OSError as exc:  # disk full, permission denied, ...
            log.debug("traceback", exc_info=True)
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            raise click.ClickException(one_line(what)) from None
        except Exception as exc:  # noqa: BLE001 - the last resort: one line, no traceback
            verbose = (ctx.obj or {}).get("verbose")
            if verbose:
                log.error("unexpected error", exc_info=True)
            hint = "" if verbose else " (run with -v for details)"
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {one_line(exc)}{hint}") from None


def one_line(message, limit: int = 600) -> str:
    """``message`` as one printable line: control and undecodable characters escaped,
    newlines folded, and at most ``limit`` characters."""
    text = " ".join(str(message).split("\n"))
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _quiet_broken_pipe() -> None:
    """The reader of our output went away (``| head``): stop quietly, as Unix tools do."""
    try:  # flushing at exit would raise again: point stdout at /dev/null
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        pass  # not a real file (a test runner's buffer): nothing to flush
    raise click.exceptions.Exit(141)  # 128 + SIGPIPE, what a tool killed by the signal returns


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if verbose
                                           else "%(message)s"))
    root = logging.getLogger("embedkit")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="embedkit")
@click.option("-v", "--verbose", count=True, help="More log output (-v: debug, with tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
@click.pass_context
def cli(ctx, verbose, quiet):
    """embedkit: train, load, search and evaluate word embeddings.

    \b
    Examples:
      embedkit train --out vectors.ekv            # skip-gram on the built-in corpus
      embedkit analogy king - man + woman
      embedkit similar france
      embedkit evaluate vectors.ekv

    \b
    Exit codes: 0 success; 1 an error in the input, data or environment (missing or bad
    file, value out of range, unknown word, failed write); 2 the command line cannot be
    parsed (unknown command or option, missing argument); 130 interrupted (Ctrl-C).
    """
    from embedkit._progress import set_progress

    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    ctx.obj["quiet"] = quiet
    _configure_logging(verbose, quiet)
    set_progress(not quiet and sys.stderr.isatty())


def main() -> None:  # console-script entry point
    cli(obj={})


if __name__ == "__main__":  # pragma: no cover
    main()
