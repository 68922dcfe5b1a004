"""Training a :class:`~embedkit.lm.LanguageModel`: truncated BPTT over a token stream,
Adam or SGD with gradient-norm clipping, dropout, a progress bar with perplexity,
checkpoints (every N seconds, at each epoch's end and on Ctrl-C) and resuming."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from embedkit._threads import one_blas_thread
from embedkit._progress import progress_bar
from embedkit.downstream.optim import Adam
from embedkit._params import check_non_negative, check_positive
from embedkit.errors import ParameterError
from embedkit.lm.data import LMVocab, batchify, encode_stream
from embedkit.lm.model import LanguageModel
from embedkit.lm.parallel import ColumnParallelStep

log = logging.getLogger(__name__)


class SGD:
    """Plain SGD with global-norm clipping over dense and row-sparse gradients."""

    def __init__(self, params: dict, lr: float = 1.0, clip: float = 0.25):
        check_positive("lr", lr)
        check_non_negative("clip", clip, hint=" (0 disables clipping)")
        self.p, self.lr, self.clip = params, lr, clip

    def step(self, dense: dict, sparse: dict | None = None) -> float:
        sparse = sparse or {}
        sq = sum(float(np.vdot(g, g)) for g in dense.values())
        sq += sum(float(np.vdot(g, g)) for _, g in sparse.values())
        norm = math.sqrt(sq)
        scale = self.clip / norm if self.clip and norm > self.clip else 1.0
        lr = np.float32(self.lr * scale)
        for k, g in dense.items():
            self.p[k] -= lr * g
        for k, (rows, g) in sparse.items():
            np.subtract.at(self.p[k], rows, lr * g)
        return norm


OPTIMIZERS = ("adam", "lazyadam", "sgd")


def make_optimizer(name: str, params: dict, lr: float, clip: float, threads: int = 1):
    """The optimiser ``name`` (one of :data:`OPTIMIZERS`) over ``params`` (``threads``:
    Numba threads of dense Adam's fused step)."""
    if name == "sgd":
        return SGD(params, lr=lr, clip=clip)
    return Adam(params, lr=lr, clip=clip, lazy=(name == "lazyadam"), threads=threads)


def training_threads(threads: int):
    """The context a training loop runs in: every BLAS pool on one thread.  More
    ``threads`` split each step's batch columns over Python threads
    (:class:`~embedkit.lm.parallel.ColumnParallelStep`), each on one BLAS thread: a BLAS
    pool of several threads under each would oversubscribe the cores."""
    from embedkit._threads import single_threaded_blas

    check_positive("threads", threads, integer=True)
    return single_threaded_blas()


def _split(grads: dict, n_tokens: int, trainable: set, dtype) -> tuple[dict, dict]:
    """Dense and sparse gradients of the mean loss; duplicate sparse rows summed (by a
    stable sort and one ``np.add.reduceat``, several times faster than ``np.add.at``)."""
    dense, sparse = {}, {}
    inv = dtype.type(1.0 / n_tokens)
    for k, g in grads.items():
        if k not in trainable:
            continue
        if isinstance(g, tuple):
            rows, rg = g
            rows = np.asarray(rows)
            if rows.shape[0] == 0:
                sparse[k] = (rows.astype(np.int64), np.zeros_like(rg, dtype))
                continue
            order = np.argsort(rows, kind="stable")
            sr = rows[order]
            starts = np.flatnonzero(np.concatenate([[True], sr[1:] != sr[:-1]]))
            acc = np.add.reduceat(np.asarray(rg, dtype)[order], starts, axis=0)
            sparse[k] = (sr[starts].astype(np.int64), acc * inv)
        else:
            dense[k] = g * inv
    return dense, sparse


@one_blas_thread
def train_lm(corpus, vectors=None, *, out=None, dev=None, hidden: int = 256, layers: int = 1,
             cell: str = "gru", dim: int | None = None, tie: bool = False, freeze: bool = False,
             dropout: float = 0.2, softmax: str = "sampled", samples: int = 1024,
             max_vocab: int = 50000, min_count: int = 1, max_tokens: int | None = None,
             skip_tokens: int = 0, epochs: int = 1, batch_size: int = 32, bptt: int = 35,
             optimizer: str = "adam", lr: float | None = None, clip: float = 0.25,
             seed: int = 0, lowercase: bool = True, checkpoint=None,
             checkpoint_every: float | None = None, resume=None, dev_tokens: int | None = None,
             progress: bool = True, threads: int = 1) -> LanguageModel:
    """Train a language model on ``corpus`` (a path embedkit's corpus readers accept).

    Parameters
    ----------
    corpus : path
        Text, one line a sentence or paragraph (``.gz``/``.bz2``/``.xz`` read transparently).
    vectors : Vectors, optional
        Initial input embeddings (``freeze`` keeps them); without them, random ones of ``dim``.
    out : path, optional
        Model directory written at the end (and after each epoch).
    dev : path, optional
        Text whose exact perplexity is reported after each epoch; the epoch with the best
        one is the model kept.
    hidden, layers, cell, tie, freeze, dropout, softmax, samples
        See :class:`~embedkit.lm.model.LMConfig`.
    max_vocab, min_count
        Vocabulary: the ``max_vocab`` most frequent words (``<unk>`` and ``</s>`` included)
        seen at least ``min_count`` times.
    max_tokens, skip_tokens
        Train on at most ``max_tokens`` tokens after skipping ``skip_tokens``.
    epochs, batch_size, bptt
        Passes, parallel streams, and truncated-BPTT segment length.
    optimizer, lr, clip
        ``"adam"`` (default lr 2e-3): the dense step of ``torch.optim.Adam`` on every row of
        the embedding and output tables, whose gradients are row-sparse (rows without a
        gradient keep moving by their momentum); ``"lazyadam"`` (lr 2e-3): only the rows
        with a gradient are updated (on the Gutenberg benchmark it trails dense Adam after
        ~900 steps, 346 against 301 perplexity, though it leads after ~180); ``"sgd"``
        (default lr 1.0).  Gradient norm clipped at ``clip`` (0 off).
    seed : int
        Initialisation, dropout and negative samples.
    checkpoint, checkpoint_every, resume
        Checkpoint path (default ``OUT.ckpt``), seconds between checkpoints, and a
        checkpoint to continue from.
    threads : int
        Threads of a training step: the batch's columns split over them
        (:mod:`embedkit.lm.parallel`; the same dropout masks and negatives, gradients
        summed in a fixed order, so a run is reproducible at any thread count) and dense
        Adam's fused update split over them.  1 (default) keeps every step on one thread.

    Returns
    -------
    LanguageModel
    """
    from embedkit.corpus import iter_sentences
    from embedkit.training import checkpoint as C

    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("bptt", bptt)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name} must be an integer >= 1, got {v!r}")
    check_positive("threads", threads, integer=True)
    if optimizer not in OPTIMIZERS:
        raise ParameterError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                             f"got {optimizer!r}")
    if max_tokens is not None and max_tokens < 2:
        raise ParameterError(f"max_tokens must be >= 2, got {max_tokens}")
    if lr is None:
        lr = 1.0 if optimizer == "sgd" else 2e-3
    out, checkpoint = C.checkpoint_plan(None if out is None else str(out), checkpoint,
                                        checkpoint_every)

    def sentences():
        return iter_sentences(corpus, lowercase=lowercase)

    def limited():  # the training slice only (for the vocabulary too)
        n = 0
        for s in sentences():
            yield s
            n += len(s) + 1
            if max_tokens is not None and n >= skip_tokens + max_tokens:
                break

    start_epoch, opt_state = 0, None
    if resume is not None:
        arrays, state = C.load_checkpoint(resume)
        if state.get("kind") != "lm-checkpoint":
            raise ParameterError(f"{resume} is not a language-model checkpoint")
        model = LanguageModel(_config_from(state), LMVocab(state["vocab"]),
                              {k[2:]: v for k, v in arrays.items() if k.startswith("p:")},
                              np.asarray(state["counts"]), state.get("history"))
        opt_state = {k: v for k, v in arrays.items() if not k.startswith("p:")}
        start_epoch = int(state["epoch"])
        seed = int(state["seed"])
        vocab = model.vocab
        log.info("resuming from %s after epoch %d", resume, start_epoch)
    else:
        vocab, counts = LMVocab.build(limited(), max_size=max_vocab, min_count=min_count)
        model = LanguageModel.create(vocab, counts, vectors, dim=dim, seed=seed, hidden=hidden,
                                     layers=layers, cell=cell, dropout=dropout, tie=tie,
                                     freeze=freeze, softmax=softmax, samples=samples,
                                     lowercase=lowercase)
    stream = encode_stream(sentences(), vocab, max_tokens, skip_tokens)
    data = batchify(stream, batch_size)
    dev_stream = (encode_stream(iter_sentences(dev, lowercase=lowercase), vocab, dev_tokens)
                  if dev is not None else None)
    log.info("training on %d tokens (%d streams of %d), vocabulary %d", data.size,
             batch_size, data.shape[0], len(vocab))

    trainable = set(model.params) - ({"emb"} if model.config.freeze else set())
    tparams = {k: model.params[k] for k in trainable}
    opt = make_optimizer(optimizer, tparams, lr, clip, threads)
    if opt_state and optimizer != "sgd" and "t" in opt_state:
        for k in trainable:
            opt.m[k][...] = opt_state[f"m:{k}"]
            opt.v[k][...] = opt_state[f"v:{k}"]
        opt.t = int(opt_state["t"][0])

    def save_ckpt(epoch):
        if checkpoint is None:
            return
        arrays = {f"p:{k}": v for k, v in model.params.items()}
        if optimizer != "sgd":
            arrays.update({f"m:{k}": opt.m[k] for k in trainable})
            arrays.update({f"v:{k}": opt.v[k] for k in trainable})
            arrays["t"] = np.array([opt.t])
        state = dict(model._state(), kind="lm-checkpoint", epoch=epoch, seed=seed)
        C.save_checkpoint(checkpoint, arrays, state)

    best = None
    T = data.shape[0]
    last_ckpt = time.monotonic()
    for epoch in range(start_epoch, epochs):
        rng = np.random.Generator(np.random.PCG64([seed, epoch]))
        state = model.initial_state(batch_size)
        total, n = 0.0, 0
        t0 = time.perf_counter()
        with progress_bar(total=(T - 1) * batch_size, desc=f"epoch {epoch + 1}/{epochs}",
                          unit="tok", disable=None if progress else True) as bar, \
                training_threads(threads), ColumnParallelStep(model, threads) as step:
            try:
                for a in range(0, T - 1, bptt):
                    e = min(T - 1, a + bptt)
                    inp, tgt = data[a:e], data[a + 1:e + 1]
                    loss, grads, state = step(inp, tgt, state, rng)
                    dense, sparse = _split(grads, tgt.size, trainable, model.dtype)
                    opt.step(dense, sparse)
                    total += loss
                    n += tgt.size
                    bar.update(tgt.size)
                    bar.set_postfix({"ppl" if model.config.softmax == "full" else "sampled ppl":
                                     f"{math.exp(min(total / n, 50)):.1f}"})
                    if checkpoint_every and time.monotonic() - last_ckpt > checkpoint_every:
                        save_ckpt(epoch)
                        last_ckpt = time.monotonic()
            except KeyboardInterrupt:
                save_ckpt(epoch)
                log.warning("interrupted; checkpoint of the epoch's start state written to %s",
                            checkpoint)
                raise
        if not math.isfinite(total):
            raise ParameterError("training diverged (loss is not finite): lower --lr or --clip")
        seconds = time.perf_counter() - t0
        record = {"epoch": epoch + 1, "train_loss": total / n, "tokens": n,
                  "seconds": seconds, "tokens_per_second": n / seconds}
        if dev_stream is not None:
            record["dev"] = model.perplexity(dev_stream, progress=progress)["perplexity"]
            log.info("epoch %d: dev perplexity %.2f (%.0f tokens/s)", epoch + 1,
                     record["dev"], n / seconds)
        else:
            log.info("epoch %d: train loss %.4f (%.0f tokens/s)", epoch + 1, total / n,
                     n / seconds)
        model.history.append(record)
        if dev_stream is None or best is None or record["dev"] < best[0]:
            best = (record.get("dev"), {k: v.copy() for k, v in model.params.items()})
            if out is not None:
                model.save(out)
        save_ckpt(epoch + 1)
    if best is not None and dev_stream is not None:
        model.params.update(best[1])
    if out is not None:
        model.save(out)
        if checkpoint is not None:
            C.discard_checkpoint(checkpoint)
    return model


def _config_from(state):
    from embedkit.lm.model import LMConfig

    return LMConfig(**state["config"])
