"""The training loop of a downstream model: epochs of length-bucketed batches, Adam, the
evaluation schedule, early stopping, weight averaging and learning-rate decay.

The trainer drives any model that offers ``params``/``grads``, ``history``, ``vocab``,
``config.seed``, ``_encode_all(texts)``, ``_batch(encoded, idx)``,
``_loss_grad(batch, targets, rng) -> (loss, sparse row gradients)`` and
``_dev_score(texts, targets)`` (higher is better); the model never holds the epoch loop.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from embedkit._progress import progress_bar
from embedkit._threads import single_threaded_blas
from embedkit.downstream.config import Schedule
from embedkit.downstream.data import length_batches
from embedkit.downstream.optim import Adam, ParameterAverage

log = logging.getLogger(__name__)


class Trainer:
    """Trains ``model`` on ``(train_x, train_y)``; with dev data, keeps the weights of the
    best dev evaluation and stops after ``patience`` evaluations without improvement."""

    def __init__(self, model, schedule: Schedule):
        self.model = model
        self.schedule = schedule
        self.best = -1.0
        self.best_params = None
        self.bad = 0

    def run(self, train_x, train_y, dev_x=None, dev_y=None):
        """Train, restore the best weights and set ``model.best_dev``; returns the model."""
        m, s = self.model, self.schedule
        rng = np.random.default_rng(m.config.seed + 1)
        enc = m._encode_all(train_x)
        log.info("vocabulary %d rows (%d from the vectors); %.1f%% of training tokens covered",
                 len(m.vocab), m.vocab.n_pretrained, 100 * m.vocab.coverage(train_x))
        opt = Adam(m.params, lr=s.lr, clip=s.clip)
        steps = s.epochs * -(-len(train_x) // s.batch_size)  # the decay follows the run
        avg = (ParameterAverage(m.params, s.average, sparse=("emb", "char_emb"), steps=steps)
               if s.average else None)
        lengths = np.array([len(x) for x in train_x])
        with single_threaded_blas():
            for epoch in range(1, s.epochs + 1):
                t0 = time.perf_counter()
                # inverse-time decay per epoch, lr / (1 + decay * (epoch - 1)) (Ma & Hovy 2016)
                opt.lr = s.lr / (1.0 + s.lr_decay * (epoch - 1))
                stop, loss = self._epoch(epoch, enc, train_y, lengths, rng, opt, avg, dev_x, dev_y)
                secs = time.perf_counter() - t0
                m.history[-1]["epoch_seconds"] = secs
                log.info("epoch %d: loss %.4f, dev %s, %.1f s", epoch, loss,
                         f"{m.history[-1]['dev']:.4f}" if dev_x is not None else "-", secs)
                if stop:
                    log.info("early stop: no dev improvement in %d evaluations", s.patience)
                    break
        if self.best_params is not None:
            for k, v in self.best_params.items():
                m.params[k][...] = v
        m.best_dev = self.best if dev_x is not None else None
        return m

    def _epoch(self, epoch, enc, train_y, lengths, rng, opt, avg, dev_x, dev_y):
        """One pass over the batches with the evaluations due in it; ``(stop, mean loss)``."""
        m, s = self.model, self.schedule
        batches = length_batches(lengths, s.batch_size, rng)
        n = len(batches)
        due = {int(round(n * (k + 1) / s.evals_per_epoch)) for k in range(s.evals_per_epoch)}
        total, seen = 0.0, 0
        bar = progress_bar(total=n, desc=f"epoch {epoch}", unit="batch",
                           disable=None if s.progress else True)
        with bar:
            for i, idx in enumerate(batches, 1):
                batch = m._batch(enc, idx)
                loss, sparse = m._loss_grad(batch, [train_y[j] for j in idx], rng)
                if avg is not None:
                    avg.before_step(sparse)
                opt.step(m.grads, sparse)
                if avg is not None:
                    avg.after_step(sparse)
                total += loss * len(idx)
                seen += len(idx)
                bar.update(1)
                if i not in due:
                    bar.set_postfix(loss=f"{total / seen:.4f}")
                    continue
                score = self._evaluate(avg, dev_x, dev_y, seen)
                m.history.append({"epoch": epoch, "batches": i, "lr": opt.lr,
                                  "loss": total / seen, "dev": score})
                bar.set_postfix(loss=f"{total / seen:.4f}",
                                dev=f"{score:.4f}" if dev_x is not None else "-")
                if self.bad >= s.patience:
                    return True, total / max(seen, 1)
        return False, total / max(seen, 1)

    def _evaluate(self, avg, dev_x, dev_y, seen):
        """Score the current (or, when averaging, the averaged) weights; remember the best."""
        m = self.model
        live = None
        if avg is not None:  # evaluate (and keep) the averaged weights
            live = {k: v.copy() for k, v in m.params.items()}
            for k, v in avg.averaged().items():
                m.params[k][...] = v
        score = m._dev_score(dev_x, dev_y) if dev_x is not None else -seen
        if dev_x is None or score > self.best:
            self.best, self.bad = score, 0
            self.best_params = {k: v.copy() for k, v in m.params.items()}
        else:
            self.bad += 1
        if live is not None:
            for k, v in live.items():
                m.params[k][...] = v
        return score
