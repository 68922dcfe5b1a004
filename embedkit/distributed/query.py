"""Batch analogy / similarity queries mapped over Dask workers.

Each worker process opens the vectors (an ``.ekv`` file is memory-mapped, so workers on
one machine share its pages; on a cluster it sits on shared storage) and the index saved
beside them once, and keeps them for the following batches.  Query batches are mapped over
the workers and gathered in submission order, so the answers come back in input order,
the same as :func:`embedkit.search.batch.combination_words` gives in one process.
"""

from __future__ import annotations

import os

_OPEN: dict = {}


def _vectors(path: str):
    """The vectors (and index) of ``path``, opened once per worker process (reopened when
    the file changes)."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    got = _OPEN.get(key)
    if got is None:
        from embedkit.search.index import Index
        from embedkit.search.store import index_paths
        from embedkit.vectors.default import load_vectors

        vectors, real = load_vectors(path)
        index = Index.open(vectors, real) if os.path.exists(index_paths(real)[0]) else None
        _OPEN.clear()
        got = _OPEN[key] = (vectors, index)
    return got


def _answer(path: str, positive, negative, k: int, method: str):
    from embedkit.search.batch import combination_words

    vectors, index = _vectors(path)
    return combination_words(vectors, positive, negative, k=k, method=method, index=index)


def combination_words_on(client, vectors_path, positive, negative, k: int = 10,
                         method: str = "3cosadd", batch_size: int = 2048):
    """:func:`~embedkit.search.batch.combination_words` over a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    vectors_path : path
        Vectors every worker can open (an ``.ekv`` file is memory-mapped).
    positive, negative : list of lists of str
        Per query, the words added and subtracted (already resolved to vocabulary
        spellings).
    k, method
        As :func:`~embedkit.search.batch.combination_words`.
    batch_size : int
        Queries per task.

    Returns
    -------
    list of list of (word, score)
        One list per query, in input order.
    """
    from embedkit._params import check_positive

    check_positive("batch_size", batch_size, integer=True)
    path = os.path.abspath(os.fspath(vectors_path))
    futures = [client.submit(_answer, path, positive[i:i + batch_size],
                             negative[i:i + batch_size], k, method, pure=False)
               for i in range(0, len(positive), batch_size)]
    out = []
    for answers in client.gather(futures):  # gathered in submission order
        out.extend(answers)
    return out


_LOADED: dict = {}


def _loaded(path: str):
    """``embedkit.load(path)`` once per worker process (reloaded when the file changes)."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    got = _LOADED.get(key)
    if got is None:
        import embedkit

        _LOADED.clear()
        got = _LOADED[key] = embedkit.load(path)
    return got


_SETS: dict = {}


def _dataset(name: str, skip_bad_lines: bool):
    """An evaluation set, read once per worker process."""
    from embedkit.evaluation.datasets import load_dataset

    key = (name, bool(skip_bad_lines))
    got = _SETS.get(key)
    if got is None:
        if len(_SETS) > 16:
            _SETS.clear()
        got = _SETS[key] = load_dataset(name, skip_bad_lines=skip_bad_lines)
    return got


def _analogy_chunk(path: str, name: str, lo: int, hi: int, method: str, options: dict):
    """Questions ``[lo, hi)`` of analogy set ``name`` answered on a worker: their
    ``(covered, correct, predicted, n_exact)``."""
    import dataclasses

    from embedkit.evaluation.analogy import evaluate_analogies

    ds = _dataset(name, options["skip_bad_lines"])
    part = dataclasses.replace(ds, a=ds.a[lo:hi], b=ds.b[lo:hi], c=ds.c[lo:hi],
                               d=ds.d[lo:hi], section=ds.section[lo:hi])
    res = evaluate_analogies(_loaded(path), part, method=method,
                             restrict_vocab=options["restrict_vocab"],
                             case_insensitive=options["case_insensitive"],
                             dummy4unknown=options["dummy4unknown"])
    return res.covered, res.correct, res.predicted, res.n_exact


def _similarity_set(path: str, name: str, options: dict) -> list:
    from embedkit.evaluation.similarity import evaluate_similarity

    res = evaluate_similarity(_loaded(path), _dataset(name, options["skip_bad_lines"]),
                              restrict_vocab=options["similarity_restrict_vocab"],
                              case_insensitive=options["case_insensitive"],
                              dummy4unknown=options["dummy4unknown"])
    return res.records()


def evaluate_on(client, vectors_path, suite: str = "all", sets=None, methods=("3cosadd",),
                restrict_vocab: int | None = 30000,
                similarity_restrict_vocab: int | None = 300000, case_insensitive: bool = True,
                dummy4unknown: bool = False, skip_bad_lines: bool = False,
                chunk_size: int = 2048):
    """:func:`embedkit.evaluation.evaluate` with the questions mapped over Dask workers;
    the DataFrame is the same, rows in the same order.

    Every analogy set is cut into chunks of ``chunk_size`` questions, one task per chunk
    and method (a question's answer depends only on the question, so a set of any size
    spreads over every worker); the per-question outcomes come back in order and are
    scored on the client as :func:`evaluate` scores them.  A similarity set (a Spearman
    correlation over all its pairs, and small) is one task.

    Parameters
    ----------
    client : distributed.Client
    vectors_path : path
        A vector file every worker can open (``.ekv`` is memory-mapped).
    suite, sets, methods, restrict_vocab, similarity_restrict_vocab, case_insensitive, \
dummy4unknown, skip_bad_lines
        As :func:`embedkit.evaluation.evaluate` (dataset paths must be reachable by the
        workers).
    chunk_size : int
        Analogy questions per task.
    """
    import numpy as np
    import pandas as pd

    from embedkit.errors import ParameterError
    from embedkit.evaluation.analogy import AnalogyResult, check_restrict_vocab
    from embedkit.evaluation.api import (COLUMNS, DEFAULT_ANALOGY, METHODS, SUITES,
                                         dataset_kind, list_datasets)

    if suite not in SUITES:
        raise ParameterError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = [m.lower() for m in methods]
    if not methods or any(m not in METHODS for m in methods):
        raise ParameterError(f"methods must be among {', '.join(METHODS)}, got {methods!r}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    check_restrict_vocab(restrict_vocab)
    if sets is None:
        names = (list(DEFAULT_ANALOGY) if suite in ("all", "analogy") else []) + \
            (list_datasets("similarity") if suite in ("all", "similarity") else [])
    else:
        if isinstance(sets, str):
            sets = [s.strip() for s in sets.split(",") if s.strip()]
        if not sets:
            raise ParameterError("sets is empty: name at least one set or leave it out")
        names = [str(s) for s in sets if suite in ("all", dataset_kind(str(s)))]
    options = {"restrict_vocab": restrict_vocab,
               "similarity_restrict_vocab": similarity_restrict_vocab,
               "case_insensitive": bool(case_insensitive), "dummy4unknown": bool(dummy4unknown),
               "skip_bad_lines": bool(skip_bad_lines)}
    path = os.path.abspath(os.fspath(vectors_path))
    jobs = []  # (dataset or None, method, futures): in the order evaluate() runs them
    for name in names:
        if dataset_kind(name) == "analogy":
            ds = _dataset(name, skip_bad_lines)  # read here too: it scores the outcomes
            for m in methods:
                futures = [client.submit(_analogy_chunk, path, name, lo,
                                         min(len(ds), lo + chunk_size), m, options, pure=False)
                           for lo in range(0, len(ds), chunk_size)]
                jobs.append((ds, m, futures))
        else:
            jobs.append((None, None, [client.submit(_similarity_set, path, name, options,
                                                    pure=False)]))
    records = []
    try:
        for ds, method, futures in jobs:
            parts = client.gather(futures)  # in submission order: question order
            if ds is None:
                records.extend(parts[0])
                continue
            covered, correct, predicted = (
                np.concatenate([p[i] for p in parts]) if parts else
                np.zeros(0, dtype=dt) for i, dt in enumerate((bool, bool, np.int64)))
            records.extend(AnalogyResult(
                name=ds.name, method=method, dataset=ds, covered=covered, correct=correct,
                predicted=predicted, restrict_vocab=restrict_vocab,
                case_insensitive=bool(case_insensitive), dummy4unknown=bool(dummy4unknown),
                n_exact=int(sum(p[3] for p in parts))).records())
    except BaseException:
        client.cancel([f for _, _, fs in jobs for f in fs])
        raise
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    df["n_correct"] = df["n_correct"].astype("Int64")
    return df
