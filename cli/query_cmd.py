"""``embedkit analogy``, ``embedkit similar`` and ``embedkit similarity``."""

from __future__ import annotations

import json
import logging
import os
import re
import sys

import click

log = logging.getLogger("embedkit.cli.query_cmd")


class ExpressionCommand(click.Command):
    """A command whose arguments are words that may start with ``-`` (``king -man +woman``).

    Only exact spellings of the command's own options (``-k``, ``--topn``, ``--json``, ...)
    are read as options; every other token, ``-man`` included, is part of the query.
    """

    def parse_args(self, ctx, args):
        takes_value, flags = {}, set()
        for param in self.get_params(ctx):
            if isinstance(param, click.Option):
                for name in param.opts + param.secondary_opts:
                    if param.is_flag or param.count:
                        flags.add(name)
                    else:
                        takes_value[name] = param
        options, words = [], []
        it = iter(args)
        for token in it:
            if token == "--":
                words.extend(it)
                break
            if token in flags:
                options.append(token)
            elif token in takes_value:
                options.append(token)
                value = next(it, None)
                if value is not None:
                    options.append(value)
            elif token.startswith("--") and token.split("=", 1)[0] in takes_value:
                options.append(token)
            elif re.fullmatch(r"-[a-zA-Z]\d+", token) and token[:2] in takes_value:
                options.append(token)
            else:
                words.append(token)
        return super().parse_args(ctx, options + ["--"] + words)


def _common_options(f):
    f = click.option("--json", "as_json", is_flag=True,
                     help="Print JSON: a list of {word, score} objects, best first "
                          "(one list per line for several queries).")(f)
    f = click.option("-k", "--topn", type=click.IntRange(min=1), default=10, show_default=True,
                     help="How many words to list.")(f)
    f = click.option("--vectors", "vectors_path", type=click.Path(),
                     help="Vectors to query (any format embedkit.load reads). "
                          "Default: $EMBEDKIT_VECTORS, else the vectors shipped with embedkit.")(f)
    return f


def _open(vectors_path):
    """Load the vectors and the index saved beside them (rebuilt when stale), if any."""
    from embedkit.search.index import Index
    from embedkit.search.params import AUTO_HNSW_MIN_WORDS
    from embedkit.search.store import index_paths
    from embedkit.vectors.default import load_vectors

    vectors, path = load_vectors(vectors_path)
    index = None
    if os.path.exists(index_paths(path)[0]):
        index = Index.open(vectors, path)
        if hasattr(vectors, "attach_index"):
            vectors.attach_index(index)
    elif len(vectors) >= AUTO_HNSW_MIN_WORDS:
        log.info("tip: `embedkit index build %s` makes queries over %d words faster",
                 path, len(vectors))
    return vectors, index


def _resolve_word(vectors, word):
    """The vocabulary spelling of ``word``: as given, else lowercased; raises if neither,
    unless the vectors build vectors for unseen words from n-grams (fastText).  An unknown
    ``king-man+woman`` whose parts are words gets the spaced query as its suggestion."""
    from embedkit.errors import UnknownWordError
    from embedkit.search.query import spaced_expression

    if word in vectors or word.lower() not in vectors:
        if getattr(vectors, "subwords", None) is None:
            try:
                vectors.index(word)  # raises UnknownWordError with the closest spellings
            except UnknownWordError:
                spaced = spaced_expression(word, lambda w: w in vectors or w.lower() in vectors)
                if spaced is None:
                    raise
                raise UnknownWordError(f"{word!r} is not in the vocabulary; for word "
                                       f"arithmetic put spaces around + and -: "
                                       f"{spaced}") from None
        return word
    return word.lower()


def _stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_stdin_lines(what):
    if _stdin_is_terminal():
        raise click.UsageError(f"give {what} as arguments, or one per line on stdin")
    return sys.stdin.read().splitlines()


def _table(results) -> str:
    if not results:
        return "(no results)"
    width = max(4, max(len(w) for w, _ in results))
    lines = [f"{'rank':>4}  {'word':<{width}}  {'score':>7}"]
    for rank, (word, score) in enumerate(results, 1):
        lines.append(f"{rank:>4}  {word:<{width}}  {score:>7.4f}")
    return "\n".join(lines)


_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Answer the queries read from stdin on Dask: tcp://HOST:8786, or local:N worker "
         "processes (needs embedkit[dask]).")


class _Item:
    """One query of a batch: where it came from, and its words or what is wrong with it."""

    def __init__(self, line, text, query=None, error=None):
        self.line, self.text, self.query, self.error = line, text, query, error
        self.positive = self.negative = self.result = None


def _parse(text, analogy):
    from embedkit.search.query import parse_analogy, parse_query

    return parse_analogy(text) if analogy else parse_query(text)


def _stdin_items(lines, analogy):
    """One item per query line (blank lines and ``#`` comments are skipped); a line that
    does not parse becomes an item with its error, and the others are still answered."""
    from embedkit.errors import EmbedkitError
    from embedkit.search.query import query_lines

    items = []
    for number, text in query_lines(lines):
        try:
            items.append(_Item(number, text, _parse(text, analogy)))
        except EmbedkitError as exc:
            items.append(_Item(number, text, error=exc))
    return items


def _resolve(vectors, item, method):
    """Fill ``item.positive``/``negative`` with vocabulary spellings, or raise."""
    from embedkit.errors import ParameterError
    from embedkit.search.query import Query, cancels_out

    q = item.query
    positive = [_resolve_word(vectors, w) for w in q.positive]
    negative = [_resolve_word(vectors, w) for w in q.negative]
    if cancels_out(Query(tuple(positive), tuple(negative))):
        raise ParameterError(f"the words of {str(q)!r} cancel out: their sum is the zero "
                             "vector, which is no closer to one word than to another; "
                             "give a query that leaves a word, e.g. king - man + woman")
    if not positive and method == "3cosmul":
        raise ParameterError("3cosmul needs at least one added word")
    if any(w not in vectors for w in positive + negative) and method != "3cosadd":
        raise ParameterError(f"{method} needs words of the vocabulary; an unseen word has "
                             "only an n-gram vector: use --method 3cosadd")
    item.positive, item.negative = positive, negative


def _answer(vectors, index, items, topn, method, scheduler, vectors_path):
    """Set ``item.result`` (or ``item.error``) for every item, in one batch."""
    from embedkit.errors import EmbedkitError
    from embedkit.search.batch import combination_words

    for item in items:
        if item.error is None:
            try:
                _resolve(vectors, item, method)
            except EmbedkitError as exc:
                item.error = exc
    good = [it for it in items if it.error is None]
    seen = [it for it in good if all(w in vectors for w in it.positive + it.negative)]
    unseen = [it for it in good if it not in seen]
    if not seen:
        results = []
    elif scheduler is None:
        results = combination_words(vectors, [it.positive for it in seen],
                                    [it.negative for it in seen], k=topn, method=method,
                                    index=index)
    else:  # batches mapped over Dask workers, answers in input order
        from embedkit.distributed import connect
        from embedkit.distributed.query import combination_words_on
        from embedkit.vectors.default import find_vectors

        with connect(scheduler) as client:
            results = combination_words_on(client, find_vectors(vectors_path)[0],
                                           [it.positive for it in seen],
                                           [it.negative for it in seen], k=topn, method=method)
    for it, res in zip(seen, results):
        it.result = res
    for it in unseen:  # a word outside the vocabulary: its vector from character n-grams
        it.result = vectors.most_similar(positive=it.positive or None,
                                         negative=it.negative or None, topn=topn)


def _print(items, as_json, headers):
    """Answers in input order: a table (or a JSON list) per query, an error per bad one
    (on stderr; in JSON an ``{"line", "query", "error"}`` object in its place)."""
    shown = 0
    for it in items:
        if it.error is not None:
            if as_json:
                click.echo(json.dumps({"line": it.line, "query": it.text, "error": str(it.error)},
                                      ensure_ascii=False))
            else:
                where = f"line {it.line} ({it.text})" if it.line else it.text
                click.echo(f"Error: {where}: {it.error}", err=True)
            continue
        if as_json:
            click.echo(json.dumps([{"word": w, "score": round(s, 6)} for w, s in it.result],
                                  ensure_ascii=False))
            continue
        if headers:
            click.echo(("\n" if shown else "") + f"{it.query}")
        click.echo(_table(it.result))
        shown += 1


def _interactive(vectors_path, topn, method, as_json, analogy):
    """Prompt for queries on a terminal until EOF (Ctrl-D) or EXIT, as word2vec.c's
    ``distance`` and ``word-analogy`` do; line editing and history with readline."""
    from embedkit.errors import EmbedkitError

    try:
        import readline  # noqa: F401 - input() gains editing and history
    except ImportError:  # pragma: no cover - Windows without pyreadline
        pass
    vectors, index = _open(vectors_path)
    example = "man king woman, or king - man + woman" if analogy else "france, or king + woman"
    click.echo(f"{len(vectors)} words; type a query ({example}); Ctrl-D or EXIT ends.",
               err=True)
    while True:
        try:
            text = input("query> ").strip()
        except EOFError:
            click.echo(err=True)
            return
        if text.upper() == "EXIT":
            return
        if not text or text.startswith("#"):
            continue
        try:
            item = _Item(None, text, _parse(text, analogy))
        except EmbedkitError as exc:
            item = _Item(None, text, error=exc)
        _answer(vectors, index, [item], topn, method, None, vectors_path)
        _print([item], as_json, headers=False)


def _run(expression, vectors_path, topn, method, as_json, scheduler=None, analogy=False):
    from embedkit.errors import EmbedkitError

    if expression:
        items = [_Item(None, " ".join(expression), _parse(expression, analogy))]
    elif _stdin_is_terminal() and scheduler is None:
        return _interactive(vectors_path, topn, method, as_json, analogy)
    else:
        items = _stdin_items(_read_stdin_lines("a query like king - man + woman"), analogy)
        if not items:
            raise click.UsageError("stdin holds no queries: write one per line, "
                                   "e.g. king - man + woman")
    vectors, index = _open(vectors_path)
    _answer(vectors, index, items, topn, method, scheduler, vectors_path)
    if expression and items[0].error is not None:
        raise items[0].error
    _print(items, as_json, headers=len(items) > 1)
    failed = sum(it.error is not None for it in items)
    if failed:
        raise EmbedkitError(f"{failed} of {len(items)} queries failed (each is reported in "
                            "its place); the others were answered")


@click.command(cls=ExpressionCommand)
@click.argument("expression", nargs=-1)
@_common_options
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd",
              show_default=True, help="3cosadd: cosine with b - a + c; 3cosmul: Levy & "
                                      "Goldberg's multiplicative objective.")
@_scheduler_option
def analogy(expression, vectors_path, topn, method, as_json, scheduler):
    """Solve a word analogy: which words are closest to b - a + c?

    \b
    Write the query as signed words, as a:b::c:? ("a is to b as c is to ?"), or as three
    bare words A B C, read as word2vec.c's word-analogy reads them: B - A + C.
      embedkit analogy king - man + woman
      embedkit analogy king -man +woman
      embedkit analogy man:king::woman:?
      embedkit analogy man king woman
      embedkit analogy --json -k 3 paris - france + italy
    With no expression, reads one query per line from stdin (a bad line is reported in its
    place, the others are answered; exit 1 if any failed), or prompts for queries on a
    terminal.  The query words are never listed.  An index saved beside the vectors
    (`embedkit index build`) is used when present.
    """
    _run(expression, vectors_path, topn, method, as_json, scheduler, analogy=True)


@click.command(cls=ExpressionCommand)
@click.argument("words", nargs=-1)
@_common_options
@_scheduler_option
def similar(words, vectors_path, topn, as_json, scheduler):
    """List the words most similar to a word (or to a sum of words).

    \b
    Examples:
      embedkit similar france
      embedkit similar -k 5 --json king
      embedkit similar river +water -land
    With no words, reads one query per line from stdin (a bad line is reported in its
    place, the others are answered; exit 1 if any failed), or prompts for queries on a
    terminal.
    """
    _run(words, vectors_path, topn, "3cosadd", as_json, scheduler)


@click.command()
@click.argument("words", nargs=-1)
@click.option("--vectors", "vectors_path", type=click.Path(),
              help="Vectors to query. Default: $EMBEDKIT_VECTORS, else the shipped vectors.")
@click.option("--json", "as_json", is_flag=True,
              help='Print JSON objects {"word1", "word2", "score"}, one per line.')
def similarity(words, vectors_path, as_json):
    """Cosine similarity of two words.

    \b
    Examples:
      embedkit similarity king queen
      printf 'king queen\\ncat dog\\n' | embedkit similarity
    With no words, reads one pair per line from stdin (a bad line is reported in its place,
    the others are answered; exit 1 if any failed).
    """
    from embedkit.errors import EmbedkitError, ParameterError

    if words:
        if len(words) != 2:
            raise click.UsageError(f"give exactly two words, got {len(words)}")
        pairs = [(None, tuple(words))]
    else:
        pairs = []
        for number, line in enumerate(_read_stdin_lines("two words"), 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            pairs.append((number, tuple(parts)))
    vectors, _ = _open(vectors_path)
    failed = 0
    for number, pair in pairs:
        try:
            if len(pair) != 2:
                raise ParameterError(f"give two words per line, got {len(pair)}")
            a, b = pair
            score = vectors.similarity(_resolve_word(vectors, a), _resolve_word(vectors, b))
        except EmbedkitError as exc:
            if number is None:
                raise
            failed += 1
            if as_json:
                click.echo(json.dumps({"line": number, "query": " ".join(pair),
                                       "error": str(exc)}, ensure_ascii=False))
            else:
                click.echo(f"Error: line {number} ({' '.join(pair)}): {exc}", err=True)
            continue
        if as_json:
            click.echo(json.dumps({"word1": a, "word2": b, "score": round(score, 6)},
                                  ensure_ascii=False))
        else:
            click.echo(f"{a}\t{b}\t{score:.4f}")
    if failed:
        raise EmbedkitError(f"{failed} of {len(pairs)} pairs failed (each is reported in its "
                            "place); the others were answered")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(analogy())
