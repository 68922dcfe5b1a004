"""Regenerate tests/data/evals/structured.txt.gz (run from the repository root).

Structured random vectors over the words of the shipped Google analogy set, WordSim-353 and
SimLex-999, so that analogy and similarity tests are meaningful (some answers right, some
wrong, real correlations) and exercise gensim's corner cases:

- Google words are stored lower-case (the set is mixed case), so case handling matters;
- some words have case variants: later rows with their own vectors (gensim uses the first),
  one word ("greece") with six variants close to it, which fills gensim's top-5 window;
- some words are missing (out of vocabulary) and some sit in the last rows (outside a
  restrict_vocab of 2000);
- filler words are spread through the vocabulary.
"""

import gzip
import pathlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[3]
DATA = ROOT / "evaluations" / "data"
OUT = pathlib.Path(__file__).resolve().parent / "structured.txt.gz"
DIM = 16


def main():
    rng = np.random.default_rng(20261126)
    sections, pairs = [], []
    for line in (DATA / "google" / "questions-words.txt").read_text().splitlines():
        if line.startswith(": "):
            sections.append(line[2:].strip())
            continue
        a, b, c, d = line.lower().split()
        pairs.append((len(sections) - 1, a, b))
        pairs.append((len(sections) - 1, c, d))
    pairs = sorted(set(pairs))
    words = sorted({w for _, a, b in pairs for w in (a, b)})
    index = {w: i for i, w in enumerate(words)}
    n = len(words)
    rel = rng.normal(size=(len(sections), DIM))
    base = rng.normal(size=(n, DIM))
    # least squares: v_b - v_a ~ rel_s for each pair, v ~ base (weight lam)
    lam = 0.3
    L = lam * np.eye(n)
    rhs = lam * base
    for s, a, b in pairs:
        i, j = index[a], index[b]
        L[i, i] += 1; L[j, j] += 1; L[i, j] -= 1; L[j, i] -= 1
        rhs[j] += rel[s]
        rhs[i] -= rel[s]
    V = np.linalg.solve(L, rhs) + rng.normal(scale=0.35, size=(n, DIM))
    vocab = dict(zip(words, V))

    # similarity words: each new word leans towards its partner by the human score
    for fname in ("EN-WS-353-ALL.txt", "EN-SIMLEX-999.txt"):
        for line in (DATA / "similarity" / fname).read_text().splitlines():
            w1, w2, score = line.split("\t")
            w1, w2, g = w1.lower(), w2.lower(), float(score) / 10.0
            for w in (w1,):
                if w not in vocab:
                    vocab[w] = rng.normal(size=DIM)
            if w2 not in vocab:
                vocab[w2] = g * vocab[w1] + (1.2 - g) * rng.normal(size=DIM)

    entries = list(vocab.items())
    order = rng.permutation(len(entries))
    entries = [entries[i] for i in order]
    # drop some words (out of vocabulary), move some to the tail
    drop = set(rng.choice(len(entries), size=40, replace=False).tolist())
    kept = [e for i, e in enumerate(entries) if i not in drop]
    tail_idx = set(rng.choice(len(kept), size=60, replace=False).tolist())
    head = [e for i, e in enumerate(kept) if i not in tail_idx]
    tail = [e for i, e in enumerate(kept) if i in tail_idx]
    fillers = [(f"zq{i:03d}", rng.normal(size=DIM)) for i in range(400)]
    rows = []
    fi = iter(fillers)
    for k, e in enumerate(head):
        rows.append(e)
        if k % 6 == 5:
            rows.append(next(fi, None) or e)
    rows = [r for r in rows if r is not None]
    seen = set()
    rows = [r for r in rows if not (r[0] in seen or seen.add(r[0]))]
    # case variants: some later rows, and a capitalised variant before a lower-case word
    present = [w for w, _ in rows if w in index]
    variants = []
    for w in rng.choice(present, size=40, replace=False):
        variants.append((w.capitalize(), vocab[w] + rng.normal(scale=0.5, size=DIM)))
    for w in rng.choice(present, size=10, replace=False):
        variants.append((w.upper(), rng.normal(size=DIM)))
    g = vocab.get("greece")
    if g is not None:
        for v in ("Greece", "GREECE", "GReece", "greecE", "GrEeCe"):
            variants.append((v, g + rng.normal(scale=0.05, size=DIM)))
    names = {w for w, _ in rows}
    variants = [(w, v) for w, v in variants if w not in names]
    mid = len(rows) // 3
    rows = rows[:mid] + variants[:8] + rows[mid:] + variants[8:]
    for w in ("london", "paris"):
        for i, (x, v) in enumerate(rows):
            if x == w:  # capitalised variant first: gensim uses its vector for both
                rows.insert(i, (w.capitalize(), rng.normal(size=DIM)))
                break
    rows += tail
    seen = set()
    rows = [r for r in rows if not (r[0] in seen or seen.add(r[0]))]
    with gzip.open(OUT, "wt", encoding="utf-8") as fh:
        fh.write(f"{len(rows)} {DIM}\n")
        for w, v in rows:
            fh.write(w + " " + " ".join(f"{x:.4f}" for x in v) + "\n")
    print(f"wrote {OUT} ({len(rows)} words, dim {DIM})")


if __name__ == "__main__":
    main()
