"""gensim ``KeyedVectors`` compatibility, part 3: similarities between given keys
(``similarity``, ``distances``, ``closer_than``, ``rank``), the odd one out
(``rank_by_centrality``, ``doesnt_match``) and Word Mover's Distance.

Composed into :class:`~embedkit.vectors.keyed.KeyedVectorsMixin`.
"""

from __future__ import annotations

import logging

import numpy as np

from embedkit.errors import ParameterError
from embedkit.vectors.keyed_access import _KEY_TYPES, _unit

log = logging.getLogger(__name__)


class SimilarityMixin:
    """gensim's similarities between given keys for :class:`~embedkit.vectors.core.Vectors`."""

    # -- similarities between given keys ------------------------------------------------------
    def similarity(self, w1, w2) -> float:
        """Cosine similarity of two keys (words or row numbers)."""
        return float(np.dot(self.get_vector(w1, norm=True), self.get_vector(w2, norm=True)))

    def distance(self, w1, w2) -> float:
        """Cosine distance ``1 - similarity(w1, w2)``."""
        return 1.0 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2) -> float:
        """Cosine similarity of the means of two sets of keys (unknown keys are skipped,
        as in gensim)."""
        if not (len(ws1) and len(ws2)):
            raise ParameterError("n_similarity needs two non-empty lists of words")
        mean1 = self.get_mean_vector(ws1, pre_normalize=False)
        mean2 = self.get_mean_vector(ws2, pre_normalize=False)
        return float(np.dot(_unit(mean1), _unit(mean2)))

    @staticmethod
    def cosine_similarities(vector_1, vectors_all) -> np.ndarray:
        """Cosine of ``vector_1`` (shape ``(dim,)``) with each row of ``vectors_all``."""
        vector_1 = np.asarray(vector_1)
        vectors_all = np.asarray(vectors_all)
        if vectors_all.ndim != 2 or vector_1.shape != (vectors_all.shape[1],):
            raise ParameterError(f"cosine_similarities needs a vector of shape (dim,) and a "
                                 f"matrix (n, dim), got {vector_1.shape} and {vectors_all.shape}")
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        return vectors_all @ vector_1 / (norm * all_norms)

    def distances(self, word_or_vector, other_words=()) -> np.ndarray:
        """Cosine distances from a key or vector to ``other_words`` (default: every row)."""
        if isinstance(word_or_vector, _KEY_TYPES):
            query = self.get_vector(word_or_vector, norm=True)
        else:
            query = np.asarray(word_or_vector, dtype=np.float32)
            if query.shape != (self.dim,):
                raise ParameterError(f"vector must have shape ({self.dim},), got {query.shape}")
            query = _unit(query)
        if other_words is None or len(other_words) == 0:
            return 1 - self._all_scores(query, 0, len(self))
        rows = [self.get_index(w) for w in other_words]
        return 1 - self.storage.unit_rows(rows) @ query

    def closer_than(self, key1, key2) -> list[str]:
        """Every word closer to ``key1`` than ``key2`` is (``key1`` itself excluded)."""
        all_distances = self.distances(key1)
        e1 = self.get_index(key1)
        e2 = self.get_index(key2)
        closer = np.flatnonzero(all_distances < all_distances[e2])
        return [self._words[i] for i in closer if i != e1]

    def words_closer_than(self, word1, word2) -> list[str]:
        """Alias of :meth:`closer_than`."""
        return self.closer_than(word1, word2)

    def rank(self, key1, key2) -> int:
        """Rank of ``key2`` among the neighbours of ``key1`` (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1, keys_list):
        """The key in ``keys_list`` most similar to ``key1``."""
        if len(keys_list) == 0:
            raise ParameterError("most_similar_to_given needs a non-empty list of keys")
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def relative_cosine_similarity(self, wa, wb, topn=10) -> float:
        """``similarity(wa, wb)`` over the sum of ``wa``'s ``topn`` nearest similarities
        (Leeuwenberg et al., 2016)."""
        sims = self.similar_by_word(wa, topn)
        if not sims:
            raise ParameterError("relative_cosine_similarity needs at least one similar word "
                                 "(topn >= 1 and more than one word)")
        return float(self.similarity(wa, wb)) / sum(s for _, s in sims)

    def rank_by_centrality(self, words, use_norm: bool = True) -> list[tuple[float, str]]:
        """``(similarity, word)`` pairs, most similar to the centroid first.

        Unknown words are dropped with a logged warning, as gensim does.
        """
        used = [w for w in words if self._known(w)]
        if len(used) != len(words):
            log.warning("vectors for words %s are not present in the model, ignoring these words",
                        set(words) - set(used))
        if not used:
            raise ParameterError("none of the words is in the vocabulary")
        vectors = np.vstack([self.get_vector(w, norm=use_norm) for w in used]).astype(np.float32)
        mean = self.get_mean_vector(vectors, post_normalize=True)
        dists = vectors @ mean
        return sorted(zip((float(d) for d in dists), used), reverse=True)

    def doesnt_match(self, words):
        """The word farthest from the centroid of ``words`` (unknown words are dropped with
        a logged warning, as gensim does)."""
        return self.rank_by_centrality(list(words))[-1][1]

    # -- Word Mover's Distance --------------------------------------------------------------------
    def wmdistance(self, document1, document2, norm: bool = True) -> float:
        """Word Mover's Distance between two documents (Kusner et al., 2015), as gensim
        computes it.

        Parameters
        ----------
        document1, document2 : list of str
            Tokens; unknown ones are dropped.
        norm : bool
            Use unit-length word vectors (default, as gensim).

        Returns
        -------
        float
            The minimum cost of moving one document's normalised bag of words onto the
            other's, the cost of a unit being the Euclidean distance of the two words'
            vectors.  ``inf`` when a document has no known word (or every distance is
            zero), ``0.0`` when both consist of one and the same word.

        Notes
        -----
        Solved exactly with POT's network simplex when POT is installed
        (``pip install 'embedkit[wmd]'``), otherwise with SciPy's HiGHS linear programming
        solver.
        """
        from embedkit.vectors.wmd import wmdistance

        return wmdistance(self, document1, document2, norm=norm)
