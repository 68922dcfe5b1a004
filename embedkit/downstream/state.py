"""A downstream model's own state: what ``model.json`` records of it, and rebuilding a model
from a saved state and weights, every array checked against the shapes its config implies.

:mod:`~embedkit.downstream.io` reads and writes the files; this module knows the model.
"""

from __future__ import annotations

import numpy as np

from embedkit import _validate as V
from embedkit.downstream.attention import pooling_shapes
from embedkit.downstream.config import (DERIVED, ENCODERS, ModelConfig, check_encoder_options,
                                        check_pooling_heads, encoder_width)
from embedkit.downstream.encoders import encoder_shapes, feature_width
from embedkit.downstream.features import Vocabulary
from embedkit.downstream.inputs import input_shapes, input_width
from embedkit.downstream.io import FIX
from embedkit.errors import EmbedkitError, FormatError


def model_state(model) -> dict:
    """The JSON state of a built model: its task, options (with the derived ``dim``,
    ``n_pretrained`` and, with a char CNN, ``alphabet``), labels, vocabulary, history."""
    config = model.config.to_dict()
    config["dim"] = int(model.params["emb"].shape[1])
    config["n_pretrained"] = model.vocab.n_pretrained
    if model.config.char_cnn:
        config["alphabet"] = model.alphabet
    # "kind": what the directory holds, as lm/seq2seq directories say
    return {"task": model.task, "kind": model.task, "config": config, "labels": model.labels,
            "vocab": model.vocab.words, "n_pretrained": model.vocab.n_pretrained,
            "history": model.history}


def restore_model(cls, state: dict, params: dict, path: str, meta: str, weights: str):
    """A model of class ``cls`` from a checked ``model.json`` state and the arrays of its
    ``weights.npz`` (FormatError naming the file when they do not fit together)."""
    cfg = state["config"]
    check_encoder(path, cfg, params)
    try:
        config = ModelConfig.from_dict({k: v for k, v in cfg.items() if k not in DERIVED})
    except (EmbedkitError, TypeError, ValueError) as exc:
        raise FormatError(f"{meta}: invalid config ({exc}); {FIX}") from None
    model = cls.from_config(config)
    model.labels = list(state["labels"])
    model.vocab = Vocabulary(state["vocab"], state["n_pretrained"])
    model.alphabet = cfg.get("alphabet")
    model.history = state.get("history", [])
    if params.get("emb") is not None and params["emb"].shape[0] != len(model.vocab):
        raise FormatError(f"{path}: {len(model.vocab)} vocabulary rows in model.json but "
                          f"{params['emb'].shape[0]} in weights.npz")
    model.params = check_weights(model, int(cfg["dim"]), params, weights)
    model._setup()
    return model


def check_encoder(path, cfg: dict, params: dict) -> None:
    """The saved encoder kind is known and its weight arrays have the shapes its config gives
    (models saved before the ``encoder`` field existed are GRU models)."""
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


def expected_shapes(model, dim: int) -> dict[str, tuple]:
    """The shape of every weight array of ``model`` (its config, labels, vocabulary and
    alphabet set) over word vectors of dimension ``dim``, computed as the model builds them."""
    cfg = model.config
    shapes = input_shapes(cfg, len(model.vocab), dim, len(model.alphabet or ""))
    shapes.update(encoder_shapes(cfg, input_width(shapes)))
    rng = np.random.default_rng(0)
    shapes.update({k: v.shape for k, v in model._init_head(rng, encoder_width(cfg)).items()})
    return shapes


def check_weights(model, dim: int, params: dict, weights) -> dict:
    """Check every array of ``weights.npz`` against the shapes the model's config implies
    (names, shapes, floating dtype, finite values); return them as float32."""
    want = expected_shapes(model, dim)
    missing = sorted(set(want) - set(params))
    extra = sorted(set(params) - set(want))
    if missing or extra:
        what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                     f"unexpected {', '.join(extra)}" if extra else "") if x)
        raise FormatError(f"{weights} does not hold the arrays its model.json describes "
                          f"({what}); {FIX}")
    out = {}
    for name, shape in want.items():
        arr = V.check_array(params[name], file=weights, name=name, shape=shape, kind="f",
                            finite=True, fix=FIX)
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
    return out
