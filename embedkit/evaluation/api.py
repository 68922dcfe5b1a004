"""``embedkit.evaluate``: run a suite of analogy and similarity sets into one DataFrame."""

from __future__ import annotations

import logging

from embedkit.errors import ParameterError
from embedkit.evaluation.analogy import METHODS, evaluate_analogies
from embedkit.evaluation.datasets import dataset_kind, list_datasets, load_dataset
from embedkit.evaluation.similarity import evaluate_similarity

log = logging.getLogger(__name__)

SUITES = ("all", "analogy", "similarity")
COLUMNS = ["set", "level", "name", "metric", "score", "coverage", "n", "n_covered", "n_correct"]
# What suite="all" runs when no sets are named: every shipped set.
DEFAULT_ANALOGY = ("google", "msr", "bats")


def _as_vectors(vectors):
    from embedkit.vectors import Vectors

    if isinstance(vectors, Vectors):
        return vectors
    if isinstance(vectors, (str, bytes)) or hasattr(vectors, "__fspath__"):
        from embedkit import load

        return load(vectors)
    raise ParameterError(f"vectors must be an embedkit Vectors or a path, got "
                         f"{type(vectors).__name__}")


def evaluate(vectors, suite: str = "all", sets=None, methods=("3cosadd",),
             restrict_vocab: int | None = 30000, similarity_restrict_vocab: int | None = 300000,
             case_insensitive: bool = True, dummy4unknown: bool = False,
             skip_bad_lines: bool = False):
    """Evaluate word vectors on analogy and word-similarity sets.

    Parameters
    ----------
    vectors : Vectors or str
        The vectors, or a file to load.
    suite : {"all", "analogy", "similarity"}, default "all"
        Which kind of sets to run (when ``sets`` is given, only those of this kind).
    sets : list of str, optional
        Shipped set names (``google``, ``msr``, ``bats``, ``ws353``, ``simlex999``, ...) or
        paths of your own files.  Default: every shipped set of the suite.
    methods : sequence of {"3cosadd", "3cosmul"}, default ("3cosadd",)
        Analogy methods.
    restrict_vocab : int or None, default 30000
        Analogies: only the first words are candidates and count as in vocabulary.
    similarity_restrict_vocab : int or None, default 300000
        Similarity: the vocabulary size considered (gensim's default for word pairs).
    case_insensitive : bool, default True
        Upper-case vocabulary and datasets, as gensim does.
    dummy4unknown : bool, default False
        Count uncovered questions as wrong / uncovered pairs as similarity 0.
    skip_bad_lines : bool, default False
        Skip malformed dataset lines with a warning instead of raising.

    Returns
    -------
    pandas.DataFrame
        Columns ``set, level, name, metric, score, coverage, n, n_covered, n_correct``.
        ``level`` is ``total`` for the set's headline figure, ``family`` and ``section`` for
        analogy breakdowns.  Scores are accuracy (0-1) or correlation; coverage is the share
        of questions or pairs whose words are all in the vocabulary.
    """
    import pandas as pd

    if suite not in SUITES:
        raise ParameterError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = [m.lower() for m in methods]
    for m in methods:
        if m not in METHODS:
            raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {m!r}")
    if not methods:
        raise ParameterError("methods is empty: give at least one of 3cosadd, 3cosmul")
    v = _as_vectors(vectors)
    if sets is None:
        names = []
        if suite in ("all", "analogy"):
            names += list(DEFAULT_ANALOGY)
        if suite in ("all", "similarity"):
            names += list_datasets("similarity")
    else:
        if isinstance(sets, str):
            sets = [s.strip() for s in sets.split(",") if s.strip()]
        if not sets:
            raise ParameterError("sets is empty: name at least one set or leave it out")
        names = []
        for s in sets:
            kind = dataset_kind(str(s))
            if suite == "all" or suite == kind:
                names.append(str(s))
            else:
                log.warning("skipping %s: it is a %s set and the suite is %s", s, kind, suite)
    records = []
    for name in names:
        ds = load_dataset(name, skip_bad_lines=skip_bad_lines)
        if dataset_kind(name) == "analogy":
            for m in methods:
                res = evaluate_analogies(v, ds, method=m, restrict_vocab=restrict_vocab,
                                         case_insensitive=case_insensitive,
                                         dummy4unknown=dummy4unknown)
                records.extend(res.records())
        else:
            res = evaluate_similarity(v, ds, restrict_vocab=similarity_restrict_vocab,
                                      case_insensitive=case_insensitive,
                                      dummy4unknown=dummy4unknown)
            records.extend(res.records())
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    df["n_correct"] = df["n_correct"].astype("Int64")
    return df
