"""Parse word-arithmetic queries: ``king - man + woman``, ``king -man +woman``, ``man:king::woman:?``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from embedkit.errors import ParameterError

_EXAMPLES = "e.g. 'king - man + woman', 'king -man +woman' or 'man:king::woman:?'"


@dataclass(frozen=True)
class Query:
    """Words added (``positive``) and subtracted (``negative``) in a query."""

    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()

    @property
    def words(self) -> tuple[str, ...]:
        """Every word of the query, positives first."""
        return self.positive + self.negative

    def __str__(self) -> str:
        parts = []
        for i, w in enumerate(self.positive):
            parts.append(w if i == 0 else f"+ {w}")
        for w in self.negative:
            parts.append(f"- {w}")
        return " ".join(parts)


def parse_query(expression: str | Sequence[str]) -> Query:
    """Parse one query.

    Parameters
    ----------
    expression : str or sequence of str
        Either signed words -- ``king - man + woman`` or ``king -man +woman`` (a sign is
        read only at the start of a whitespace-separated token, so ``well-known`` stays one
        word; a word without a sign is added) -- or the analogy form ``a:b::c:?`` ("a is to b
        as c is to ?"), which means ``b - a + c``.  A sequence of tokens (command-line
        arguments) is joined with spaces first.

    Returns
    -------
    Query

    Raises
    ------
    ParameterError
        An empty query, a dangling or doubled operator, or a malformed analogy.

    Examples
    --------
    >>> parse_query("man:king::woman:?")
    Query(positive=('king', 'woman'), negative=('man',))
    >>> parse_query(["king", "-man", "+woman"])
    Query(positive=('king', 'woman'), negative=('man',))
    """
    text = expression if isinstance(expression, str) else " ".join(expression)
    text = text.strip()
    if not text:
        raise ParameterError(f"empty query: give words, {_EXAMPLES}")
    if "::" in text:
        return _parse_analogy(text)
    positive, negative = [], []
    pending = None
    for token in text.split():
        if token in ("+", "-"):
            if pending is not None:
                raise ParameterError(f"two operators in a row in {text!r}: "
                                     f"put a word between them, {_EXAMPLES}")
            pending = token
            continue
        sign = "+"
        if token[0] in "+-":
            if pending is not None:
                raise ParameterError(f"two operators in a row in {text!r}: "
                                     f"put a word between them, {_EXAMPLES}")
            sign, token = token[0], token[1:]
            if token[0] in "+-":
                raise ParameterError(f"two operators in a row in {text!r}: "
                                     f"put a word between them, {_EXAMPLES}")
        elif pending is not None:
            sign = pending
        pending = None
        (negative if sign == "-" else positive).append(token)
    if pending is not None:
        raise ParameterError(f"{text!r} ends with {pending!r}: add the word it applies to, "
                             f"{_EXAMPLES}")
    return Query(tuple(positive), tuple(negative))


def parse_analogy(expression: str | Sequence[str]) -> Query:
    """Parse an analogy query: like :func:`parse_query`, except that three bare words
    ``A B C`` are read as word2vec.c's ``word-analogy`` reads them, ``B - A + C``
    ("A is to B as C is to ?").

    Examples
    --------
    >>> parse_analogy("man king woman")
    Query(positive=('king', 'woman'), negative=('man',))
    >>> parse_analogy("king - man + woman")
    Query(positive=('king', 'woman'), negative=('man',))
    """
    text = expression if isinstance(expression, str) else " ".join(expression)
    tokens = text.split()
    if len(tokens) == 3 and "::" not in text and not any(t[0] in "+-" for t in tokens):
        a, b, c = tokens
        return Query((b, c), (a,))
    return parse_query(text)


def spaced_expression(word: str, known) -> str | None:
    """``"king - man + woman"`` when ``word`` is ``"king-man+woman"`` and every part is a
    known word (``known(part)`` is true), else None: for the message of an unknown word
    that is really a query written without spaces."""
    import re

    if not re.search(r"[^+-][+-][^+-]", word):
        return None
    parts = re.split(r"([+-])", word)
    words = parts[0::2]
    if not all(words) or not all(known(w) for w in words):
        return None
    return " ".join(parts).replace("  ", " ")


def cancels_out(query: Query) -> bool:
    """Whether the query's words cancel (``king - king``): its vector is zero, as close to
    every word as to any other."""
    from collections import Counter

    return bool(query.negative) and Counter(query.positive) == Counter(query.negative)


def _parse_analogy(text: str) -> Query:
    compact = "".join(text.split())
    halves = compact.split("::")
    bad = ParameterError(f"cannot read {text!r} as an analogy: write a:b::c:? "
                         "(a is to b as c is to ?), e.g. man:king::woman:?")
    if len(halves) != 2:
        raise bad
    left, right = halves[0].split(":"), halves[1].split(":")
    if len(left) != 2 or len(right) not in (1, 2):
        raise bad
    if len(right) == 2 and right[1] not in ("?", ""):
        raise bad
    a, b, c = left[0], left[1], right[0]
    if not (a and b and c) or "?" in (a, b, c):
        raise bad
    return Query((b, c), (a,))


def query_lines(lines) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each query line: stripped, skipping blank lines and ``#``
    comment lines; numbers count from 1 and include the skipped lines."""
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield number, text


def parse_queries(lines) -> list[Query]:
    """Parse one query per non-blank line (``#`` starts a comment line).

    Errors name the line: ``line 3: ...``.
    """
    out = []
    for number, line in query_lines(lines):
        try:
            out.append(parse_query(line))
        except ParameterError as exc:
            raise ParameterError(f"line {number}: {exc}") from None
    return out
