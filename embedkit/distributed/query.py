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
    from embedkit.errors import ParameterError

    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
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


def _evaluate_one(path: str, name: str, methods: list, options: dict):
    from embedkit.evaluation import evaluate

    return evaluate(_loaded(path), suite="all", sets=[name], methods=methods, **options)


def evaluate_on(client, vectors_path, suite: str = "all", sets=None, methods=("3cosadd",),
                **options):
    """:func:`embedkit.evaluation.evaluate` with its sets (and analogy methods) mapped over
    Dask workers; the DataFrame is the same, rows in the same order.

    Parameters
    ----------
    client : distributed.Client
    vectors_path : path
        A vector file every worker can open (``.ekv`` is memory-mapped).
    suite, sets, methods, **options
        As :func:`embedkit.evaluation.evaluate` (dataset paths must be reachable by the
        workers).
    """
    import pandas as pd

    from embedkit.errors import ParameterError
    from embedkit.evaluation.api import (COLUMNS, DEFAULT_ANALOGY, METHODS, SUITES,
                                         dataset_kind, list_datasets)

    if suite not in SUITES:
        raise ParameterError(f"suite must be one of {', '.join(SUITES)}, got {suite!r}")
    if isinstance(methods, str):
        methods = [m.strip() for m in methods.split(",") if m.strip()]
    methods = [m.lower() for m in methods]
    if not methods or any(m not in METHODS for m in methods):
        raise ParameterError(f"methods must be among {', '.join(METHODS)}, got {methods!r}")
    if sets is None:
        names = (list(DEFAULT_ANALOGY) if suite in ("all", "analogy") else []) + \
            (list_datasets("similarity") if suite in ("all", "similarity") else [])
    else:
        if isinstance(sets, str):
            sets = [s.strip() for s in sets.split(",") if s.strip()]
        names = [str(s) for s in sets if suite in ("all", dataset_kind(str(s)))]
    path = os.path.abspath(os.fspath(vectors_path))
    jobs = []
    for name in names:
        per = [[m] for m in methods] if dataset_kind(name) == "analogy" else [methods]
        jobs += [client.submit(_evaluate_one, path, name, ms, options, pure=False)
                 for ms in per]
    frames = client.gather(jobs)  # in submission order: the order evaluate() runs them
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    df["n_correct"] = df["n_correct"].astype("Int64")
    return df
