"""Save and load downstream models as a directory of ``model.json`` + ``weights.npz`` (no pickle)."""

from __future__ import annotations

import json
import os

import numpy as np

from embedkit._atomic import atomic_file
from embedkit._version import __version__
from embedkit.errors import EmbedkitError, FormatError, MissingFileError

FORMAT_VERSION = 1


def _atomic_write(path, write):
    with atomic_file(path, "wb") as f:
        write(f)


def save_model(model, path) -> None:
    """Write ``model`` to directory ``path`` (created if needed); each file is replaced atomically."""
    if model.params is None:
        from embedkit.errors import ParameterError
        raise ParameterError("the model is not trained yet: call fit() before save()")
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FormatError(f"{path} exists and is not a directory: a model is saved as a "
                          "directory; choose another path")
    os.makedirs(path, exist_ok=True)
    state = model._state()
    state["format_version"] = FORMAT_VERSION
    state["embedkit_version"] = __version__
    state["history"] = model.history
    _atomic_write(os.path.join(path, "weights.npz"),
                  lambda f: np.savez(f, **model.params))
    _atomic_write(os.path.join(path, "model.json"),
                  lambda f: f.write(json.dumps(state, ensure_ascii=False).encode("utf-8")))


def _check_encoder(path, cfg, params):
    """The saved encoder kind is known and its weight arrays have the shapes its config gives
    (models saved before the ``encoder`` field existed are GRU models)."""
    from embedkit.downstream.attention import pooling_shapes
    from embedkit.downstream.encoders import (ENCODERS, check_encoder_options,
                                              check_pooling_heads, encoder_shapes,
                                              encoder_width, feature_width)

    kind = cfg.get("encoder", "gru")
    if kind not in ENCODERS:
        raise FormatError(f"{path}: unknown encoder kind {kind!r} in model.json (this embedkit "
                          f"knows {', '.join(ENCODERS)}); upgrade embedkit or retrain the model")
    try:
        check_encoder_options(cfg)
        expected = encoder_shapes(cfg, feature_width(params))
        if "pool_Wq" in params:  # multi-head attention pooling
            check_pooling_heads(cfg)
            expected.update(pooling_shapes(encoder_width(cfg)))
    except EmbedkitError as exc:
        raise FormatError(f"{path}: model.json has invalid encoder options ({exc})") from None
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise FormatError(f"{path}: inconsistent model.json and weights.npz ({exc!r})") from None
    for name, shape in expected.items():
        arr = params.get(name)
        if arr is None:
            raise FormatError(f"{path}: weights.npz lacks the {kind} encoder array {name!r}")
        if arr.shape != tuple(shape) or arr.dtype != np.float32:
            raise FormatError(f"{path}: weights.npz array {name!r} is {arr.dtype} "
                              f"{arr.shape}, expected float32 {tuple(shape)} for the "
                              f"{kind} encoder of model.json")


def load_model(path, vectors=None):
    """Load a model saved by ``save()``; ``vectors`` (optional) replaces its pretrained rows.

    Returns a :class:`~embedkit.downstream.SentimentClassifier` or
    :class:`~embedkit.downstream.NERTagger`.
    """
    from embedkit.downstream.features import Vocabulary
    from embedkit.downstream.model import NERTagger, SentimentClassifier

    path = os.fspath(path)
    meta, weights = os.path.join(path, "model.json"), os.path.join(path, "weights.npz")
    if not os.path.isdir(path) or not os.path.exists(meta) or not os.path.exists(weights):
        raise MissingFileError(f"no model at {path}: expected a directory with model.json and "
                               "weights.npz (train one with 'embedkit sentiment train' or "
                               "'embedkit ner train')")
    try:
        with open(meta, encoding="utf-8") as f:
            state = json.load(f)
        with np.load(weights, allow_pickle=False) as z:
            params = {k: z[k] for k in z.files}
    except (ValueError, OSError, KeyError) as exc:
        raise FormatError(f"{path}: cannot read the model ({exc})") from None
    other = {"lm": "a language model (use 'embedkit lm')",
             "seq2seq": "an encoder-decoder (use 'embedkit seq2seq')"}.get(state.get("kind"))
    if other is not None:
        raise FormatError(f"{path} is {other}, not a sentiment or NER model")
    cls = {"sentiment": SentimentClassifier, "ner": NERTagger}.get(state.get("task"))
    if cls is None:
        raise FormatError(f"{path}: unknown model task {state.get('task')!r}")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(f"{path} was saved by a newer embedkit; upgrade embedkit to load it")
    cfg = state["config"]
    _check_encoder(path, cfg, params)
    options = {k: v for k, v in cfg.items() if k not in ("dim", "n_pretrained", "alphabet")}
    model = cls(None, **options)
    model.config.update(cfg)  # options added later keep their defaults
    model.labels = list(state["labels"])
    model._label_index = {c: i for i, c in enumerate(model.labels)}
    model.vocab = Vocabulary(state["vocab"], state["n_pretrained"])
    model.params = params
    model.history = state.get("history", [])
    if params["emb"].shape[0] != len(model.vocab):
        raise FormatError(f"{path}: {len(model.vocab)} vocabulary rows in model.json but "
                          f"{params['emb'].shape[0]} in weights.npz")
    model._setup()
    if vectors is not None:
        model.use_vectors(vectors)
    return model
