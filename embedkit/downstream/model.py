"""Sentiment classifier and NER tagger over a sequence encoder (BiGRU by default, or BiLSTM,
BiRNN; see :mod:`embedkit.downstream.encoders`): parameters, forward/backward, fit, predict."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from embedkit._kernels import charcnn as CK
from embedkit._kernels import gru as K
from embedkit._progress import progress_bar
from embedkit._threads import single_threaded_blas
from embedkit.downstream import metrics as M
from embedkit.downstream.crf import crf_nll
from embedkit.downstream.data import length_batches
from embedkit.downstream.attention import AttentionPooling, init_pooling
from embedkit.downstream.encoders import (build_encoders, check_encoder_options,
                                          check_pooling_heads, encoder_width, init_encoder)
from embedkit.downstream.features import (CASE_CLASSES, CHAR_FIRST, Featurizer, Vocabulary,
                                          char_alphabet, make_batch)
from embedkit.downstream.optim import Adam, ParameterAverage
from embedkit.errors import FormatError, ParameterError

log = logging.getLogger(__name__)

DEFAULTS = {
    "hidden": 128, "dropout": 0.5, "input_dropout": 0.5, "fine_tune": False,
    "oov_min_count": 2, "case_dim": 0, "char_buckets": 0, "char_dim": 32, "char_nmax": 4,
    "pooling": "maxmean", "max_vocab": None, "seed": 0, "threads": 2, "crf": False,
    "char_cnn": 0, "char_cnn_dim": 25, "char_cnn_width": 3, "word_dropout": 0.0,
    "layers": 1, "variational": False, "encoder": "gru", "heads": 4, "ff_dim": None,
    "transformer_dropout": 0.1,
}


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cnn_widths(width) -> list[int]:
    """Char CNN window widths: ``width`` is one int or a list of ints (one filter bank each)."""
    try:
        if isinstance(width, (list, tuple)):
            return [int(w) for w in width]
        return [int(width)]
    except (TypeError, ValueError):
        raise ParameterError(f"char_cnn_width must be an odd number or a list of odd numbers "
                             f"(3 is usual), got {width!r}") from None


def _cnn_names(i):
    """Parameter names of filter bank ``i`` (bank 0 keeps the single-width names)."""
    return ("cnn_W", "cnn_b") if i == 0 else (f"cnn_W_{i}", f"cnn_b_{i}")


def _check_options(cfg):
    if int(cfg["hidden"]) < 1:
        raise ParameterError(f"hidden must be >= 1, got {cfg['hidden']}")
    for k in ("dropout", "input_dropout"):
        if not 0 <= float(cfg[k]) < 1:
            raise ParameterError(f"{k} must be in [0, 1), got {cfg[k]}")
    if int(cfg["oov_min_count"]) < 1:
        raise ParameterError(f"oov_min_count must be >= 1, got {cfg['oov_min_count']}")
    if int(cfg["char_buckets"]) < 0 or int(cfg["char_dim"]) < 1:
        raise ParameterError("char_buckets must be >= 0 (0 disables) and char_dim >= 1, got "
                             f"{cfg['char_buckets']}, {cfg['char_dim']}")
    if int(cfg["char_cnn"]) < 0 or int(cfg["char_cnn_dim"]) < 1:
        raise ParameterError("char_cnn (filters) must be >= 0 (0 disables) and char_cnn_dim "
                             f">= 1, got {cfg['char_cnn']}, {cfg['char_cnn_dim']}")
    widths = cnn_widths(cfg["char_cnn_width"])
    if not widths or any(w < 1 or w % 2 == 0 for w in widths) or len(set(widths)) < len(widths):
        raise ParameterError(f"char_cnn_width must be an odd number >= 1 or a list of distinct "
                             f"odd numbers (3 is usual; [3, 5] two banks of filters), "
                             f"got {cfg['char_cnn_width']}")
    if not 0 <= float(cfg["word_dropout"]) < 1:
        raise ParameterError(f"word_dropout must be in [0, 1), got {cfg['word_dropout']}")
    if int(cfg["case_dim"]) < 0:
        raise ParameterError(f"case_dim must be >= 0 (0 disables), got {cfg['case_dim']}")
    if cfg["pooling"] not in ("maxmean", "max", "mean", "attention"):
        raise ParameterError(f"pooling must be maxmean, max, mean or attention, "
                             f"got {cfg['pooling']!r}")
    if int(cfg["layers"]) < 1:
        raise ParameterError(f"layers must be >= 1, got {cfg['layers']}")
    if int(cfg["threads"]) < 1:
        raise ParameterError(f"threads must be >= 1, got {cfg['threads']}")
    check_encoder_options(cfg)


class _BiGRUModel:
    """Shared machinery: embeddings + features -> encoder -> task head."""

    task = ""

    def __init__(self, vectors=None, **options):
        unknown = set(options) - set(DEFAULTS)
        if unknown:
            raise ParameterError(f"unknown option(s) {sorted(unknown)}; "
                                 f"valid: {sorted(DEFAULTS)}")
        self.config = dict(DEFAULTS, **options)
        _check_options(self.config)
        if vectors is not None:
            check_pooling_heads(self.config)
        self.vectors = vectors
        self.params: dict | None = None
        self.labels: list[str] = []
        self.vocab: Vocabulary | None = None
        self.history: list[dict] = []

    # -- construction -------------------------------------------------------------------
    def _build(self, sentences, labels):
        cfg = self.config
        if self.vectors is None:
            raise ParameterError("no vectors: pass embedkit vectors to the model to train it")
        rng = np.random.default_rng(cfg["seed"])
        words = list(self.vectors.words)
        base = np.asarray(self.vectors.vectors, dtype=np.float32)
        if cfg["max_vocab"]:
            words, base = words[:int(cfg["max_vocab"])], base[:int(cfg["max_vocab"])]
        self.vocab = Vocabulary.build(words, sentences, int(cfg["oov_min_count"]))
        n_extra = len(self.vocab) - len(words)
        dim = base.shape[1]
        scale = float(np.std(base)) if base.size else 0.1
        emb = np.empty((len(self.vocab), dim), np.float32)
        emb[:len(words)] = base
        emb[len(words):] = rng.normal(0, scale, (n_extra, dim))
        self.labels = list(labels)
        p = {"emb": emb}
        d_in = dim
        if cfg["case_dim"]:
            p["case_emb"] = rng.normal(0, 0.1, (CASE_CLASSES, cfg["case_dim"])).astype(np.float32)
            d_in += cfg["case_dim"]
        if cfg["char_buckets"]:
            p["char_emb"] = rng.normal(0, 0.1, (cfg["char_buckets"], cfg["char_dim"])
                                       ).astype(np.float32)
            d_in += cfg["char_dim"]
        if cfg["char_cnn"]:
            cfg["alphabet"] = char_alphabet(sentences)
            F, Dc = int(cfg["char_cnn"]), int(cfg["char_cnn_dim"])
            s = math.sqrt(3.0 / Dc)
            p["cnn_emb"] = rng.uniform(-s, s, (CHAR_FIRST + len(cfg["alphabet"]), Dc)
                                       ).astype(np.float32)
            for i, Kw in enumerate(cnn_widths(cfg["char_cnn_width"])):
                wn, bn = _cnn_names(i)
                s = math.sqrt(6.0 / (Kw * Dc + F))
                p[wn] = rng.uniform(-s, s, (Kw, Dc, F)).astype(np.float32)
                p[bn] = np.zeros(F, np.float32)
                d_in += F
        p.update(init_encoder(cfg, rng, d_in))
        p.update(self._init_head(rng, encoder_width(cfg)))
        self.params = p
        self.config["dim"] = dim
        self.config["n_pretrained"] = len(words)
        self._setup()

    def _setup(self, dtype=np.float32, exact=False):
        cfg = self.config
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()
                      if k not in ("emb", "char_emb")}
        # stacked layers over views of the shared parameter and gradient dicts
        self.encoders = build_encoders(cfg, self.params, self.grads, exact=exact)
        self.encoder = self.encoders[0]
        self.pooler = (AttentionPooling(self.params, self.grads, int(cfg["heads"]))
                       if "pool_Wq" in self.params else None)
        self.featurizer = Featurizer(self.vocab, int(cfg["char_buckets"]), int(cfg["char_nmax"]),
                                     alphabet=cfg.get("alphabet") if cfg.get("char_cnn") else None)

    # -- forward / backward -----------------------------------------------------------------
    def _inputs(self, batch, rng):
        p = self.params
        T, B = batch["T"], batch["B"]
        wrate = float(self.config.get("word_dropout", 0.0))
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
        rate = float(self.config["input_dropout"])
        if rng is not None and rate > 0:
            drop = self._dropout_mask(X.shape, X.dtype, rate, rng)
            X = X * drop
        return np.ascontiguousarray(X), drop

    def _dropout_mask(self, shape, dtype, rate, rng):
        """Inverted-dropout mask for a (T, B, D) array; with ``variational`` one mask per
        sequence, shared by all time steps (shape (1, B, D))."""
        if self.config.get("variational") and len(shape) == 3:
            shape = (1,) + tuple(shape[1:])
        return (rng.random(shape, dtype=np.float32) >= rate).astype(dtype) / dtype.type(1 - rate)

    def _cnn_banks(self):
        return [_cnn_names(i) for i in range(len(cnn_widths(self.config["char_cnn_width"])))]

    def _cnn_forward(self, batch):
        """Char CNN features (T, B, F * banks), computed once per distinct word of the batch;
        with several widths the banks' features are concatenated."""
        p = self.params
        T, B = batch["T"], batch["B"]
        valid = np.arange(T)[:, None] < batch["lengths"][None, :]
        uniq, inv = np.unique(batch["types"][valid], return_inverse=True)
        chars, offsets = self.featurizer.type_chars(uniq)
        outs, args = [], []
        for wn, bn in self._cnn_banks():
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
        for (wn, bn), out, arg in zip(self._cnn_banks(), outs, args):
            F = out.shape[1]
            g[wn][...] = 0
            g[bn][...] = 0
            CK.charcnn_backward(np.ascontiguousarray(dall[:, off:off + F]), out, p["cnn_emb"],
                                p[wn], chars, offsets, arg, g["cnn_emb"], g[wn], g[bn])
            off += F

    def _input_backward(self, batch, dX, drop):
        p = self.params
        if drop is not None:
            dX = dX * drop
        T, B = batch["T"], batch["B"]
        valid = np.arange(T)[:, None] < batch["lengths"][None, :]
        sparse = {}
        dim = p["emb"].shape[1]
        ids = batch["words"][valid]
        g = dX[:, :, :dim][valid]
        if not self.config["fine_tune"]:
            keep = ids >= self.config["n_pretrained"]
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
            F = sum(p[wn].shape[2] for wn, _ in self._cnn_banks())
            self._cnn_backward(batch, dX[:, :, off:off + F])
        return sparse

    def _forward(self, batch, rng=None):
        X, drop = self._inputs(batch, rng)
        if self.config["encoder"] == "transformer":  # its dropout is inside
            return self.encoder.forward(X, batch["lengths"], rng), drop
        Hs = self.encoder.forward(X, batch["lengths"])
        self._layer_drops = []
        rate = float(self.config["dropout"])
        for enc in self.encoders[1:]:
            mask = None
            if rng is not None and rate > 0:
                mask = self._dropout_mask(Hs.shape, Hs.dtype, rate, rng)
                Hs = Hs * mask
            self._layer_drops.append(mask)
            Hs = enc.forward(Hs, batch["lengths"])
        return Hs, drop

    def _encoder_backward(self, dH):
        """Backward through the stacked encoder layers; returns the gradient wrt their input."""
        if self.config["encoder"] == "transformer":
            return self.encoder.backward(dH)
        for enc, mask in zip(self.encoders[:0:-1], self._layer_drops[::-1]):
            dH = enc.backward(dH)
            if mask is not None:
                dH = dH * mask
        return self.encoder.backward(dH)

    # -- training ---------------------------------------------------------------------------
    def _encode_all(self, sentences):
        return [self.featurizer.encode(s) for s in sentences]

    def _batch(self, enc, idx):
        return make_batch([enc[i] for i in idx], "char_emb" in self.params)

    def _fit(self, train_x, train_y, dev_x, dev_y, epochs, batch_size, lr, patience, clip,
             evals_per_epoch, progress, average=0.0, lr_decay=0.0):
        cfg = self.config
        if epochs < 1:
            raise ParameterError(f"epochs must be >= 1, got {epochs}")
        if patience < 1:
            raise ParameterError(f"patience must be >= 1, got {patience}")
        if evals_per_epoch < 1:
            raise ParameterError(f"evals_per_epoch must be >= 1, got {evals_per_epoch}")
        if not lr_decay >= 0:
            raise ParameterError(f"lr_decay must be >= 0 (0 keeps the learning rate "
                                 f"constant; 0.05 is usual), got {lr_decay}")
        rng = np.random.default_rng(cfg["seed"] + 1)
        enc = self._encode_all(train_x)
        log.info("vocabulary %d rows (%d from the vectors); %.1f%% of training tokens covered",
                 len(self.vocab), self.vocab.n_pretrained, 100 * self.vocab.coverage(train_x))
        opt = Adam(self.params, lr=lr, clip=clip)
        avg = (ParameterAverage(self.params, average, sparse=("emb", "char_emb"))
               if average else None)
        lengths = np.array([len(s) for s in train_x])
        best, best_params, bad = -1.0, None, 0
        evals_done = 0
        with single_threaded_blas():
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                # inverse-time decay per epoch, lr / (1 + decay * (epoch - 1)) (Ma & Hovy 2016)
                opt.lr = lr / (1.0 + lr_decay * (epoch - 1))
                batches = length_batches(lengths, batch_size, rng)
                n = len(batches)
                checkpoints = {int(round(n * (k + 1) / evals_per_epoch)) for k in
                               range(evals_per_epoch)}
                total, seen = 0.0, 0
                stop = False
                bar = progress_bar(total=n, desc=f"epoch {epoch}", unit="batch",
                                   disable=None if progress else True)
                with bar:
                    for i, idx in enumerate(batches, 1):
                        batch = self._batch(enc, idx)
                        loss, sparse = self._loss_grad(batch, [train_y[j] for j in idx], rng)
                        if avg is not None:
                            avg.before_step(sparse)
                        opt.step(self.grads, sparse)
                        if avg is not None:
                            avg.after_step(sparse)
                        total += loss * len(idx)
                        seen += len(idx)
                        bar.update(1)
                        if i in checkpoints:
                            live = None
                            if avg is not None:  # evaluate (and keep) the averaged weights
                                live = {k: v.copy() for k, v in self.params.items()}
                                for k, v in avg.averaged().items():
                                    self.params[k][...] = v
                            score = self._dev_score(dev_x, dev_y) if dev_x is not None else -seen
                            evals_done += 1
                            self.history.append({"epoch": epoch, "batches": i, "lr": opt.lr,
                                                 "loss": total / seen, "dev": score})
                            bar.set_postfix(loss=f"{total / seen:.4f}",
                                            dev=f"{score:.4f}" if dev_x is not None else "-")
                            if dev_x is None or score > best:
                                best, bad = score, 0
                                best_params = {k: v.copy() for k, v in self.params.items()}
                            else:
                                bad += 1
                            if live is not None:
                                for k, v in live.items():
                                    self.params[k][...] = v
                            if bad >= patience:
                                stop = True
                                break
                        else:
                            bar.set_postfix(loss=f"{total / seen:.4f}")
                secs = time.perf_counter() - t0
                self.history[-1]["epoch_seconds"] = secs
                log.info("epoch %d: loss %.4f, dev %s, %.1f s", epoch, total / max(seen, 1),
                         f"{self.history[-1]['dev']:.4f}" if dev_x is not None else "-", secs)
                if stop:
                    log.info("early stop: no dev improvement in %d evaluations", patience)
                    break
        if best_params is not None:
            for k, v in best_params.items():
                self.params[k][...] = v
        self.best_dev = best if dev_x is not None else None
        return self

    # -- persistence ------------------------------------------------------------------------
    def _state(self):
        return {"task": self.task, "config": self.config, "labels": self.labels,
                "vocab": self.vocab.words, "n_pretrained": self.vocab.n_pretrained}

    def save(self, path):
        """Write the model to directory ``path`` (``model.json`` + ``weights.npz``)."""
        from embedkit.downstream.io import save_model
        save_model(self, path)

    def use_vectors(self, vectors):
        """Replace the pretrained rows by ``vectors`` (same dimension); learned rows stay."""
        dim = self.params["emb"].shape[1]
        if vectors.dim != dim:
            raise FormatError(f"the vectors have dimension {vectors.dim} but the model was "
                              f"trained with dimension {dim}: use vectors of dimension {dim}")
        if self.config["fine_tune"]:
            log.warning("the model fine-tuned its embeddings; new vectors replace them")
        old = self.vocab
        words = list(vectors.words)
        if self.config["max_vocab"]:
            words = words[:int(self.config["max_vocab"])]
        known = set(words)
        extra = [w for w in old.words[old.n_pretrained:] if w not in known]
        vocab = Vocabulary(words + extra, len(words))
        emb = np.empty((len(vocab), dim), np.float32)
        emb[:len(words)] = vectors.vectors[:len(words)]
        for i, w in enumerate(extra):
            emb[len(words) + i] = self.params["emb"][old.index[w]]
        emb[-1] = self.params["emb"][old.unk]
        self.params["emb"] = emb
        self.vocab = vocab
        self.config["n_pretrained"] = len(words)
        self._setup()


class SentimentClassifier(_BiGRUModel):
    """BiGRU text classifier: max+mean (or attention) pooling over time, dropout, softmax.

    Parameters
    ----------
    vectors : embedkit.Vectors
        Pretrained word vectors (frozen unless ``fine_tune=True``).
    **options
        ``hidden`` (128), ``dropout`` (0.5, before the output layer), ``input_dropout``
        (0.5), ``fine_tune`` (False), ``oov_min_count`` (2: training words missing from the
        vectors seen this often get a learned row), ``pooling`` ("maxmean", "max", "mean" or
        "attention"), ``max_vocab`` (keep the first N vector rows), ``seed``, ``threads``,
        ``encoder`` ("gru", "lstm" or "rnn": a bidirectional recurrent cell with ``hidden``
        units per direction; "transformer": a pre-LN Transformer encoder of width
        ``hidden``), ``layers`` (stacked encoder layers, 1; ``dropout`` between recurrent
        ones), ``heads`` (4: attention heads of the Transformer and of attention pooling;
        must divide their width), ``ff_dim`` (Transformer feed-forward units, default
        ``2 * hidden``), ``transformer_dropout`` (0.1, inside the Transformer).

    Examples
    --------
    >>> clf = SentimentClassifier(vectors).fit(texts, labels, dev_texts, dev_labels)  # doctest: +SKIP
    >>> clf.predict([["a", "fine", "film"]])                                          # doctest: +SKIP
    """

    task = "sentiment"

    def _init_head(self, rng, width):
        C = len(self.labels)
        mult = 2 if self.config["pooling"] == "maxmean" else 1
        fan = mult * width
        s = math.sqrt(6.0 / (fan + C))
        p = {"out_W": rng.uniform(-s, s, (fan, C)).astype(np.float32),
             "out_b": np.zeros(C, np.float32)}
        if self.config["pooling"] == "attention":
            p.update(init_pooling(rng, width))
        return p

    def _pool(self, Hs, lengths):
        T, B, H2 = Hs.shape
        mask = (np.arange(T)[:, None] < lengths[None, :])
        mode = self.config["pooling"]
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
            a = _softmax(s.T).T  # over T
            outs.append((a[:, :, None] * Hs).sum(axis=0))
            cache.update(U=U, a=a)
        return np.concatenate(outs, axis=1) if len(outs) > 1 else outs[0], cache

    def _pool_backward(self, Hs, lengths, dP, cache):
        T, B, H2 = Hs.shape
        mode = self.config["pooling"]
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
        rate = float(self.config["dropout"])
        if rng is not None and rate > 0:
            drop = (rng.random(P.shape, dtype=np.float32) >= rate).astype(P.dtype) / P.dtype.type(1 - rate)
            P = P * drop
        z = P @ self.params["out_W"] + self.params["out_b"]
        return z, (Hs, drop_in, P, cache, drop)

    def _loss_grad(self, batch, y, rng):
        ids = np.array([self._label_index[v] for v in y])
        z, (Hs, drop_in, P, cache, drop) = self._logits(batch, rng)
        prob = _softmax(z)
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
        dX = self._encoder_backward(dHs)
        return loss, self._input_backward(batch, dX, drop_in)

    def fit(self, texts, labels, dev_texts=None, dev_labels=None, epochs: int = 10,
            batch_size: int = 32, lr: float = 1e-3, patience: int = 3, clip: float = 5.0,
            evals_per_epoch: int = 1, progress: bool = True):
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
        self._label_index = {c: i for i, c in enumerate(self.labels)}
        if dev_texts is not None:
            unknown = set(dev_labels) - set(self.labels)
            if unknown:
                raise ParameterError(f"dev labels {sorted(unknown)} do not occur in training")
        return self._fit(texts, labels, dev_texts, dev_labels, epochs, batch_size, lr,
                         patience, clip, evals_per_epoch, progress)

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
                out[idx] = _softmax(z)
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


class NERTagger(_BiGRUModel):
    """BiGRU tagger: per-token softmax over BIO tags, decoded by constrained Viterbi.

    Parameters
    ----------
    vectors : embedkit.Vectors
    **options
        As :class:`SentimentClassifier` plus ``case_dim`` (casing-feature size, 0 off),
        ``char_buckets`` (hashed character n-gram table size, 0 off), ``char_dim``,
        ``char_cnn`` (filters of a character CNN with max pooling over each word, 0 off),
        ``char_cnn_dim`` (its character embedding size, 25), ``char_cnn_width`` (odd
        window, 3, or a list such as ``[3, 5]``: one bank of ``char_cnn`` filters per
        width, features concatenated), ``word_dropout`` (probability that a training token reads the UNK
        row, 0), ``layers`` (stacked encoder layers, 1; ``dropout`` between them),
        ``variational`` (one dropout mask per sentence shared over time, False) and
        ``crf`` (a linear-chain CRF output layer instead of the per-token softmax).
    """

    task = "ner"

    def _init_head(self, rng, width):
        C = len(self.labels)
        s = math.sqrt(6.0 / (width + C))
        p = {"out_W": rng.uniform(-s, s, (width, C)).astype(np.float32),
             "out_b": np.zeros(C, np.float32)}
        if self.config["crf"]:
            p["crf_trans"] = np.zeros((C, C), np.float32)
            p["crf_start"] = np.zeros(C, np.float32)
            p["crf_end"] = np.zeros(C, np.float32)
        return p

    def _logits(self, batch, rng=None):
        Hs, drop_in = self._forward(batch, rng)
        T, B, H2 = Hs.shape
        drop = None
        rate = float(self.config["dropout"])
        Hd = Hs
        if rng is not None and rate > 0:
            drop = self._dropout_mask(Hs.shape, Hs.dtype, rate, rng)
            Hd = Hs * drop
        z = (Hd.reshape(T * B, H2) @ self.params["out_W"] + self.params["out_b"]).reshape(T, B, -1)
        return z, (Hd, drop_in, drop)

    def _loss_grad(self, batch, y, rng):
        z, (Hd, drop_in, drop) = self._logits(batch, rng)
        T, B, C = z.shape
        lengths = batch["lengths"]
        gold = np.zeros((T, B), np.int64)
        for b, tags in enumerate(y):
            gold[:lengths[b], b] = [self._label_index[t] for t in tags]
        valid = np.arange(T)[:, None] < lengths[None, :]
        n = int(valid.sum())
        if self.config["crf"]:
            p = self.params
            nll, dz, dtr, dst, den = crf_nll(z, lengths, gold, p["crf_trans"], p["crf_start"],
                                             p["crf_end"])
            loss = nll / n
            self.grads["crf_trans"][:] = dtr / n
            self.grads["crf_start"][:] = dst / n
            self.grads["crf_end"][:] = den / n
            dz = (dz / n).astype(Hd.dtype)
        else:
            prob = _softmax(z)
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
        dX = self._encoder_backward(dH)
        return loss, self._input_backward(batch, dX, drop_in)

    def fit(self, sentences, tags, dev_sentences=None, dev_tags=None, epochs: int = 20,
            batch_size: int = 32, lr: float = 1e-3, patience: int = 3, clip: float = 5.0,
            evals_per_epoch: int = 1, progress: bool = True, average: float = 0.0,
            lr_decay: float = 0.0):
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
        self._label_index = {c: i for i, c in enumerate(self.labels)}
        if dev_tags is not None:
            unknown = {t for ts in dev_tags for t in ts} - set(self.labels)
            if unknown:
                log.warning("dev tags %s do not occur in training", sorted(unknown))
        return self._fit(sentences, tags, dev_sentences, dev_tags, epochs, batch_size, lr,
                         patience, clip, evals_per_epoch, progress, average, lr_decay)

    def _dev_score(self, sentences, tags):
        return M.ner_report(tags, self.predict(sentences))["f1"]

    def predict(self, sentences, batch_size: int = 256) -> list[list[str]]:
        """BIO tags for each token list (always a valid BIO sequence)."""
        out: list = [None] * len(sentences)
        enc = self._encode_all([s if len(s) else ["<empty>"] for s in sentences])
        lengths = np.array([len(e["words"]) for e in enc])
        allowed = M.allowed_transitions(self.labels)
        crf = ((self.params["crf_trans"], self.params["crf_start"], self.params["crf_end"])
               if self.config["crf"] else ())
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
                    path = M.viterbi_bio(logp[:lengths[i], b], allowed, *crf)
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
