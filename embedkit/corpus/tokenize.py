"""Tokenizers: turn a block of text into a list of tokens.

Two are built in:

``"default"``
    Unicode-aware words: runs of letters and digits in any script, keeping internal
    apostrophes (``don't``, ``l'homme``); punctuation, symbols, hyphens and underscores
    split words apart and are dropped.  Lowercased unless ``lowercase=False``.
``"whitespace"``
    Split on runs of whitespace only, for corpora that are already tokenized; with
    ``lowercase=False`` the token stream is exactly what word2vec.c and gensim's
    ``LineSentence`` read.
"""

from __future__ import annotations

import re
from typing import Callable, Literal

from embedkit.errors import ParameterError

TokenizerName = Literal["default", "whitespace"]
TOKENIZERS = ("default", "whitespace")

# a word: letters/digits (not underscore) with optional internal apostrophes
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def _default(text: str) -> list[str]:
    return _WORD.findall(text)


def _whitespace(text: str) -> list[str]:
    return text.split()


def get_tokenizer(name: str = "default", lowercase: bool = True) -> Callable[[str], list[str]]:
    """Return a function ``str -> list[str]`` for tokenizer ``name``.

    Parameters
    ----------
    name : {"default", "whitespace"}
        Which tokenizer (see the module docstring).
    lowercase : bool
        Lowercase the text first (Unicode-aware ``str.lower``).

    Examples
    --------
    >>> get_tokenizer()("The King's men, 1789!")
    ['the', "king's", 'men', '1789']
    """
    if name not in TOKENIZERS:
        raise ParameterError(
            f"unknown tokenizer {name!r}: use one of {', '.join(TOKENIZERS)}")
    split = _default if name == "default" else _whitespace
    if name == "default":
        if lowercase:
            return lambda text: split(text.lower().replace("\u2019", "'"))
        return lambda text: split(text.replace("\u2019", "'"))
    if lowercase:
        return lambda text: split(text.lower())
    return split
