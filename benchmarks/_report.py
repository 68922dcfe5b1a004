"""What every benchmark script shares: where the data is, and how its results are written.

A benchmark prints its tables and, with ``--markdown PATH``, writes them to a page under
``docs/benchmarks/`` together with the exact command, the date, the machine and the load
average at the start and the end of the run.  The pages are never edited by hand: a page is
a re-run.

Data paths: a script takes its inputs as arguments; defaults are looked up under
``$EMBEDKIT_BENCH_DATA`` (the folder holding ``corpora/``, ``eval/``, ``sentiment/`` and
``ner/``), so nothing in the scripts names a machine-specific directory.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import pathlib
import re
import shlex
import statistics
import sys
import tempfile
import time

__all__ = ["Report", "data_path", "add_markdown_option", "add_defaults", "portable", "timed"]

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def data_path(relative: str) -> str | None:
    """``$EMBEDKIT_BENCH_DATA/relative`` if the variable is set, else None.

    Parameters
    ----------
    relative : str
        A path inside the benchmark data folder, e.g. ``"eval/gensim/questions-words.txt"``.
    """
    root = os.environ.get("EMBEDKIT_BENCH_DATA")
    return os.path.join(root, relative) if root else None


def _places() -> list[tuple[str, str]]:
    """The machine's folders a page must not name, each with its placeholder, longest first
    (so a data folder inside the home folder keeps its own name); symlinked folders are
    listed under both their paths."""
    named = [(os.environ.get("EMBEDKIT_BENCH_DATA"), "$EMBEDKIT_BENCH_DATA"),
             (tempfile.gettempdir(), "$TMPDIR"), (_REPO, "."),
             (os.path.expanduser("~"), "$HOME")]
    places = []
    for root, name in named:
        if not root:
            continue
        for path in dict.fromkeys((os.path.abspath(root), os.path.realpath(root))):
            if path != os.sep:
                places.append((path, name))
    return sorted(places, key=lambda p: -len(p[0]))


def portable(text: str) -> str:
    """``text`` with machine-specific folders replaced by names a reader has.

    The benchmark data folder becomes ``$EMBEDKIT_BENCH_DATA``, the temporary folder
    ``$TMPDIR``, the checkout itself a relative path and the home folder ``$HOME``, so a page
    names no directory of the machine it was measured on.

    Parameters
    ----------
    text : str
        A command line, table cell or note.
    """
    for root, name in _places():
        text = re.sub(re.escape(root) + r"(?![\w.-])", lambda _m, n=name: n, text)
    return text


def add_markdown_option(parser, page: str) -> None:
    """Add ``--markdown PATH`` to an argparse parser (the page this script owns)."""
    parser.add_argument("--markdown", metavar="PATH", nargs="?", const=page, default=None,
                        help=f"also write the results as a Markdown page (default path: {page})")


def add_defaults(parser, **defaults) -> None:
    """Add one ``--name`` option per keyword (``_`` written ``-``, in the order given), with
    that default and parsed as its type: ``add_defaults(p, epochs=3, lr=2e-3)`` is
    ``p.add_argument("--epochs", type=int, default=3)`` and
    ``p.add_argument("--lr", type=float, default=2e-3)``.  Defaults are int, float or str
    (a str option is given no ``type``, as argparse reads strings)."""
    for name, default in defaults.items():
        if type(default) not in (int, float, str):
            raise TypeError(f"--{name}: the default must be an int, float or str, "
                            f"got {default!r}")
        typed = {} if isinstance(default, str) else {"type": type(default)}
        parser.add_argument("--" + name.replace("_", "-"), default=default, **typed)


def timed(fn, repeats: int):
    """``(median seconds of repeats calls of fn, the last call's result)``."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> str:
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        return f"{pages * size / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        return "unknown memory"


def _load() -> str:
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _portable(arg: str) -> str:
    """A command-line argument as the page shows it: shell-quoted, with the machine's
    directories (``$EMBEDKIT_BENCH_DATA``, the temporary directory, the repository, the home
    directory) written as placeholders, so a page names no local path."""
    for prefix, name in _places():
        if arg == prefix or arg.startswith(prefix + os.sep):
            # the placeholder stays unquoted so that a shell expands it
            return name + shlex.quote(arg[len(prefix):]) if arg != prefix else name
        if "=" in arg and arg.split("=", 1)[1].startswith(prefix):
            key, val = arg.split("=", 1)
            return shlex.quote(key + "=") + _portable(val)
    return shlex.quote(arg)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value).replace("|", "\\|")


class Report:
    """Tables and notes of one benchmark run, printed and optionally written as Markdown.

    Parameters
    ----------
    title : str
        The page title, e.g. ``"word2vec training speed against gensim"``.
    """

    def __init__(self, title: str):
        self.title = title
        self.command = "python " + " ".join(_portable(a) for a in sys.argv)
        self.started = _dt.datetime.now(_dt.timezone.utc)
        self.load_start = _load()
        self.sections: list[tuple[str, list[str]]] = []

    def name_folder(self, folder, name: str = "$SCRATCH") -> None:
        """Show ``folder`` as ``name`` in the page's command line (a scratch folder the
        reader chooses, e.g. ``--data $SCRATCH``)."""
        self.command = self.command.replace(_portable(str(folder)), name)

    def scratch_folder(self, folder) -> pathlib.Path:
        """Make ``folder`` (the run's data folder, kept between runs) and show it as
        ``$SCRATCH`` in the page's command line; returns it as a path."""
        path = pathlib.Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        self.name_folder(folder)
        return path

    def table(self, heading: str, header: list[str], rows: list[list]) -> None:
        """Add (and print) a table; ``rows`` hold strings or numbers."""
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
        self.sections.append((heading, lines))
        print(f"\n{heading}\n" + "\n".join(lines), flush=True)

    def lines(self, heading: str, lines: list[str]) -> None:
        """Add (and print) a table already formatted as Markdown lines."""
        self.sections.append((heading, list(lines)))
        print(f"\n{heading}\n" + "\n".join(lines), flush=True)

    def note(self, text: str) -> None:
        """Add (and print) a paragraph under the tables."""
        self.sections.append(("", [text]))
        print(text, flush=True)

    def markdown(self) -> str:
        """The whole page: title, conditions, then the tables and notes in order."""
        ended = _dt.datetime.now(_dt.timezone.utc)
        out = [f"# {self.title}", "",
               "Written by the benchmark script itself; do not edit by hand (re-run it instead).",
               "",
               f"- command: `{self.command}`",
               f"- date: {self.started:%Y-%m-%d %H:%M} to {ended:%H:%M} UTC",
               f"- machine: {platform.system()} {platform.release()}, {_cpu_model()}, "
               f"{os.cpu_count()} logical CPUs, {_memory_gib()}; Python "
               f"{platform.python_version()}",
               f"- load average (1/5/15 min) at start: {self.load_start}; at end: {_load()}",
               ""]
        for heading, lines in self.sections:
            if heading:
                out += [f"## {heading}", ""]
            out += lines + [""]
        return portable("\n".join(out).rstrip() + "\n")

    def write(self, path: str | None) -> None:
        """Write the page to ``path`` atomically (nothing when ``path`` is None)."""
        if not path:
            return
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".page-", suffix=".md")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.markdown())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        print(f"wrote {path}", flush=True)
