"""Exact full-softmax perplexity of a :class:`~embedkit.lm.model.LanguageModel` over a
token stream: the recurrent layers on one thread, the output layer's product and softmax
(the bulk of the work for a large vocabulary) on ``threads`` BLAS and Numba threads.
"""

from __future__ import annotations

import numpy as np

from embedkit._threads import one_blas_thread
from embedkit.errors import ParameterError
from embedkit.lm.data import batchify


class PerplexityMixin:
    """:meth:`perplexity` for :class:`~embedkit.lm.model.LanguageModel`."""

    def _exact_nll(self, h, tgt, buf, out, threads):
        """Full-softmax negative log-likelihood of each row of ``h`` (float64 (n,)).

        One GEMM ``h @ W.T`` into ``buf`` on ``threads`` BLAS threads, then the Numba
        kernel adds the bias and reduces each row (:mod:`embedkit._kernels.softmax`; a
        float32 model uses the kernel with the vectorised exponential).
        """
        from threadpoolctl import threadpool_limits

        from embedkit._kernels import softmax as kernels

        n = h.shape[0]
        L = buf[:n]
        with threadpool_limits(limits=threads, user_api="blas"):
            np.matmul(h, self.out_W.T, out=L)
        o = out[:n]
        if L.dtype == np.float32:
            kernel = (kernels.softmax_nll_rows_f32_parallel if threads > 1
                      else kernels.softmax_nll_rows_f32)
        else:
            kernel = (kernels.softmax_nll_rows_parallel if threads > 1
                      else kernels.softmax_nll_rows)
        kernel(L, self.params["out_b"], tgt, o)
        return o

    @one_blas_thread
    def perplexity(self, stream: np.ndarray, batch_size: int = 32, bptt: int = 64,
                   progress: bool = False, threads: int | None = None) -> dict:
        """Exact full-softmax perplexity of a token stream (state carried across segments).

        Parameters
        ----------
        stream : int array
            Token ids (``</s>`` after each line, as :func:`~embedkit.lm.data.encode_stream`
            makes them).
        batch_size, bptt : int
            Parallel columns and segment length (the state is carried between segments, so
            they change the result only through the columns' first tokens).
        progress : bool
            Show a progress bar.
        threads : int, optional
            Threads for the output layer's product and softmax (default: every CPU); the
            recurrent layers run on one.

        Returns
        -------
        dict
            ``{"perplexity", "cross_entropy" (nats per token), "tokens"}``.
        """
        import numba

        from embedkit._progress import progress_bar
        from embedkit._threads import cpu_count

        stream = np.asarray(stream)
        if stream.size < 2:
            raise ParameterError("the text to evaluate has fewer than 2 tokens")
        if threads is None:
            threads = cpu_count()
        if not isinstance(threads, (int, np.integer)) or threads < 1:
            raise ParameterError(f"threads must be an integer >= 1, got {threads!r}")
        threads = int(min(threads, numba.config.NUMBA_NUM_THREADS))
        B = max(1, min(batch_size, (stream.shape[0] - 1) // 2))
        # targets are the next token within each column
        data = batchify(stream, B)
        T = data.shape[0]
        state = self.initial_state(B)
        rows = min(bptt, T - 1) * B
        buf = np.empty((rows, len(self.vocab)), self.dtype)
        out = np.empty(rows, np.float64)
        total, n = 0.0, 0
        before = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            with progress_bar(total=(T - 1) * B, desc="evaluating", unit="tok",
                              disable=None if progress else True) as bar:
                for a in range(0, T - 1, bptt):
                    e = min(T - 1, a + bptt)
                    inp, tgt = data[a:e].astype(np.int64), data[a + 1:e + 1].astype(np.int64)
                    x, _, state = self._rnn_forward(inp, state, None)
                    h = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
                    total += float(self._exact_nll(h, tgt.ravel(), buf, out, threads).sum())
                    n += tgt.size
                    bar.update(tgt.size)
                    bar.set_postfix(ppl=f"{np.exp(total / n):.1f}")
        finally:
            numba.set_num_threads(before)
        ce = total / n
        return {"perplexity": float(np.exp(ce)), "cross_entropy": float(ce), "tokens": int(n)}
