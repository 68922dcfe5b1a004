"""The corpus pipeline: streaming readers, tokenizer, vocabulary, and the encoded corpus.

>>> from embedkit.corpus import prepare
>>> enc = prepare([["the", "cat"], ["the", "dog"]], min_count=1)
>>> enc.vocab.words
['the', 'cat', 'dog']
"""

from embedkit.corpus.encode import (MAX_SENTENCE_LENGTH, EncodedCorpus, cache_root,
                                    iter_sentences, prepare)
from embedkit.corpus.tokenize import TOKENIZERS, get_tokenizer
from embedkit.corpus.vocab import Vocab

__all__ = ["prepare", "EncodedCorpus", "Vocab", "iter_sentences", "get_tokenizer",
           "TOKENIZERS", "MAX_SENTENCE_LENGTH", "cache_root"]
