"""Training checkpoints: written atomically as ``PATH.npz`` + ``PATH.json`` (no pickle),
read back checked field by field, and the resume handling every trainer shares (the
corpus fingerprint, the checkpoint's parameters and position).

A checkpoint's state (JSON) holds ``trainer``, ``version``, ``params`` (the trainer's
parameters), ``corpus`` (:func:`corpus_fingerprint`) and ``position`` (see
:mod:`embedkit.training.driver`); the npz holds the trainer's arrays and RNG states.
"""

from __future__ import annotations

import json
import logging
import os
import zlib

import numpy as np

from embedkit import _io
from embedkit._params import check_out_path, check_positive
from embedkit.errors import EmbedkitError, MissingFileError, ParameterError
from embedkit.training.driver import EpochRecord

log = logging.getLogger(__name__)


def _checkpoint_paths(path) -> tuple[str, str]:
    path = os.fspath(path)
    for ext in (".npz", ".json"):
        if path.endswith(ext):
            path = path[: -len(ext)]
    return path + ".npz", path + ".json"


STATE_KEY = "__checkpoint_state__"


def save_checkpoint(path, arrays: dict[str, np.ndarray], state: dict) -> str:
    """Write ``arrays`` and ``state`` to ``PATH.npz``, and ``state`` again to ``PATH.json``.

    The npz is self-sufficient: it holds the state as JSON (array ``__checkpoint_state__``)
    beside the weights, so weights and position are renamed into place together, in one
    step.  The JSON copy (written last, tied to the npz by a random ``checkpoint_id`` that
    both hold) is for people and tools; a kill between the two renames leaves a JSON one
    checkpoint behind, which :func:`load_checkpoint` notices and ignores.  Returns the JSON
    path.
    """
    npz_path, json_path = _checkpoint_paths(path)
    state = dict(state, npz=os.path.basename(npz_path), checkpoint_id=os.urandom(12).hex())
    text = json.dumps(state, indent=1, sort_keys=True)
    blob = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if STATE_KEY in arrays:
        raise ParameterError(f"{STATE_KEY} is reserved in a checkpoint")
    _io.write_atomic(npz_path, lambda fh: np.savez(fh, **arrays, **{STATE_KEY: blob}),
                     fsync=True)
    _io.write_atomic(json_path, lambda fh: fh.write(text.encode("utf-8")), fsync=True)
    log.debug("checkpoint written to %s", json_path)
    return json_path


def load_checkpoint(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a checkpoint written by :func:`save_checkpoint` (``PATH``, ``.npz`` or ``.json``).

    The state comes from the npz (the JSON beside it may be one checkpoint older after a
    kill between the two renames).  Any unreadable or malformed part is a
    :class:`~embedkit.errors.FormatError` naming the file.

    Returns
    -------
    arrays : dict of ndarray
    state : dict
    """
    from embedkit import _validate as V

    npz_path, json_path = _checkpoint_paths(path)
    if not os.path.exists(npz_path) or (not os.path.exists(json_path)
                                        and not str(path).endswith(".npz")):
        raise MissingFileError(f"checkpoint {json_path} (with {os.path.basename(npz_path)}) "
                               "not found: give the path printed when the checkpoint was written")
    fix = "this checkpoint cannot be resumed: start the training again without --resume"
    arrays = V.read_npz(npz_path, fix=fix)
    blob = arrays.pop(STATE_KEY, None)
    if blob is not None:
        V.check_array(blob, file=npz_path, name=STATE_KEY, ndim=1, kind="u", fix=fix)
        try:
            state = json.loads(blob.astype(np.uint8).tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise V.corrupt(npz_path, exc, STATE_KEY, fix) from None
        if os.path.exists(json_path):
            try:
                side = V.read_json(json_path)
            except V.FormatError:
                side = None
            if not isinstance(side, dict) or side.get("checkpoint_id") != \
                    (state.get("checkpoint_id") if isinstance(state, dict) else None):
                log.warning("%s does not describe %s (a kill between the two writes?); "
                            "using the state stored in the npz", json_path, npz_path)
    else:  # written by embedkit <= 0.x: the state is only in the JSON, tied by the npz size
        state = V.read_json(json_path, fix=fix)
        if not isinstance(state, dict) or os.path.getsize(npz_path) != state.get("npz_bytes"):
            raise V.FormatError(f"checkpoint {npz_path} does not match {json_path} "
                                "(truncated or from another run); " + fix)
    return arrays, state


def check_checkpoint_state(state, file, fix: str = "") -> dict:
    """Check the fields every trainer reads from a checkpoint's state; return it."""
    from embedkit import _validate as V

    if not isinstance(state, dict):
        raise V.FormatError(f"{file}: the checkpoint state is not a JSON object; {fix}")
    V.field(state, "trainer", str, file=file, fix=fix)
    V.field(state, "params", dict, file=file, fix=fix)
    V.field(state, "corpus", dict, file=file, fix=fix)
    pos = V.field(state, "position", dict, file=file, fix=fix)
    for key in ("epoch", "job"):
        if V.field(pos, key, int, file=file, fix=fix) < 0:
            raise V.FormatError(f"{file}: position {key!r} is negative; {fix}")
    history = V.field(pos, "history", list, file=file, fix=fix)
    names = set(EpochRecord.__dataclass_fields__)
    for h in history:
        if not isinstance(h, dict) or set(h) != names or not all(
                isinstance(h[k], (int, float)) and not isinstance(h[k], bool) for k in names):
            raise V.FormatError(f"{file}: a history entry is not an epoch record "
                                f"({', '.join(sorted(names))}); {fix}")
    ep = V.field(pos, "epoch_state", (dict, type(None)), file=file, fix=fix)
    if ep is not None:
        for key in ("jobs_done", "words", "loss_count"):
            if V.field(ep, key, int, file=file, fix=fix) < 0:
                raise V.FormatError(f"{file}: epoch_state {key!r} is negative; {fix}")
        for key in ("loss_sum", "seconds"):
            V.field(ep, key, float, file=file, fix=fix)
    return state


def checked_params(cls, params: dict, file, skip=("workers",)) -> dict:
    """A checkpoint's training parameters, validated by building ``cls`` from them.

    Only the keyword arguments of ``cls`` are taken; a value the constructor refuses is
    a :class:`~embedkit.errors.FormatError` naming the checkpoint.
    """
    import inspect

    from embedkit import _validate as V

    accepted = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in params.items() if k in accepted and k not in skip}
    try:
        obj = cls(**kwargs)
    except (EmbedkitError, TypeError, ValueError) as exc:
        raise V.FormatError(f"{file}: the checkpoint's parameters are invalid ({exc}); "
                            "start the training again without --resume") from None
    return {k: getattr(obj, k) for k in kwargs}


def check_resume_position(state, n_jobs: int, epochs: int, file) -> tuple[int, int]:
    """The checked ``(epoch, job)`` position of a checkpoint for a run of ``epochs`` x
    ``n_jobs`` jobs."""
    from embedkit import _validate as V

    pos = state["position"]
    epoch, job = int(pos["epoch"]), int(pos["job"])
    if epoch > epochs or job > n_jobs or (epoch == epochs and job != 0):
        raise V.FormatError(f"{file}: the checkpoint's position (epoch {epoch}, job {job}) is "
                            f"outside this run ({epochs} epochs of {n_jobs} jobs): resume with "
                            "the same corpus and options")
    return epoch, job


def checkpoint_plan(out, checkpoint, checkpoint_every) -> tuple[str | None, str | None]:
    """Validate a trainer's ``out`` / ``checkpoint`` / ``checkpoint_every`` options.

    The checkpoint defaults to ``OUT.ckpt`` when an output path is given.  Returns the
    checked ``(out, checkpoint)`` paths (either may be ``None``).
    """
    out = check_out_path(out)
    if checkpoint is None and out is not None:
        checkpoint = out + ".ckpt"
    if checkpoint is not None:
        check_out_path(checkpoint)
    if checkpoint_every is not None:
        check_positive("checkpoint_every", checkpoint_every)
        if checkpoint is None:
            raise ParameterError("checkpoint_every needs a checkpoint path or out path")
    return out, checkpoint


def discard_checkpoint(path) -> bool:
    """Delete the checkpoint ``PATH`` (its npz and JSON) once the final vectors are written.

    A finished run's vectors supersede its checkpoint; leaving hundreds of megabytes of
    weights beside them would only waste disk.  Returns whether anything was removed.
    """
    removed = False
    for p in _checkpoint_paths(path)[::-1]:  # the JSON first: an npz alone is never read
        try:
            os.remove(p)
            removed = True
        except FileNotFoundError:
            pass
    if removed:
        log.info("training finished; removed its checkpoint %s", path)
    return removed


# -- resuming --------------------------------------------------------------------------------
def corpus_fingerprint(enc) -> dict:
    """Sizes and CRC-32s of an encoded corpus's vocabulary and ids: a checkpoint records it,
    and resuming checks the corpus is the same."""
    words = "\n".join(enc.vocab.words).encode("utf-8")
    if hasattr(enc, "shards"):  # a sharded directory: the same values, shard by shard
        return {"tokens": enc.n_tokens, "sentences": enc.n_sentences,
                "vocab": int(len(enc.vocab)), "words_crc32": zlib.crc32(words),
                "ids_crc32": enc.ids_crc32()}
    ids = np.ascontiguousarray(enc.ids)
    return {"tokens": int(len(ids)), "sentences": int(len(enc.offsets) - 1),
            "vocab": int(len(enc.vocab)), "words_crc32": zlib.crc32(words),
            "ids_crc32": zlib.crc32(memoryview(ids).cast("B"))}


def resume_from(trainer, resume, kind: str, label: str,
                skip: tuple = ("workers",)) -> tuple[dict, dict]:
    """Read the checkpoint ``resume`` of a ``kind`` trainer (``label`` in messages) and give
    ``trainer`` its parameters (all but ``skip``: the thread count stays the caller's).

    Returns the checkpoint's ``(arrays, state)``, the state checked.
    """
    arrays, state = load_checkpoint(resume)
    if state.get("trainer") != kind:
        raise ParameterError(f"{resume} is not a {label} checkpoint")
    check_checkpoint_state(state, resume)
    for k, v in checked_params(type(trainer), state["params"], resume, skip=skip).items():
        if getattr(trainer, k) != v:
            log.info("resuming with the checkpoint's %s=%r (not %r)", k, v, getattr(trainer, k))
        setattr(trainer, k, v)
    return arrays, state


def check_same_corpus(state, fingerprint: dict, resume) -> None:
    """A resumed run trains on the corpus its checkpoint was written for."""
    if state is not None and state["corpus"] != fingerprint:
        raise ParameterError(f"checkpoint {resume} was written for another corpus or "
                             f"vocabulary ({state['corpus']} vs {fingerprint}): resume with the "
                             "same corpus and options")


def start_position(state) -> tuple[tuple[int, int], list, dict | None]:
    """``(start, history, epoch_state)`` for :func:`~embedkit.training.driver.run_training`:
    a checkpoint's position, or the beginning when ``state`` is None."""
    if state is None:
        return (0, 0), [], None
    pos = state["position"]
    return ((int(pos["epoch"]), int(pos["job"])), [EpochRecord(**h) for h in pos["history"]],
            pos["epoch_state"])
