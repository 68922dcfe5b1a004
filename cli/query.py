"""``embedkit analogy``, ``embedkit similar`` and ``embedkit similarity``."""

from __future__ import annotations

import json
import logging
import os
import re
import sys

import click

log = logging.getLogger("embedkit.cli.query")


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
    from embedkit.search.index import AUTO_HNSW_MIN_WORDS, Index
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
    unless the vectors build vectors for unseen words from n-grams (fastText)."""
    if word in vectors or word.lower() not in vectors:
        if getattr(vectors, "subwords", None) is None:
            vectors.index(word)  # raises UnknownWordError with the closest spellings
        return word
    return word.lower()


def _read_stdin_lines(what):
    stream = sys.stdin
    if stream.isatty():
        raise click.UsageError(f"give {what} as arguments, or one per line on stdin")
    return stream.read().splitlines()


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


def _run(expression, vectors_path, topn, method, as_json, scheduler=None):
    from embedkit.errors import UnknownWordError
    from embedkit.search.batch import combination_words
    from embedkit.search.query import parse_queries, parse_query

    if expression:
        queries = [parse_query(expression)]
    else:
        queries = parse_queries(_read_stdin_lines("a query like king - man + woman"))
        if not queries:
            raise click.UsageError("stdin holds no queries: write one per line, "
                                   "e.g. king - man + woman")
    vectors, index = _open(vectors_path)
    positive, negative = [], []
    for number, q in enumerate(queries, 1):
        try:
            positive.append([_resolve_word(vectors, w) for w in q.positive])
            negative.append([_resolve_word(vectors, w) for w in q.negative])
        except UnknownWordError as exc:
            if len(queries) > 1:
                raise UnknownWordError(f"query {number} ({q}): {exc}") from None
            raise
    unseen = [i for i, (p, n) in enumerate(zip(positive, negative))
              if any(w not in vectors for w in p + n)]
    if unseen and method != "3cosadd":
        raise UnknownWordError(f"{method} needs words of the vocabulary; an unseen word has only "
                               "an n-gram vector: use --method 3cosadd")
    seen_pos = [p for i, p in enumerate(positive) if i not in unseen]
    seen_neg = [n for i, n in enumerate(negative) if i not in unseen]
    if len(unseen) == len(queries):
        results = []
    elif scheduler is None:
        results = combination_words(vectors, seen_pos, seen_neg, k=topn, method=method,
                                    index=index)
    else:  # batches mapped over Dask workers, answers in input order
        from embedkit.distributed import connect
        from embedkit.distributed.query import combination_words_on
        from embedkit.vectors.default import find_vectors

        with connect(scheduler) as client:
            results = combination_words_on(client, find_vectors(vectors_path)[0], seen_pos,
                                           seen_neg, k=topn, method=method)
    for i in unseen:  # a word outside the vocabulary: its vector from character n-grams
        results.insert(i, vectors.most_similar(positive=positive[i] or None,
                                               negative=negative[i] or None, topn=topn))
    for i, (q, res) in enumerate(zip(queries, results)):
        if as_json:
            click.echo(json.dumps([{"word": w, "score": round(s, 6)} for w, s in res],
                                  ensure_ascii=False))
            continue
        if len(queries) > 1:
            click.echo(("\n" if i else "") + f"{q}")
        click.echo(_table(res))


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
    Write the query as signed words, or as a:b::c:? ("a is to b as c is to ?"):
      embedkit analogy king - man + woman
      embedkit analogy king -man +woman
      embedkit analogy man:king::woman:?
      embedkit analogy --json -k 3 paris - france + italy
    With no expression, reads one query per line from stdin.  The query words are never
    listed.  An index saved beside the vectors (`embedkit index build`) is used when present.
    """
    _run(expression, vectors_path, topn, method, as_json, scheduler)


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
    With no words, reads one query per line from stdin.
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
    With no words, reads one pair per line from stdin.
    """
    if words:
        if len(words) != 2:
            raise click.UsageError(f"give exactly two words, got {len(words)}")
        pairs = [tuple(words)]
    else:
        pairs = []
        for number, line in enumerate(_read_stdin_lines("two words"), 1):
            parts = line.split()
            if not parts or parts[0].startswith("#"):
                continue
            if len(parts) != 2:
                raise click.UsageError(f"line {number}: give two words per line, "
                                       f"got {len(parts)}")
            pairs.append(tuple(parts))
    vectors, _ = _open(vectors_path)
    for a, b in pairs:
        score = vectors.similarity(_resolve_word(vectors, a), _resolve_word(vectors, b))
        if as_json:
            click.echo(json.dumps({"word1": a, "word2": b, "score": round(score, 6)},
                                  ensure_ascii=False))
        else:
            click.echo(f"{a}\t{b}\t{score:.4f}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(analogy())
