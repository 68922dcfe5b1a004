"""The two downstream models and :func:`load_model`, which reads either back.

The parts live one per module: options (:mod:`.config`), input features (:mod:`.inputs`),
encoders (:mod:`.encoders`), the shared model (:mod:`.base`), the heads (:mod:`.sentiment`,
:mod:`.ner`, with :mod:`.crf` for the CRF and its decoding), the training loop
(:mod:`.trainer`), the model's state (:mod:`.state`) and its files (:mod:`.io`).
"""

from __future__ import annotations

from embedkit.downstream import io
from embedkit.downstream.ner import NERTagger
from embedkit.downstream.sentiment import SentimentClassifier
from embedkit.downstream.state import restore_model

MODELS = {"sentiment": SentimentClassifier, "ner": NERTagger}

__all__ = ["SentimentClassifier", "NERTagger", "load_model"]


def load_model(path, vectors=None, task=None):
    """Load a model saved by ``save()``; ``vectors`` (optional) replaces its pretrained rows.

    Parameters
    ----------
    path : str or path-like
        The model directory.
    vectors : Vectors, optional
        Replace the model's pretrained rows (same dimension).
    task : {"sentiment", "ner"}, optional
        The kind of model the caller needs; a directory holding another kind raises a
        FormatError naming the command that uses it.

    Returns a :class:`~embedkit.downstream.SentimentClassifier` or
    :class:`~embedkit.downstream.NERTagger`.
    """
    state, params, meta, weights = io.read_model(path, task)
    model = restore_model(MODELS[state["task"]], state, params, str(path), meta, weights)
    if vectors is not None:
        model.use_vectors(vectors)
    return model
