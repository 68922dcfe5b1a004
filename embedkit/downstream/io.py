"""Save and load downstream models as a directory of ``model.json`` + ``weights.npz`` (no pickle)."""

from __future__ import annotations

import json
import os

import numpy as np

from embedkit._atomic import atomic_file
from embedkit._version import __version__
from embedkit import _validate as V
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
    state["kind"] = model.task  # what the directory holds, as lm/seq2seq directories say
    state["format_version"] = FORMAT_VERSION
    state["embedkit_version"] = __version__
    state["history"] = model.history
    _atomic_write(os.path.join(path, "weights.npz"),
                  lambda f: np.savez(f, **model.params))
    # ties model.json to these weights: a fault between the two writes is detected on load
    state["weights_sha256"] = V.file_digest(os.path.join(path, "weights.npz"))
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


# the commands that use each kind of model directory, for messages naming the right one
COMMANDS = {"sentiment": "'embedkit sentiment predict/evaluate'",
            "ner": "'embedkit ner tag/evaluate'",
            "lm": "'embedkit lm'", "seq2seq": "'embedkit seq2seq'"}
_WHAT = {"sentiment": "a sentiment classifier", "ner": "an NER tagger",
         "lm": "a language model", "seq2seq": "an encoder-decoder"}


def describe_model_dir(path) -> str | None:
    """``"a sentiment classifier (use it with 'embedkit sentiment predict/evaluate')"`` when
    ``path`` is an embedkit model directory, else None (for messages of commands that were
    given a model where they expect something else)."""
    try:
        with open(os.path.join(os.fspath(path), "model.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    kind = meta.get("kind") or meta.get("task") if isinstance(meta, dict) else None
    if kind not in _WHAT:
        return None
    return f"{_WHAT[kind]} (use it with {COMMANDS[kind]})"


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
    from embedkit.downstream.features import Vocabulary
    from embedkit.downstream.model import NERTagger, SentimentClassifier

    path = os.fspath(path)
    meta, weights = os.path.join(path, "model.json"), os.path.join(path, "weights.npz")
    if not os.path.isdir(path) or not os.path.exists(meta) or not os.path.exists(weights):
        raise MissingFileError(f"no model at {path}: expected a directory with model.json and "
                               "weights.npz (train one with 'embedkit sentiment train' or "
                               "'embedkit ner train')")
    state = _read_state(meta, weights)
    if task is not None and state["task"] != task:
        raise FormatError(f"{path} is {_WHAT.get(state['task'], repr(state['task']))}, not "
                          f"{_WHAT.get(task, repr(task))}: use it with "
                          f"{COMMANDS.get(state['task'], 'another command')}")
    params = V.read_npz(weights, fix=_FIX)
    cls = {"sentiment": SentimentClassifier, "ner": NERTagger}.get(state.get("task"))
    if cls is None:
        raise FormatError(f"{path}: unknown model task {state.get('task')!r}")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(f"{path} was saved by a newer embedkit; upgrade embedkit to load it")
    cfg = state["config"]
    _check_encoder(path, cfg, params)
    options = {k: v for k, v in cfg.items() if k not in ("dim", "n_pretrained", "alphabet")}
    try:
        model = cls(None, **options)
    except (EmbedkitError, TypeError, ValueError) as exc:
        raise FormatError(f"{meta}: invalid config ({exc}); {_FIX}") from None
    model.config.update(cfg)  # options added later keep their defaults
    model.labels = list(state["labels"])
    model._label_index = {c: i for i, c in enumerate(model.labels)}
    model.vocab = Vocabulary(state["vocab"], state["n_pretrained"])
    model.params = params
    model.history = state.get("history", [])
    if params.get("emb") is not None and params["emb"].shape[0] != len(model.vocab):
        raise FormatError(f"{path}: {len(model.vocab)} vocabulary rows in model.json but "
                          f"{params['emb'].shape[0]} in weights.npz")
    model.params = check_weights(model, params, weights)
    model._setup()
    if vectors is not None:
        model.use_vectors(vectors)
    return model


# -- validation of what is read back (issue 21: a bad file is a FormatError, never a crash) --

_FIX = "save the model again, or train it again"


def _read_state(meta: str, weights: str) -> dict:
    """``model.json``, checked: the fields load_model reads have the right types, and the
    weights are the ones saved with it."""
    state = V.read_json(meta, fix=_FIX)
    if not isinstance(state, dict):
        raise FormatError(f"{meta}: not a JSON object; {_FIX}")
    digest = V.field(state, "weights_sha256", str, file=meta, default=None)
    if digest is not None and digest != V.file_digest(weights):
        raise FormatError(f"{meta} and {weights} come from different saves (the weights "
                          f"changed after model.json was written); {_FIX}")
    kind = state.get("kind")
    if kind in ("lm", "seq2seq"):
        raise FormatError(f"{os.path.dirname(meta)} is {_WHAT[kind]}, not a sentiment or NER "
                          f"model: use it with {COMMANDS[kind]}")
    task = V.field(state, "task", str, file=meta, fix=_FIX)
    # models saved before the 'kind' field existed have only 'task'
    if kind is not None and kind != task:
        raise FormatError(f"{meta}: 'kind' is {kind!r} but 'task' is {task!r}; {_FIX}")
    V.field(state, "format_version", int, file=meta, default=0, fix=_FIX)
    cfg = V.field(state, "config", dict, file=meta, fix=_FIX)
    labels = V.string_list(V.field(state, "labels", list, file=meta, fix=_FIX), file=meta,
                           name="labels", fix=_FIX)
    if not labels:
        raise FormatError(f"{meta}: 'labels' is empty; {_FIX}")
    vocab = V.string_list(V.field(state, "vocab", list, file=meta, fix=_FIX), file=meta,
                          name="vocab", fix=_FIX)
    n_pre = V.field(state, "n_pretrained", int, file=meta, fix=_FIX)
    if not 0 <= n_pre <= len(vocab):
        raise FormatError(f"{meta}: n_pretrained is {n_pre}, outside [0, {len(vocab)}]; {_FIX}")
    if len(set(vocab)) != len(vocab):
        raise FormatError(f"{meta}: the vocabulary repeats a word; {_FIX}")
    history = V.field(state, "history", list, file=meta, default=[], fix=_FIX)
    if not all(isinstance(h, dict) for h in history):
        raise FormatError(f"{meta}: 'history' must be a list of objects; {_FIX}")
    for key, types in (("hidden", int), ("case_dim", int), ("char_buckets", int),
                       ("char_dim", int), ("char_nmax", int), ("char_cnn", int),
                       ("char_cnn_dim", int), ("layers", int), ("threads", int),
                       ("oov_min_count", int), ("seed", int), ("dim", int),
                       ("n_pretrained", int), ("dropout", float), ("input_dropout", float),
                       ("word_dropout", float), ("pooling", str), ("encoder", str),
                       ("fine_tune", bool), ("crf", bool), ("variational", bool), ("alphabet", str),
                       ("max_vocab", (int, type(None))), ("char_cnn_width", (int, list))):
        V.field(cfg, key, types, file=meta, default=None, fix=_FIX)
    for key in ("hidden", "dim", "char_dim", "char_cnn_dim", "layers", "threads"):
        if key in cfg and not 1 <= cfg[key] <= 1 << 20:
            raise FormatError(f"{meta}: config {key!r} is {cfg[key]}, outside [1, 2^20]; {_FIX}")
    for key in ("case_dim", "char_buckets", "char_cnn"):
        if key in cfg and not 0 <= cfg[key] <= 1 << 24:
            raise FormatError(f"{meta}: config {key!r} is {cfg[key]}, outside [0, 2^24]; {_FIX}")
    if "char_nmax" in cfg and not 1 <= cfg["char_nmax"] <= 64:
        raise FormatError(f"{meta}: config 'char_nmax' is {cfg['char_nmax']}, outside [1, 64]; "
                          f"{_FIX}")
    if cfg.get("char_cnn") and not isinstance(cfg.get("alphabet"), str):
        raise FormatError(f"{meta}: a char CNN model needs the config's 'alphabet'; {_FIX}")
    if "dim" not in cfg:
        raise FormatError(f"{meta}: config 'dim' is missing; {_FIX}")
    if cfg.get("n_pretrained", n_pre) != n_pre:
        raise FormatError(f"{meta}: config n_pretrained disagrees with n_pretrained; {_FIX}")
    return state


def expected_shapes(model) -> dict[str, tuple]:
    """The shape of every weight array of ``model`` (its config, labels and vocabulary set),
    computed as the model builds them."""
    from embedkit.downstream.features import CASE_CLASSES, CHAR_FIRST
    from embedkit.downstream.model import _cnn_names, cnn_widths

    cfg = model.config
    dim = int(cfg["dim"])
    shapes = {"emb": (len(model.vocab), dim)}
    d_in = dim
    if cfg["case_dim"]:
        shapes["case_emb"] = (CASE_CLASSES, int(cfg["case_dim"]))
        d_in += int(cfg["case_dim"])
    if cfg["char_buckets"]:
        shapes["char_emb"] = (int(cfg["char_buckets"]), int(cfg["char_dim"]))
        d_in += int(cfg["char_dim"])
    if cfg["char_cnn"]:
        n_filters, dc = int(cfg["char_cnn"]), int(cfg["char_cnn_dim"])
        shapes["cnn_emb"] = (CHAR_FIRST + len(cfg["alphabet"]), dc)
        for i, width in enumerate(cnn_widths(cfg["char_cnn_width"])):
            wn, bn = _cnn_names(i)
            shapes[wn] = (width, dc, n_filters)
            shapes[bn] = (n_filters,)
            d_in += n_filters
    from embedkit.downstream.encoders import encoder_shapes, encoder_width

    shapes.update(encoder_shapes(cfg, d_in))
    rng = np.random.default_rng(0)
    shapes.update({k: v.shape for k, v in model._init_head(rng, encoder_width(cfg)).items()})
    return shapes


def check_weights(model, params: dict, weights) -> dict:
    """Check every array of ``weights.npz`` against the shapes the model's config implies
    (names, shapes, floating dtype, finite values); return them as float32."""
    want = expected_shapes(model)
    missing = sorted(set(want) - set(params))
    extra = sorted(set(params) - set(want))
    if missing or extra:
        what = "; ".join(x for x in (f"missing {', '.join(missing)}" if missing else "",
                                     f"unexpected {', '.join(extra)}" if extra else "") if x)
        raise FormatError(f"{weights} does not hold the arrays its model.json describes "
                          f"({what}); {_FIX}")
    out = {}
    for name, shape in want.items():
        arr = V.check_array(params[name], file=weights, name=name, shape=shape, kind="f",
                            finite=True, fix=_FIX)
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
    return out
