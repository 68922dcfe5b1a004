"""Word-similarity evaluation: Spearman and Pearson correlation with human scores.

Matches :meth:`gensim.models.KeyedVectors.evaluate_word_pairs`: the first ``restrict_vocab``
words (upper-cased with ``case_insensitive``, the first case variant winning) form the
vocabulary; a pair with a word outside it is out of vocabulary and skipped (or scored 0 with
``dummy4unknown``); the model similarity is the float32 cosine of gensim's unit vectors; the
correlations are SciPy's ``spearmanr`` and ``pearsonr`` on the same lists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from embedkit.errors import ParameterError
from embedkit.evaluation.datasets import SimilaritySet, load_dataset

log = logging.getLogger(__name__)


@dataclass
class SimilarityResult:
    """Correlations of one similarity set; ``oov_pairs`` lists the uncovered pairs."""

    name: str
    n: int
    n_covered: int
    spearman: float
    spearman_pvalue: float
    pearson: float
    pearson_pvalue: float
    oov_ratio: float
    dummy4unknown: bool
    model: np.ndarray = field(repr=False, default=None)
    oov_pairs: list = field(repr=False, default_factory=list)

    @property
    def coverage(self) -> float:
        return self.n_covered / self.n if self.n else float("nan")

    def records(self) -> list[dict]:
        """Two records: Spearman's rho and Pearson's r."""
        base = {"set": self.name, "level": "total", "name": "total",
                "coverage": self.coverage, "n": self.n, "n_covered": self.n_covered,
                "n_correct": None}
        return [dict(base, metric="spearman", score=self.spearman),
                dict(base, metric="pearson", score=self.pearson)]


def _unit_rows(vectors, rows):
    """gensim's ``matutils.unitvec`` of each row: float64 nrm2 and scal, then float32."""
    from scipy.linalg import get_blas_funcs

    nrm2 = get_blas_funcs("nrm2", (np.array([], dtype=float),))
    scal = get_blas_funcs("scal", (np.array([], dtype=float),))
    out = {}
    st = vectors.storage
    for r in rows:
        vec = st.data[r] if st.dtype == "float32" else st.rows([r])[0]
        veclen = nrm2(vec) if vec.size else 0.0
        out[r] = scal(1.0 / veclen, vec).astype(vec.dtype) if veclen > 0.0 else vec
    return out


def evaluate_similarity(vectors, dataset="ws353", restrict_vocab: int | None = 300000,
                        case_insensitive: bool = True, dummy4unknown: bool = False,
                        skip_bad_lines: bool = False) -> SimilarityResult:
    """Correlate the model's cosine similarities with a set's human scores.

    Parameters
    ----------
    vectors : Vectors
    dataset : str or SimilaritySet, default "ws353"
        A shipped set name (see :func:`embedkit.evaluation.list_datasets`), a path, or a set.
    restrict_vocab : int or None, default 300000
        Only the first ``restrict_vocab`` words count as in vocabulary (gensim's default).
    case_insensitive : bool, default True
        Upper-case vocabulary and pairs, as gensim does.
    dummy4unknown : bool, default False
        Score out-of-vocabulary pairs as similarity 0 instead of skipping them.
    skip_bad_lines : bool, default False
        When reading a file, skip malformed lines with a warning instead of raising.

    Returns
    -------
    SimilarityResult
        NaN correlations (and a warning) when fewer than two pairs are covered.
    """
    from scipy import stats

    from embedkit.evaluation.analogy import check_restrict_vocab

    check_restrict_vocab(restrict_vocab)
    ds = dataset if isinstance(dataset, SimilaritySet) else load_dataset(str(dataset), skip_bad_lines)
    if not isinstance(ds, SimilaritySet):
        raise ParameterError(f"{dataset!r} is an analogy set, not a word-similarity set: "
                             "use evaluate_analogies")
    R = len(vectors) if restrict_vocab is None else min(int(restrict_vocab), len(vectors))
    lookup: dict[str, int] = {}
    for i, w in enumerate(vectors.words[:R]):
        lookup.setdefault(w.upper() if case_insensitive else w, i)

    def row(w):
        return lookup.get(w.upper() if case_insensitive else w, -1)

    ra = np.array([row(w) for w in ds.word1], dtype=np.int64)
    rb = np.array([row(w) for w in ds.word2], dtype=np.int64)
    ok = (ra >= 0) & (rb >= 0)
    units = _unit_rows(vectors, set(ra[ok].tolist()) | set(rb[ok].tolist()))
    gold, model, oov_pairs = [], [], []
    for i in range(len(ds)):
        if not ok[i]:
            oov_pairs.append((ds.word1[i], ds.word2[i]))
            if dummy4unknown:
                model.append(0.0)
                gold.append(ds.gold[i])
            continue
        gold.append(ds.gold[i])
        model.append(np.dot(units[ra[i]], units[rb[i]]))
    oov = len(oov_pairs)
    if oov:
        log.info("%s: %d of %d pairs have a word outside the first %d words", ds.name, oov,
                 len(ds), R)
    n_cov = int(ok.sum())
    if len(model) < 2:
        log.warning("%s: only %d pair(s) covered by the first %d words: no correlation; "
                    "raise restrict_vocab or check the case of the vocabulary", ds.name, n_cov, R)
        rho = p_rho = r = p_r = float("nan")
    else:
        sp = stats.spearmanr(gold, model)
        pe = stats.pearsonr(gold, model)
        rho, p_rho = float(sp[0]), float(sp[1])
        r, p_r = float(pe[0]), float(pe[1])
    if dummy4unknown:
        oov_ratio = float(oov) / len(gold) * 100 if gold else float("nan")
    else:
        oov_ratio = float(oov) / (len(gold) + oov) * 100
    return SimilarityResult(name=ds.name, n=len(ds), n_covered=n_cov, spearman=rho,
                            spearman_pvalue=p_rho, pearson=r, pearson_pvalue=p_r,
                            oov_ratio=oov_ratio, dummy4unknown=dummy4unknown,
                            model=np.array(model, dtype=np.float64), oov_pairs=oov_pairs)
