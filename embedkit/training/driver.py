"""The training driver every embedkit trainer shares (word2vec, GloVe, ...).

A trainer splits its data into *jobs* (contiguous ranges of items: sentences for
word2vec, co-occurrence rows for GloVe), writes one Numba kernel that processes a job
without the GIL, and hands a ``work`` callable to :func:`run_training`, which runs the
jobs through Hogwild worker threads for a number of epochs: progress bar with words/s,
learning rate, loss and ETA, ``--log-json`` ticks, float64 loss reduction, NaN detection,
per-epoch history, periodic checkpoints, Ctrl-C handling.

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
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from embedkit._progress import progress_bar
from embedkit.errors import TrainingDiverged, TrainingInterrupted

log = logging.getLogger(__name__)


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
    return TrainingRun(work, n_jobs, job_words, epochs, workers, lr_at=lr_at, start=start,
                       history=history, epoch_state=epoch_state, save=save,
                       checkpoint_every=checkpoint_every, log_json=log_json, desc=desc,
                       unit=unit, progress=progress, tick_seconds=tick_seconds).run()


class TrainingRun:
    """One run of :func:`run_training`: the job order, the worker threads, the per-epoch
    accumulators and the progress reporting (see there for the parameters)."""

    def __init__(self, work, n_jobs, job_words, epochs, workers, *, lr_at, start, history,
                 epoch_state, save, checkpoint_every, log_json, desc, unit, progress,
                 tick_seconds):
        self.work, self.n_jobs, self.epochs, self.workers = work, n_jobs, epochs, workers
        self.lr_at, self.save, self.checkpoint_every = lr_at, save, checkpoint_every
        self.tick_seconds = tick_seconds
        self.history = list(history or [])
        self.job_words = np.asarray(job_words, dtype=np.int64)
        self.epoch_words = int(self.job_words.sum())
        self.total_words = self.epoch_words * epochs
        start_epoch, start_job = start
        self.order = [(e, j) for e in range(start_epoch, epochs)
                      for j in range(start_job if e == start_epoch else 0, n_jobs)]
        self.done_words = start_epoch * self.epoch_words + int(self.job_words[:start_job].sum())
        self.accum: dict[int, _EpochAccum] = {}
        if epoch_state and start_epoch < epochs:
            self.accum[start_epoch] = _EpochAccum(**{k: epoch_state[k] for k in (
                "jobs_done", "words", "loss_sum", "loss_count", "seconds")})
        elif start_epoch < epochs:
            self.accum[start_epoch] = _EpochAccum()
        # dispatch state shared with the workers, under the condition's lock
        self._cond = threading.Condition()
        self._results: queue.Queue = queue.Queue()
        self._next, self._paused, self._stop = 0, False, False
        # bookkeeping of the main thread
        self.received = 0
        self._done = [False] * len(self.order)
        self.frontier = 0  # every order[< frontier] is done
        self._log_json, self._own_log = log_json, None
        self._desc, self._unit, self._progress = desc, unit, progress

    # -- worker threads -------------------------------------------------------------------
    def _worker(self, thread: int) -> None:
        while True:
            with self._cond:
                while self._paused and not self._stop:
                    self._cond.wait()
                if self._stop or self._next >= len(self.order):
                    return
                k = self._next
                self._next += 1
            e, j = self.order[k]
            try:
                words, loss_sum, loss_count = self.work(e, j, thread)
                self._results.put((k, int(words), float(loss_sum), int(loss_count), None))
            except BaseException as exc:  # noqa: BLE001 - reported on the main thread
                self._results.put((k, 0, 0.0, 0, exc))
                return

    def _stop_workers(self) -> int:
        """Let no worker take another job; the number of jobs dispatched."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            return self._next

    def _pause_and_drain(self) -> None:
        with self._cond:
            self._paused = True
            target = self._next
        self._drain(target)

    def _resume_workers(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    # -- results ----------------------------------------------------------------------------
    def _drain(self, target: int) -> None:
        while self.received < target:
            self._consume(self._results.get())

    def _acc_for(self, e: int) -> _EpochAccum:
        if e not in self.accum:
            self.accum[e] = _EpochAccum()
        return self.accum[e]

    def _consume(self, item) -> None:
        k, words, loss_sum, loss_count, exc = item
        self.received += 1
        if exc is not None:
            raise exc
        e, j = self.order[k]
        if not math.isfinite(loss_sum):
            lr = self.lr_at(self.done_words / max(self.total_words, 1))
            raise TrainingDiverged(
                f"the loss became {loss_sum} in epoch {e + 1}: training diverged because the "
                f"learning rate is too high (lr {lr:.4g} at that point); lower --alpha (e.g. "
                "to the default) and retrain")
        self._done[k] = True
        while self.frontier < len(self.order) and self._done[self.frontier]:
            self.frontier += 1
        a = self._acc_for(e)
        a.jobs_done += 1
        a.words += words
        a.loss_sum += loss_sum
        a.loss_count += loss_count
        self.done_words += words
        self._bar.update(words)
        if a.jobs_done == self.n_jobs:
            self._finish_epoch(e, a)

    def _finish_epoch(self, e: int, a: _EpochAccum) -> None:
        secs = a.seconds + (time.perf_counter() - a.started)
        rec = EpochRecord(epoch=e + 1, loss=a.loss_sum / max(a.loss_count, 1),
                          loss_sum=a.loss_sum, loss_count=a.loss_count, words=a.words,
                          seconds=secs, words_per_sec=a.words / max(secs, 1e-9),
                          lr=self.lr_at(min(1.0, (e + 1) / self.epochs)))
        self.history.append(rec)
        # with several workers a later epoch can finish first (a slow thread still holds
        # the last job of an earlier one): keep the history in epoch order
        self.history.sort(key=lambda r: r.epoch)
        del self.accum[e]
        log.info("epoch %d/%d: loss %.4f, %.0f words/s, %.1f s", e + 1, self.epochs,
                 rec.loss, rec.words_per_sec, rec.seconds)
        if e + 1 < self.epochs:
            self.accum[e + 1] = self.accum.get(e + 1) or _EpochAccum()

    def _current_loss(self) -> float:
        live = [a for a in self.accum.values() if a.loss_count]
        if live:
            return live[-1].loss_sum / live[-1].loss_count
        return self.history[-1].loss if self.history else float("nan")

    def position_state(self) -> dict:
        """The checkpoint position (call after a drain: every dispatched job is done, so
        the frontier is the position)."""
        if self.frontier < len(self.order):
            e, j = self.order[self.frontier]
        else:
            e, j = self.epochs, 0
        a = self.accum.get(e)
        now = time.perf_counter()
        ep = ({"jobs_done": a.jobs_done, "words": a.words, "loss_sum": a.loss_sum,
               "loss_count": a.loss_count, "seconds": a.seconds + (now - a.started)}
              if a is not None else None)
        return {"epoch": e, "job": j, "history": [h.as_dict() for h in self.history],
                "epoch_state": ep}

    # -- progress -----------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        window = self._window
        window.append((now, self.done_words))
        while len(window) > 2 and now - window[0][0] > 10.0:
            window.pop(0)
        (t_a, w_a), (t_b, w_b) = window[0], window[-1]
        rate = (w_b - w_a) / (t_b - t_a) if t_b > t_a else 0.0
        frac = self.done_words / max(self.total_words, 1)
        lr = self.lr_at(frac)
        loss = self._current_loss()
        e_now = min(self.done_words // max(self.epoch_words, 1), self.epochs - 1) + 1
        self._bar.set_postfix_str(f"epoch {e_now}/{self.epochs} lr {lr:.5f} loss {loss:.4f}",
                                  refresh=False)
        if self._log_json is not None:
            eta = (self.total_words - self.done_words) / rate if rate > 0 else None
            self._log_json.write(json.dumps({
                "time": round(now - self._t0, 3), "epoch": int(e_now),
                "progress": round(frac, 6), "words": int(self.done_words),
                "words_per_sec": round(rate, 1), "lr": lr,
                "loss": None if not math.isfinite(loss) else loss,
                "eta_seconds": None if eta is None else round(eta, 1)}) + "\n")
            self._log_json.flush()

    # -- the run ------------------------------------------------------------------------------
    def run(self) -> list[EpochRecord]:
        """Run the remaining jobs; returns the full history."""
        if self._log_json is not None and not hasattr(self._log_json, "write"):
            self._own_log = open(self._log_json, "a", encoding="utf-8")
            self._log_json = self._own_log
        self._t0 = time.perf_counter()
        self._window: list[tuple[float, int]] = [(self._t0, self.done_words)]
        self._bar = progress_bar(total=self.total_words, desc=self._desc, unit=self._unit,
                                 initial=self.done_words, unit_scale=True,
                                 disable=None if self._progress is None else not self._progress)
        threads = [threading.Thread(target=self._worker, args=(t,), name=f"embedkit-train-{t}",
                                    daemon=True) for t in range(self.workers)]
        # Ctrl-C sets a flag that the main loop checks between results, so the accounting
        # of a result is never cut in half; a second Ctrl-C interrupts at once.
        self._interrupted = False
        old_handler = None
        if threading.current_thread() is threading.main_thread():
            old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        started = False
        redirect = contextlib.ExitStack()
        if not self._bar.disable:  # log lines (epoch summaries, checkpoints) above the bar
            from tqdm.contrib.logging import logging_redirect_tqdm

            redirect.enter_context(logging_redirect_tqdm(loggers=[logging.getLogger("embedkit")]))
        try:
            for t in threads:
                t.start()
            started = True
            self._loop()
        except KeyboardInterrupt:
            self._interrupt()
        except BaseException:
            self._stop_workers()
            raise
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
            if started:
                self._stop_workers()
                for t in threads:
                    t.join()
            self._bar.close()
            redirect.close()
            if self._own_log is not None:
                self._own_log.close()
        return self.history

    def _on_sigint(self, signum, frame):
        if self._interrupted:
            raise KeyboardInterrupt
        self._interrupted = True

    def _loop(self) -> None:
        """Consume results, tick the progress and write the periodic checkpoints."""
        last_tick = last_ckpt = self._t0
        while self.received < len(self.order):
            if self._interrupted:
                raise KeyboardInterrupt
            try:
                item = self._results.get(timeout=min(self.tick_seconds, 0.25))
            except queue.Empty:
                item = None
            if item is not None:
                self._consume(item)
            now = time.perf_counter()
            if now - last_tick >= self.tick_seconds:
                self._tick(now)
                last_tick = now
            if (self.save is not None and self.checkpoint_every
                    and now - last_ckpt >= self.checkpoint_every
                    and self.received < len(self.order)):
                self._pause_and_drain()
                path = self.save(self.position_state())
                log.info("checkpoint written: %s", path)
                last_ckpt = time.perf_counter()
                self._resume_workers()
        self._tick(time.perf_counter())

    def _interrupt(self) -> None:
        """Ctrl-C: finish the jobs in flight, write a checkpoint, raise TrainingInterrupted."""
        target = self._stop_workers()
        path = None
        try:
            self._drain(target)
            if self.save is not None:
                path = self.save(self.position_state())
        finally:
            self._bar.close()
        where = f"; resume with --resume {path}" if path else ""
        done = self.done_words / max(self.total_words, 1)
        raise TrainingInterrupted(f"training interrupted at {done:.1%}{where}",
                                  checkpoint=path) from None
