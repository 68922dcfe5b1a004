"""Model directories of the generators: ``model.json`` (kind, config, vocabularies) and
``weights.npz`` (no pickle).  Every command checks the ``kind`` it expects."""

from __future__ import annotations

import json
import os

import numpy as np

from embedkit import _validate as V
from embedkit._io import write_atomic, write_npz
from embedkit._version import __version__
from embedkit.errors import FormatError, MissingFileError, ParameterError

FORMAT_VERSION = 1
_MARKER = "embedkit-generator"
_HOW = {"lm": "'embedkit lm train'", "seq2seq": "'embedkit seq2seq train'"}


def save_dir(path, kind: str, state: dict, params: dict) -> None:
    """Write ``params`` and ``state`` (with ``kind``) to directory ``path``, file by file atomically.

    An existing directory is replaced only when it is empty or holds one of our models.
    """
    path = os.fspath(path)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise ParameterError(f"{path} exists and is not a directory: a model is saved as "
                                 "a directory; choose another --out")
        ours = {"model.json", "weights.npz"}
        others = [f for f in os.listdir(path) if f not in ours and not f.startswith(".tmp-")]
        if others or (os.listdir(path) and not _is_ours(path)):
            raise ParameterError(f"{path} is a directory that does not hold an embedkit model "
                                 f"(it contains {', '.join(sorted(others)[:3]) or 'other files'}); "
                                 "choose another --out")
    os.makedirs(path, exist_ok=True)
    meta = dict(state, kind=kind, format=_MARKER, format_version=FORMAT_VERSION,
                embedkit_version=__version__)
    write_npz(os.path.join(path, "weights.npz"), params)
    # ties model.json to these weights: a fault between the two writes is detected on load
    meta["weights_sha256"] = V.file_digest(os.path.join(path, "weights.npz"))
    write_atomic(os.path.join(path, "model.json"),
                 lambda f: f.write(json.dumps(meta, ensure_ascii=False, indent=1).encode("utf-8")))


def _is_ours(path) -> bool:
    try:
        with open(os.path.join(path, "model.json"), encoding="utf-8") as f:
            meta = json.load(f)
        return isinstance(meta, dict) and ("kind" in meta or "task" in meta)
    except (OSError, ValueError):
        return False


def load_dir(path, kind: str) -> tuple[dict, dict]:
    """Read a model directory of ``kind`` ('lm' or 'seq2seq'); returns ``(state, params)``.

    Raises
    ------
    MissingFileError
        No model there.
    FormatError
        Unreadable files, or a model of another kind.
    """
    path = os.fspath(path)
    meta_path, weights = os.path.join(path, "model.json"), os.path.join(path, "weights.npz")
    if not os.path.isdir(path) or not os.path.exists(meta_path) or not os.path.exists(weights):
        raise MissingFileError(f"no model at {path}: expected a directory with model.json and "
                               f"weights.npz (train one with {_HOW[kind]})")
    fix = f"train the model again with {_HOW[kind]}"
    meta = V.read_json(meta_path, fix=fix)
    if not isinstance(meta, dict):
        raise FormatError(f"{meta_path}: not a model description (expected a JSON object)")
    found = meta.get("kind") or meta.get("task")
    if found != kind:
        found = found if isinstance(found, str) else ""
        what = f"a {found!r} model" if found else "not an embedkit model"
        use = {"sentiment": " (use it with 'embedkit sentiment predict/evaluate')",
               "ner": " (use it with 'embedkit ner tag/evaluate')",
               "lm": " (use it with 'embedkit lm')",
               "seq2seq": " (use it with 'embedkit seq2seq')"}.get(found, "")
        raise FormatError(f"{path} is {what}{use}, not a {kind!r} model: give a model trained "
                          f"with {_HOW[kind]}")
    version = V.field(meta, "format_version", int, file=meta_path, default=0, fix=fix)
    if version > FORMAT_VERSION:
        raise FormatError(f"{path} was saved by a newer embedkit; upgrade embedkit to load it")
    history = V.field(meta, "history", (list, type(None)), file=meta_path, default=None, fix=fix)
    if history is not None and not all(isinstance(h, dict) for h in history):
        raise FormatError(f"{meta_path}: field 'history' must be a list of objects; {fix}")
    digest = V.field(meta, "weights_sha256", str, file=meta_path, default=None, fix=fix)
    if digest is not None and digest != V.file_digest(weights):
        raise FormatError(f"{meta_path} and {weights} come from different saves (the weights "
                          f"changed after model.json was written); {fix}")
    params = V.read_npz(weights, fix=fix)
    return meta, params


def check_params(path, params: dict, shapes: dict) -> dict:
    """Check every expected array is there with its shape, finite; cast to float32.

    Values beyond float32's range (they would become infinity) are refused too.
    """
    out = {}
    file = os.path.join(os.fspath(path), "weights.npz")
    for name, shape in shapes.items():
        if name not in params:
            raise FormatError(f"{file} has no array {name!r}")
        a = params[name]
        if a.dtype.kind != "f" or tuple(a.shape) != tuple(shape):
            raise FormatError(f"{file}: array {name!r} is {a.dtype}{tuple(a.shape)}, expected "
                              f"floats of shape {tuple(shape)}")
        with np.errstate(over="ignore"):
            a32 = np.ascontiguousarray(a, dtype=np.float32)
        if not np.all(np.isfinite(a32)):
            raise FormatError(f"{file}: array {name!r} holds NaN or infinite values (or values "
                              "beyond float32's range)")
        out[name] = a32
    return out


def check_vocab(path, meta: dict, key: str) -> list:
    """``meta[key]``: a list of strings (the model's vocabulary), checked."""
    file = os.path.join(os.fspath(path), "model.json")
    value = V.field(meta, key, list, file=file)
    return V.string_list(value, file=file, name=key)
