"""Root ``embedkit`` group: global options, lazy command loading, error handling."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from embedkit._version import __version__

# command name -> "module:attribute" (relative to embedkit.cli); imported on first use.
COMMANDS: dict[str, str] = {
    "evaluate": "evaluate_cmd:evaluate_cmd",
    "corpora": "corpora_cmd:corpora",
    "corpus": "corpus_cmd:corpus",
    "convert": "vectors_cmd:convert",
    "info": "vectors_cmd:info",
    "validate": "vectors_cmd:validate",
    "vectors": "pretrained_cmd:vectors",
    "train": "train:train",
    "analogy": "query:analogy",
    "similar": "query:similar",
    "similarity": "query:similarity",
    "index": "index_cmd:index",
    "sentiment": "sentiment:sentiment",
    "ner": "ner:ner",
    "bleu": "bleu_cmd:bleu_cmd",
    "lm": "lm_cmd:lm",
    "seq2seq": "seq2seq_cmd:seq2seq",
}

log = logging.getLogger("embedkit")


class LazyGroup(click.Group):
    """A group whose sub-commands are imported only when listed in help or invoked."""

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
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise
        except EmbedkitError as exc:
            log.debug("traceback", exc_info=True)
            raise click.ClickException(str(exc)) from None
        except MemoryError:
            raise click.ClickException(
                "out of memory: lower --dim, raise --min-count or use a smaller vocabulary") from None
        except OSError as exc:  # disk full, permission denied, ...
            log.debug("traceback", exc_info=True)
            what = f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
            raise click.ClickException(what) from None


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
