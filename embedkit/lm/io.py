"""Model directories of the generators: ``model.json`` (kind, config, vocabularies) and
``weights.npz`` (no pickle).  Every command checks the ``kind`` it expects."""

from __future__ import annotations

import json
import os

import numpy as np

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
    try:
        with open(meta_path, encoding="utf-8") as f:
            meta = json.load(f)
        with np.load(weights, allow_pickle=False) as z:
            params = {k: z[k] for k in z.files}
    except (ValueError, OSError, KeyError, EOFError) as exc:
        raise FormatError(f"{path}: cannot read the model ({exc})") from None
    if not isinstance(meta, dict):
        raise FormatError(f"{meta_path}: not a model description (expected a JSON object)")
    found = meta.get("kind") or meta.get("task")
    if found != kind:
        what = f"a {found!r} model" if found else "not an embedkit model"
        use = {"sentiment": " (use it with 'embedkit sentiment predict/evaluate')",
               "ner": " (use it with 'embedkit ner tag/evaluate')",
               "lm": " (use it with 'embedkit lm')",
               "seq2seq": " (use it with 'embedkit seq2seq')"}.get(found, "")
        raise FormatError(f"{path} is {what}{use}, not a {kind!r} model: give a model trained "
                          f"with {_HOW[kind]}")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise FormatError(f"{path} was saved by a newer embedkit; upgrade embedkit to load it")
    return meta, params


def check_params(path, params: dict, shapes: dict) -> dict:
    """Check every expected array is there with its shape; cast to float32."""
    out = {}
    for name, shape in shapes.items():
        if name not in params:
            raise FormatError(f"{path}: weights.npz has no array {name!r}")
        a = params[name]
        if a.dtype.kind != "f" or tuple(a.shape) != tuple(shape):
            raise FormatError(f"{path}: array {name!r} is {a.dtype}{tuple(a.shape)}, expected "
                              f"floats of shape {tuple(shape)}")
        if not np.all(np.isfinite(a)):
            raise FormatError(f"{path}: array {name!r} holds NaN or infinite values")
        out[name] = np.ascontiguousarray(a, dtype=np.float32)
    return out
