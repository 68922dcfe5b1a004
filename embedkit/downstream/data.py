"""Readers for labelled text (TSV) and tagged tokens (CoNLL), and length-bucketed batching."""

from __future__ import annotations

import os
import re

import numpy as np

from embedkit.errors import FormatError, MissingFileError, ParameterError

_HEADER_LABELS = {"label", "labels", "sentiment", "class", "y", "target"}
_HEADER_TEXTS = {"sentence", "text", "review", "document", "x"}
_TAG_RE = re.compile(r"^(O|[BI]-\S+)$")


def _open_lines(path):
    path = os.fspath(path)
    if path != "-" and not os.path.exists(path):
        raise MissingFileError(f"file not found: {path}")
    if path != "-" and os.path.isdir(path):
        raise ParameterError(f"{path} is a directory: give a file")
    if path.endswith(".gz"):
        import gzip
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def tokenize(text: str) -> list[str]:
    """Whitespace tokenisation that also splits punctuation off words.

    ``"It's great, isn't it?"`` -> ``["It", "'s", "great", ",", "is", "n't", "it", "?"]``
    (Penn-Treebank style clitics, as in SST-2).
    """
    text = re.sub(r"([.,!?;:()\"\[\]])", r" \1 ", text)
    text = re.sub(r"(\w)n't\b", r"\1 n't", text)
    text = re.sub(r"(\w)'(s|re|ve|ll|d|m)\b", r"\1 '\2", text)
    return text.split()


def read_tsv(path, label_column: int = 0, text_column: int = 1, header: bool | None = None):
    """Read ``label<TAB>text`` lines; returns ``(texts, labels)`` (texts as token lists).

    Parameters
    ----------
    path : str or path-like
        The file (``.gz`` allowed).
    label_column, text_column : int
        Column numbers (0-based) of the label and the text.
    header : bool, optional
        Whether the first line is a header; by default a first line whose label field
        is a word like ``label`` or whose text field is ``sentence`` is skipped.

    Raises
    ------
    FormatError
        A line without a tab, too few columns, or no examples at all.
    """
    texts, labels = [], []
    need = max(label_column, text_column) + 1
    with _open_lines(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            if "\t" not in line:
                raise FormatError(f"{path}, line {lineno}: no tab; expected label<TAB>text "
                                  "(a TSV file with one example per line)")
            cols = line.split("\t")
            if len(cols) < need:
                raise FormatError(f"{path}, line {lineno}: {len(cols)} columns, need "
                                  f"{need} (label column {label_column}, text column "
                                  f"{text_column})")
            label, text = cols[label_column].strip(), cols[text_column]
            if lineno == 1 and not texts:
                is_header = header if header is not None else (
                    label.lower() in _HEADER_LABELS or text.strip().lower() in _HEADER_TEXTS)
                if is_header:
                    continue
            if not label:
                raise FormatError(f"{path}, line {lineno}: empty label")
            texts.append(tokenize(text))
            labels.append(label)
    if not texts:
        raise FormatError(f"{path}: no examples (an empty file?); expected label<TAB>text lines")
    return texts, labels


def read_conll(path, token_column: int = 0, tag_column: int = -1, strip_prefix: str = ""):
    """Read CoNLL columns (tab or space separated), blank lines between sentences.

    Returns ``(sentences, tags)``, lists of token lists and BIO tag lists.  Lines
    starting with ``-DOCSTART-`` are skipped.

    Raises
    ------
    FormatError
        A tag that is not ``O``, ``B-X`` or ``I-X``, a missing column, or an empty file.
    """
    sents, tags = [], []
    cur_w, cur_t = [], []
    with _open_lines(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                if cur_w:
                    sents.append(cur_w)
                    tags.append(cur_t)
                    cur_w, cur_t = [], []
                continue
            if line.startswith("-DOCSTART-"):
                continue
            cols = line.split("\t") if "\t" in line else line.split()
            try:
                tok, tag = cols[token_column], cols[tag_column].strip()
            except IndexError:
                raise FormatError(f"{path}, line {lineno}: {len(cols)} columns, cannot read "
                                  f"token column {token_column} and tag column {tag_column}"
                                  ) from None
            if strip_prefix and tok.startswith(strip_prefix):
                tok = tok[len(strip_prefix):]
            tok = tok.strip()
            if not _TAG_RE.match(tag):
                raise FormatError(f"{path}, line {lineno}: tag {tag!r} is not O, B-X or I-X "
                                  "(BIO tags; pick the tag column with --tag-column)")
            if not tok:
                tok = "_"
            cur_w.append(tok)
            cur_t.append(tag)
    if cur_w:
        sents.append(cur_w)
        tags.append(cur_t)
    if not sents:
        raise FormatError(f"{path}: no sentences (an empty file?); expected 'token tag' lines")
    return sents, tags


def length_batches(lengths, batch_size: int, rng=None, max_tokens: int | None = None):
    """Split example indices into batches of similar length.

    With ``rng`` the order is shuffled (examples sorted by length plus noise, batches cut,
    then the batch order shuffled); without it batches follow length order.
    """
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    lengths = np.asarray(lengths)
    if rng is not None:
        key = lengths + rng.uniform(0, 2.0, len(lengths))
        order = np.argsort(key, kind="stable")
    else:
        order = np.argsort(lengths, kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches
