"""Classification metrics and entity-level NER scores with conlleval semantics, BIO repair."""

from __future__ import annotations

import numpy as np

from embedkit.errors import ParameterError


def accuracy(gold, pred) -> float:
    """Fraction of equal labels."""
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ParameterError(f"{len(gold)} gold labels but {len(pred)} predictions")
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, pred)) / len(gold)


def _prf(tp, n_pred, n_gold):
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def macro_f1(gold, pred, labels=None) -> float:
    """Unweighted mean over classes of the per-class F1 (classes seen in ``gold`` or ``pred``)."""
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ParameterError(f"{len(gold)} gold labels but {len(pred)} predictions")
    labels = sorted(set(gold) | set(pred)) if labels is None else list(labels)
    if not labels:
        return 0.0
    f1s = []
    for c in labels:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        f1s.append(_prf(tp, sum(p == c for p in pred), sum(g == c for g in gold))[2])
    return float(np.mean(f1s))


def classification_report(gold, pred) -> dict:
    """``{"accuracy", "macro_f1", "n"}``."""
    return {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred), "n": len(gold)}


def split_tag(tag) -> tuple[str, str]:
    """``(prefix, type)`` of a BIO tag: ``"B-PER"`` -> ``("B", "PER")``; ``("O", "")``
    for ``O`` and anything that is not ``X-TYPE``."""
    if tag == "O" or len(tag) < 2 or tag[1] != "-":
        return "O", ""
    return tag[0], tag[2:]


def chunks(tags) -> list[tuple[str, int, int]]:
    """Entities ``(type, start, end)`` (end exclusive) as conlleval reads BIO tags.

    A chunk starts at ``B-X``, or at ``I-X`` after ``O`` or after a tag of another type;
    it ends before ``O``, ``B-*`` or a tag of another type.
    """
    out = []
    start, ctype = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, typ = split_tag(tag)
        ends = start is not None and (prefix in ("O", "B") or typ != ctype)
        if ends:
            out.append((ctype, start, i))
            start, ctype = None, None
        if prefix == "B" or (prefix == "I" and start is None):
            start, ctype = i, typ
    return out


def ner_report(gold_seqs, pred_seqs) -> dict:
    """Entity-level precision, recall and F1 overall and per type, plus token accuracy.

    An entity counts as found only if the predicted span and type both match a gold one
    (conlleval).  Returns ``{"precision", "recall", "f1", "token_accuracy", "per_type":
    {type: {"precision", "recall", "f1", "support"}}, "n_gold", "n_pred"}``.
    """
    gold_seqs, pred_seqs = list(gold_seqs), list(pred_seqs)
    if len(gold_seqs) != len(pred_seqs):
        raise ParameterError(f"{len(gold_seqs)} gold sentences but {len(pred_seqs)} predicted")
    tp, npred, ngold = {}, {}, {}
    tok_ok = tok_n = 0
    for g, p in zip(gold_seqs, pred_seqs):
        if len(g) != len(p):
            raise ParameterError(f"sentence of {len(g)} gold tags but {len(p)} predicted")
        tok_ok += sum(a == b for a, b in zip(g, p))
        tok_n += len(g)
        gc, pc = set(chunks(g)), set(chunks(p))
        for c in gc:
            ngold[c[0]] = ngold.get(c[0], 0) + 1
        for c in pc:
            npred[c[0]] = npred.get(c[0], 0) + 1
        for c in gc & pc:
            tp[c[0]] = tp.get(c[0], 0) + 1
    per_type = {}
    for t in sorted(set(ngold) | set(npred)):
        p, r, f = _prf(tp.get(t, 0), npred.get(t, 0), ngold.get(t, 0))
        per_type[t] = {"precision": p, "recall": r, "f1": f, "support": ngold.get(t, 0)}
    P, R, F = _prf(sum(tp.values()), sum(npred.values()), sum(ngold.values()))
    return {"precision": P, "recall": R, "f1": F,
            "token_accuracy": tok_ok / tok_n if tok_n else 0.0,
            "per_type": per_type, "n_gold": sum(ngold.values()), "n_pred": sum(npred.values())}


def repair_bio(tags) -> list[str]:
    """Make a tag sequence valid BIO: an ``I-X`` not preceded by ``B-X``/``I-X`` becomes ``B-X``."""
    out = []
    prev = "O"
    for tag in tags:
        prefix, typ = split_tag(tag)
        if prefix == "I":
            pp, pt = split_tag(prev)
            if pp == "O" or pt != typ:
                tag = "B-" + typ
        out.append(tag)
        prev = tag
    return out
