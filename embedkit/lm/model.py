"""A word-level recurrent language model: embeddings -> L GRU layers -> softmax.

The class holds the parameters and computes the loss and its gradient (hand-written
backpropagation over the kernels of :mod:`embedkit._kernels.recurrent`); exact perplexity
is :mod:`embedkit.lm.perplexity` and the next-token distribution for generation
:mod:`embedkit.lm.generation`, both mixed into :class:`LanguageModel`.  The epoch loop
lives in :mod:`embedkit.lm.trainer`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import numpy as np

from embedkit import _validate as V
from embedkit._kernels.recurrent import (gru_layer_backward, gru_layer_forward,
                                         lstm_layer_backward, lstm_layer_forward)
from embedkit.errors import FormatError, ParameterError
from embedkit.lm.data import LMVocab
from embedkit.lm.generation import GenerationMixin
from embedkit.lm.io import check_params, check_vocab, load_dir, save_dir
from embedkit.lm.perplexity import PerplexityMixin

log = logging.getLogger(__name__)

KIND = "lm"
CELLS = ("gru", "lstm")


@dataclass(frozen=True)
class LMConfig:
    """Architecture and loss of a :class:`LanguageModel`.

    Attributes
    ----------
    dim : int
        Input embedding size (that of the vectors).
    hidden : int
        GRU units per layer.
    layers : int
        Stacked GRU layers.
    cell : {"gru", "lstm"}
        Recurrent cell (``torch.nn.GRU`` / ``torch.nn.LSTM`` gates).
    dropout : float
        Dropout on the embeddings and on every layer's output, in [0, 1).
    tie : bool
        Output embeddings are the input embeddings (needs hidden == dim).
    freeze : bool
        Keep the input embeddings fixed.
    softmax : {"sampled", "full"}
        Training loss: sampled softmax (``samples`` negatives per batch, drawn from the
        unigram distribution to the power 0.75, with the log-expected-count correction and
        accidental hits removed) or the full softmax.  Evaluation is always the full softmax.
    samples : int
        Negatives per batch for the sampled softmax.
    lowercase : bool
        Lowercase the text before looking words up.
    """

    dim: int
    hidden: int = 256
    layers: int = 1
    cell: str = "gru"
    dropout: float = 0.2
    tie: bool = False
    freeze: bool = False
    softmax: str = "sampled"
    samples: int = 1024
    lowercase: bool = True

    def validate(self) -> None:
        if self.cell not in CELLS:
            raise ParameterError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        for name in ("dim", "hidden", "layers", "samples"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"{name} must be an integer >= 1, got {v!r}")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.softmax not in ("sampled", "full"):
            raise ParameterError(f"softmax must be 'sampled' or 'full', got {self.softmax!r}")
        if self.tie and self.hidden != self.dim:
            raise ParameterError(f"tied output embeddings need hidden == the embedding size "
                                 f"({self.dim}), got hidden {self.hidden}: set --hidden "
                                 f"{self.dim} or drop --tie")
        if self.tie and self.freeze:
            raise ParameterError("--tie with --freeze would freeze the output layer too: "
                                 "drop one of them")


def _param_shapes(cfg: LMConfig, V: int) -> dict:
    shapes = {"emb": (V, cfg.dim)}
    din = cfg.dim
    H = cfg.hidden
    G = 3 if cfg.cell == "gru" else 4
    for layer in range(cfg.layers):
        shapes.update({f"Wi{layer}": (G * H, din), f"bi{layer}": (G * H,),
                       f"WhT{layer}": (H, G * H)})
        if cfg.cell == "gru":
            shapes[f"bhn{layer}"] = (H,)
        din = H
    if not cfg.tie:
        shapes["out_W"] = (V, cfg.hidden)
    shapes["out_b"] = (V,)
    return shapes


class LanguageModel(PerplexityMixin, GenerationMixin):
    """A recurrent word-level language model.

    Build one with :meth:`create` (or :func:`train_lm`), load one with :meth:`load`.

    Parameters
    ----------
    config : LMConfig
    vocab : LMVocab
    params : dict of ndarray
        Every array of :func:`_param_shapes`.
    counts : ndarray, optional
        Training counts of the vocabulary entries (the sampled softmax's proposal).
    """

    def __init__(self, config: LMConfig, vocab: LMVocab, params: dict, counts=None,
                 history=None):
        config.validate()
        self.config = config
        self.vocab = vocab
        self.params = params
        V = len(vocab)
        self.counts = (np.ones(V, np.int64) if counts is None
                       else np.asarray(counts, dtype=np.int64))
        self.history = list(history or [])

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(cls, vocab: LMVocab, counts=None, vectors=None, *, dim: int | None = None,
               seed: int = 0, **options) -> "LanguageModel":
        """A new model; input embeddings start from ``vectors`` (any
        :class:`~embedkit.Vectors`) where they have the word, small random values elsewhere.

        ``options`` are the fields of :class:`LMConfig` (``hidden``, ``layers``, ...).
        """
        if vectors is not None:
            dim = vectors.dim
        if dim is None:
            raise ParameterError("give vectors or an embedding size (dim)")
        cfg = LMConfig(dim=int(dim), **options)
        cfg.validate()
        rng = np.random.default_rng(seed)
        V = len(vocab)
        params = {}
        for name, shape in _param_shapes(cfg, V).items():
            if name.startswith(("bi", "bhn", "out_b")):
                params[name] = np.zeros(shape, np.float32)
            elif name == "emb":
                params[name] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
            else:
                fan = shape[1] if not name.startswith("WhT") else shape[0]
                a = 1.0 / np.sqrt(fan)
                params[name] = rng.uniform(-a, a, shape).astype(np.float32)
        found = 0
        if vectors is not None:
            k2i = vectors.key_to_index
            mat = vectors.vectors
            rows = [(i, k2i[w]) for i, w in enumerate(vocab.words) if w in k2i]
            if rows:
                dst, src = np.array(rows).T
                params["emb"][dst] = mat[src]
            found = len(rows)
            log.info("embeddings: %d of %d vocabulary words found in the vectors", found, V)
            if cfg.freeze and found < V // 2:
                log.warning("only %d of %d words have vectors, and --freeze keeps the other "
                            "rows at random values", found, V)
        m = cls(cfg, vocab, params, counts)
        m.vectors_found = found
        return m

    def astype(self, dtype) -> "LanguageModel":
        """A copy with parameters of ``dtype`` (float64 for gradient checks)."""
        p = {k: v.astype(dtype) for k, v in self.params.items()}
        return LanguageModel(self.config, self.vocab, p, self.counts, self.history)

    @property
    def dtype(self):
        return self.params["emb"].dtype

    @property
    def out_W(self) -> np.ndarray:
        return self.params["emb"] if self.config.tie else self.params["out_W"]

    def initial_state(self, batch: int) -> list:
        """Zero state per layer: (batch, H) for a GRU, ``[h, c]`` (batch, 2H) for an LSTM."""
        width = self.config.hidden * (1 if self.config.cell == "gru" else 2)
        return [np.zeros((batch, width), self.dtype)
                for _ in range(self.config.layers)]

    # ------------------------------------------------------------------ forward/backward
    def _dropout_masks(self, T, B, rng):
        p = self.config.dropout
        if rng is None or p == 0:
            return None
        scale = self.dtype.type(1.0 / (1.0 - p))
        shapes = [(T, B, self.config.dim)] + [(T, B, self.config.hidden)] * self.config.layers
        return [(rng.random(s, dtype=np.float32) >= p).astype(self.dtype) * scale
                for s in shapes]

    def _rnn_forward(self, inp, h0, masks):
        """Embeddings and GRU layers; returns the last layer's (dropped-out) output and caches."""
        P = self.params
        cfg = self.config
        T, B = inp.shape
        H = cfg.hidden
        x = P["emb"][inp]
        if masks is not None:
            x = x * masks[0]
        caches, last = [], []
        for layer in range(cfg.layers):
            Wi, bi = P[f"Wi{layer}"], P[f"bi{layer}"]
            XP = (x.reshape(T * B, -1) @ Wi.T + bi).reshape(T, B, -1)
            XP = np.ascontiguousarray(XP)
            h = np.ascontiguousarray(h0[layer], dtype=self.dtype)
            if cfg.cell == "gru":
                Hout = np.empty((T, B, H), self.dtype)
                R, Z, N, HN = (np.empty((T, B, H), self.dtype) for _ in range(4))
                gru_layer_forward(XP, h, P[f"WhT{layer}"], P[f"bhn{layer}"], Hout, R, Z, N, HN)
                caches.append((x, h, Hout, (R, Z, N, HN)))
                y = Hout
            else:
                Hout = np.empty((T, B, 2 * H), self.dtype)  # [h, c] of each step
                gates = tuple(np.empty((T, B, H), self.dtype) for _ in range(5))
                lstm_layer_forward(XP, h, P[f"WhT{layer}"], Hout, *gates)
                caches.append((x, h, Hout, gates))
                y = np.ascontiguousarray(Hout[:, :, :H])
            last.append(Hout[-1].copy())
            x = y * masks[layer + 1] if masks is not None else y
        return x, caches, last

    def _rnn_backward(self, dx, inp, caches, masks, grads):
        P = self.params
        cfg = self.config
        T, B = inp.shape
        for layer in range(cfg.layers - 1, -1, -1):
            xin, h0, Hout, gates = caches[layer]
            if masks is not None:
                dx = dx * masks[layer + 1]
            dH = np.ascontiguousarray(dx, dtype=self.dtype)
            WhT = P[f"WhT{layer}"]
            dXP = np.empty((T, B, WhT.shape[1]), self.dtype)
            dWhT = np.zeros_like(WhT)
            if cfg.cell == "gru":
                dbhn = np.zeros_like(P[f"bhn{layer}"])
                gru_layer_backward(dH, h0, Hout, *gates, WhT, dXP, dWhT, dbhn)
                grads[f"bhn{layer}"] = dbhn
            else:
                lstm_layer_backward(dH, h0, Hout, *gates, WhT, dXP, dWhT)
            flat = dXP.reshape(T * B, -1)
            grads[f"Wi{layer}"] = flat.T @ xin.reshape(T * B, -1)
            grads[f"bi{layer}"] = flat.sum(axis=0)
            grads[f"WhT{layer}"] = dWhT
            dx = (flat @ P[f"Wi{layer}"]).reshape(T, B, -1)
        if masks is not None:
            dx = dx * masks[0]
        return dx.reshape(T * B, -1)

    def _full_loss(self, h, tgt, need_grad, chunk=2048):
        """Sum of -log softmax(h W^T + b)[tgt] over rows; gradient wrt h, W, b if asked."""
        W, b = self.out_W, self.params["out_b"]
        n = h.shape[0]
        loss = 0.0
        dh = np.empty_like(h) if need_grad else None
        dW = np.zeros_like(W) if need_grad else None
        db = np.zeros_like(b) if need_grad else None
        for a in range(0, n, chunk):
            e = min(n, a + chunk)
            logits = h[a:e] @ W.T + b
            m = logits.max(axis=1, keepdims=True)
            ex = np.exp(logits - m)
            s = ex.sum(axis=1, keepdims=True)
            rows = np.arange(e - a)
            t = tgt[a:e]
            loss += float(np.sum(np.log(s[:, 0].astype(np.float64)) + m[:, 0] - logits[rows, t]))
            if need_grad:
                g = ex / s
                g[rows, t] -= 1
                dh[a:e] = g @ W
                dW += g.T @ h[a:e]
                db += g.sum(axis=0)
        return loss, dh, dW, db

    def _sampled_loss(self, h, tgt, samples):
        """Sampled softmax over ``[target, samples]`` with the log-expected-count correction."""
        W, b = self.out_W, self.params["out_b"]
        q = self._proposal()
        K = samples.shape[0]
        corr_s = np.log(K * q[samples]).astype(self.dtype)
        corr_t = np.log(K * q[tgt]).astype(self.dtype)
        Ws, bs = W[samples], b[samples]
        Wt = W[tgt]
        lt = np.einsum("ij,ij->i", h, Wt) + b[tgt] - corr_t
        ls = h @ Ws.T + bs - corr_s
        ls[samples[None, :] == tgt[:, None]] = -np.inf  # accidental hits
        m = np.maximum(lt, ls.max(axis=1))
        et = np.exp(lt - m)
        es = np.exp(ls - m[:, None])
        s = et + es.sum(axis=1)
        loss = float(np.sum(np.log(s.astype(np.float64)) + m - lt))
        gt = et / s - 1  # d loss / d true logit
        gs = es / s[:, None]
        dh = gt[:, None] * Wt + gs @ Ws
        rows = np.concatenate([tgt, samples])
        gW = np.concatenate([gt[:, None] * h, gs.T @ h])
        gb = np.concatenate([gt, gs.sum(axis=0)])
        return loss, dh, (rows, gW), (rows, gb)

    def _proposal(self):
        if getattr(self, "_q", None) is None or self._q.shape[0] != len(self.vocab):
            q = self.counts.astype(np.float64) ** 0.75
            self._q = q / q.sum()
            self._q_cum = np.cumsum(self._q)
        return self._q

    def draw_samples(self, rng) -> np.ndarray:
        """``samples`` negatives from the unigram^0.75 distribution (with replacement)."""
        self._proposal()
        k = min(self.config.samples, len(self.vocab))
        ids = np.searchsorted(self._q_cum, rng.random(k) * self._q_cum[-1], side="right")
        return np.minimum(ids, len(self.vocab) - 1).astype(np.int64)

    def loss_and_grad(self, inp, tgt, h0, rng=None, samples=None, full=None, masks=None):
        """Loss summed over the ``T x B`` targets and its gradient.

        Parameters
        ----------
        inp, tgt : (T, B) int arrays
            Input tokens and the tokens to predict.
        h0 : list of (B, H) arrays
            Initial state of each layer (the last state of the previous segment).
        rng : numpy Generator, optional
            Dropout (and negative sampling) randomness; ``None`` turns dropout off.
        samples : int array, optional
            The negatives of the sampled softmax (drawn from ``rng`` when not given).
        full : bool, optional
            Force the full (True) or sampled (False) softmax; default from the config.
        masks : list of arrays, optional
            Dropout masks (as drawn from ``rng`` for the whole batch); given, ``rng`` draws
            none.  For a slice of a batch's columns (:mod:`embedkit.lm.parallel`).

        Returns
        -------
        loss : float
        grads : dict
            Name -> dense gradient, or ``(rows, row_grads)`` for row-sparse ones (summed
            over duplicate rows by the consumer).
        state : list of (B, H) arrays
            The last state of each layer.
        """
        inp = np.asarray(inp, dtype=np.int64)
        tgt = np.asarray(tgt, dtype=np.int64).ravel()
        T, B = inp.shape
        if masks is None:
            masks = self._dropout_masks(T, B, rng)
        x, caches, last = self._rnn_forward(inp, h0, masks)
        h = x.reshape(T * B, -1)
        use_full = (self.config.softmax == "full") if full is None else full
        grads = {}
        if use_full:
            loss, dh, dW, db = self._full_loss(h, tgt, True)
            out_w = dW
            grads["out_b"] = db
        else:
            if samples is None:
                samples = self.draw_samples(rng if rng is not None else np.random.default_rng(0))
            loss, dh, out_w, grads["out_b"] = self._sampled_loss(h, tgt, samples)
        dx = self._rnn_backward(dh.reshape(T, B, -1), inp, caches, masks, grads)
        emb_g = (inp.ravel(), dx)
        if self.config.tie:
            if isinstance(out_w, tuple):
                grads["emb"] = (np.concatenate([emb_g[0], out_w[0]]),
                                np.concatenate([emb_g[1], out_w[1]]))
            else:
                np.add.at(out_w, emb_g[0], emb_g[1])
                grads["emb"] = out_w
        else:
            grads["out_W"] = out_w
            if not self.config.freeze:
                grads["emb"] = emb_g
        return loss, grads, last

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict:
        return {"config": asdict(self.config), "vocab": self.vocab.words,
                "counts": self.counts.tolist(), "history": self.history}

    def save(self, path) -> None:
        """Write the model to directory ``path`` (``model.json`` + ``weights.npz``)."""
        save_dir(path, KIND, self._state(), self.params)

    @classmethod
    def load(cls, path) -> "LanguageModel":
        """Load a model saved by :meth:`save` (a model of another kind is a FormatError)."""
        meta, params = load_dir(path, KIND)
        file = os.path.join(os.fspath(path), "model.json")
        words = check_vocab(path, meta, "vocab")
        counts = V.count_list(V.field(meta, "counts", list, file=file), len(words), file=file,
                              name="counts")
        try:
            cfg = LMConfig(**V.field(meta, "config", dict, file=file))
            cfg.validate()
            vocab = LMVocab(words)
        except (TypeError, ValueError, ParameterError) as exc:
            raise FormatError(f"{file} is incomplete or inconsistent ({exc})") from None
        if cfg.layers > len(params):  # each layer has arrays of its own in weights.npz
            raise FormatError(f"{file} says {cfg.layers} layers but weights.npz holds "
                              f"{len(params)} arrays; the model directory is inconsistent")
        params = check_params(path, params, _param_shapes(cfg, len(vocab)))
        return cls(cfg, vocab, params, counts, meta.get("history"))
