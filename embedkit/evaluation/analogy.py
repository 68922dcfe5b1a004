"""Analogy evaluation (3CosAdd, 3CosMul), batched by matrix products.

The questions of a set are scored in chunks: the cosines of a chunk of query vectors with
the first ``R`` rows (``R = restrict_vocab``; products with blocks of the stored rows divided
by the row norms, no normalised copy of the matrix), then a Numba kernel picks each
question's best candidate, skipping the three question words.  Nothing loops over questions
in Python except for the rare near ties, which are re-scored exactly as gensim does so that
the counts agree with :meth:`gensim.models.KeyedVectors.evaluate_word_analogies`.

gensim's rules, matched by default:

- only the first ``restrict_vocab`` words are candidates *and* only questions whose four words
  are among them are covered (the others are out of vocabulary);
- with ``case_insensitive`` both the vocabulary and the questions are upper-cased; several
  case variants of a word share the vector of the first (most frequent) one, and none of the
  variants of a question word may be predicted;
- a covered question is correct when the best candidate that is not a question word equals
  the expected word; uncovered questions are skipped (or counted wrong with
  ``dummy4unknown=True``) -- embedkit always reports them as coverage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from embedkit._kernels.evaluation import best_excluding, best_excluding_cosmul
from embedkit._progress import progress_bar
from embedkit._params import check_positive
from embedkit.errors import ParameterError
from embedkit.evaluation.datasets import AnalogySet, load_dataset

log = logging.getLogger(__name__)

METHODS = ("3cosadd", "3cosmul")
COSMUL_EPS = np.float32(1e-6)  # gensim's most_similar_cosmul constant
# Candidates closer than this to the runner-up are re-scored exactly like gensim.
TIE_TOLERANCE = 5e-5
_SCORE_BUDGET = 1 << 24  # floats per score block (64 MB)


@dataclass
class AnalogyResult:
    """Per-question outcome of one analogy set under one method.

    Attributes
    ----------
    covered : ndarray of bool
        The question's words are all within the first ``restrict_vocab`` words.
    correct : ndarray of bool
        Covered and answered correctly.
    predicted : ndarray of int64
        Row of the predicted word (-1 when not covered).
    """

    name: str
    method: str
    dataset: AnalogySet
    covered: np.ndarray
    correct: np.ndarray
    predicted: np.ndarray
    restrict_vocab: int | None
    case_insensitive: bool
    dummy4unknown: bool
    n_exact: int = 0

    @property
    def n(self) -> int:
        return int(len(self.covered))

    @property
    def n_covered(self) -> int:
        return int(self.covered.sum())

    @property
    def n_correct(self) -> int:
        return int(self.correct.sum())

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n if self.n else float("nan")

    @property
    def accuracy(self) -> float:
        """Correct / covered (gensim's score), or correct / all with ``dummy4unknown``."""
        return _ratio(self.n_correct, self.n if self.dummy4unknown else self.n_covered)

    def records(self) -> list[dict]:
        """One record for the total, each family and each section."""
        ds = self.dataset
        out = [self._record("total", "total", np.ones(self.n, dtype=bool))]
        fam_of_q = np.asarray(ds.section_families, dtype=object)[ds.section] if self.n else []
        for fam in ds.families:
            out.append(self._record("family", fam, fam_of_q == fam))
        for sid, sec in enumerate(ds.section_names):
            out.append(self._record("section", sec, ds.section == sid))
        return out

    def _record(self, level, name, mask) -> dict:
        n = int(mask.sum())
        cov = int(self.covered[mask].sum())
        cor = int(self.correct[mask].sum())
        return {"set": self.name, "level": level, "name": name, "metric": self.method,
                "score": _ratio(cor, n if self.dummy4unknown else cov),
                "coverage": _ratio(cov, n), "n": n, "n_covered": cov, "n_correct": cor}


def _ratio(a, b) -> float:
    return a / b if b else float("nan")


class _Candidates:
    """The first R rows as candidates: their forms and the word -> form lookup."""

    def __init__(self, vectors, restrict_vocab, case_insensitive):
        n = len(vectors)
        self.R = n if restrict_vocab is None else min(int(restrict_vocab), n)
        self.case_insensitive = case_insensitive
        words = vectors.words[:self.R]
        keys = [w.upper() for w in words] if case_insensitive else words
        lookup: dict[str, int] = {}
        for i, k in enumerate(keys):
            lookup.setdefault(k, i)  # the first variant wins, as in gensim's reversed() dict
        self.lookup = lookup
        if len(lookup) == self.R:
            self.raw_forms = np.arange(self.R, dtype=np.int64)
        else:
            self.raw_forms = np.fromiter((lookup[k] for k in keys), dtype=np.int64, count=self.R)
        self.norms = vectors.storage.norms[:self.R]  # the values np.linalg.norm gives
        self.dead = np.flatnonzero(self.norms == 0).astype(np.int64)  # zero vectors never answer
        counts = np.bincount(self.raw_forms, minlength=self.R)
        self.variants = counts - 1
        # rows grouped by canonical row (CSR): the rows a question word excludes
        self.form_ptr = np.zeros(self.R + 1, dtype=np.int64)
        np.cumsum(counts, out=self.form_ptr[1:])
        self.form_rows = np.argsort(self.raw_forms, kind="stable").astype(np.int64)

    def resolve(self, alternatives) -> int:
        for w in alternatives:
            f = self.lookup.get(w.upper() if self.case_insensitive else w)
            if f is not None:
                return f
        return -1

    def resolve_all(self, alternatives) -> list[int]:
        out = []
        for w in alternatives:
            f = self.lookup.get(w.upper() if self.case_insensitive else w)
            if f is not None and f not in out:
                out.append(f)
        return out


def check_restrict_vocab(restrict_vocab) -> None:
    """Raise :class:`ParameterError` unless ``restrict_vocab`` is a positive int or None."""
    if restrict_vocab is not None:
        if isinstance(restrict_vocab, bool) or not isinstance(restrict_vocab, (int, np.integer)):
            raise ParameterError(f"restrict_vocab must be a positive integer or None "
                                 f"(the whole vocabulary), got {restrict_vocab!r}")
        if restrict_vocab < 1:
            raise ParameterError(f"restrict_vocab must be >= 1 or None (the whole vocabulary), "
                                 f"got {restrict_vocab}")


def _check_args(method, restrict_vocab):
    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    check_restrict_vocab(restrict_vocab)


def evaluate_analogies(vectors, dataset="google", method: str = "3cosadd",
                       restrict_vocab: int | None = 30000, case_insensitive: bool = True,
                       dummy4unknown: bool = False, exact_ties: bool = True,
                       batch_size: int | None = None, skip_bad_lines: bool = False,
                       ) -> AnalogyResult:
    """Answer every question of an analogy set and score it.

    Parameters
    ----------
    vectors : Vectors
        The word vectors (rows in frequency order, as restrict_vocab assumes).
    dataset : str or AnalogySet, default "google"
        A shipped set name (``google``, ``msr``, ``bats``), a file/directory path, or a set.
    method : {"3cosadd", "3cosmul"}
        3CosAdd: argmax cos(d, b - a + c); 3CosMul: argmax cos'(d,b) cos'(d,c) / (cos'(d,a) + 1e-6)
        with cos' = (1 + cos) / 2 (Levy and Goldberg 2014).
    restrict_vocab : int or None, default 30000
        Only the first ``restrict_vocab`` words are candidates and count as in vocabulary
        (None: the whole vocabulary).
    case_insensitive : bool, default True
        Upper-case vocabulary and questions, as gensim does.
    dummy4unknown : bool, default False
        Count uncovered questions as wrong in the score (gensim's option); coverage is
        reported either way.
    exact_ties : bool, default True
        Re-score questions whose best two candidates are within ``5e-5`` exactly as gensim
        does (3CosAdd only), so that near ties resolve identically.
    batch_size : int, optional
        Questions per matrix product (default: a 64 MB score block).
    skip_bad_lines : bool, default False
        When reading a file, skip malformed lines with a warning instead of raising.

    Returns
    -------
    AnalogyResult
    """
    _check_args(method, restrict_vocab)
    if batch_size is not None:
        check_positive("batch_size", batch_size, integer=True)
    ds = dataset if isinstance(dataset, AnalogySet) else load_dataset(str(dataset), skip_bad_lines)
    if not isinstance(ds, AnalogySet):
        raise ParameterError(f"{dataset!r} is a word-similarity set, not an analogy set: "
                             "use evaluate_similarity")
    cand = _Candidates(vectors, restrict_vocab, case_insensitive)
    n = len(ds)
    cache: dict = {}

    def res(alts):
        f = cache.get(alts)
        if f is None:
            f = cache[alts] = cand.resolve(alts)
        return f

    qa = np.fromiter((res(x) for x in ds.a), dtype=np.int64, count=n)
    qb = np.fromiter((res(x) for x in ds.b), dtype=np.int64, count=n)
    qc = np.fromiter((res(x) for x in ds.c), dtype=np.int64, count=n)
    single = all(len(x) == 1 for x in ds.d)
    if single:
        qd = np.fromiter((res(x) for x in ds.d), dtype=np.int64, count=n)
        d_ok = qd >= 0
    else:
        d_lists = [cand.resolve_all(x) for x in ds.d]
        d_ok = np.fromiter((bool(x) for x in d_lists), dtype=bool, count=n)
    covered = (qa >= 0) & (qb >= 0) & (qc >= 0) & d_ok
    predicted = np.full(n, -1, dtype=np.int64)
    n_cov = int(covered.sum())
    if n_cov == 0:
        log.warning("%s: none of the %d questions is covered by the first %s words; "
                    "raise restrict_vocab or check the case of the vocabulary",
                    ds.name, n, cand.R)
    elif n_cov < n:
        log.info("%s: %d of %d questions (%.1f%%) have a word outside the first %d words and "
                 "are not covered", ds.name, n - n_cov, n, 100.0 * (n - n_cov) / n, cand.R)

    idx = np.flatnonzero(covered)
    qforms = np.stack([qa, qb, qc], axis=1)
    n_exact = 0
    if n_cov:
        pred_rows, gaps = _score(vectors, cand, qforms[idx], method, batch_size, ds.name)
        predicted[idx] = np.where(pred_rows >= 0, cand.raw_forms[np.maximum(pred_rows, 0)], -1)
        if method == "3cosadd" and exact_ties:
            fa, fb, fc = qa[idx], qb[idx], qc[idx]
            var = cand.variants
            n_var = var[fa] + var[fb] * (fb != fa) + var[fc] * ((fc != fa) & (fc != fb))
            redo = (gaps < TIE_TOLERANCE) | (n_var >= 5) | (cand.R < 16)
            redo_idx = np.flatnonzero(redo)
            n_exact = len(redo_idx)
            if n_exact:
                log.debug("%s: re-scoring %d near ties exactly", ds.name, n_exact)
                exact = _GensimExact(vectors, cand)
                for k in redo_idx:
                    predicted[idx[k]] = exact.predict(fa[k], fb[k], fc[k])

    if single:
        correct = covered & (predicted == qd) & (predicted >= 0)
    else:
        correct = np.zeros(n, dtype=bool)
        for i in idx:
            correct[i] = predicted[i] >= 0 and predicted[i] in d_lists[i]
    return AnalogyResult(name=ds.name, method=method, dataset=ds, covered=covered,
                         correct=correct, predicted=predicted, restrict_vocab=restrict_vocab,
                         case_insensitive=case_insensitive, dummy4unknown=dummy4unknown,
                         n_exact=n_exact)


def _score(vectors, cand, qforms, method, batch_size, name):
    """Best candidate row and gap for each question (rows of ``qforms``: forms of a, b, c)."""
    st = vectors.storage
    m = len(qforms)
    per = 3 if method == "3cosmul" else 1
    bs = batch_size or max(16, min(4096, _SCORE_BUDGET // (per * max(cand.R, 1))))
    best = np.empty(m, dtype=np.int64)
    best_score = np.empty(m, dtype=np.float32)
    gap = np.empty(m, dtype=np.float32)
    args = (cand.form_ptr, cand.form_rows, cand.dead)
    with progress_bar(total=m, desc=f"{name} {method}", unit="q", leave=False) as bar:
        for s in range(0, m, bs):
            e = min(m, s + bs)
            q = np.ascontiguousarray(qforms[s:e])
            if method == "3cosadd":
                Q = st.unit_rows(q[:, 1]) + st.unit_rows(q[:, 2]) - st.unit_rows(q[:, 0])
                norms = np.linalg.norm(Q, axis=1, keepdims=True)
                norms[norms == 0] = 1.0
                Q /= norms
                S = st.cosines(Q, 0, cand.R)
                best_excluding(S, q, *args, best[s:e], best_score[s:e], gap[s:e])
            else:
                X = st.unit_rows(np.concatenate([q[:, 0], q[:, 1], q[:, 2]]))
                S = st.cosines(X, 0, cand.R)
                k = e - s
                best_excluding_cosmul(S[:k], S[k:2 * k], S[2 * k:], q, *args, COSMUL_EPS,
                                      best[s:e], best_score[s:e], gap[s:e])
            bar.update(e - s)
    return best, gap


class _GensimExact:
    """gensim 4.4's 3CosAdd answer for one question, reproduced operation by operation.

    Used only for near ties (and when a question word has five or more case variants, where
    gensim's top-5 window can run out), so the batched path and gensim resolve them alike.
    """

    def __init__(self, vectors, cand):
        from scipy.linalg import get_blas_funcs

        self.storage = vectors.storage
        self.R = cand.R
        self.norms = cand.norms
        self.raw_forms = cand.raw_forms
        self.nrm2 = get_blas_funcs("nrm2", (np.array([], dtype=float),))
        self.scal = get_blas_funcs("scal", (np.array([], dtype=float),))

    def _unitvec(self, vec):
        veclen = self.nrm2(vec) if vec.size else 0.0
        if veclen > 0.0:
            return self.scal(1.0 / veclen, vec).astype(vec.dtype)
        return vec

    def predict(self, fa, fb, fc) -> int:
        unit = [row / self.norms[f] for f, row in zip((fb, fc, fa),
                                                       self.storage.rows([fb, fc, fa]))]
        weight = np.concatenate((np.ones(2), -1.0 * np.ones(1)))
        mean = np.zeros(self.storage.dim, np.float32)
        total_weight = 0
        for w, vec in zip(weight, unit):
            mean += w * vec
            total_weight += abs(w)
        mean = mean / total_weight
        mean = self._unitvec(mean).astype(np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            dists = self.storage.dots(mean, 0, self.R) / self.norms
        x = -dists
        topn = 5 + 3
        if topn >= x.size:
            order = np.argsort(x)[:topn]
        else:
            part = np.argpartition(x, topn)[:topn]
            order = part.take(np.argsort(x.take(part)))
        keys = (int(fb), int(fc), int(fa))
        result = [int(i) for i in order if int(i) not in keys][:5]
        predicted = -1
        for i in result:
            predicted = int(self.raw_forms[i])
            if predicted not in keys:
                break
        return predicted
