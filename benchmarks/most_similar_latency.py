"""most_similar latency, one query at a time: embedkit (default index) against gensim.

One set of 400,000 x 300 vectors (synthetic but clustered: rows scattered around random
centres, so neighbourhoods exist) is handed to both libraries in one run.  Each query is one
vocabulary word, asked alone (``most_similar(word, topn=10)``), as an interactive user or a
service does.  The script prints p50 / p99 latency, the ratio to gensim, and recall@10 of each
answer against the exact top 10 (embedkit without an index, which is exact brute force).

embedkit's default index for 400,000 words is HNSW (``Index(v)``, kind "auto"); it is built
once before timing (its build time is printed, and ``embedkit index build`` saves it beside
the vectors so later sessions open it instead).

Usage::

    python benchmarks/most_similar_latency.py --markdown   # docs/benchmarks/most_similar_latency.md
    python benchmarks/most_similar_latency.py --words 50000 --queries 200   # quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import Report, add_defaults, add_markdown_option  # noqa: E402


def clustered(n, dim, centres, seed):
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim)).astype(np.float32)
    m = c[rng.integers(0, centres, n)]
    m += np.float32(0.9) * rng.standard_normal((n, dim)).astype(np.float32)
    return m


def timed(fn, queries):
    out, lat = [], []
    for q in queries:
        t = time.perf_counter()
        out.append(fn(q))
        lat.append(time.perf_counter() - t)
    return out, np.array(lat)


def recall(results, truth):
    hits = [len({w for w, _ in r} & {w for w, _ in t}) / max(len(t), 1)
            for r, t in zip(results, truth)]
    return float(np.mean(hits))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_defaults(ap, words=400_000, dim=300, centres=4000, queries=500, seed=0)
    add_markdown_option(ap, "docs/benchmarks/most_similar_latency.md")
    args = ap.parse_args(argv)

    import embedkit
    from embedkit.search import Index

    report = Report("most_similar latency, one query at a time: embedkit against gensim")
    words = [f"w{i:07d}" for i in range(args.words)]
    matrix = clustered(args.words, args.dim, args.centres, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    queries = [words[i] for i in rng.choice(args.words, args.queries, replace=False)]
    print(f"{args.words:,} x {args.dim} vectors, {args.queries} queries", flush=True)

    exact = embedkit.Vectors(words, matrix)
    truth, lat_exact = timed(lambda w: exact.most_similar(w, topn=10), queries)

    v = embedkit.Vectors(words, matrix)
    t = time.perf_counter()
    index = Index(v)
    build = time.perf_counter() - t
    v.attach_index(index)
    v.most_similar(queries[0], topn=10)  # first call compiles / warms
    ours, lat_ours = timed(lambda w: v.most_similar(w, topn=10), queries)
    print(f"embedkit ({index.kind}) done; index built in {build:.1f} s", flush=True)

    rows = [[f"embedkit, default index ({index.kind})", lat_ours, recall(ours, truth)],
            ["embedkit, exact (no index)", lat_exact, 1.0]]
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        KeyedVectors = None
    if KeyedVectors is not None:
        kv = KeyedVectors(vector_size=args.dim, count=0, dtype=np.float32)
        kv.add_vectors(words, matrix)
        kv.fill_norms()
        kv.most_similar(queries[0], topn=10)
        theirs, lat_gensim = timed(lambda w: kv.most_similar(w, topn=10), queries)
        rows.append(["gensim KeyedVectors.most_similar", lat_gensim, recall(theirs, truth)])
    else:
        report.note("gensim is not installed: no comparison.")
    ref = np.median(rows[-1][1]) if KeyedVectors is not None else None
    table = []
    for name, lat, rec in rows:
        p50, p99 = np.percentile(lat, 50) * 1e3, np.percentile(lat, 99) * 1e3
        ratio = "" if ref is None else f"{np.median(lat) * 1e3 / (ref * 1e3):.3f}"
        table.append([name, f"{p50:.2f}", f"{p99:.2f}", ratio, f"{rec:.4f}"])
    report.table(f"{args.words:,} x {args.dim} vectors, {args.queries} single-word queries, "
                 "topn=10, one at a time",
                 ["method", "p50 (ms)", "p99 (ms)", "p50 / gensim p50", "recall@10 vs exact"],
                 table)
    report.note(f"embedkit's index was built once before timing in {build:.1f} s "
                f"(kind {index.kind}, parameters {index.params}).  Goal of issue #15: p50 at most "
                "0.2 of gensim's with the default index, recall@10 >= 0.98.  Synthetic vectors: "
                f"{args.centres} random centres, unit-variance noise x 0.9, seed {args.seed}.")
    report.write(args.markdown)


if __name__ == "__main__":
    main()
