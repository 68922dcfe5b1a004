"""Render the Python API reference (``docs/python-api.md``) from the docstrings themselves.

The page is generated, never edited by hand::

    python docs/tools/api_reference.py --write docs/python-api.md

and ``tests/test_docs.py`` fails when the committed page differs from what the code says.
Every public name (the ``__all__`` of ``embedkit`` and of each public subpackage) gets its
signature and the first paragraph of its docstring; a class also lists its public methods
and properties, each with its signature and one-line summary. The full numpydoc docstrings
are one ``help(embedkit.X)`` away.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

MODULES = [
    ("embedkit", "The names most programs need."),
    ("embedkit.vectors", "Word vectors: loading, saving, querying."),
    ("embedkit.search", "FAISS indexes and the query language."),
    ("embedkit.training", "Skip-gram, CBOW and GloVe trainers."),
    ("embedkit.evaluation", "Analogy and similarity benchmarks."),
    ("embedkit.corpus", "Corpus reading, vocabulary and encoding."),
    ("embedkit.downstream", "Sentiment and named-entity models."),
    ("embedkit.lm", "Recurrent language models."),
    ("embedkit.seq2seq", "Encoder-decoder with attention."),
    ("embedkit.metrics", "BLEU."),
]

HEADER = """\
# Python API reference

Generated from the docstrings by `python docs/tools/api_reference.py --write
docs/python-api.md`; do not edit by hand (a test fails when this page is stale). Each entry
gives the signature and the docstring's first paragraph; `help(name)` prints the whole
numpydoc docstring. Errors are listed under `embedkit`: every error a user can cause is an
`embedkit.EmbedkitError`.
"""


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def _signature(name: str, obj) -> str:
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def _members(cls) -> list[tuple[str, object]]:
    out = []
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or name not in _defined_names(cls):
            continue
        if inspect.isfunction(member) or inspect.ismethod(member) or isinstance(member, property):
            out.append((name, member))
    return out


def _defined_names(cls) -> set[str]:
    """Names defined by the class or its embedkit bases (not ``object``/``Exception``...)."""
    names = set()
    for base in cls.__mro__:
        if base.__module__.split(".")[0] == "embedkit":
            names.update(vars(base))
    return names


def _render_name(lines: list[str], qualified: str, obj) -> None:
    if inspect.isclass(obj):
        lines += [f"### `{qualified}`", "", "```python", f"class {_signature(qualified, obj)}",
                  "```", "", _summary(obj), ""]
        if issubclass(obj, BaseException):
            return
        for name, member in _members(obj):
            if isinstance(member, property):
                lines.append(f"- `{name}` (property): {_summary(member)}")
            else:
                sig = _signature(name, member).replace("(self, ", "(").replace("(self)", "()")
                lines.append(f"- `{sig}`: {_summary(member)}")
        lines.append("")
    elif callable(obj):
        lines += [f"### `{qualified}`", "", "```python", _signature(qualified, obj), "```", "",
                  _summary(obj), ""]
    else:
        lines += [f"### `{qualified}`", "", f"A constant ({type(obj).__name__}).", ""]


def render() -> str:
    """The whole page, as Markdown."""
    lines = [HEADER]
    for module_name, blurb in MODULES:
        module = importlib.import_module(module_name)
        lines += [f"## `{module_name}`", "", blurb, ""]
        for name in module.__all__:
            if name.startswith("__"):
                continue
            obj = getattr(module, name)
            if module_name != "embedkit" and inspect.isclass(obj) and name in _top_level():
                lines += [f"### `{module_name}.{name}`", "",
                          f"The same class as [`embedkit.{name}`](#embedkit{name.lower()}).", ""]
                continue
            _render_name(lines, f"{module_name}.{name}", obj)
    return "\n".join(lines).rstrip() + "\n"


def _top_level() -> set[str]:
    import embedkit

    return set(embedkit.__all__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="PATH", help="write the page here (else print it)")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        Path(args.write).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
