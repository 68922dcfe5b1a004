"""Where a trainer's vectors go: the output plan checked before any work, and the ending
every vectors trainer's ``fit`` shares (write the vectors, or a rescue copy if that fails;
drop the finished run's checkpoint; on Ctrl-C write the vectors so far and say how to
continue)."""

from __future__ import annotations

import logging
import os
import time
from typing import Callable

from embedkit.errors import EmbedkitError, ParameterError, TrainingInterrupted
from embedkit.training.checkpoint import _checkpoint_paths, checkpoint_plan, discard_checkpoint

log = logging.getLogger(__name__)


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


def train_and_write(run: Callable[[], list], result: Callable, *, out, format, checkpoint):
    """Run a trainer's training and end its ``fit``.

    Parameters
    ----------
    run : callable ``() -> history``
        The training (:func:`~embedkit.training.driver.run_training` with its arguments).
    result : callable ``(seconds, history or None) -> result``
        The trainer's result object (with ``.vectors``); ``None`` when the run was
        interrupted (the result holds the vectors so far).
    out, format, checkpoint
        The checked output path and format, and the checkpoint path (all may be None).

    Returns the result; its vectors are written to ``out`` (a rescue copy elsewhere if that
    fails: :class:`OutputFailed`) and the finished run's checkpoint is removed.  On Ctrl-C
    the vectors so far are written too and :class:`~embedkit.errors.TrainingInterrupted`
    (carrying the partial result) says how to continue.
    """
    t0 = time.perf_counter()
    try:
        history = run()
    except TrainingInterrupted as exc:
        res = result(time.perf_counter() - t0, None)
        msg = str(exc).split(";")[0]
        if out is not None:
            save_vectors_or_rescue(res.vectors, out, format, exc.checkpoint)
            msg += f"; vectors so far written to {out}"
        if exc.checkpoint:
            msg += (f"; to continue, run the same command with --resume {exc.checkpoint}"
                    f" (Python: resume={exc.checkpoint!r})")
        raise TrainingInterrupted(msg, checkpoint=exc.checkpoint, result=res) from None
    res = result(time.perf_counter() - t0, history)
    if out is not None:
        save_vectors_or_rescue(res.vectors, out, format, checkpoint)
        log.debug("vectors written to %s", out)  # the CLI reports the output
        if checkpoint is not None:
            discard_checkpoint(checkpoint)
    return res
