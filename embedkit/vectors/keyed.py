"""gensim ``KeyedVectors`` compatibility: the methods a gensim user calls, with gensim's names,
semantics and defaults (gensim 4.4), mixed into :class:`~embedkit.vectors.core.Vectors`.

A key is a word (``str``) or a row number (``int``): a word is looked up first, and an
integer that is not a word is a row, as in gensim.  Every error a caller can cause is an
:class:`~embedkit.errors.EmbedkitError` (``UnknownWordError`` is also a ``KeyError`` and
``ParameterError`` a ``ValueError``, so gensim-style ``except`` clauses keep working).

The query methods only turn gensim-style inputs into a query vector; the scoring against
the matrix goes through :meth:`Vectors._search` (the one nearest-neighbour routine, which
also answers from an attached index) or, where every row's score is needed
(``topn=None``, ``most_similar_cosmul``, ``distances``), one product with the unit rows.

The methods are grouped by topic in four mixins, composed here in one class:
:mod:`~embedkit.vectors.keyed_access` (keys and vectors by gensim's names),
:mod:`~embedkit.vectors.keyed_query` (``most_similar`` and the other neighbour queries),
:mod:`~embedkit.vectors.keyed_similarity` (similarities between given keys, the odd one
out, Word Mover's Distance) and :mod:`~embedkit.vectors.keyed_edit` (adding and changing
vectors, counts); gensim's file methods are below.
"""

from __future__ import annotations

import numpy as np

from embedkit.errors import ParameterError
from embedkit.vectors.keyed_access import KeyAccessMixin
from embedkit.vectors.keyed_edit import EditMixin
from embedkit.vectors.keyed_query import QueryMixin
from embedkit.vectors.keyed_similarity import SimilarityMixin


class KeyedVectorsMixin(KeyAccessMixin, QueryMixin, SimilarityMixin, EditMixin):
    """gensim ``KeyedVectors`` methods for :class:`~embedkit.vectors.core.Vectors`."""

    # -- gensim's file methods ---------------------------------------------------------------------
    @classmethod
    def load_word2vec_format(cls, fname, fvocab=None, binary=False, encoding="utf8",
                             unicode_errors="strict", limit=None, datatype=np.float32,
                             no_header=False):
        """gensim's reader call: :func:`embedkit.load` with the format given explicitly."""
        from embedkit.vectors.loader import load

        fmt = "word2vec-binary" if binary else ("glove" if no_header else "word2vec-text")
        if binary and no_header:
            raise ParameterError("no_header is for text files only (as in gensim)")
        return load(fname, format=fmt, limit=limit, unicode_errors=unicode_errors,
                    fvocab=fvocab, encoding=encoding, datatype=datatype)

    def save_word2vec_format(self, fname, fvocab=None, binary=False, total_vec=None,
                             write_header=True, prefix="", append=False, sort_attr="count"):
        """gensim's writer call, with gensim's row order: by decreasing count when the
        vectors have counts (stable), otherwise row order.

        ``total_vec`` and ``append`` are not supported (embedkit writes whole files
        atomically); :func:`embedkit.save` writes in row order.
        """
        from embedkit.vectors.loader import save

        if total_vec is not None or append:
            raise ParameterError("save_word2vec_format: total_vec and append are not supported; "
                                 "write one file per Vectors")
        if sort_attr != "count":
            raise ParameterError("sort_attr: embedkit keeps one per-word attribute, 'count'")
        out = self
        if self.counts is not None or prefix:
            from embedkit.vectors.core import Vectors

            order = np.arange(len(self))
            if self.counts is not None:
                order = np.argsort(-np.asarray(self.counts, dtype=np.int64), kind="stable")
            words = [prefix + self._words[i] for i in order]
            out = Vectors(words, self.vectors[order],
                          counts=None if self.counts is None else self.counts[order])
        elif fvocab is not None:
            raise ParameterError("cannot write fvocab: these vectors have no counts")
        save(out, fname, format="word2vec-binary" if binary else "word2vec-text",
             fvocab=fvocab, write_header=write_header)
