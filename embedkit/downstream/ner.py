"""The NER head: per-token scores over BIO tags (softmax or a linear-chain CRF), decoded by
constrained Viterbi, on top of :class:`~embedkit.downstream.base.TaskModel`."""

from __future__ import annotations

import logging
import math

import numpy as np

from embedkit._threads import single_threaded_blas
from embedkit.downstream import metrics as M
from embedkit.downstream.base import TaskModel, softmax
from embedkit.downstream.config import Schedule, config_from
from embedkit.downstream.crf import allowed_transitions, crf_nll, viterbi_bio
from embedkit.downstream.data import length_batches
from embedkit.downstream.presets import NER
from embedkit.downstream.trainer import Trainer
from embedkit.errors import ParameterError

log = logging.getLogger(__name__)
_C, _S = NER.config, NER.schedule  # the defaults: the "ner" preset


class NERTagger(TaskModel):
    """BiGRU tagger: per-token softmax (or CRF) over BIO tags, decoded by constrained Viterbi.

    The defaults (options and ``fit``) are the ``"ner"`` preset of
    :mod:`~embedkit.downstream.presets`, the recipe ``embedkit ner train`` trains: two BiGRU
    layers of 256 units, casing features, a char CNN, a CRF, weight averaging.  The
    ``"ner-small"`` preset is a quick one-layer softmax tagger.

    Parameters
    ----------
    vectors : embedkit.Vectors
        Pretrained word vectors (frozen unless ``fine_tune=True``).
    hidden, dropout, input_dropout, fine_tune, oov_min_count, max_vocab, seed, threads,
    encoder, layers, heads, ff_dim, transformer_dropout
        As for :class:`~embedkit.downstream.SentimentClassifier`.
    case_dim : int
        Casing-feature size (0 off).
    char_buckets, char_dim, char_nmax : int
        Hashed character n-gram table size (0 off), its embedding size, longest n-gram.
    char_cnn : int
        Filters of a character CNN with max pooling over each word (0 off).
    char_cnn_dim : int
        The char CNN's character embedding size.
    char_cnn_width : int or list of int
        Odd window, or a list such as ``[3, 5]``: one bank of ``char_cnn`` filters per
        width, features concatenated.
    word_dropout : float
        Probability that a training token reads the UNK row.
    variational : bool
        One dropout mask per sentence shared over time.
    crf : bool
        A linear-chain CRF output layer instead of the per-token softmax.
    """

    task = "ner"

    def __init__(self, vectors=None, *, hidden: int = _C.hidden, dropout: float = _C.dropout,
                 input_dropout: float = _C.input_dropout, fine_tune: bool = _C.fine_tune,
                 oov_min_count: int = _C.oov_min_count, max_vocab: int | None = _C.max_vocab,
                 seed: int = _C.seed, threads: int = _C.threads, encoder: str = _C.encoder,
                 layers: int = _C.layers, heads: int = _C.heads, ff_dim: int | None = _C.ff_dim,
                 transformer_dropout: float = _C.transformer_dropout,
                 case_dim: int = _C.case_dim, char_buckets: int = _C.char_buckets,
                 char_dim: int = _C.char_dim, char_nmax: int = _C.char_nmax,
                 char_cnn: int = _C.char_cnn, char_cnn_dim: int = _C.char_cnn_dim,
                 char_cnn_width: int | list[int] = _C.char_cnn_width,
                 word_dropout: float = _C.word_dropout, variational: bool = _C.variational,
                 crf: bool = _C.crf):
        super().__init__(vectors, config_from(locals()))

    def _init_head(self, rng, width):
        C = len(self.labels)
        s = math.sqrt(6.0 / (width + C))
        p = {"out_W": rng.uniform(-s, s, (width, C)).astype(np.float32),
             "out_b": np.zeros(C, np.float32)}
        if self.config.crf:
            p["crf_trans"] = np.zeros((C, C), np.float32)
            p["crf_start"] = np.zeros(C, np.float32)
            p["crf_end"] = np.zeros(C, np.float32)
        return p

    def _logits(self, batch, rng=None):
        Hs, drop_in = self._forward(batch, rng)
        T, B, H2 = Hs.shape
        drop = None
        rate = float(self.config.dropout)
        Hd = Hs
        if rng is not None and rate > 0:
            drop = self.inputs.dropout_mask(Hs.shape, Hs.dtype, rate, rng)
            Hd = Hs * drop
        z = (Hd.reshape(T * B, H2) @ self.params["out_W"] + self.params["out_b"]).reshape(T, B, -1)
        return z, (Hd, drop_in, drop)

    def _loss_grad(self, batch, y, rng):
        z, (Hd, drop_in, drop) = self._logits(batch, rng)
        T, B, C = z.shape
        lengths = batch["lengths"]
        index = {c: i for i, c in enumerate(self.labels)}
        gold = np.zeros((T, B), np.int64)
        for b, tags in enumerate(y):
            gold[:lengths[b], b] = [index[t] for t in tags]
        valid = np.arange(T)[:, None] < lengths[None, :]
        n = int(valid.sum())
        if self.config.crf:
            p = self.params
            nll, dz, dtr, dst, den = crf_nll(z, lengths, gold, p["crf_trans"], p["crf_start"],
                                             p["crf_end"])
            loss = nll / n
            self.grads["crf_trans"][:] = dtr / n
            self.grads["crf_start"][:] = dst / n
            self.grads["crf_end"][:] = den / n
            dz = (dz / n).astype(Hd.dtype)
        else:
            prob = softmax(z)
            tt, bb = np.nonzero(valid)
            loss = float(-np.log(np.maximum(prob[tt, bb, gold[tt, bb]], 1e-12)).sum() / n)
            dz = prob
            dz[tt, bb, gold[tt, bb]] -= 1
            dz *= valid[:, :, None] / np.float32(n)
            dz = dz.astype(Hd.dtype)
        H2 = Hd.shape[2]
        self.grads["out_W"][:] = Hd.reshape(-1, H2).T @ dz.reshape(-1, C)
        self.grads["out_b"][:] = dz.reshape(-1, C).sum(axis=0)
        dH = (dz.reshape(-1, C) @ self.params["out_W"].T).reshape(T, B, H2)
        if drop is not None:
            dH *= drop
        return loss, self._backward(batch, dH, drop_in)

    def fit(self, sentences, tags, dev_sentences=None, dev_tags=None, epochs: int = _S.epochs,
            batch_size: int = _S.batch_size, lr: float = _S.lr, patience: int = _S.patience,
            clip: float = _S.clip, evals_per_epoch: int = _S.evals_per_epoch,
            progress: bool = True, average: float = _S.average, lr_decay: float = _S.lr_decay):
        """Train on token lists with BIO tag lists; early stopping on dev entity F1.

        ``average`` (0 off, e.g. 0.999) evaluates and keeps an exponential moving average
        of the weights instead of the last ones (Polyak averaging).  ``lr_decay`` (0 off,
        e.g. 0.05) lowers the learning rate of epoch ``e`` to ``lr / (1 + lr_decay * (e - 1))``.
        """
        if average and not 0 < average < 1:
            raise ParameterError(f"average decay must be in (0, 1) (0 disables; 0.999 is "
                                 f"usual), got {average}")
        if len(sentences) != len(tags):
            raise ParameterError(f"{len(sentences)} sentences but {len(tags)} tag lists")
        for i, (s, t) in enumerate(zip(sentences, tags)):
            if len(s) != len(t):
                raise ParameterError(f"sentence {i}: {len(s)} tokens but {len(t)} tags")
        keep = [i for i, s in enumerate(sentences) if len(s)]
        sentences = [sentences[i] for i in keep]
        tags = [tags[i] for i in keep]
        if not sentences:
            raise ParameterError("no training sentences")
        if self.params is None:
            tagset = sorted({t for ts in tags for t in ts}, key=lambda t: (t != "O", t[2:], t))
            self._build(sentences, tagset)
        if dev_tags is not None:
            unknown = {t for ts in dev_tags for t in ts} - set(self.labels)
            if unknown:
                log.warning("dev tags %s do not occur in training", sorted(unknown))
        schedule = Schedule(epochs=epochs, batch_size=batch_size, lr=lr, patience=patience,
                            clip=clip, evals_per_epoch=evals_per_epoch, progress=progress,
                            average=average, lr_decay=lr_decay)
        return Trainer(self, schedule).run(sentences, tags, dev_sentences, dev_tags)

    def _dev_score(self, sentences, tags):
        return M.ner_report(tags, self.predict(sentences))["f1"]

    def predict(self, sentences, batch_size: int = 256) -> list[list[str]]:
        """BIO tags for each token list (always a valid BIO sequence)."""
        out: list = [None] * len(sentences)
        enc = self._encode_all([s if len(s) else ["<empty>"] for s in sentences])
        lengths = np.array([len(e["words"]) for e in enc])
        allowed = allowed_transitions(self.labels)
        crf = ((self.params["crf_trans"], self.params["crf_start"], self.params["crf_end"])
               if self.config.crf else ())
        with single_threaded_blas():
            for idx in length_batches(lengths, batch_size):
                z, _ = self._logits(self._batch(enc, idx))
                z = z.astype(np.float64)
                if crf:
                    logp = z
                else:
                    logp = z - z.max(axis=2, keepdims=True)
                    logp -= np.log(np.exp(logp).sum(axis=2, keepdims=True))
                for b, i in enumerate(idx):
                    path = viterbi_bio(logp[:lengths[i], b], allowed, *crf)
                    out[i] = [self.labels[k] for k in path][:len(sentences[i])]
        return out

    def entities(self, tokens) -> list[dict]:
        """Entities of one token list: ``{"type", "start", "end", "text"}`` (end exclusive)."""
        tags = self.predict([tokens])[0]
        return [{"type": t, "start": s, "end": e, "text": " ".join(tokens[s:e])}
                for t, s, e in M.chunks(tags)]

    def evaluate(self, sentences, tags) -> dict:
        """Entity-level precision/recall/F1 (overall and per type) and token accuracy."""
        return M.ner_report(tags, self.predict(sentences))
