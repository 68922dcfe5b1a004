"""Word Mover's Distance (Kusner et al., 2015) between two bags of words.

The transport problem is solved exactly: with POT's network simplex (``ot.emd2``, the
solver gensim uses) when POT is installed, otherwise with SciPy's HiGHS linear programming
solver, which is always available.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np
from scipy.spatial.distance import cdist

from embedkit.errors import ParameterError

log = logging.getLogger(__name__)

SOLVERS = ("auto", "pot", "scipy")


def emd(a: np.ndarray, b: np.ndarray, cost: np.ndarray, solver: str = "auto") -> float:
    """Minimum cost of moving the mass ``a`` (sums to 1) onto ``b`` under ``cost``.

    Parameters
    ----------
    a : ndarray of shape (n,)
    b : ndarray of shape (m,)
    cost : ndarray of shape (n, m)
    solver : {"auto", "pot", "scipy"}
        ``auto`` uses POT when it is installed.
    """
    if solver not in SOLVERS:
        raise ParameterError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    if solver in ("auto", "pot"):
        try:
            import ot
        except ImportError:
            if solver == "pot":
                raise ParameterError("solver='pot' needs POT: pip install 'embedkit[wmd]'") \
                    from None
        else:
            return float(ot.emd2(a, b, cost))
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    n, m = cost.shape
    idx = np.arange(n * m)
    rows = np.concatenate([idx // m, n + idx % m])
    a_eq = coo_matrix((np.ones(2 * n * m), (rows, np.concatenate([idx, idx]))),
                      shape=(n + m, n * m)).tocsr()
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]), bounds=(0, None),
                  method="highs")
    if res.status != 0:  # pragma: no cover - a balanced transport problem is always feasible
        raise ParameterError(f"the transport problem could not be solved: {res.message}")
    return float(res.fun)


def wmdistance(vectors, document1, document2, norm: bool = True, solver: str = "auto") -> float:
    """Word Mover's Distance between two token lists (see ``Vectors.wmdistance``)."""
    for name, doc in (("document1", document1), ("document2", document2)):
        if isinstance(doc, str):
            raise ParameterError(f"{name} must be a list of tokens, got a string "
                                 "(split it first, e.g. text.split())")
    len1, len2 = len(document1), len(document2)
    doc1 = [t for t in document1 if vectors._known(t)]
    doc2 = [t for t in document2 if vectors._known(t)]
    if len1 - len(doc1) or len2 - len(doc2):
        log.info("removed %d and %d unknown words from document 1 and 2",
                 len1 - len(doc1), len2 - len(doc2))
    if not doc1 or not doc2:
        log.warning("at least one of the documents has no word in the vocabulary: the "
                    "distance is infinite")
        return float("inf")
    if len(set(doc1) | set(doc2)) == 1:
        return 0.0
    bag1, bag2 = Counter(doc1), Counter(doc2)
    words1, words2 = list(bag1), list(bag2)
    v1 = np.array([vectors.get_vector(t, norm=norm) for t in words1])
    v2 = np.array([vectors.get_vector(t, norm=norm) for t in words2])
    cost = cdist(v1, v2)
    if abs(np.sum(cost)) < 1e-8:
        log.info("every distance between the two documents' words is zero: returning inf "
                 "(as gensim does)")
        return float("inf")
    a = np.array([bag1[w] for w in words1], dtype=np.float64) / len(doc1)
    b = np.array([bag2[w] for w in words2], dtype=np.float64) / len(doc2)
    return emd(a, b, cost, solver=solver)
