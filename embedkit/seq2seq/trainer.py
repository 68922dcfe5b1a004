"""Training and evaluating a :class:`~embedkit.seq2seq.model.Seq2Seq`: shuffled minibatches,
Adam with gradient-norm clipping, parameter averaging, early stopping on dev exact match or
BLEU (the machinery of the downstream models)."""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from embedkit._threads import one_blas_thread
from embedkit._progress import progress_bar
from embedkit.downstream.optim import Adam
from embedkit.errors import ParameterError
from embedkit.metrics import corpus_bleu
from embedkit.seq2seq.data import Vocab, split_text
from embedkit.seq2seq.model import Seq2Seq

log = logging.getLogger(__name__)


class _Average:
    """Exponential moving average of the parameters with a warm-up: the decay at step t is
    ``min(decay, (1 + t) / (10 + t))``, so early steps do not pin the average to the
    random initial values."""

    def __init__(self, params: dict, decay: float):
        self.p, self.decay, self.t = params, float(decay), 0
        self.shadow = {k: v.copy() for k, v in params.items()}

    def update(self):
        self.t += 1
        d = min(self.decay, (1 + self.t) / (10 + self.t))
        for k, s in self.shadow.items():
            s *= np.float32(d)
            s += np.float32(1 - d) * self.p[k]

    def averaged(self) -> dict:
        return {k: v.copy() for k, v in self.shadow.items()}


@one_blas_thread
def evaluate(model: Seq2Seq, pairs, beam: int = 1, length_penalty: float = 0.0,
             batch_size: int = 128) -> dict:
    """Exact match, token accuracy and BLEU of the model's outputs on ``(source, target)``
    pairs.

    Token accuracy is the share of reference tokens whose position the output gets right;
    BLEU is corpus BLEU over the tokens (characters at the char level) with no further
    tokenisation.  ``beam=1`` decodes greedily (in batches).
    """
    if not pairs:
        raise ParameterError("nothing to evaluate: no pairs")
    level = model.config.level
    if beam == 1:
        ids = model.encode_source([s for s, _ in pairs])
        outs = []
        for a in range(0, len(ids), batch_size):
            for o in model.greedy_batch(ids[a:a + batch_size]):
                outs.append([model.tgt_vocab.tokens[t] for t in o])
    else:
        outs = [r["tokens"] for r in model.translate([s for s, _ in pairs], beam=beam,
                                                      length_penalty=length_penalty)]
    refs = [split_text(t, level) for _, t in pairs]
    exact = sum(o == r for o, r in zip(outs, refs)) / len(pairs)
    right = sum(sum(1 for i, tok in enumerate(r) if i < len(o) and o[i] == tok)
                for o, r in zip(outs, refs))
    acc = right / max(1, sum(len(r) for r in refs))
    bleu = corpus_bleu([" ".join(o) for o in outs], [[" ".join(r) for r in refs]],
                       tokenize="none").score
    return {"exact_match": exact, "token_accuracy": acc, "bleu": bleu, "pairs": len(pairs),
            "outputs": outs}


@one_blas_thread
def train_seq2seq(train_pairs, dev_pairs=None, *, out=None, level: str = "char",
                  emb: int = 32, hidden: int = 64, dec_hidden: int = 128, attention: int = 64,
                  epochs: int = 20, batch_size: int = 32, lr: float = 2e-3, clip: float = 5.0,
                  patience: int = 3, metric: str = "exact", average: float | None = 0.999,
                  seed: int = 0, min_count: int = 1, max_vocab: int | None = None,
                  progress: bool = True) -> Seq2Seq:
    """Train an encoder-decoder on ``(source, target)`` string pairs.

    Parameters
    ----------
    train_pairs, dev_pairs : list of (str, str)
    out : path, optional
        Model directory, written whenever the dev score improves (or each epoch without dev).
    level : {"char", "word"}
    emb, hidden, dec_hidden, attention
        See :class:`~embedkit.seq2seq.model.Seq2SeqConfig`.
    epochs, batch_size, lr, clip
        Passes, pairs per step, Adam step size and gradient-norm clipping (0 off).
    patience : int
        Stop after this many epochs without a better dev score.
    metric : {"exact", "bleu"}
        Dev score for early stopping (greedy decoding).
    average : float or None
        Decay of the parameter average used for evaluation and saving (None: off).
    seed : int

    Returns
    -------
    Seq2Seq
        With the parameters of the best dev epoch.
    """
    for name, v in (("epochs", epochs), ("batch_size", batch_size), ("patience", patience)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ParameterError(f"{name} must be an integer >= 1, got {v!r}")
    if metric not in ("exact", "bleu"):
        raise ParameterError(f"metric must be 'exact' or 'bleu', got {metric!r}")
    if not train_pairs:
        raise ParameterError("no training pairs")
    src_tok = [split_text(s, level) for s, _ in train_pairs]
    tgt_tok = [split_text(t, level) for _, t in train_pairs]
    sv = Vocab.build(src_tok, min_count, max_vocab)
    tv = Vocab.build(tgt_tok, min_count, max_vocab)
    max_len = int(1.5 * max(len(t) for t in tgt_tok)) + 5
    model = Seq2Seq.create(sv, tv, seed=seed, level=level, emb=emb, hidden=hidden,
                           dec_hidden=dec_hidden, attention=attention, max_len=max_len)
    data = [(sv.encode(s), tv.encode(t)) for s, t in zip(src_tok, tgt_tok)]
    opt = Adam(model.params, lr=lr, clip=clip)
    if average is not None and not 0 < average < 1:
        raise ParameterError(f"average decay must be in (0, 1), got {average}")
    avg = _Average(model.params, average) if average else None
    rng = np.random.Generator(np.random.PCG64(seed))
    best, best_params, bad = -math.inf, None, 0
    key = "exact_match" if metric == "exact" else "bleu"
    for epoch in range(epochs):
        order = rng.permutation(len(data))
        # batches of similar source length (less padding), in shuffled order
        chunks = [order[a:a + batch_size * 50] for a in range(0, len(order), batch_size * 50)]
        batches = []
        for c in chunks:
            c = sorted(c, key=lambda i: len(data[i][0]))
            batches += [c[a:a + batch_size] for a in range(0, len(c), batch_size)]
        batches = [batches[i] for i in rng.permutation(len(batches))]
        t0 = time.perf_counter()
        total, ntok = 0.0, 0
        with progress_bar(total=len(data), desc=f"epoch {epoch + 1}/{epochs}", unit="pair",
                          disable=None if progress else True) as bar:
            for b in batches:
                pairs = [data[i] for i in b]
                loss, grads = model.batch_loss_and_grad(pairs)
                n = sum(len(p[1]) + 1 for p in pairs)
                inv = np.float32(1.0 / len(pairs))
                opt.step({k: g * inv for k, g in grads.items()})
                if avg is not None:
                    avg.update()
                total += loss
                ntok += n
                bar.update(len(pairs))
                bar.set_postfix(ppl=f"{math.exp(min(total / ntok, 50)):.3f}")
        seconds = time.perf_counter() - t0
        if not math.isfinite(total):
            raise ParameterError("training diverged (loss is not finite): lower --lr")
        record = {"epoch": epoch + 1, "train_loss": total / ntok, "seconds": seconds}
        live = None
        if avg is not None:
            live = {k: v.copy() for k, v in model.params.items()}
            model.params.update(avg.averaged())
        if dev_pairs:
            res = evaluate(model, dev_pairs)
            record.update({f"dev_{k}": v for k, v in res.items() if k != "outputs"})
            log.info("epoch %d: dev exact %.4f, BLEU %.2f (%.1f s)", epoch + 1,
                     res["exact_match"], res["bleu"], seconds)
            score = res[key]
        else:
            score = -total
        model.history.append(record)
        if score > best:
            best, bad = score, 0
            best_params = {k: v.copy() for k, v in model.params.items()}
            if out is not None:
                model.save(out)
        else:
            bad += 1
        if live is not None:
            model.params.update(live)
        if bad >= patience:
            log.info("no better dev %s for %d epochs: stopping", metric, patience)
            break
    model.params.update(best_params)
    if out is not None:
        model.save(out)
    return model
