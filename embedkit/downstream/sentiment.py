"""The sentiment head: pooling over time (max+mean, max, mean or attention), dropout and a
softmax over the classes, on top of :class:`~embedkit.downstream.base.TaskModel`."""

from __future__ import annotations

import math

import numpy as np

from embedkit._threads import single_threaded_blas
from embedkit.downstream import metrics as M
from embedkit.downstream.attention import init_pooling
from embedkit.downstream.base import TaskModel, softmax
from embedkit.downstream.config import Schedule, config_from
from embedkit.downstream.data import length_batches
from embedkit.downstream.presets import SENTIMENT
from embedkit.downstream.trainer import Trainer
from embedkit.errors import ParameterError

_C, _S = SENTIMENT.config, SENTIMENT.schedule  # the defaults: the "sentiment" preset


class SentimentClassifier(TaskModel):
    """BiGRU text classifier: max+mean (or attention) pooling over time, dropout, softmax.

    The defaults (options and ``fit``) are the ``"sentiment"`` preset of
    :mod:`~embedkit.downstream.presets`, as ``embedkit sentiment train``.

    Parameters
    ----------
    vectors : embedkit.Vectors
        Pretrained word vectors (frozen unless ``fine_tune=True``).
    hidden : int
        Recurrent units per direction, or the Transformer's width.
    dropout : float
        Dropout before the output layer (and between stacked recurrent layers).
    input_dropout : float
        Dropout on the input features.
    fine_tune : bool
        Update the pretrained embeddings too.
    oov_min_count : int
        Training words missing from the vectors seen this often get a learned row.
    pooling : {"maxmean", "max", "mean", "attention"}
        How the encoder states of a text become one vector.
    max_vocab : int or None
        Keep the first N vector rows.
    seed, threads : int
        Random seed (initialisation, dropout, batch order); 1 or 2 threads.
    encoder : {"gru", "lstm", "rnn", "transformer"}
        A bidirectional recurrent cell with ``hidden`` units per direction, or a pre-LN
        Transformer encoder of width ``hidden``.
    layers : int
        Stacked encoder layers.
    heads : int
        Attention heads of the Transformer and of attention pooling (must divide their width).
    ff_dim : int or None
        Transformer feed-forward units (default ``2 * hidden``).
    transformer_dropout : float
        Dropout inside the Transformer.

    Examples
    --------
    >>> clf = SentimentClassifier(vectors).fit(texts, labels, dev_texts, dev_labels)  # doctest: +SKIP
    >>> clf.predict([["a", "fine", "film"]])                                          # doctest: +SKIP
    """

    task = "sentiment"

    def __init__(self, vectors=None, *, hidden: int = _C.hidden, dropout: float = _C.dropout,
                 input_dropout: float = _C.input_dropout, fine_tune: bool = _C.fine_tune,
                 oov_min_count: int = _C.oov_min_count, pooling: str = _C.pooling,
                 max_vocab: int | None = _C.max_vocab, seed: int = _C.seed,
                 threads: int = _C.threads, encoder: str = _C.encoder, layers: int = _C.layers,
                 heads: int = _C.heads, ff_dim: int | None = _C.ff_dim,
                 transformer_dropout: float = _C.transformer_dropout):
        super().__init__(vectors, config_from(locals()))

    def _init_head(self, rng, width):
        C = len(self.labels)
        mult = 2 if self.config.pooling == "maxmean" else 1
        fan = mult * width
        s = math.sqrt(6.0 / (fan + C))
        p = {"out_W": rng.uniform(-s, s, (fan, C)).astype(np.float32),
             "out_b": np.zeros(C, np.float32)}
        if self.config.pooling == "attention":
            p.update(init_pooling(rng, width))
        return p

    def _pool(self, Hs, lengths):
        T, B, H2 = Hs.shape
        mask = (np.arange(T)[:, None] < lengths[None, :])
        mode = self.config.pooling
        cache = {"mask": mask}
        outs = []
        if mode in ("maxmean", "max"):
            Hm = np.where(mask[:, :, None], Hs, -np.inf)
            arg = Hm.argmax(axis=0)  # (B, H2)
            outs.append(np.take_along_axis(Hs, arg[None], 0)[0])
            cache["arg"] = arg
        if mode in ("maxmean", "mean"):
            outs.append(Hs.sum(axis=0) / lengths[:, None].astype(Hs.dtype))
        if mode == "attention" and self.pooler is not None:
            outs.append(self.pooler.forward(Hs, lengths))
        elif mode == "attention":  # models saved before multi-head pooling: additive attention
            p = self.params
            U = np.tanh(Hs @ p["att_W"])  # (T, B, H2)
            s = U @ p["att_v"]  # (T, B)
            s = np.where(mask, s, -np.inf)
            a = softmax(s.T).T  # over T
            outs.append((a[:, :, None] * Hs).sum(axis=0))
            cache.update(U=U, a=a)
        return np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0], cache

    def _pool_backward(self, Hs, lengths, dP, cache):
        T, B, H2 = Hs.shape
        mode = self.config.pooling
        dHs = np.zeros_like(Hs)
        off = 0
        if mode in ("maxmean", "max"):
            arg = cache["arg"]
            bi, ki = np.meshgrid(np.arange(B), np.arange(H2), indexing="ij")
            np.add.at(dHs, (arg, bi, ki), dP[:, off:off + H2])
            off += H2
        if mode in ("maxmean", "mean"):
            dm = dP[:, off:off + H2] / lengths[:, None].astype(Hs.dtype)
            dHs += cache["mask"][:, :, None] * dm[None]
            off += H2
        if mode == "attention" and self.pooler is not None:
            dHs += self.pooler.backward(dP[:, off:off + H2])
        elif mode == "attention":
            p = self.params
            U, a = cache["U"], cache["a"]
            dctx = dP[:, off:off + H2]
            dHs += a[:, :, None] * dctx[None]
            da = (Hs * dctx[None]).sum(axis=2)  # (T, B)
            ds = a * (da - (a * da).sum(axis=0, keepdims=True))
            self.grads["att_v"][:] = np.einsum("tbh,tb->h", U, ds)
            dU = ds[:, :, None] * p["att_v"][None, None]
            dZ = dU * (1 - U * U)
            self.grads["att_W"][:] = Hs.reshape(-1, H2).T @ dZ.reshape(-1, H2)
            dHs += dZ @ p["att_W"].T
        return dHs

    def _logits(self, batch, rng=None):
        Hs, drop_in = self._forward(batch, rng)
        P, cache = self._pool(Hs, batch["lengths"])
        drop = None
        rate = float(self.config.dropout)
        if rng is not None and rate > 0:
            drop = (rng.random(P.shape, dtype=np.float32) >= rate).astype(P.dtype) / P.dtype.type(1 - rate)
            P = P * drop
        z = P @ self.params["out_W"] + self.params["out_b"]
        return z, (Hs, drop_in, P, cache, drop)

    def _loss_grad(self, batch, y, rng):
        index = {c: i for i, c in enumerate(self.labels)}
        ids = np.array([index[v] for v in y])
        z, (Hs, drop_in, P, cache, drop) = self._logits(batch, rng)
        prob = softmax(z)
        B = len(ids)
        loss = float(-np.log(np.maximum(prob[np.arange(B), ids], 1e-12)).mean())
        dz = prob
        dz[np.arange(B), ids] -= 1
        dz /= B
        dz = dz.astype(P.dtype)
        self.grads["out_W"][:] = P.T @ dz
        self.grads["out_b"][:] = dz.sum(axis=0)
        dP = dz @ self.params["out_W"].T
        if drop is not None:
            dP *= drop
        dHs = self._pool_backward(Hs, batch["lengths"], dP, cache)
        return loss, self._backward(batch, dHs, drop_in)

    def fit(self, texts, labels, dev_texts=None, dev_labels=None, epochs: int = _S.epochs,
            batch_size: int = _S.batch_size, lr: float = _S.lr, patience: int = _S.patience,
            clip: float = _S.clip, evals_per_epoch: int = _S.evals_per_epoch,
            progress: bool = True):
        """Train on token lists ``texts`` with string ``labels``; early stopping on dev accuracy.

        Returns ``self``.  The parameters kept are those of the best dev evaluation.
        """
        if len(texts) != len(labels):
            raise ParameterError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ParameterError("no training examples")
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ParameterError(f"need at least 2 classes to train, got {classes}")
        keep = [i for i, t in enumerate(texts) if len(t)]
        texts = [texts[i] for i in keep]
        labels = [labels[i] for i in keep]
        if self.params is None:
            self._build(texts, classes)
        if dev_texts is not None:
            unknown = set(dev_labels) - set(self.labels)
            if unknown:
                raise ParameterError(f"dev labels {sorted(unknown)} do not occur in training")
        schedule = Schedule(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                            clip=clip, evals_per_epoch=evals_per_epoch, progress=progress)
        return Trainer(self, schedule).run(texts, labels, dev_texts, dev_labels)

    def _dev_score(self, texts, labels):
        return M.accuracy(labels, self.predict(texts)[0])

    def predict_proba(self, texts, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (n, n_classes) in the order of ``self.labels``."""
        out = np.zeros((len(texts), len(self.labels)), np.float32)
        enc = self._encode_all([t if len(t) else ["<empty>"] for t in texts])
        lengths = np.array([len(e["words"]) for e in enc])
        with single_threaded_blas():
            for idx in length_batches(lengths, batch_size):
                z, _ = self._logits(self._batch(enc, idx))
                out[idx] = softmax(z)
        return out

    def predict(self, texts, batch_size: int = 256):
        """``(labels, probabilities of those labels)`` for token lists ``texts``."""
        prob = self.predict_proba(texts, batch_size)
        best = prob.argmax(axis=1)
        return [self.labels[i] for i in best], prob[np.arange(len(texts)), best]

    def evaluate(self, texts, labels) -> dict:
        """``{"accuracy", "macro_f1", "n"}`` on labelled token lists."""
        if len(texts) != len(labels):
            raise ParameterError(f"{len(texts)} texts but {len(labels)} labels")
        return M.classification_report(labels, self.predict(texts)[0])
