"""Machinery every embedkit trainer shares (word2vec, GloVe, ...).

A trainer splits its data into *jobs* (contiguous ranges of items: sentences for
word2vec, co-occurrence rows for GloVe), writes one Numba kernel that processes a job
without the GIL, and hands a ``work`` callable to :func:`run_training`, which runs the
jobs through Hogwild worker threads for a number of epochs.  This module provides:

* parameter checks: :func:`check_positive`, :func:`check_non_negative`, :func:`check_workers`,
  :func:`check_out_path`;
* seeding: :func:`rng_states` (one uint64 xorshift state per thread, from a seed);
* job splitting: :func:`split_jobs`;
* the driver: :func:`run_training` (progress bar with words/s, learning rate, loss and ETA,
  ``--log-json`` ticks, float64 loss reduction, NaN detection, per-epoch history,
  periodic checkpoints, Ctrl-C handling);
* checkpoints: :func:`save_checkpoint` / :func:`load_checkpoint` (npz + JSON, written
  atomically, no pickle);
* errors: :class:`TrainingInterrupted`, :class:`TrainingDiverged`.

Positions
---------
Work is ordered: epoch ``e``, job ``j``.  A *position* ``(e, j)`` means "every job before
job ``j`` of epoch ``e`` is done".  Checkpoints are taken only at positions (workers are
paused and drained first), so resuming from one replays exactly the remaining jobs; with
one worker the resumed run is bit-identical to an uninterrupted one, provided the trainer
saves its per-thread RNG states with its weights (the ``save`` callback does that).

The learning rate of a job should be a function of its place in the whole run (not of
wall time or thread), e.g. linear decay over ``epoch * epoch_words + first word of the
job``; then results do not depend on scheduling with one worker.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from embedkit._atomic import atomic_file
from embedkit._progress import progress_bar
from embedkit.errors import (EmbedkitError, MissingFileError, ParameterError, TrainingDiverged,
                             TrainingInterrupted)

log = logging.getLogger(__name__)

__all__ = [
    "EpochRecord",
    "JobResult",
    "OutputFailed",
    "TrainingDiverged",
    "TrainingInterrupted",
    "check_non_negative",
    "check_out_path",
    "check_positive",
    "check_workers",
    "checkpoint_plan",
    "vectors_plan",
    "discard_checkpoint",
    "format_bytes",
    "load_checkpoint",
    "rng_states",
    "run_training",
    "save_checkpoint",
    "save_vectors_or_rescue",
    "split_jobs",
]


# ---------------------------------------------------------------------------------------
# parameter checks
def check_positive(name: str, value, integer: bool = False, hint: str = ""):
    """Return ``value`` if it is > 0, else raise :class:`ParameterError` naming it.

    Parameters
    ----------
    name : str
        The parameter name as the user spells it (e.g. ``"window"``).
    value : int or float
        The value to check.
    integer : bool
        Also require an integer.
    hint : str
        Extra advice appended to the message.
    """
    _check_number(name, value, integer)
    if not value > 0:
        raise ParameterError(f"{name} must be {'>= 1' if integer else '> 0'}, got {value}{hint}")
    return value


def check_non_negative(name: str, value, integer: bool = False, hint: str = ""):
    """Return ``value`` if it is >= 0, else raise :class:`ParameterError` naming it."""
    _check_number(name, value, integer)
    if not value >= 0:
        raise ParameterError(f"{name} must be >= 0, got {value}{hint}")
    return value


def _check_number(name, value, integer):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ParameterError(f"{name} must be a whole number, got {value}")
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value}")


def check_workers(workers) -> int:
    """Resolve ``workers`` (None -> CPU count) and check it is >= 1."""
    from embedkit._threads import cpu_count

    if workers is None:
        return cpu_count()
    check_positive("workers", workers, integer=True)
    return int(workers)


def check_out_path(path) -> str | None:
    """Check that the directory of an output path exists (None passes through)."""
    if path is None:
        return None
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise MissingFileError(
            f"cannot write {path}: directory {parent} does not exist (create it first)")
    return path


def format_bytes(n: float) -> str:
    """Human-readable byte count (``"1.5 GiB"``)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return f"{n:.1f} TiB"  # pragma: no cover


# ---------------------------------------------------------------------------------------
# seeding and jobs
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x, z ^ (z >> 31)


def rng_states(seed: int, n: int) -> np.ndarray:
    """``n`` independent, non-zero uint64 RNG states derived from ``seed`` (SplitMix64).

    Each worker thread owns one state (``states[thread]``) and its kernel advances it in
    place, so runs with the same seed and one worker are identical.
    """
    if seed is None:
        seed = 0
    check_non_negative("seed", seed, integer=True)
    x = int(seed) & _MASK64
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        x, z = _splitmix64(x)
        out[i] = z or 0x9E3779B97F4A7C15
    return out


def split_jobs(offsets: np.ndarray, words_per_job: int = 10000) -> np.ndarray:
    """Split sentences into jobs of about ``words_per_job`` words.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n_items + 1,)
        Item boundaries (``offsets[i]:offsets[i+1]`` is item ``i``).
    words_per_job : int
        Target job size; a job is never empty and never splits an item.

    Returns
    -------
    ndarray of int64, shape (n_jobs + 1,)
        Item-index boundaries: job ``j`` covers items ``bounds[j]:bounds[j+1]``.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_items = len(offsets) - 1
    if n_items <= 0:
        return np.zeros(1, dtype=np.int64)
    total = int(offsets[-1] - offsets[0])
    marks = offsets[0] + np.arange(0, max(total, 1), max(1, int(words_per_job)), dtype=np.int64)
    bounds = np.searchsorted(offsets, marks, side="left")
    bounds = np.unique(np.concatenate([[0], bounds, [n_items]])).astype(np.int64)
    return bounds


def encoded_corpus(corpus, **options):
    """``corpus`` itself when it is already encoded (has ``ids``, ``offsets`` and ``vocab``),
    else :func:`embedkit.corpus.prepare` of it with ``options``."""
    if all(hasattr(corpus, a) for a in ("ids", "offsets", "vocab")):
        return corpus
    from embedkit.corpus.sharded import ShardedCorpus, is_sharded_dir

    if is_sharded_dir(corpus):  # written by prepare(..., out=DIR): memory-mapped shards
        return ShardedCorpus.open(corpus)
    from embedkit.corpus import prepare

    return prepare(corpus, **options)


# ---------------------------------------------------------------------------------------
# checkpoints
def _atomic_write(path: str, write: Callable[[object], None], mode: str = "wb") -> None:
    with atomic_file(path, mode, fsync=True) as fh:
        write(fh)


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
    _atomic_write(npz_path, lambda fh: np.savez(fh, **arrays, **{STATE_KEY: blob}))
    _atomic_write(json_path, lambda fh: fh.write(text.encode("utf-8")))
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


def vectors_plan(out, format, checkpoint, checkpoint_every) -> tuple[str | None, str | None]:
    """:func:`checkpoint_plan` for a trainer whose output is a vectors file.

    Called before any work: the output name, format and directory are checked with
    :func:`embedkit.vectors.output.check_output`, so that a long run never fails at the
    end on its output name.
    """
    out, checkpoint = checkpoint_plan(out, checkpoint, checkpoint_every)
    if out is not None:
        from embedkit.vectors.output import check_output

        check_output(out, format)
    elif format is not None:
        raise ParameterError("format applies to the output vectors: give an output path too")
    return out, checkpoint


class OutputFailed(EmbedkitError):
    """Training finished but its vectors could not be written where asked.

    The vectors were saved in the native format elsewhere (``rescue``) and the
    checkpoint, if any, was kept; the message says where.
    """

    def __init__(self, message: str, rescue: str | None = None):
        super().__init__(message)
        self.rescue = rescue


def save_vectors_or_rescue(vectors, out, format=None, checkpoint=None) -> None:
    """Write trained ``vectors`` to ``out``; if that fails, never lose them.

    On failure the vectors are written in the native format beside ``out``
    (``OUT.rescue.ekv``), else in the temporary directory, and :class:`OutputFailed`
    says where (and that the checkpoint was kept).
    """
    try:
        vectors.save(out, format=format)
        return
    except (OSError, EmbedkitError) as exc:
        reason = (f"{exc.strerror}" if isinstance(exc, OSError) and exc.strerror else str(exc))
    import tempfile

    name = os.path.basename(os.path.normpath(os.fspath(out))) + ".rescue.ekv"
    candidates = [os.path.join(os.path.dirname(os.path.abspath(os.fspath(out))), name),
                  os.path.join(tempfile.gettempdir(), f"{os.getpid()}-{name}")]
    rescue = None
    for where in candidates:
        try:
            vectors.save(where, format="native")
            rescue = where
            break
        except (OSError, EmbedkitError) as exc:  # noqa: PERF203 - two tries at most
            log.debug("rescue write to %s failed: %s", where, exc)
    kept = ""
    if checkpoint is not None and os.path.exists(_checkpoint_paths(checkpoint)[1]):
        kept = f"; the checkpoint {checkpoint} was kept"
    if rescue is None:
        raise OutputFailed(f"could not write the vectors to {out} ({reason}), nor a native "
                           f"copy to {' or '.join(candidates)}{kept}; free some disk space "
                           "and resume from the checkpoint if there is one")
    raise OutputFailed(f"could not write the vectors to {out} ({reason}); the trained "
                       f"vectors were saved to {rescue} (native format: `embedkit convert "
                       f"{rescue} {out}` once the problem is fixed){kept}", rescue=rescue)


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


# ---------------------------------------------------------------------------------------
# the driver
@dataclass
class JobResult:
    """What a ``work`` call returns: work units done, loss sum (float64) and loss terms."""

    words: int
    loss_sum: float
    loss_count: int


@dataclass
class EpochRecord:
    """One entry of the training history."""

    epoch: int
    loss: float          # mean loss per counted term (loss_sum / loss_count)
    loss_sum: float
    loss_count: int
    words: int           # work units processed (corpus tokens for word2vec)
    seconds: float
    words_per_sec: float
    lr: float            # learning rate at the end of the epoch

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class _EpochAccum:
    jobs_done: int = 0
    words: int = 0
    loss_sum: float = 0.0
    loss_count: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)


def run_training(
    work: Callable[[int, int, int], tuple],
    n_jobs: int,
    job_words: Sequence[int],
    epochs: int,
    workers: int,
    *,
    lr_at: Callable[[float], float] = lambda progress: float("nan"),
    start: tuple[int, int] = (0, 0),
    history: list | None = None,
    epoch_state: dict | None = None,
    save: Callable[[dict], str] | None = None,
    checkpoint_every: float | None = None,
    log_json=None,
    desc: str = "training",
    unit: str = "w",
    progress: bool | None = None,
    tick_seconds: float = 1.0,
) -> list[EpochRecord]:
    """Run ``epochs`` x ``n_jobs`` jobs through ``workers`` Hogwild threads.

    Parameters
    ----------
    work : callable ``(epoch, job, thread) -> (words, loss_sum, loss_count)``
        Processes one job; called concurrently from worker threads, so it must release
        the GIL (call a ``nogil`` Numba kernel) and use only per-``thread`` scratch state.
    n_jobs : int
        Jobs per epoch.
    job_words : sequence of int
        Work units of each job (for progress and the learning-rate position).
    epochs, workers : int
        Number of passes and of worker threads.
    lr_at : callable ``(progress in [0, 1]) -> float``
        Learning rate at a fraction of the whole run, for display only.
    start : (epoch, job)
        Position to start from (a resumed run passes the checkpoint's).
    history : list of EpochRecord, optional
        Records of finished epochs (from a checkpoint); new epochs are appended.
    epoch_state : dict, optional
        Partial accumulators of the epoch ``start`` is in (from a checkpoint).
    save : callable ``(position_state) -> path``, optional
        Writes a checkpoint.  Called with workers drained, with a dict holding
        ``epoch``, ``job``, ``history`` and ``epoch_state``; it must store that dict
        in the checkpoint's JSON together with its own arrays and RNG states.
    checkpoint_every : float, optional
        Seconds between checkpoints (needs ``save``).
    log_json : path or file, optional
        Where one JSON line per progress tick is written.
    desc, unit : str
        Progress bar label and unit.
    progress : bool, optional
        Force the bar on or off (default: embedkit's global setting).
    tick_seconds : float
        Seconds between progress ticks.

    Returns
    -------
    list of EpochRecord
        The full history (records passed in plus the new epochs).

    Raises
    ------
    TrainingDiverged
        A job returned a NaN or infinite loss.
    TrainingInterrupted
        Ctrl-C; a checkpoint was written first when ``save`` is given.
    """
    history = list(history or [])
    job_words = np.asarray(job_words, dtype=np.int64)
    epoch_words = int(job_words.sum())
    total_words = epoch_words * epochs
    start_epoch, start_job = start
    order = [(e, j) for e in range(start_epoch, epochs)
             for j in range(start_job if e == start_epoch else 0, n_jobs)]
    done_words = start_epoch * epoch_words + int(job_words[:start_job].sum())

    accum: dict[int, _EpochAccum] = {}
    if epoch_state and start_epoch < epochs:
        acc = _EpochAccum(**{k: epoch_state[k] for k in ("jobs_done", "words", "loss_sum",
                                                         "loss_count", "seconds")})
        accum[start_epoch] = acc
    elif start_epoch < epochs:
        accum[start_epoch] = _EpochAccum()

    cond = threading.Condition()
    results: queue.Queue = queue.Queue()
    ctl = {"next": 0, "paused": False, "stop": False}

    def worker(thread: int) -> None:
        while True:
            with cond:
                while ctl["paused"] and not ctl["stop"]:
                    cond.wait()
                if ctl["stop"] or ctl["next"] >= len(order):
                    return
                k = ctl["next"]
                ctl["next"] += 1
            e, j = order[k]
            try:
                words, loss_sum, loss_count = work(e, j, thread)
                results.put((k, int(words), float(loss_sum), int(loss_count), None))
            except BaseException as exc:  # noqa: BLE001 - reported on the main thread
                results.put((k, 0, 0.0, 0, exc))
                return

    own_log = None
    if log_json is not None and not hasattr(log_json, "write"):
        own_log = open(log_json, "a", encoding="utf-8")
        log_json = own_log

    received = 0
    done = [False] * len(order)
    frontier = 0  # every order[< frontier] is done
    t0 = time.perf_counter()
    last_tick = t0
    last_ckpt = t0
    window: list[tuple[float, int]] = [(t0, done_words)]
    bar = progress_bar(total=total_words, desc=desc, unit=unit, initial=done_words,
                       unit_scale=True,
                       disable=None if progress is None else not progress)
    threads = [threading.Thread(target=worker, args=(t,), name=f"embedkit-train-{t}",
                                daemon=True) for t in range(workers)]

    def acc_for(e: int) -> _EpochAccum:
        if e not in accum:
            accum[e] = _EpochAccum()
        return accum[e]

    def current_loss() -> float:
        live = [a for a in accum.values() if a.loss_count]
        if live:
            a = live[-1]
            return a.loss_sum / a.loss_count
        return history[-1].loss if history else float("nan")

    def consume(item) -> None:
        nonlocal received, done_words, frontier
        k, words, loss_sum, loss_count, exc = item
        received += 1
        if exc is not None:
            raise exc
        e, j = order[k]
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(
                f"the loss became {loss_sum} in epoch {e + 1}: training diverged because the "
                f"learning rate is too high (lr {lr_at(done_words / max(total_words, 1)):.4g} "
                "at that point); lower --alpha (e.g. to the default) and retrain")
        done[k] = True
        while frontier < len(order) and done[frontier]:
            frontier += 1
        a = acc_for(e)
        a.jobs_done += 1
        a.words += words
        a.loss_sum += loss_sum
        a.loss_count += loss_count
        done_words += words
        bar.update(words)
        if a.jobs_done == n_jobs:
            now = time.perf_counter()
            secs = a.seconds + (now - a.started)
            rec = EpochRecord(epoch=e + 1, loss=a.loss_sum / max(a.loss_count, 1),
                              loss_sum=a.loss_sum, loss_count=a.loss_count, words=a.words,
                              seconds=secs, words_per_sec=a.words / max(secs, 1e-9),
                              lr=lr_at(min(1.0, (e + 1) / epochs)))
            history.append(rec)
            # with several workers a later epoch can finish first (a slow thread still
            # holds the last job of an earlier one): keep the history in epoch order
            history.sort(key=lambda r: r.epoch)
            del accum[e]
            log.info("epoch %d/%d: loss %.4f, %.0f words/s, %.1f s", e + 1, epochs,
                     rec.loss, rec.words_per_sec, rec.seconds)
            if e + 1 < epochs:
                accum[e + 1] = accum.get(e + 1) or _EpochAccum()

    def drain(target: int) -> None:
        while received < target:
            consume(results.get())

    def pause_and_drain() -> None:
        with cond:
            ctl["paused"] = True
            target = ctl["next"]
        drain(target)

    def resume_workers() -> None:
        with cond:
            ctl["paused"] = False
            cond.notify_all()

    def position_state() -> dict:
        # after a drain every dispatched job is done: the frontier is the position
        if frontier < len(order):
            e, j = order[frontier]
        else:
            e, j = epochs, 0
        a = accum.get(e)
        now = time.perf_counter()
        ep = ({"jobs_done": a.jobs_done, "words": a.words, "loss_sum": a.loss_sum,
               "loss_count": a.loss_count, "seconds": a.seconds + (now - a.started)}
              if a is not None else None)
        return {"epoch": e, "job": j, "history": [h.as_dict() for h in history],
                "epoch_state": ep}

    def tick(now: float) -> None:
        window.append((now, done_words))
        while len(window) > 2 and now - window[0][0] > 10.0:
            window.pop(0)
        (t_a, w_a), (t_b, w_b) = window[0], window[-1]
        rate = (w_b - w_a) / (t_b - t_a) if t_b > t_a else 0.0
        frac = done_words / max(total_words, 1)
        lr = lr_at(frac)
        loss = current_loss()
        e_now = min(done_words // max(epoch_words, 1), epochs - 1) + 1
        bar.set_postfix_str(f"epoch {e_now}/{epochs} lr {lr:.5f} loss {loss:.4f}",
                            refresh=False)
        if log_json is not None:
            eta = (total_words - done_words) / rate if rate > 0 else None
            log_json.write(json.dumps({
                "time": round(now - t0, 3), "epoch": int(e_now), "progress": round(frac, 6),
                "words": int(done_words), "words_per_sec": round(rate, 1),
                "lr": lr, "loss": None if not math.isfinite(loss) else loss,
                "eta_seconds": None if eta is None else round(eta, 1)}) + "\n")
            log_json.flush()

    # Ctrl-C sets a flag that the main loop checks between results, so the accounting of a
    # result is never cut in half; a second Ctrl-C interrupts at once.
    interrupted = {"flag": False}
    old_handler = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            if interrupted["flag"]:
                raise KeyboardInterrupt
            interrupted["flag"] = True

        old_handler = signal.signal(signal.SIGINT, on_sigint)

    started = False
    redirect = contextlib.ExitStack()
    if not bar.disable:  # log lines (epoch summaries, checkpoints) go above the bar
        from tqdm.contrib.logging import logging_redirect_tqdm

        redirect.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger("embedkit")]))
    try:
        for t in threads:
            t.start()
        started = True
        while received < len(order):
            if interrupted["flag"]:
                raise KeyboardInterrupt
            try:
                item = results.get(timeout=min(tick_seconds, 0.25))
            except queue.Empty:
                item = None
            if item is not None:
                consume(item)
            now = time.perf_counter()
            if now - last_tick >= tick_seconds:
                tick(now)
                last_tick = now
            if (save is not None and checkpoint_every and now - last_ckpt >= checkpoint_every
                    and received < len(order)):
                pause_and_drain()
                path = save(position_state())
                log.info("checkpoint written: %s", path)
                last_ckpt = time.perf_counter()
                resume_workers()
        tick(time.perf_counter())
    except KeyboardInterrupt:
        with cond:
            ctl["stop"] = True
            target = ctl["next"]
            cond.notify_all()
        path = None
        try:
            drain(target)
            if save is not None:
                path = save(position_state())
        finally:
            bar.close()
        where = f"; resume with --resume {path}" if path else ""
        raise TrainingInterrupted(f"training interrupted at {done_words / max(total_words, 1):.1%}"
                                  f"{where}", checkpoint=path) from None
    except BaseException:
        with cond:
            ctl["stop"] = True
            cond.notify_all()
        raise
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        if started:
            with cond:
                ctl["stop"] = True
                cond.notify_all()
            for t in threads:
                t.join()
        bar.close()
        redirect.close()
        if own_log is not None:
            own_log.close()
    return history
