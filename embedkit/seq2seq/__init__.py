"""An encoder-decoder with additive attention, and the built-in dates task.

>>> from embedkit.seq2seq import dates_task, train_seq2seq     # doctest: +SKIP
>>> task = dates_task()                                        # doctest: +SKIP
>>> model = train_seq2seq(task["train"], task["dev"])          # doctest: +SKIP
>>> model.translate(["Tuesday, 3 May 1979"])[0]["output"]      # doctest: +SKIP
'1979-05-03'
"""

from embedkit.seq2seq.data import Vocab, read_pairs
from embedkit.seq2seq.dates import dates_task
from embedkit.seq2seq.model import Seq2Seq, Seq2SeqConfig
from embedkit.seq2seq.trainer import evaluate, train_seq2seq

__all__ = ["Seq2Seq", "Seq2SeqConfig", "Vocab", "read_pairs", "dates_task", "evaluate",
           "train_seq2seq"]
