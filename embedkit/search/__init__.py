"""Analogy and similarity search: a FAISS index, batched word-arithmetic queries, a query parser."""

from embedkit.search.batch import combination_search, combination_words
from embedkit.search.index import Index
from embedkit.search.params import KINDS
from embedkit.search.query import Query, parse_analogy, parse_queries, parse_query

__all__ = ["Index", "KINDS", "Query", "parse_query", "parse_analogy", "parse_queries",
           "combination_search", "combination_words"]
