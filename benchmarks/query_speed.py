"""Analogy query speed: embedkit (batched, exact and HNSW) versus a loop over gensim's most_similar.

All Google-analogy questions (questions-words.txt, 19,544) are asked of one 100,000 x 300 vector
set, in one run, and the script prints queries/s, ratios to gensim, and recall@1 and recall@10
against exact.

The vector set is synthetic but structured (default): the 905 question words plus filler words,
grouped around 2,000 random centres, with one planted offset per question section (b = a + r +
noise), so analogies have answers and neighbourhoods look like clusters rather than pure noise.
``--vectors PATH`` uses real vectors instead (read with ``embedkit.load``), restricted or padded
with synthetic rows to ``--words``.

Usage::

    python benchmarks/query_speed.py                       # full run (gensim takes minutes)
    python benchmarks/query_speed.py --words 20000 --dim 100 --questions 2000   # quick look
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from _report import Report, add_markdown_option, data_path, timed

DEFAULT_QUESTIONS = data_path("eval/gensim/questions-words.txt")


def read_questions(path):
    sections, questions = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                sections.append(line[1:].strip())
                continue
            parts = line.lower().split()
            if len(parts) == 4:
                questions.append((len(sections) - 1, *parts))
    return sections, questions


def synthetic_vectors(questions, n_words, dim, seed):
    """Clustered vectors with one planted relation offset per section (see module docstring)."""
    rng = np.random.default_rng(seed)
    qwords = sorted({w for q in questions for w in q[1:]})
    words = qwords + [f"filler{i:06d}" for i in range(n_words - len(qwords))]
    order = rng.permutation(len(words))  # question words scattered through the vocabulary
    words = [words[i] for i in order]
    centres = rng.standard_normal((2000, dim)).astype(np.float32)
    m = centres[rng.integers(0, len(centres), n_words)]
    m += np.float32(0.8) * rng.standard_normal((n_words, dim)).astype(np.float32)
    row = {w: i for i, w in enumerate(words)}
    offsets = rng.standard_normal((max(q[0] for q in questions) + 1, dim)).astype(np.float32)
    assigned = set()
    for sec, a, b, c, d in questions:
        for x, y in ((a, b), (c, d)):
            if y in assigned or x == y:
                continue
            noise = np.float32(0.5) * rng.standard_normal(dim).astype(np.float32)
            m[row[y]] = m[row[x]] + offsets[sec] + noise
            assigned.add(y)
    return words, m


def load_real(path, n_words, dim, questions, seed):
    import embedkit

    v = embedkit.load(path, limit=n_words)
    words, m = list(v.words), np.array(v.vectors, dtype=np.float32)
    if len(words) < n_words:  # pad with rows drawn like the real ones
        rng = np.random.default_rng(seed)
        extra = n_words - len(words)
        mu, sd = m.mean(axis=0), m.std(axis=0)
        pad = (mu + sd * rng.standard_normal((extra, m.shape[1]))).astype(np.float32)
        words += [f"pad{i:06d}" for i in range(extra)]
        m = np.vstack([m, pad])
    return words, m


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--questions-file", default=DEFAULT_QUESTIONS,
                   required=DEFAULT_QUESTIONS is None,
                   help="Google analogy questions-words.txt (default: under $EMBEDKIT_BENCH_DATA)")
    add_markdown_option(p, "docs/benchmarks/query_speed.md")
    p.add_argument("--vectors", help="real vectors (embedkit.load) instead of synthetic ones")
    p.add_argument("--words", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--questions", type=int, default=None, help="only the first N questions")
    p.add_argument("--gensim-limit", type=int, default=None,
                   help="time gensim on a seeded sample of N questions (default: all)")
    p.add_argument("-k", type=int, default=1, help="answers per question (both libraries)")
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=80)
    p.add_argument("--ef-search", type=int, nargs="+", default=[16, 32, 64])
    p.add_argument("--clusters", type=int, default=None,
                   help="HNSW k-means cells for locality-ordered batches (default: the "
                        "Index's, min(1024, words // 64); 0: none)")
    p.add_argument("--similar", type=int, default=5000,
                   help="also score `similar` queries: this many seeded vocabulary words, "
                        "their 10 nearest words by HNSW against exact (0: skip)")
    p.add_argument("--unordered", action="store_true",
                   help="also time each HNSW setting with batches in the given order")
    p.add_argument("--repeats", type=int, default=3, help="embedkit runs (median reported)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    report = Report("Analogy and similarity queries: embedkit against gensim")

    import faiss
    from gensim.models import KeyedVectors

    import embedkit
    from embedkit._threads import cpu_count
    from embedkit.search import Index, combination_search

    sections, questions = read_questions(args.questions_file)
    if args.questions:
        questions = questions[:args.questions]
    if args.vectors:
        words, matrix = load_real(args.vectors, args.words, args.dim, questions, args.seed)
        source = f"real vectors {args.vectors}, padded/restricted to {args.words}"
        vocab = set(words)
        questions = [q for q in questions if all(w in vocab for w in q[1:])]
    else:
        words, matrix = synthetic_vectors(questions, args.words, args.dim, args.seed)
        source = "synthetic structured vectors (2,000 clusters, planted section offsets)"
    n, dim = matrix.shape
    v = embedkit.Vectors(words, matrix)
    kv = KeyedVectors(dim)
    kv.add_vectors(words, matrix)
    kv.fill_norms()
    pos = [[b, c] for _, a, b, c, _ in questions]
    neg = [[a] for _, a, b, c, _ in questions]
    answers = np.array([v.key_to_index[d] for *_, d in questions])
    print(f"{len(questions)} questions, {n} words x {dim} dims ({source}); k={args.k}; "
          f"{cpu_count()} CPUs; faiss {faiss.__version__}", flush=True)

    # warm up Numba (compiled once and cached) and BLAS outside the timings
    combination_search(v, pos[:50], neg[:50], k=args.k)

    rows = []
    t_exact, (ex_ids, _) = timed(lambda: combination_search(v, pos, neg, k=args.k), args.repeats)
    rows.append(("embedkit exact (batched)", t_exact, ex_ids))
    # recall@10 (untimed): the exact top 10 of every question, to compare HNSW's against
    ex10 = combination_search(v, pos, neg, k=10)[0]
    recall10 = {"embedkit exact (batched)": 1.0}

    start = time.perf_counter()
    flat = Index(v, "exact")
    build_flat = time.perf_counter() - start
    t_flat, (fl_ids, _) = timed(lambda: _flat_search(v, flat, pos, neg, args.k), args.repeats)
    rows.append(("embedkit Index exact (IndexFlatIP, query vectors)", t_flat, fl_ids))

    start = time.perf_counter()
    hnsw = Index(v, "hnsw", hnsw_m=args.hnsw_m, ef_construction=args.ef_construction,
                 clusters=args.clusters)
    build_hnsw = time.perf_counter() - start
    cells = hnsw.params["clusters"]
    for ef in args.ef_search:
        hnsw.params["ef_search"] = ef
        for ordered in (True, False) if args.unordered and cells else (True,):
            hnsw.locality = ordered
            t, (ids, _) = timed(lambda: combination_search(v, pos, neg, k=args.k, index=hnsw),
                                args.repeats)
            name = (f"embedkit HNSW M={args.hnsw_m} efSearch={ef}"
                    + ("" if not cells else " (locality order)" if ordered else " (given order)"))
            rows.append((name, t, ids))
            hn10 = combination_search(v, pos, neg, k=10, index=hnsw)[0]
            recall10[name] = _recall_at(ex10, hn10)
        hnsw.locality = True
    similar_rows = []
    if args.similar:
        # `embedkit similar`: word queries (points of the data), each word excluded from its list
        rows_q = np.sort(np.random.default_rng(args.seed).choice(n, min(args.similar, n),
                                                                 replace=False))
        wq, wx = v.normalized[rows_q], [[int(r)] for r in rows_q]
        t_ex, (sim_exact, _) = timed(lambda: flat.search(wq, 10, exclude=wx), args.repeats)
        similar_rows.append(("embedkit exact `Index` (IndexFlatIP)", t_ex, 1.0))
        for ef in args.ef_search:
            hnsw.params["ef_search"] = ef
            t, (sim_ids, _) = timed(lambda: hnsw.search(wq, 10, exclude=wx), args.repeats)
            similar_rows.append((f"embedkit HNSW M={args.hnsw_m} efSearch={ef}", t,
                                 _recall_at(sim_exact, sim_ids)))

    # gensim: a loop over most_similar (restrict_vocab=None: the whole vocabulary)
    g_idx = np.arange(len(questions))
    if args.gensim_limit and args.gensim_limit < len(questions):
        g_idx = np.sort(np.random.default_rng(args.seed).choice(len(questions),
                                                              args.gensim_limit, replace=False))
    g_top = []
    start = time.perf_counter()
    for i in g_idx:
        res = kv.most_similar(positive=pos[i], negative=neg[i], topn=args.k)
        g_top.append(kv.key_to_index[res[0][0]])
    t_gensim_sample = time.perf_counter() - start
    gensim_qps = len(g_idx) / t_gensim_sample
    agree = float(np.mean(np.array(g_top) == ex_ids[g_idx, 0]))

    print()
    print(f"gensim {len(g_idx)} questions in {t_gensim_sample:.1f} s; embedkit exact top-1 equals "
          f"gensim's on {agree:.2%} of them")
    print(f"index build: IndexFlatIP {build_flat:.1f} s, HNSW {build_hnsw:.1f} s including "
          f"{cells} k-means cells (once, not in the query times)")
    tbl = []
    tbl.append("| method | time (s) | queries/s | vs gensim | recall@1 vs exact | recall@10 | "
          "analogy accuracy |")
    tbl.append("|---|---:|---:|---:|---:|---:|---:|")
    g_acc = float(np.mean(np.array(g_top) == answers[g_idx]))
    tbl.append(f"| gensim most_similar loop | {len(questions) / gensim_qps:.2f}"
          f"{'*' if len(g_idx) < len(questions) else ''} | {gensim_qps:,.0f} | 1.0x | "
          f"{agree:.4f} | | {g_acc:.3f} |")
    for name, t, ids in rows:
        qps = len(questions) / t
        recall = float(np.mean(ids[:, 0] == ex_ids[:, 0]))
        acc = float(np.mean(ids[:, 0] == answers))
        r10 = f"{recall10[name]:.4f}" if name in recall10 else ""
        tbl.append(f"| {name} | {t:.2f} | {qps:,.0f} | {qps / gensim_qps:.1f}x | {recall:.4f} | "
              f"{r10} | {acc:.3f} |")
    report.lines("All analogy questions (k = %d)" % args.k, tbl)
    if len(g_idx) < len(questions):
        report.note(f"* gensim timed on a seeded sample of {len(g_idx)} questions, scaled to all")
    report.note(f"embedkit times: median of {args.repeats} runs; gensim: one pass")
    if similar_rows:
        report.note(f"`similar` queries: {len(rows_q)} seeded vocabulary words, k=10, the word "
              "itself excluded; recall@10 against exact")
        tbl = ["| method | time (s) | queries/s | recall@10 |"]
        tbl.append("|---|---:|---:|---:|")
        for name, t, r in similar_rows:
            tbl.append(f"| {name} | {t:.3f} | {len(rows_q) / t:,.0f} | {r:.4f} |")
        report.lines("`similar` queries", tbl)
    report.write(args.markdown)
    return 0


def _recall_at(exact_ids, approx_ids):
    """Mean share of each exact top-k list that the approximate top-k list also holds."""
    k = exact_ids.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k
                          for a, b in zip(exact_ids.tolist(), approx_ids.tolist())]))


def _flat_search(v, flat, pos, neg, k):
    """Query vectors through the exact FAISS index (the single-query funnel, batched)."""
    from embedkit.search.batch import _query_vectors

    rows_pos = [[v.key_to_index[w] for w in p] for p in pos]
    rows_neg = [[v.key_to_index[w] for w in m] for m in neg]
    q, _ = _query_vectors(v.normalized, rows_pos, rows_neg)
    return flat.search(q, k, exclude=[a + b for a, b in zip(rows_pos, rows_neg)])


if __name__ == "__main__":
    sys.exit(main())
