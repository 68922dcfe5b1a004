"""A recurrent word-level language model and decoding (greedy, sampling, beam search).

>>> from embedkit.lm import LanguageModel, train_lm      # doctest: +SKIP
>>> lm = train_lm("corpus.txt", hidden=128, epochs=1)    # doctest: +SKIP
>>> lm.generate("it was the", max_tokens=20, method="beam", beam=5)["text"]  # doctest: +SKIP
"""

from embedkit.lm.data import EOS, UNK, LMVocab
from embedkit.lm.model import LanguageModel, LMConfig
from embedkit.lm.trainer import train_lm

__all__ = ["LanguageModel", "LMConfig", "LMVocab", "train_lm", "EOS", "UNK"]
