"""The input layer of a downstream model: per-token features, forward and backward.

A token's input vector is the concatenation, in this order, of its word row (``emb``),
its casing class embedding (``case_emb``, with ``case_dim``), the mean of its hashed
character n-gram rows (``char_emb``, with ``char_buckets``) and the max-pooled outputs of
one character CNN filter bank per window width (``cnn_emb``, ``cnn_W[_i]``, ``cnn_b[_i]``,
with ``char_cnn``).  Word dropout (training tokens read the UNK row) and input dropout
(optionally one mask per sentence: ``variational``) apply here.
"""

from __future__ import annotations

import math

import numpy as np

from embedkit._kernels import charcnn as CK
from embedkit._kernels import gru as K
from embedkit.downstream.config import ModelConfig, cnn_names, cnn_widths
from embedkit.downstream.features import CASE_CLASSES, CHAR_FIRST, Featurizer, Vocabulary


def input_shapes(config: ModelConfig, n_rows: int, dim: int, n_chars: int) -> dict:
    """``{name: shape}`` of the input layer's arrays, in the order they are initialised:
    ``n_rows`` vocabulary rows of dimension ``dim``, ``n_chars`` characters in the char
    CNN alphabet."""
    shapes = {"emb": (n_rows, dim)}
    if config.case_dim:
        shapes["case_emb"] = (CASE_CLASSES, int(config.case_dim))
    if config.char_buckets:
        shapes["char_emb"] = (int(config.char_buckets), int(config.char_dim))
    if config.char_cnn:
        n_filters, dc = int(config.char_cnn), int(config.char_cnn_dim)
        shapes["cnn_emb"] = (CHAR_FIRST + n_chars, dc)
        for i, width in enumerate(cnn_widths(config.char_cnn_width)):
            wn, bn = cnn_names(i)
            shapes[wn] = (width, dc, n_filters)
            shapes[bn] = (n_filters,)
    return shapes


def input_width(shapes: dict) -> int:
    """Features per token of the input layer with arrays of ``shapes``."""
    width = shapes["emb"][1]
    for name in ("case_emb", "char_emb"):
        if name in shapes:
            width += shapes[name][1]
    return width + sum(s[2] for k, s in shapes.items() if k == "cnn_W" or k.startswith("cnn_W_"))


def init_inputs(config: ModelConfig, rng, emb: np.ndarray, n_chars: int) -> dict:
    """Fresh feature arrays around the word table ``emb``: N(0, 0.1) casing and n-gram rows,
    uniform char CNN embeddings (LeCun) and filters (Glorot), zero biases."""
    shapes = input_shapes(config, emb.shape[0], emb.shape[1], n_chars)
    p = {"emb": emb}
    for name, shape in shapes.items():
        if name in ("case_emb", "char_emb"):
            p[name] = rng.normal(0, 0.1, shape).astype(np.float32)
        elif name == "cnn_emb":
            s = math.sqrt(3.0 / shape[1])
            p[name] = rng.uniform(-s, s, shape).astype(np.float32)
        elif name.startswith("cnn_W"):
            width, dc, n_filters = shape
            s = math.sqrt(6.0 / (width * dc + n_filters))
            p[name] = rng.uniform(-s, s, shape).astype(np.float32)
        elif name.startswith("cnn_b"):
            p[name] = np.zeros(shape, np.float32)
    return p


def dropout_mask(shape, dtype, rate: float, rng, variational: bool) -> np.ndarray:
    """Inverted-dropout mask for a (T, B, D) array; with ``variational`` one mask per
    sequence, shared by all time steps (shape (1, B, D))."""
    if variational and len(shape) == 3:
        shape = (1,) + tuple(shape[1:])
    return (rng.random(shape, dtype=np.float32) >= rate).astype(dtype) / dtype.type(1 - rate)


class InputLayer:
    """Features of a batch (forward) and their gradients (backward) over the model's shared
    ``params``/``grads`` dicts.  ``backward`` returns the sparse row gradients of ``emb``
    and ``char_emb`` (``{name: (rows, grads)}``) and writes the dense ones into ``grads``."""

    def __init__(self, config: ModelConfig, params: dict, grads: dict, vocab: Vocabulary,
                 alphabet: str | None):
        self.config = config
        self.params = params
        self.grads = grads
        self.vocab = vocab
        self.featurizer = Featurizer(vocab, int(config.char_buckets), int(config.char_nmax),
                                     alphabet=alphabet if config.char_cnn else None)
        self._banks = [cnn_names(i) for i in range(len(cnn_widths(config.char_cnn_width)))]

    def dropout_mask(self, shape, dtype, rate, rng):
        return dropout_mask(shape, dtype, rate, rng, bool(self.config.variational))

    def forward(self, batch: dict, rng=None):
        """``(X, mask)``: features (T, B, D) of ``batch`` and the input dropout mask (None
        without ``rng``, i.e. at prediction time)."""
        p = self.params
        T, B = batch["T"], batch["B"]
        wrate = float(self.config.word_dropout)
        if rng is not None and wrate > 0:
            # word dropout: some tokens see the UNK row, so the model learns to tag unseen
            # words from their characters and context
            batch["words"] = np.where(rng.random(batch["words"].shape) < wrate,
                                      self.vocab.unk, batch["words"])
        parts = [p["emb"][batch["words"]]]
        if "case_emb" in p:
            parts.append(p["case_emb"][batch["case"]])
        if "char_emb" in p:
            bag = np.empty((B * T, p["char_emb"].shape[1]), p["char_emb"].dtype)
            K.bag_forward(p["char_emb"], batch["char_offsets"], batch["char_ids"], bag)
            parts.append(bag.reshape(B, T, -1).transpose(1, 0, 2))
        if "cnn_W" in p:
            parts.append(self._cnn_forward(batch))
        X = np.concatenate(parts, axis=2) if len(parts) > 1 else parts[0]
        drop = None
        rate = float(self.config.input_dropout)
        if rng is not None and rate > 0:
            drop = self.dropout_mask(X.shape, X.dtype, rate, rng)
            X = X * drop
        return np.ascontiguousarray(X), drop

    def _cnn_forward(self, batch):
        """Char CNN features (T, B, F * banks), computed once per distinct word of the batch;
        with several widths the banks' features are concatenated."""
        p = self.params
        T, B = batch["T"], batch["B"]
        valid = np.arange(T)[:, None] < batch["lengths"][None, :]
        uniq, inv = np.unique(batch["types"][valid], return_inverse=True)
        chars, offsets = self.featurizer.type_chars(uniq)
        outs, args = [], []
        for wn, bn in self._banks:
            F = p[wn].shape[2]
            out = np.empty((len(uniq), F), p[wn].dtype)
            arg = np.empty((len(uniq), F), np.int64)
            CK.charcnn_forward(p["cnn_emb"], p[wn], p[bn], chars, offsets, out, arg)
            outs.append(out)
            args.append(arg)
        allout = np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0]
        feat = np.zeros((T, B, allout.shape[1]), allout.dtype)
        feat[valid] = allout[inv.reshape(-1)]
        batch["_cnn"] = (valid, inv.reshape(-1), chars, offsets, outs, args)
        return feat

    def _cnn_backward(self, batch, dfeat):
        valid, inv, chars, offsets, outs, args = batch["_cnn"]
        p, g = self.params, self.grads
        dall = np.zeros((len(outs[0]), dfeat.shape[2]), dfeat.dtype)
        K.scatter_rows(np.ascontiguousarray(dfeat[valid]), inv, dall)
        g["cnn_emb"][...] = 0
        off = 0
        for (wn, bn), out, arg in zip(self._banks, outs, args):
            F = out.shape[1]
            g[wn][...] = 0
            g[bn][...] = 0
            CK.charcnn_backward(np.ascontiguousarray(dall[:, off:off + F]), out, p["cnn_emb"],
                                p[wn], chars, offsets, arg, g["cnn_emb"], g[wn], g[bn])
            off += F

    def backward(self, batch: dict, dX: np.ndarray, drop) -> dict:
        """Gradients of the features ``dX`` (T, B, D) back to the input arrays."""
        p = self.params
        if drop is not None:
            dX = dX * drop
        T, B = batch["T"], batch["B"]
        valid = np.arange(T)[:, None] < batch["lengths"][None, :]
        sparse = {}
        dim = p["emb"].shape[1]
        ids = batch["words"][valid]
        g = dX[:, :, :dim][valid]
        if not self.config.fine_tune:
            keep = ids >= self.vocab.n_pretrained
            ids, g = ids[keep], g[keep]
        rows, inv = np.unique(ids, return_inverse=True)
        gr = np.zeros((len(rows), dim), dX.dtype)
        K.scatter_rows(np.ascontiguousarray(g), inv.reshape(-1), gr)
        sparse["emb"] = (rows, gr)
        off = dim
        if "case_emb" in p:
            cd = p["case_emb"].shape[1]
            gc = self.grads["case_emb"]
            gc[:] = 0
            K.scatter_rows(np.ascontiguousarray(dX[:, :, off:off + cd][valid]),
                           batch["case"][valid], gc)
            off += cd
        if "char_emb" in p:
            cd = p["char_emb"].shape[1]
            gout = np.ascontiguousarray(dX[:, :, off:off + cd].transpose(1, 0, 2)).reshape(B * T, cd)
            rows, inv = np.unique(batch["char_ids"], return_inverse=True)
            gtab = np.zeros((len(rows), cd), dX.dtype)
            # bag backward over compacted rows
            K.bag_backward(gout, batch["char_offsets"], inv.reshape(-1).astype(np.int64), gtab)
            sparse["char_emb"] = (rows, gtab)
            off += cd
        if "cnn_W" in p:
            F = sum(p[wn].shape[2] for wn, _ in self._banks)
            self._cnn_backward(batch, dX[:, :, off:off + F])
        return sparse
