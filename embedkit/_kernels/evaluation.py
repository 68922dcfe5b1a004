"""Kernels for analogy evaluation: the best candidate of each question from a score block.

A question's three words are given by their canonical rows (``qforms``).  Every candidate row
sharing a canonical row with a question word -- the word itself and, when evaluating
case-insensitively, its case variants -- is skipped: ``form_rows[form_ptr[f]:form_ptr[f + 1]]``
lists the rows of canonical row ``f``.  ``dead`` lists rows that never answer (zero vectors).
Ties keep the lowest row.  Besides the best row the kernels return the gap to the runner-up,
so that near ties can be re-checked exactly.  Score blocks are overwritten (they are scratch).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from embedkit._kernels._options import FAST

NEG = np.float32(-3.0e38)  # "minus infinity" that stays finite under fastmath


@njit(**FAST)
def _mask_and_pick(row, fa, fb, fc, form_ptr, form_rows, dead):
    for p in range(form_ptr[fa], form_ptr[fa + 1]):
        row[form_rows[p]] = NEG
    for p in range(form_ptr[fb], form_ptr[fb + 1]):
        row[form_rows[p]] = NEG
    for p in range(form_ptr[fc], form_ptr[fc + 1]):
        row[form_rows[p]] = NEG
    for p in range(dead.shape[0]):
        row[dead[p]] = NEG
    b1 = -1
    s1 = NEG
    s2 = NEG
    for j in range(row.shape[0]):
        s = row[j]
        if s > s2:
            if s > s1:
                s2 = s1
                s1 = s
                b1 = j
            else:
                s2 = s
    return b1, s1, s1 - s2


@njit(**FAST)
def best_excluding(scores, qforms, form_ptr, form_rows, dead, best, best_score, gap):
    """Best row of each row of ``scores`` (m, R) that is not a question word.

    Writes the row (-1 when none is left), its score and the gap to the runner-up.
    """
    for i in range(scores.shape[0]):
        b, s, g = _mask_and_pick(scores[i], qforms[i, 0], qforms[i, 1], qforms[i, 2],
                                 form_ptr, form_rows, dead)
        best[i] = b
        best_score[i] = s
        gap[i] = g


@njit(**FAST)
def best_excluding_cosmul(sa, sb, sc, qforms, form_ptr, form_rows, dead, eps,
                          best, best_score, gap):
    """3CosMul: best row by ``cos'(d,b) cos'(d,c) / (cos'(d,a) + eps)``, ``cos' = (1+cos)/2``.

    ``sa``, ``sb``, ``sc`` are the cosine blocks of the candidates with ``a``, ``b``, ``c``
    (Levy and Goldberg 2014, equation 4 with footnote 7's shift).  ``sa`` is overwritten.
    """
    half = np.float32(0.5)
    one = np.float32(1.0)
    n = sa.shape[1]
    for i in range(sa.shape[0]):
        row = sa[i]
        rb = sb[i]
        rc = sc[i]
        for j in range(n):
            row[j] = ((one + rb[j]) * half) * ((one + rc[j]) * half) / ((one + row[j]) * half + eps)
        b, s, g = _mask_and_pick(row, qforms[i, 0], qforms[i, 1], qforms[i, 2],
                                 form_ptr, form_rows, dead)
        best[i] = b
        best_score[i] = s
        gap[i] = g
