"""Data-parallel training step of the language model: a segment's batch columns split over
threads.

The columns of a ``(T, B)`` segment are independent sequences, so the loss and gradient of
the whole segment are the sums of those of column slices.  Each slice runs
:meth:`~embedkit.lm.model.LanguageModel.loss_and_grad` on its own thread: the recurrent
kernels (Numba, ``nogil``) and NumPy's products on one BLAS thread each release the GIL,
so two slices use two cores with no spinning thread pool (a busy machine slows each slice,
never the pair's rendezvous).  The dropout masks and the sampled softmax's negatives are
drawn once, for the whole batch, in the order the one-thread step draws them: a seed gives
the same masks and negatives at any thread count, and the result differs from one thread's
only by the order of floating-point sums (fixed for a given thread count, so a run is
reproducible).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np


def column_bounds(batch: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous, non-empty column ranges covering ``range(batch)`` (fewer when
    ``batch < parts``), sizes differing by at most one."""
    parts = max(1, min(int(parts), int(batch)))
    edges = [batch * i // parts for i in range(parts + 1)]
    return [(edges[i], edges[i + 1]) for i in range(parts)]


def merge_gradients(results: list) -> tuple[float, dict, list]:
    """Sum the ``(loss, grads, state)`` of column slices, in slice order: losses and dense
    gradients add, row-sparse ``(rows, values)`` gradients concatenate, states concatenate
    along the batch axis."""
    loss = float(sum(r[0] for r in results))
    grads = {}
    for k, g in results[0][1].items():
        if isinstance(g, tuple):
            grads[k] = (np.concatenate([r[1][k][0] for r in results]),
                        np.concatenate([r[1][k][1] for r in results]))
        else:
            acc = g.copy()
            for r in results[1:]:
                acc += r[1][k]
            grads[k] = acc
    layers = len(results[0][2])
    state = [np.concatenate([r[2][i] for r in results], axis=0) for i in range(layers)]
    return loss, grads, state


class ColumnParallelStep:
    """``loss_and_grad`` of a segment with its columns split over ``threads`` threads.

    Parameters
    ----------
    model : LanguageModel
    threads : int
        Threads (and column slices); 1 calls the model directly.

    Use as a context manager (the thread pool is shut down on exit).
    """

    def __init__(self, model, threads: int = 1):
        self.model = model
        self.threads = int(threads)
        self._pool = ThreadPoolExecutor(self.threads) if self.threads > 1 else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __call__(self, inp, tgt, h0, rng=None):
        """``(loss, grads, state)`` of the segment, as
        :meth:`~embedkit.lm.model.LanguageModel.loss_and_grad` returns them."""
        m = self.model
        inp = np.asarray(inp, dtype=np.int64)
        tgt = np.asarray(tgt, dtype=np.int64)
        T, B = inp.shape
        bounds = column_bounds(B, self.threads)
        if self._pool is None or len(bounds) == 1:
            return m.loss_and_grad(inp, tgt, h0, rng)
        masks = m._dropout_masks(T, B, rng)  # drawn as the one-thread step draws them
        samples = None
        if m.config.softmax != "full":
            samples = m.draw_samples(rng if rng is not None else np.random.default_rng(0))
        jobs = [self._pool.submit(
            m.loss_and_grad, inp[:, a:b], tgt[:, a:b], [h[a:b] for h in h0], None, samples,
            None, None if masks is None else [mk[:, a:b] for mk in masks])
            for a, b in bounds]
        return merge_gradients([j.result() for j in jobs])
