"""BLEU (Papineni et al., 2002) as computed by sacrebleu, to the last bit.

Corpus BLEU is the geometric mean of the modified n-gram precisions ``p_1 .. p_4`` times the
brevity penalty ``BP = exp(1 - r / c)`` when the system length ``c`` is below the effective
reference length ``r`` (else 1).  Per segment, a hypothesis n-gram counts at most as often as
it occurs in any one reference (the counts are clipped by the maximum over the references),
and ``r`` adds the reference length closest to the hypothesis length (the shorter one on a
tie).  The counts are summed over the corpus before the precisions are taken.

Smoothing of zero counts follows Chen & Cherry (2014) with sacrebleu's names:

``none``
    no smoothing (a zero precision makes the score 0);
``floor``
    a zero count becomes ``smooth_value`` (default 0.1);
``add-k``
    ``smooth_value`` (default 1) is added to the matches and totals of n >= 2;
``exp``
    the k-th zero precision becomes ``1 / (2^k * total)`` (mteval-v13a; the default).

Scores are on sacrebleu's 0-100 scale.  The tokenisers ``13a`` (mteval-v13a, the default),
``char`` and ``none`` (split on white space) give the same tokens as sacrebleu's.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

from embedkit.errors import ParameterError

MAX_ORDER = 4
SMOOTHING = ("none", "floor", "add-k", "exp")
TOKENIZERS = ("13a", "char", "none")
_DEFAULT_SMOOTH_VALUE = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}

# mteval-v13a's punctuation rules, in order
_RULES_13A = [
    # every ASCII symbol except the period, comma, apostrophe and hyphen, and the slash
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period/comma not after a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period/comma not before a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # a hyphen after a digit
]
_ENTITIES = (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"))


def tokenize_bleu(line: str, tokenize: str = "13a", lowercase: bool = False) -> list[str]:
    """The tokens BLEU counts in ``line``.

    Parameters
    ----------
    line : str
        One segment (trailing white space is ignored).
    tokenize : {"13a", "char", "none"}
        ``13a`` splits off punctuation as mteval-v13a does; ``char`` makes every character
        (spaces included) a token; ``none`` splits on white space only.
    lowercase : bool
        Lowercase before tokenising.

    Returns
    -------
    list of str
    """
    if lowercase:
        line = line.lower()
    line = line.rstrip()
    if tokenize == "none":
        return line.split()
    if tokenize == "char":
        # characters joined by spaces, then split: a space in the text becomes no token
        return " ".join(line).split()
    if tokenize == "13a":
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
        if "&" in line:
            for entity, char in _ENTITIES:
                line = line.replace(entity, char)
        line = f" {line} "
        for pattern, repl in _RULES_13A:
            line = pattern.sub(repl, line)
        return line.split()
    raise ParameterError(f"tokenize must be one of {', '.join(TOKENIZERS)}, got {tokenize!r}")


def _ngrams(tokens: Sequence[str], max_order: int) -> Counter:
    counts: Counter = Counter()
    n_tok = len(tokens)
    for n in range(1, max_order + 1):
        for i in range(n_tok - n + 1):
            counts[tuple(tokens[i:i + n])] += 1
    return counts


@dataclass
class BleuScore:
    """A BLEU score and the statistics it comes from.

    Attributes
    ----------
    score : float
        BLEU on a 0-100 scale.
    counts, totals : list
        Matched and total hypothesis n-grams per order (after add-k smoothing, if any).
    precisions : list of float
        Modified n-gram precisions in percent (smoothed).
    bp : float
        Brevity penalty.
    sys_len, ref_len : int
        Hypothesis length and effective reference length (in tokens).
    """

    score: float
    counts: list = field(default_factory=list)
    totals: list = field(default_factory=list)
    precisions: list = field(default_factory=list)
    bp: float = 1.0
    sys_len: int = 0
    ref_len: int = 0

    def as_dict(self) -> dict:
        """The fields as a JSON-ready dict."""
        return {"bleu": self.score, "counts": list(self.counts), "totals": list(self.totals),
                "precisions": list(self.precisions), "bp": self.bp,
                "sys_len": self.sys_len, "ref_len": self.ref_len}

    def __str__(self) -> str:
        prec = "/".join(f"{p:.1f}" for p in self.precisions)
        ratio = self.sys_len / self.ref_len if self.ref_len else 0.0
        return (f"BLEU = {self.score:.2f} {prec} (BP = {self.bp:.3f} ratio = {ratio:.3f} "
                f"hyp_len = {self.sys_len} ref_len = {self.ref_len})")


def _log(x: float) -> float:
    # a zero precision contributes a huge negative log (so the score underflows to 0)
    return math.log(x) if x != 0.0 else -9999999999.0


def bleu(counts: Sequence, totals: Sequence, sys_len: int, ref_len: int,
         smooth_method: Literal["none", "floor", "add-k", "exp"] = "exp",
         smooth_value: float | None = None, effective_order: bool = False) -> BleuScore:
    """BLEU from its sufficient statistics.

    Parameters
    ----------
    counts, totals : sequence of int
        Matched (clipped) and total hypothesis n-grams for n = 1 .. len(counts).
    sys_len, ref_len : int
        Hypothesis and effective reference lengths.
    smooth_method : {"none", "floor", "add-k", "exp"}
        How a zero count is smoothed (see the module docstring).
    smooth_value : float, optional
        The value of ``floor`` (default 0.1) and ``add-k`` (default 1).
    effective_order : bool
        Average only over the orders up to the last one with any hypothesis n-gram
        (for sentence BLEU).

    Returns
    -------
    BleuScore
    """
    if smooth_method not in SMOOTHING:
        raise ParameterError(f"smooth_method must be one of {', '.join(SMOOTHING)}, "
                             f"got {smooth_method!r}")
    if len(counts) != len(totals) or not counts:
        raise ParameterError("counts and totals must be non-empty and of the same length, "
                             f"got {len(counts)} and {len(totals)}")
    if smooth_value is None:
        smooth_value = _DEFAULT_SMOOTH_VALUE[smooth_method]
    counts, totals = list(counts), list(totals)
    order = len(counts)
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions = [0.0] * order
    if not any(counts):
        return BleuScore(0.0, counts, totals, precisions, bp, sys_len, ref_len)
    halvings = 1.0
    used = order
    for k in range(order):
        if smooth_method == "add-k" and k > 0:
            counts[k] += smooth_value
            totals[k] += smooth_value
        if totals[k] == 0:
            break
        if effective_order:
            used = k + 1
        if counts[k] != 0:
            precisions[k] = 100.0 * counts[k] / totals[k]
        elif smooth_method == "exp":
            halvings *= 2
            precisions[k] = 100.0 / (halvings * totals[k])
        elif smooth_method == "floor":
            precisions[k] = 100.0 * smooth_value / totals[k]
    score = bp * math.exp(sum([_log(p) for p in precisions[:used]]) / used)
    return BleuScore(score, counts, totals, precisions, bp, sys_len, ref_len)


def _closest(hyp_len: int, ref_lens: Iterable[int]) -> int:
    best = None
    for r in ref_lens:
        if best is None or abs(hyp_len - r) < abs(hyp_len - best) or (
                abs(hyp_len - r) == abs(hyp_len - best) and r < best):
            best = r
    return 0 if best is None else best


def _statistics(hypotheses, ref_streams, tokenize, lowercase, max_order):
    """Summed ``[sys_len, ref_len, counts..., totals...]`` over the corpus."""
    hypotheses = list(hypotheses)
    if isinstance(ref_streams, str) or not ref_streams:
        raise ParameterError("references must be a list of reference streams (one list of "
                             "strings per reference set), e.g. [refs] for one reference")
    ref_streams = [list(s) for s in ref_streams]
    for i, stream in enumerate(ref_streams):
        if isinstance(stream, str) or len(stream) != len(hypotheses):
            raise ParameterError(f"reference set {i + 1} has {len(stream)} segments but there "
                                 f"are {len(hypotheses)} hypotheses; they must match line by line")
    stats = [0] * (2 + 2 * max_order)
    for seg, hyp in enumerate(hypotheses):
        if hyp is None:
            raise ParameterError(f"hypothesis {seg + 1} is None; use '' for an empty one")
        refs = [s[seg] for s in ref_streams if s[seg] is not None]
        clip: Counter = Counter()
        ref_lens = []
        for ref in refs:
            toks = tokenize_bleu(ref, tokenize, lowercase)
            ref_lens.append(len(toks))
            for g, c in _ngrams(toks, max_order).items():
                if c > clip[g]:
                    clip[g] = c
        toks = tokenize_bleu(hyp, tokenize, lowercase)
        stats[0] += len(toks)
        stats[1] += _closest(len(toks), ref_lens)
        for g, c in _ngrams(toks, max_order).items():
            n = len(g) - 1
            stats[2 + max_order + n] += c
            m = clip.get(g, 0)
            stats[2 + n] += c if c < m else m
    return stats


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]],
                smooth_method: Literal["none", "floor", "add-k", "exp"] = "exp",
                smooth_value: float | None = None, tokenize: str = "13a",
                lowercase: bool = False, effective_order: bool = False,
                max_order: int = MAX_ORDER) -> BleuScore:
    """Corpus BLEU of ``hypotheses`` against one or more reference sets.

    Parameters
    ----------
    hypotheses : sequence of str
        One output segment per line.
    references : sequence of sequences of str
        Reference *sets*: ``references[k][i]`` is the k-th reference of segment ``i``
        (``None`` where a segment has fewer references).
    smooth_method, smooth_value, effective_order
        See :func:`bleu`.
    tokenize : {"13a", "char", "none"}
        See :func:`tokenize_bleu`.
    lowercase : bool
        Case-insensitive BLEU.
    max_order : int
        Largest n-gram order (4).

    Returns
    -------
    BleuScore

    Examples
    --------
    >>> corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]).score
    100.0
    """
    if not isinstance(max_order, int) or max_order < 1:
        raise ParameterError(f"max_order must be an integer >= 1, got {max_order!r}")
    if isinstance(hypotheses, str):
        raise ParameterError("hypotheses must be a list of strings, not one string")
    stats = _statistics(hypotheses, references, tokenize, lowercase, max_order)
    return bleu(stats[2:2 + max_order], stats[2 + max_order:], stats[0], stats[1],
                smooth_method, smooth_value, effective_order)


def sentence_bleu(hypothesis: str, references: Sequence[str],
                  smooth_method: Literal["none", "floor", "add-k", "exp"] = "exp",
                  smooth_value: float | None = None, tokenize: str = "13a",
                  lowercase: bool = False, effective_order: bool = True) -> BleuScore:
    """BLEU of one hypothesis against its references (effective order on by default).

    Parameters
    ----------
    hypothesis : str
    references : sequence of str
        The references of this one segment.
    smooth_method, smooth_value, tokenize, lowercase, effective_order
        See :func:`corpus_bleu`.

    Returns
    -------
    BleuScore
    """
    if isinstance(references, str):
        references = [references]
    return corpus_bleu([hypothesis], [[r] for r in references], smooth_method, smooth_value,
                       tokenize, lowercase, effective_order)
