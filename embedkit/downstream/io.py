"""The files of a saved downstream model: a directory of ``model.json`` + ``weights.npz``
(no pickle), written atomically and read back checked field by field.

This module reads and writes files only; what the state means to a model (and rebuilding
one from it) is :mod:`~embedkit.downstream.state`'s.
"""

from __future__ import annotations

import json
import os


from embedkit._io import write_atomic, write_npz
from embedkit._version import __version__
from embedkit import _validate as V
from embedkit.errors import FormatError, MissingFileError

FORMAT_VERSION = 1
TASKS = ("sentiment", "ner")
FIX = "save the model again, or train it again"


def write_model(path, state: dict, params: dict) -> None:
    """Write a model's JSON ``state`` and weight arrays ``params`` to directory ``path``
    (created if needed); each file is replaced atomically."""
    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FormatError(f"{path} exists and is not a directory: a model is saved as a "
                          "directory; choose another path")
    os.makedirs(path, exist_ok=True)
    state = dict(state, format_version=FORMAT_VERSION, embedkit_version=__version__)
    write_npz(os.path.join(path, "weights.npz"), params)
    # ties model.json to these weights: a fault between the two writes is detected on load
    state["weights_sha256"] = V.file_digest(os.path.join(path, "weights.npz"))
    write_atomic(os.path.join(path, "model.json"),
                 lambda f: f.write(json.dumps(state, ensure_ascii=False).encode("utf-8")))


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


def read_model(path, task=None) -> tuple[dict, dict, str, str]:
    """``(state, arrays, model.json path, weights.npz path)`` of the model saved in directory
    ``path``: the JSON checked field by field (:func:`_read_state`), the arrays as stored.
    ``task`` ("sentiment" or "ner", optional) is the kind of model the caller needs: a
    directory holding another kind raises a FormatError naming the command that uses it."""
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
    params = V.read_npz(weights, fix=FIX)
    if state.get("task") not in TASKS:
        raise FormatError(f"{path}: unknown model task {state.get('task')!r}")
    if state.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(f"{path} was saved by a newer embedkit; upgrade embedkit to load it")
    return state, params, meta, weights


# -- validation of what is read back (issue 21: a bad file is a FormatError, never a crash) --


def _read_state(meta: str, weights: str) -> dict:
    """``model.json``, checked: the fields load_model reads have the right types, and the
    weights are the ones saved with it."""
    state = V.read_json(meta, fix=FIX)
    if not isinstance(state, dict):
        raise FormatError(f"{meta}: not a JSON object; {FIX}")
    digest = V.field(state, "weights_sha256", str, file=meta, default=None)
    if digest is not None and digest != V.file_digest(weights):
        raise FormatError(f"{meta} and {weights} come from different saves (the weights "
                          f"changed after model.json was written); {FIX}")
    kind = state.get("kind")
    if kind in ("lm", "seq2seq"):
        raise FormatError(f"{os.path.dirname(meta)} is {_WHAT[kind]}, not a sentiment or NER "
                          f"model: use it with {COMMANDS[kind]}")
    task = V.field(state, "task", str, file=meta, fix=FIX)
    # models saved before the 'kind' field existed have only 'task'
    if kind is not None and kind != task:
        raise FormatError(f"{meta}: 'kind' is {kind!r} but 'task' is {task!r}; {FIX}")
    V.field(state, "format_version", int, file=meta, default=0, fix=FIX)
    cfg = V.field(state, "config", dict, file=meta, fix=FIX)
    labels = V.string_list(V.field(state, "labels", list, file=meta, fix=FIX), file=meta,
                           name="labels", fix=FIX)
    if not labels:
        raise FormatError(f"{meta}: 'labels' is empty; {FIX}")
    vocab = V.string_list(V.field(state, "vocab", list, file=meta, fix=FIX), file=meta,
                          name="vocab", fix=FIX)
    n_pre = V.field(state, "n_pretrained", int, file=meta, fix=FIX)
    if not 0 <= n_pre <= len(vocab):
        raise FormatError(f"{meta}: n_pretrained is {n_pre}, outside [0, {len(vocab)}]; {FIX}")
    if len(set(vocab)) != len(vocab):
        raise FormatError(f"{meta}: the vocabulary repeats a word; {FIX}")
    history = V.field(state, "history", list, file=meta, default=[], fix=FIX)
    if not all(isinstance(h, dict) for h in history):
        raise FormatError(f"{meta}: 'history' must be a list of objects; {FIX}")
    for key, types in (("hidden", int), ("case_dim", int), ("char_buckets", int),
                       ("char_dim", int), ("char_nmax", int), ("char_cnn", int),
                       ("char_cnn_dim", int), ("layers", int), ("threads", int),
                       ("oov_min_count", int), ("seed", int), ("dim", int),
                       ("n_pretrained", int), ("dropout", float), ("input_dropout", float),
                       ("word_dropout", float), ("pooling", str), ("encoder", str),
                       ("fine_tune", bool), ("crf", bool), ("variational", bool), ("alphabet", str),
                       ("max_vocab", (int, type(None))), ("char_cnn_width", (int, list))):
        V.field(cfg, key, types, file=meta, default=None, fix=FIX)
    for key in ("hidden", "dim", "char_dim", "char_cnn_dim", "layers", "threads"):
        if key in cfg and not 1 <= cfg[key] <= 1 << 20:
            raise FormatError(f"{meta}: config {key!r} is {cfg[key]}, outside [1, 2^20]; {FIX}")
    for key in ("case_dim", "char_buckets", "char_cnn"):
        if key in cfg and not 0 <= cfg[key] <= 1 << 24:
            raise FormatError(f"{meta}: config {key!r} is {cfg[key]}, outside [0, 2^24]; {FIX}")
    if "char_nmax" in cfg and not 1 <= cfg["char_nmax"] <= 64:
        raise FormatError(f"{meta}: config 'char_nmax' is {cfg['char_nmax']}, outside [1, 64]; "
                          f"{FIX}")
    if cfg.get("char_cnn") and not isinstance(cfg.get("alphabet"), str):
        raise FormatError(f"{meta}: a char CNN model needs the config's 'alphabet'; {FIX}")
    if "dim" not in cfg:
        raise FormatError(f"{meta}: config 'dim' is missing; {FIX}")
    if cfg.get("n_pretrained", n_pre) != n_pre:
        raise FormatError(f"{meta}: config n_pretrained disagrees with n_pretrained; {FIX}")
    return state
