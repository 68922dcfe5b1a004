"""Readers for labelled text (TSV) and tagged tokens (CoNLL), and length-bucketed batching."""

from __future__ import annotations

import os
import re

import numpy as np

from embedkit._io import open_file
from embedkit._params import check_positive
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
    return open_file(path, "rt", encoding="utf-8", errors="replace")  # .gz/.bz2/.xz too


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
                                  "(a TSV file with one example per line)"
                                  + (_CONLL_HINT if _looks_like_conll_line(line) else ""))
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
    check_classification_data(path, texts, labels)
    return texts, labels


_CONLL_HINT = ("; this looks like a CoNLL file (a token and its tag per line): tag entities "
               "with 'embedkit ner'")
# a classifier's labels are few, each seen many times: more distinct labels than this, and
# more than half the examples, is a wrong column or a file of another kind
MAX_DISTINCT_LABELS = 50


def check_train_labels(train_path, labels, dev_path=None, dev_labels=None) -> None:
    """Before training a classifier: at least two classes in ``labels``, and every dev
    label among them (a class the model never sees cannot be predicted)."""
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise FormatError(f"{train_path}: every example has the label {classes[0]!r}; a "
                          "classifier needs at least 2 classes (check --label-column)")
    if dev_labels is not None:
        unknown = sorted(set(dev_labels) - set(classes))
        if unknown:
            some = ", ".join(repr(x) for x in unknown[:5]) + (", ..." if len(unknown) > 5
                                                              else "")
            raise FormatError(f"{dev_path}: dev labels {some} do not occur in the training "
                              f"file {train_path} (its labels: "
                              f"{', '.join(repr(c) for c in classes[:10])})")


def check_labels_known(path, labels, known) -> None:
    """Refuse gold ``labels`` (read from ``path``) of which none is among the model's labels
    ``known``: the accuracy would be a meaningless 0 (a wrong column, or a file for another
    model); warn when only some are unknown."""
    import logging

    unknown = sorted(set(labels) - set(known))
    if not unknown:
        return
    some = ", ".join(repr(x) for x in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
    model = ", ".join(repr(x) for x in list(known)[:10])
    if len(unknown) == len(set(labels)):
        raise FormatError(f"{path}: none of its labels ({some}) is a label of the model "
                          f"({model}): check the label column (--label-column), or use the "
                          "file with the model it was made for")
    logging.getLogger(__name__).warning(
        "%s: labels %s are not labels of the model (%s); their examples count as errors",
        path, some, model)


def _looks_like_tsv_line(line: str) -> bool:
    """``"1<TAB>a warm , funny film"`` or a ``label<TAB>sentence`` header."""
    cols = [c.strip().lower() for c in line.split("\t")]
    return len(cols) >= 2 and (any(len(c.split()) > 2 for c in cols)
                               or (cols[0] in _HEADER_LABELS and cols[1] in _HEADER_TEXTS))


def _looks_like_conll_line(line: str) -> bool:
    """``"Paris B-LOC"``, ``"-DOCSTART- -X- O O"``: a token line with a BIO tag last."""
    cols = line.split()
    return len(cols) >= 2 and (bool(_TAG_RE.match(cols[-1])) or cols[0] == "-DOCSTART-")


def check_classification_data(path, texts, labels) -> None:
    """Refuse labelled texts that cannot be a classification data set: a CoNLL file read
    as TSV (nearly every text one token, tag-like labels or texts), or far more distinct
    labels than a classifier has (the label column holds words).

    Raises
    ------
    FormatError
        Naming the file, what it looks like and what to do.
    """
    n = len(texts)
    tagged = sum(1 for t, lab in zip(texts, labels)
                 if len(t) <= 1 and (_TAG_RE.match(lab) or (t and _TAG_RE.match(t[0]))))
    if n >= 2 and tagged >= 0.8 * n:
        raise FormatError(f"{path}: {tagged} of {n} examples are one token and a BIO tag: "
                          "this looks like a CoNLL file, not label<TAB>text: tag entities "
                          "with 'embedkit ner'")
    distinct = set(labels)
    if len(distinct) > MAX_DISTINCT_LABELS and len(distinct) > n / 2:
        some = ", ".join(repr(x) for x in sorted(distinct)[:5])
        raise FormatError(f"{path}: {len(distinct)} distinct labels in {n} examples ({some}, "
                          "...): a classifier needs a few labels, each seen many times; check "
                          "the label column (--label-column) or whether this is a TSV "
                          "label<TAB>text file")


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
                hint = ("; this looks like a label<TAB>text file: classify texts with "
                        "'embedkit sentiment'" if _looks_like_tsv_line(line) else "")
                raise FormatError(f"{path}, line {lineno}: tag {tag!r} is not O, B-X or I-X "
                                  f"(BIO tags; pick the tag column with --tag-column){hint}")
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
    check_positive("batch_size", batch_size, integer=True)
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
