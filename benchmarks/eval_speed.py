"""Google analogy evaluation: embedkit versus gensim in one run, plus agreement on real vectors.

1. Speed: the full Google set (19,544 questions) on a 100,000-word, 300-dim vector set
   (restrict_vocab 30,000 as in the issue; Google words structured so answers are partly
   right), timed for embedkit (median of --repeats) and gensim's evaluate_word_analogies
   (median of --gensim-repeats), with the per-section counts compared.
2. Agreement on real vectors: gensim Word2Vec trained on a slice of a corpus (cached), then
   Google accuracy and per-section counts, WordSim-353 and SimLex-999 rho from both.

    .venv/bin/python benchmarks/eval_speed.py
    .venv/bin/python benchmarks/eval_speed.py --skip-real --repeats 1      # quick
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import logging
import os
import pathlib
import tempfile
import time

import numpy as np

from embedkit.evaluation import (dataset_path, evaluate_analogies, evaluate_similarity,
                                 load_dataset)
from embedkit.vectors import Vectors

from _report import Report, add_defaults, add_markdown_option, data_path, timed



def structured_vectors(n_words, dim, seed=0, noise=1.0):
    """Google words first (offset structure + noise), then random filler words."""
    rng = np.random.default_rng(seed)
    ds = load_dataset("google")
    words, index = [], {}
    pairs = []
    for i in range(len(ds)):
        s = int(ds.section[i])
        for x, y in ((ds.a[i][0], ds.b[i][0]), (ds.c[i][0], ds.d[i][0])):
            x, y = x.lower(), y.lower()
            for w in (x, y):
                if w not in index:
                    index[w] = len(words)
                    words.append(w)
            pairs.append((s, index[x], index[y]))
    pairs = sorted(set(pairs))
    k = len(words)
    rel = rng.normal(size=(len(ds.section_names), dim))
    lam = 0.3
    L = lam * np.eye(k)
    rhs = lam * rng.normal(size=(k, dim))
    for s, i, j in pairs:
        L[i, i] += 1; L[j, j] += 1; L[i, j] -= 1; L[j, i] -= 1
        rhs[j] += rel[s]; rhs[i] -= rel[s]
    head = np.linalg.solve(L, rhs) + rng.normal(scale=noise, size=(k, dim))
    head *= np.sqrt(dim) / np.linalg.norm(head, axis=1, keepdims=True).mean()
    tail = rng.normal(size=(n_words - k, dim))
    # interleave the Google words over the first 30 % of the vocabulary
    order = np.concatenate([rng.permutation(np.arange(int(n_words * 0.3))),
                            np.arange(int(n_words * 0.3), n_words)])
    mat = np.empty((n_words, dim), dtype=np.float32)
    names = [None] * n_words
    pos = np.sort(order[:int(n_words * 0.3)][:k])
    filler = (f"w{i}" for i in itertools.count())
    taken = set(pos.tolist())
    for w, p, v in zip(words, pos, head):
        names[p] = w
        mat[p] = v
    t = 0
    for p in range(n_words):
        if p not in taken:
            names[p] = next(filler)
            mat[p] = tail[t]
            t += 1
    return names, mat


def gensim_kv(words, mat):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(mat.shape[1])
    kv.add_vectors(words, mat)
    return kv


def section_counts_gensim(sections):
    return [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections[:-1]]


def section_counts_ek(res):
    ds = res.dataset
    out = []
    for sid, name in enumerate(ds.section_names):
        m = ds.section == sid
        c = int(res.correct[m].sum())
        out.append((name, c, int(res.covered[m].sum()) - c))
    return out


def speed(args, report):
    print(f"## Speed: Google analogy, {args.words:,} words x {args.dim} dims, "
          f"restrict_vocab {args.restrict:,}")
    words, mat = structured_vectors(args.words, args.dim)
    v = Vectors(words, mat)
    kv = gensim_kv(words, mat)
    ds = load_dataset("google")
    v.normalized  # both sides get their norms ahead of the clock
    kv.fill_norms()
    evaluate_analogies(v, ds, restrict_vocab=args.restrict)  # Numba compile / cache load
    t_ek, res = timed(lambda: evaluate_analogies(v, ds, restrict_vocab=args.restrict),
                      args.repeats)
    t_mul, res_mul = timed(lambda: evaluate_analogies(v, ds, method="3cosmul",
                                                      restrict_vocab=args.restrict), args.repeats)
    path = str(dataset_path("google"))
    t_gs, (score, sections) = timed(
        lambda: kv.evaluate_word_analogies(path, restrict_vocab=args.restrict), args.gensim_repeats)
    same = section_counts_ek(res) == section_counts_gensim(sections)
    tbl = ["| implementation | time (s, median) | questions/s | accuracy | covered | vs gensim |"]
    tbl.append("|---|---|---|---|---|---|")
    tbl.append(f"| gensim 4.4 evaluate_word_analogies (3CosAdd) | {t_gs:.2f} | {res.n / t_gs:,.0f} | "
          f"{score:.4f} | {sum(len(s['correct']) + len(s['incorrect']) for s in sections[:-1]):,} | 1.0x |")
    tbl.append(f"| embedkit evaluate_analogies 3CosAdd | {t_ek:.2f} | {res.n / t_ek:,.0f} | "
          f"{res.accuracy:.4f} | {res.n_covered:,} | {t_gs / t_ek:.1f}x |")
    tbl.append(f"| embedkit evaluate_analogies 3CosMul | {t_mul:.2f} | {res.n / t_mul:,.0f} | "
          f"{res_mul.accuracy:.4f} | {res_mul.n_covered:,} | {t_gs / t_mul:.1f}x |")
    report.lines("Speed: the full Google set on structured random vectors", tbl)
    report.note(f"per-section counts identical to gensim: {same}; accuracy equal: "
          f"{res.accuracy == score}; near ties re-scored exactly: {res.n_exact}")
    report.note(f"(embedkit repeats {args.repeats}, gensim repeats {args.gensim_repeats}, "
          f"{os.cpu_count()} CPUs)")


def train_real(args):
    from gensim.models import Word2Vec

    cache = pathlib.Path(args.cache)
    if cache.exists():
        return cache
    corpus = pathlib.Path(args.corpus or "")
    if not args.corpus or not corpus.exists():
        raise SystemExit(f"corpus {corpus} not found: pass --corpus or --skip-real")
    tmp = pathlib.Path(tempfile.mkdtemp()) / "slice.txt"
    n = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as fin, open(tmp, "w") as fout:
        for line in fin:
            fout.write(line)
            n += len(line.split())
            if n >= args.tokens:
                break
    print(f"training gensim Word2Vec on {n:,} tokens of {corpus.name} "
          f"(dim {args.real_dim}, {args.epochs} epochs, min_count 5)...", flush=True)
    t = time.perf_counter()
    model = Word2Vec(corpus_file=str(tmp), vector_size=args.real_dim, window=5, negative=5,
                     min_count=5, sg=1, epochs=args.epochs, workers=os.cpu_count() or 1, seed=1)
    print(f"trained in {time.perf_counter() - t:.0f} s, {len(model.wv):,} words")
    cache.parent.mkdir(parents=True, exist_ok=True)
    model.wv.save_word2vec_format(str(cache), binary=True)
    return cache


def real(args, report):
    from gensim.models import KeyedVectors

    path = pathlib.Path(args.vectors) if args.vectors else train_real(args)
    kv = KeyedVectors.load_word2vec_format(str(path), binary=path.suffix == ".bin")
    v = Vectors(kv.index_to_key, kv.vectors)
    ds = load_dataset("google")
    evaluate_analogies(v, ds, restrict_vocab=args.restrict)
    t_ek, res = timed(lambda: evaluate_analogies(v, ds, restrict_vocab=args.restrict),
                      args.repeats)
    t_gs, (score, sections) = timed(lambda: kv.evaluate_word_analogies(
        str(dataset_path("google")), restrict_vocab=args.restrict), 1)
    tbl = ["| measure | gensim 4.4 | embedkit | equal |"]
    tbl.append("|---|---|---|---|")
    n_g = sum(len(s["correct"]) + len(s["incorrect"]) for s in sections[:-1])
    c_g = sum(len(s["correct"]) for s in sections[:-1])
    tbl.append(f"| Google accuracy (3CosAdd, restrict_vocab {args.restrict:,}) | {score:.4f} "
          f"({c_g:,}/{n_g:,}) | {res.accuracy:.4f} ({res.n_correct:,}/{res.n_covered:,}) | "
          f"{score == res.accuracy} |")
    tbl.append(f"| Google per-section counts (14 sections) | | | "
          f"{section_counts_ek(res) == section_counts_gensim(sections)} |")
    for name in ("ws353", "simlex999"):
        pe, sp, oov = kv.evaluate_word_pairs(str(dataset_path(name)))
        r = evaluate_similarity(v, name)
        tbl.append(f"| {name} Spearman rho (OOV {oov:.1f} %) | {sp[0]:.6f} | {r.spearman:.6f} | "
              f"{sp[0] == r.spearman} |")
        tbl.append(f"| {name} Pearson r | {pe[0]:.6f} | {r.pearson:.6f} | {pe[0] == r.pearson} |")
    tbl.append(f"| Google time (s) | {t_gs:.2f} | {t_ek:.2f} | {t_gs / t_ek:.1f}x faster |")

    report.lines(f"Agreement on real vectors: {path.name} ({len(v):,} words, dim {v.dim})", tbl)

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_defaults(p, words=100_000, dim=300, restrict=30_000, repeats=3, gensim_repeats=1)
    p.add_argument("--skip-speed", action="store_true")
    p.add_argument("--skip-real", action="store_true")
    p.add_argument("--vectors", help="real vectors (word2vec binary) instead of training")
    p.add_argument("--corpus", default=data_path("corpora/gutenberg_mix_norm.txt.gz"),
                   help="corpus for the real vectors (default: under $EMBEDKIT_BENCH_DATA)")
    add_defaults(p, tokens=5_000_000, real_dim=100, epochs=3)
    p.add_argument("--cache", default=str(pathlib.Path(tempfile.gettempdir()) /
                                          "embedkit_bench" / "gensim_w2v_slice.bin"))
    add_markdown_option(p, "docs/benchmarks/eval_speed.md")
    args = p.parse_args()
    report = Report("Analogy and similarity evaluation: embedkit against gensim")
    logging.basicConfig(level=logging.WARNING)
    if not args.skip_speed:
        speed(args, report)
    if not args.skip_real:
        real(args, report)
    report.write(args.markdown)


if __name__ == "__main__":
    main()
