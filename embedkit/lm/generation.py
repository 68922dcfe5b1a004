"""Generation with a :class:`~embedkit.lm.model.LanguageModel`: one step of the model for
``K`` hypotheses at once (:meth:`~GenerationMixin.step`), the state after a prompt, and
:meth:`~GenerationMixin.generate`, which hands the step to the greedy, sampling and beam
decoders of :mod:`embedkit.lm.decoding`.
"""

from __future__ import annotations

import numpy as np

from embedkit._kernels.recurrent import gru_cell_forward, lstm_cell_forward
from embedkit._kernels.softmax import output_log_softmax
from embedkit._threads import one_blas_thread
from embedkit.errors import ParameterError, UnknownWordError
from embedkit.lm import decoding


class GenerationMixin:
    """Next-token distributions and text generation for
    :class:`~embedkit.lm.model.LanguageModel`."""

    def step(self, tokens, state):
        """Next-token log-probabilities (K, V) after feeding ``tokens`` (K,) from ``state``."""
        P = self.params
        cfg = self.config
        x = P["emb"][np.asarray(tokens, dtype=np.int64)]
        new = []
        for layer in range(cfg.layers):
            xp = np.ascontiguousarray(x @ P[f"Wi{layer}"].T + P[f"bi{layer}"])
            h = np.ascontiguousarray(state[layer])
            K, H = h.shape[0], cfg.hidden
            if cfg.cell == "gru":
                r, z, n, hn, out = (np.empty((K, H), self.dtype) for _ in range(5))
                gru_cell_forward(xp, h, P[f"WhT{layer}"], P[f"bhn{layer}"], r, z, n, hn, out)
                x = out
            else:
                gates = tuple(np.empty((K, H), self.dtype) for _ in range(5))
                out = np.empty((K, 2 * H), self.dtype)
                lstm_cell_forward(xp, h, P[f"WhT{layer}"], *gates, out)
                x = np.ascontiguousarray(out[:, :H])
            new.append(out)
        # all K rows against the output matrix in one pass over it, log-softmax fused
        logp = np.empty((x.shape[0], self.out_W.shape[0]), np.float64)
        output_log_softmax(np.ascontiguousarray(x, dtype=self.dtype),
                           np.ascontiguousarray(self.out_W), P["out_b"], logp)
        return logp, tuple(new)

    def tokenize(self, text: str) -> list[str]:
        return (text.lower() if self.config.lowercase else text).split()

    def prompt_state(self, prompt: str):
        """The state after reading ``</s>`` and the prompt except its last token, and that
        last token (the first input of generation)."""
        toks = self.tokenize(prompt)
        ids = [self.vocab.eos] + self.vocab.encode(toks)
        if toks and all(i == self.vocab.unk for i in ids[1:]):
            raise UnknownWordError(f"none of the prompt's words ({' '.join(toks[:8])}) is in "
                                   "the model's vocabulary: use words of the training text")
        state = tuple(self.initial_state(1))
        for t in ids[:-1]:
            _, state = self.step(np.array([t]), state)
        return state, ids[-1], toks

    @one_blas_thread
    def generate(self, prompt: str = "", max_tokens: int = 50, *, method: str = "greedy",
                 temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                 seed: int = 0, beam: int = 5, length_penalty: float = 0.0) -> dict:
        """Continue ``prompt``.

        Parameters
        ----------
        method : {"greedy", "sample", "beam"}
        temperature, top_k, top_p, seed
            Sampling options (``seed`` makes a run reproducible).
        beam, length_penalty
            Beam width and ``alpha`` of the score ``(1 / T**alpha) * sum log P``.

        Returns
        -------
        dict with ``text`` (the continuation), ``tokens``, ``logprob`` (sum of the
        generated tokens' log-probabilities), ``score`` and ``finished`` (ended with
        ``</s>``).  ``<unk>`` is never generated.
        """
        if not isinstance(max_tokens, (int, np.integer)) or max_tokens < 1:
            raise ParameterError(f"max_tokens must be >= 1, got {max_tokens}")
        if method == "sample":
            decoding.check_sampling(temperature, top_k, top_p)
        elif method == "beam":
            if not isinstance(beam, (int, np.integer)) or beam < 1:
                raise ParameterError(f"beam must be an integer >= 1, got {beam}")
        elif method != "greedy":
            raise ParameterError(f"method must be greedy, sample or beam, got {method!r}")
        state, first, _ = self.prompt_state(prompt)
        eos, banned = self.vocab.eos, (self.vocab.unk,)
        if method == "greedy":
            hyp = decoding.greedy(self.step, state, first, eos, max_tokens, banned)
        elif method == "sample":
            rng = np.random.Generator(np.random.PCG64(seed))
            hyp = decoding.sample(self.step, state, first, eos, max_tokens, rng, temperature,
                                  top_k, top_p, banned)
        else:
            hyp = decoding.beam_search(self.step, state, first, eos, max_tokens, beam,
                                       length_penalty, banned)[0]
        words = [self.vocab.words[t] for t in hyp.tokens if t != eos]
        return {"prompt": prompt, "text": " ".join(words), "tokens": len(hyp.tokens),
                "logprob": hyp.logp, "score": hyp.score, "finished": hyp.finished,
                "method": method}
