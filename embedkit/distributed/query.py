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
