"""What the encoder layers share at run time: reused buffers and a pool of two threads.

:class:`Workspace` hands out named buffers grown to the largest batch seen and reused (no
page faults on every step); :class:`PooledLayer` runs a layer's independent parts (the two
directions of a bidirectional layer, the two slabs of a Transformer batch) in two threads,
the kernels releasing the GIL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np


class Workspace:
    """Named buffers, each grown to the largest size asked for and reused.

    Parameters
    ----------
    shapes : callable, optional
        ``shapes(T, B, D, H)`` -> ``{name: shape}``: the buffers :meth:`views` returns.
    """

    def __init__(self, shapes=None):
        self.shapes = shapes
        self.flat = {}
        self.ib = np.zeros(8, np.int32)
        self._last = (None, None)

    def buf(self, name, shape, dtype):
        """Buffer ``name`` as an array of ``shape`` and ``dtype`` (its values are stale)."""
        n = int(np.prod(shape))
        b = self.flat.get(name)
        if b is None or b.size < n or b.dtype != dtype:
            b = self.flat[name] = np.empty(n, dtype)
        return b[:n].reshape(shape)

    def views(self, T, B, D, H, dtype):
        """``{name: buffer}`` of every buffer ``shapes`` names (the last set is cached)."""
        key = (T, B, D, H, np.dtype(dtype))
        if self._last[0] != key:
            self._last = (key, {k: self.buf(k, shape, dtype)
                                for k, shape in self.shapes(T, B, D, H).items()})
        return self._last[1]


class PooledLayer:
    """Base of a layer that runs independent parts in a pool of two threads
    (``threads >= 2``) or one after the other (``threads == 1``)."""

    def _start_pool(self, threads: int) -> None:
        self.threads = int(threads)
        self._pool = ThreadPoolExecutor(2) if self.threads >= 2 else None

    def _run(self, fns) -> None:
        """Run the callables ``fns``: in the pool's threads, or one after the other."""
        if len(fns) == 1 or self._pool is None:
            for f in fns:
                f()
            return
        # all in the pool while this thread waits: measured faster under load than running
        # one part here (no GIL hand-back to a thread the OS has descheduled)
        futs = [self._pool.submit(f) for f in fns]
        for fut in futs:
            fut.result()

    def close(self):
        """Shut the thread pool down (the layer then runs its parts one after the other)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
