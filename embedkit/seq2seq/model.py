"""An encoder-decoder with additive attention.

Encoder: source embeddings -> a bidirectional GRU (:class:`embedkit.downstream.encoder.BiGRU`
over the kernels of :mod:`embedkit._kernels.gru`), states ``a_s`` of size 2H_e.
Decoder, for target step t (teacher forcing in training)::

    s_0   = tanh(W_0 mean_s(a_s) + b_0)
    e_ts  = v . tanh(U a_s + b_a + W s_{t-1}),  alpha_t = softmax_s(e_t)    (attention)
    c_t   = sum_s alpha_ts a_s
    s_t   = GRU([E y_{t-1}; c_t], s_{t-1})
    P(y_t) = softmax(W_o [s_t; c_t] + b_o)

The loss is the summed negative log-likelihood of the target tokens (``</s>`` included).
Backpropagation is written by hand over :mod:`embedkit._kernels.recurrent`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np

from embedkit import _validate as V
from embedkit._threads import one_blas_thread
from embedkit._kernels.recurrent import (attention_backward, attention_forward,
                                         gru_cell_backward, gru_cell_forward)
from embedkit.downstream.encoder import BiGRU, init_bigru
from embedkit.errors import FormatError, ParameterError
from embedkit.lm import decoding
from embedkit.lm.io import check_params, check_vocab, load_dir, save_dir
from embedkit.seq2seq.data import BOS, EOS, LEVELS, Vocab, join_tokens, pad_batch, split_text

KIND = "seq2seq"
_BOS, _EOS, _UNK = 2, 3, 1


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Sizes of a :class:`Seq2Seq` model.

    Attributes
    ----------
    level : {"char", "word"}
    emb : int
        Source and target embedding size.
    hidden : int
        Encoder GRU units per direction.
    dec_hidden : int
        Decoder GRU units.
    attention : int
        Size of the attention network's hidden layer.
    max_len : int
        Longest output decoding produces (in tokens, ``</s>`` included).
    """

    level: str = "char"
    emb: int = 32
    hidden: int = 64
    dec_hidden: int = 128
    attention: int = 64
    max_len: int = 50

    def validate(self):
        if self.level not in LEVELS:
            raise ParameterError(f"level must be 'char' or 'word', got {self.level!r}")
        for k in ("emb", "hidden", "dec_hidden", "attention", "max_len"):
            v = getattr(self, k)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"{k} must be an integer >= 1, got {v!r}")


def _shapes(cfg: Seq2SeqConfig, Vs: int, Vt: int) -> dict:
    E, He, Hd, A = cfg.emb, cfg.hidden, cfg.dec_hidden, cfg.attention
    s = {"src_emb": (Vs, E), "tgt_emb": (Vt, E)}
    for d in ("f", "b"):
        s.update({f"gru_{d}_Wi": (3 * He, E), f"gru_{d}_bi": (3 * He,),
                  f"gru_{d}_WhT": (He, 3 * He), f"gru_{d}_bhn": (He,)})
    s.update({"W0": (Hd, 2 * He), "b0": (Hd,), "Ua": (A, 2 * He), "ba": (A,), "Wa": (A, Hd),
              "va": (A,), "dec_Wi": (3 * Hd, E + 2 * He), "dec_bi": (3 * Hd,),
              "dec_WhT": (Hd, 3 * Hd), "dec_bhn": (Hd,), "Wo": (Vt, Hd + 2 * He),
              "bo": (Vt,)})
    return s


class Seq2Seq:
    """Encoder-decoder with additive attention (see the module docstring).

    Build one with :meth:`create`, train it with :func:`embedkit.seq2seq.train_seq2seq`,
    load one with :meth:`load`.
    """

    def __init__(self, config: Seq2SeqConfig, src_vocab: Vocab, tgt_vocab: Vocab, params: dict,
                 history=None):
        config.validate()
        self.config = config
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.params = params
        self.history = list(history or [])
        self._grads = {k: np.zeros_like(v) for k, v in params.items() if k.startswith("gru_")}
        self._enc = BiGRU(params, self._grads, threads=1, exact=self.dtype == np.float64)

    @classmethod
    def create(cls, src_vocab: Vocab, tgt_vocab: Vocab, seed: int = 0, **options) -> "Seq2Seq":
        """A new model with random parameters (``options``: fields of :class:`Seq2SeqConfig`)."""
        cfg = Seq2SeqConfig(**options)
        cfg.validate()
        rng = np.random.default_rng(seed)
        p = {}
        for name, shape in _shapes(cfg, len(src_vocab), len(tgt_vocab)).items():
            if name.startswith("gru_"):
                continue
            if len(shape) == 1:
                p[name] = np.zeros(shape, np.float32)
            elif name.endswith("_emb"):
                p[name] = rng.normal(0, 0.1, shape).astype(np.float32)
            else:
                a = 1.0 / np.sqrt(shape[1])
                p[name] = rng.uniform(-a, a, shape).astype(np.float32)
        p["va"] = rng.uniform(-0.1, 0.1, cfg.attention).astype(np.float32)
        p.update(init_bigru(rng, cfg.emb, cfg.hidden))
        return cls(cfg, src_vocab, tgt_vocab, p)

    def astype(self, dtype) -> "Seq2Seq":
        """A copy with parameters of ``dtype`` (float64 for gradient checks)."""
        return Seq2Seq(self.config, self.src_vocab, self.tgt_vocab,
                       {k: v.astype(dtype) for k, v in self.params.items()}, self.history)

    @property
    def dtype(self):
        return self.params["src_emb"].dtype

    # ------------------------------------------------------------------ encoding
    def encode_source(self, texts) -> list[list[int]]:
        out = []
        for t in texts:
            ids = self.src_vocab.encode(split_text(t, self.config.level))
            if not ids:
                raise ParameterError(f"the source {t!r} has no tokens")
            out.append(ids)
        return out

    def _encode(self, src, lengths):
        """Encoder states (B, S, 2He), ``ua`` (B, S, A) and the initial decoder state."""
        P = self.params
        X = P["src_emb"][src.T]  # (S, B, E) time-major
        enc = np.ascontiguousarray(self._enc.forward(X, lengths).transpose(1, 0, 2))
        mean = enc.sum(axis=1) / lengths[:, None].astype(self.dtype)
        s0 = np.tanh(mean @ P["W0"].T + P["b0"])
        ua = np.ascontiguousarray(enc @ P["Ua"].T + P["ba"])
        return enc, ua, mean, s0

    def _attend(self, s, enc, ua, lengths):
        P = self.params
        B, S, A = ua.shape
        wh = np.ascontiguousarray(s @ P["Wa"].T)
        tanh_e = np.empty((B, S, A), self.dtype)
        alpha = np.empty((B, S), self.dtype)
        ctx = np.empty((B, enc.shape[2]), self.dtype)
        attention_forward(ua, enc, lengths, wh, P["va"], tanh_e, alpha, ctx)
        return tanh_e, alpha, ctx

    def _cell(self, y_prev, s, ctx):
        P = self.params
        x = np.concatenate([P["tgt_emb"][y_prev], ctx], axis=1)
        xp = np.ascontiguousarray(x @ P["dec_Wi"].T + P["dec_bi"])
        B, H = s.shape
        r, z, n, hn, out = (np.empty((B, H), self.dtype) for _ in range(5))
        gru_cell_forward(xp, np.ascontiguousarray(s), P["dec_WhT"], P["dec_bhn"], r, z, n, hn, out)
        return x, (r, z, n, hn), out

    # ------------------------------------------------------------------ training
    def loss_and_grad(self, src, src_len, tgt_in, tgt_out, tgt_len):
        """Summed NLL of ``tgt_out`` (B, T) given ``src`` (B, S) with teacher forcing, and
        the gradient of every parameter (a dict of dense arrays).  Steps past ``tgt_len``
        do not count."""
        P = self.params
        dt = self.dtype
        src_len = np.ascontiguousarray(src_len, dtype=np.int64)
        B, T = tgt_in.shape
        enc, ua, mean, s0 = self._encode(src, src_len)
        s = s0
        steps = []
        loss = 0.0
        for t in range(T):
            tanh_e, alpha, ctx = self._attend(s, enc, ua, src_len)
            x, gates, s_new = self._cell(tgt_in[:, t], s, ctx)
            o = np.concatenate([s_new, ctx], axis=1)
            logits = o @ P["Wo"].T + P["bo"]
            m = logits.max(axis=1, keepdims=True)
            ex = np.exp(logits - m)
            Z = ex.sum(axis=1, keepdims=True)
            valid = (t < tgt_len).astype(dt)
            rows = np.arange(B)
            y = tgt_out[:, t]
            loss += float(np.sum(valid * (np.log(Z[:, 0]) + m[:, 0] - logits[rows, y])))
            g = ex / Z
            g[rows, y] -= 1
            g *= valid[:, None]
            steps.append((s, tanh_e, alpha, ctx, x, gates, s_new, o, g))
            s = s_new
        grads = {k: np.zeros_like(v) for k, v in P.items() if not k.startswith("gru_")}
        denc = np.zeros_like(enc)
        dua = np.zeros_like(ua)
        ds = np.zeros_like(s0)
        Hd = s0.shape[1]
        E = P["tgt_emb"].shape[1]
        for t in range(T - 1, -1, -1):
            s_prev, tanh_e, alpha, ctx, x, (r, z, n, hn), s_new, o, g = steps[t]
            grads["Wo"] += g.T @ o
            grads["bo"] += g.sum(axis=0)
            do = g @ P["Wo"]
            ds = ds + do[:, :Hd]
            dctx = do[:, Hd:].copy()
            dxp = np.empty((B, 3 * Hd), dt)
            ds_prev = gru_cell_backward(np.ascontiguousarray(ds), np.ascontiguousarray(s_prev),
                                        r, z, n, hn, P["dec_WhT"], dxp, grads["dec_WhT"],
                                        grads["dec_bhn"])
            grads["dec_Wi"] += dxp.T @ x
            grads["dec_bi"] += dxp.sum(axis=0)
            dx = dxp @ P["dec_Wi"]
            np.add.at(grads["tgt_emb"], tgt_in[:, t], dx[:, :E])
            dctx += dx[:, E:]
            dua_t = np.empty_like(ua)
            dwh = np.empty((B, ua.shape[2]), dt)
            attention_backward(np.ascontiguousarray(dctx), enc, src_len, P["va"], tanh_e, alpha,
                               denc, dua_t, dwh, grads["va"])
            dua += dua_t
            grads["Wa"] += dwh.T @ s_prev
            ds = ds_prev + dwh @ P["Wa"]
        # s0 = tanh(W0 mean + b0); ua = enc Ua^T + ba
        dpre = ds * (1 - s0 * s0)
        grads["W0"] += dpre.T @ mean
        grads["b0"] += dpre.sum(axis=0)
        dmean = dpre @ P["W0"]
        S = enc.shape[1]
        valid_s = (np.arange(S)[None, :] < src_len[:, None]).astype(dt)
        denc += (dmean / src_len[:, None].astype(dt))[:, None, :] * valid_s[:, :, None]
        A = ua.shape[2]
        flat_dua = dua.reshape(-1, A)
        grads["Ua"] += flat_dua.T @ enc.reshape(-1, enc.shape[2])
        grads["ba"] += flat_dua.sum(axis=0)
        denc += (flat_dua @ P["Ua"]).reshape(denc.shape)
        dX = self._enc.backward(np.ascontiguousarray(denc.transpose(1, 0, 2)))  # (S, B, E)
        np.add.at(grads["src_emb"], src.T, dX)
        for k, v in self._grads.items():
            grads[k] = v.copy()
        return loss, grads

    def batch_loss_and_grad(self, pairs):
        """:meth:`loss_and_grad` of a list of ``(source ids, target ids)``."""
        src, src_len = pad_batch([p[0] for p in pairs])
        tin, tgt_len = pad_batch([[_BOS] + p[1] for p in pairs])
        tout, _ = pad_batch([p[1] + [_EOS] for p in pairs])
        return self.loss_and_grad(src, src_len, tin, tout, tgt_len)

    # ------------------------------------------------------------------ decoding
    def _initial(self, src_ids):
        src, lengths = pad_batch(src_ids)
        enc, ua, _, s0 = self._encode(src, lengths)
        return (s0, enc, ua, lengths)

    def step(self, tokens, state):
        """Decoder step for :mod:`embedkit.lm.decoding`: log-probabilities (K, V)."""
        s, enc, ua, lengths = state
        _, alpha, ctx = self._attend(s, enc, ua, lengths)
        _, _, s_new = self._cell(np.asarray(tokens, dtype=np.int64), s, ctx)
        logits = (np.concatenate([s_new, ctx], axis=1) @ self.params["Wo"].T
                  + self.params["bo"]).astype(np.float64)
        m = logits.max(axis=1, keepdims=True)
        logp = logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))
        self._last_alpha = alpha
        return logp, (s_new, enc, ua, lengths)

    def _banned(self):
        return (0, _UNK, _BOS)

    def greedy_batch(self, src_ids) -> list[list[int]]:
        """Greedy decoding of a batch of source id lists (outputs without ``</s>``)."""
        state = self._initial(src_ids)
        B = len(src_ids)
        tok = np.full(B, _BOS, dtype=np.int64)
        out = [[] for _ in range(B)]
        done = np.zeros(B, dtype=bool)
        for _ in range(self.config.max_len):
            logp, state = self.step(tok, state)
            logp[:, list(self._banned())] = -np.inf
            tok = logp.argmax(axis=1)
            for b in np.flatnonzero(~done):
                if tok[b] == _EOS:
                    done[b] = True
                else:
                    out[b].append(int(tok[b]))
            if done.all():
                break
        return out

    @one_blas_thread
    def translate(self, texts, beam: int = 1, length_penalty: float = 0.0,
                  batch_size: int = 64) -> list[dict]:
        """Translate ``texts``; returns one dict per text with ``output``, ``tokens``,
        ``logprob`` (sum of the output's log-probabilities, ``</s>`` included) and
        ``finished``.  ``beam=1`` is greedy."""
        if not isinstance(beam, (int, np.integer)) or beam < 1:
            raise ParameterError(f"beam must be an integer >= 1, got {beam}")
        ids = self.encode_source(texts)
        results = []
        for i, src in enumerate(ids):
            state = self._initial([src])
            if beam == 1:
                h = decoding.greedy(self.step, state, _BOS, _EOS, self.config.max_len,
                                    self._banned())
            else:
                h = decoding.beam_search(self.step, state, _BOS, _EOS, self.config.max_len, beam,
                                         length_penalty, self._banned())[0]
            toks = [self.tgt_vocab.tokens[t] for t in h.tokens if t != _EOS]
            results.append({"source": texts[i], "output": join_tokens(toks, self.config.level),
                            "tokens": toks, "logprob": h.logp, "finished": h.finished})
        return results

    def attention_weights(self, text: str, output_tokens) -> tuple[list, list, np.ndarray]:
        """Attention weights (len(output)+1, len(source)) of the decoder reading ``text``
        and producing ``output_tokens`` (then ``</s>``): row t is alpha_t."""
        src = self.encode_source([text])[0]
        state = self._initial([src])
        prev = [_BOS] + self.tgt_vocab.encode(output_tokens)
        rows = []
        for t in prev:
            _, state = self.step(np.array([t]), state)
            rows.append(self._last_alpha[0].copy())
        return (split_text(text, self.config.level), list(output_tokens) + [EOS],
                np.array(rows))

    # ------------------------------------------------------------------ persistence
    def save(self, path) -> None:
        """Write the model to directory ``path`` (``model.json`` + ``weights.npz``)."""
        save_dir(path, KIND, {"config": asdict(self.config), "source_vocab": self.src_vocab.tokens,
                              "target_vocab": self.tgt_vocab.tokens, "history": self.history},
                 self.params)

    @classmethod
    def load(cls, path) -> "Seq2Seq":
        """Load a model saved by :meth:`save` (a model of another kind is a FormatError)."""
        meta, params = load_dir(path, KIND)
        file = os.path.join(os.fspath(path), "model.json")
        src, tgt = check_vocab(path, meta, "source_vocab"), check_vocab(path, meta, "target_vocab")
        try:
            cfg = Seq2SeqConfig(**V.field(meta, "config", dict, file=file))
            cfg.validate()
            sv, tv = Vocab(src), Vocab(tgt)
        except (TypeError, ValueError, ParameterError) as exc:
            raise FormatError(f"{file} is incomplete or inconsistent ({exc})") from None
        params = check_params(path, params, _shapes(cfg, len(sv), len(tv)))
        return cls(cfg, sv, tv, params, meta.get("history"))


__all__ = ["Seq2Seq", "Seq2SeqConfig", "BOS", "EOS"]
