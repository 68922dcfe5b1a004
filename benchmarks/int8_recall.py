"""Recall@10 of int8 scalar-quantisation layouts against float32 answers, on big_model's data.

``benchmarks/big_model.py`` measures embedkit's int8 ``.ekv`` (per-row scales) at recall@10
0.98 against float32 answers on its synthetic 3,000,000 x 300 set; the goal was 0.99.  This
script measures, on the same vectors and the same query words, the layouts that could
raise it while staying scalar quantisation (one int8 code per value, plus small per-row or
per-dimension float32 arrays), and, as references, a float32 query against int8 rows and
per-row codes of 9, 10 and 12 bits.

For each layout every candidate row and every query word is encoded and decoded exactly as
a reader would (float32 arithmetic); a query's score for a row is the cosine of the decoded
query with the decoded row (divided by the decoded norms, as embedkit stores them, unless
the layout says otherwise), the query word itself excluded, as in ``most_similar``.  The
top 10 of each layout is taken among the ``--candidates`` best float32 rows of each query:
the script checks, query by query, that no row outside them could have entered the top 10
(the float32 score of the last candidate plus twice the largest error seen stays below
the layout's 10th score) and prints how many queries fail that check (none, or the figures are
marked).  Recall is counted as in big_model.py (shared answers / 10); the first 200
queries are big_model.py's own (same seed), the rest are further seeded words.

    python benchmarks/int8_recall.py --data $SCRATCH --sizes 300000 --queries 400   # quick
    python benchmarks/int8_recall.py --data $SCRATCH --markdown                       # the page

``--data`` is big_model.py's folder: its float32 ``.ekv`` of the same size and seed is
read (memory-mapped); without one, the synthetic matrix is generated there first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import Report, add_markdown_option  # noqa: E402

PAGE = "docs/benchmarks/int8_recall.md"
K = 10
BLOCK = 1 << 15


def open_matrix(data, words, dim, seed):
    """big_model.py's float32 matrix (its ``.ekv`` rows, or the generated raw file)."""
    from big_model import generate

    tag = f"{words}x{dim}-s{seed}"
    ekv = data / f"big-{tag}-float32.ekv" / "vectors.npy"
    raw = data / f"raw-{tag}.npy"
    if not ekv.exists() and not raw.exists():
        print(f"generating {raw} ...", flush=True)
        generate(raw, words, dim, seed)
    return np.load(ekv if ekv.exists() else raw, mmap_mode="r")


def pick_queries(n, count, seed):
    """big_model.py's first 200 query words for ``--words n`` (rows), then more, seeded."""
    bench = np.random.default_rng(seed + 1).choice(n, size=201, replace=False)[1:]
    more = np.random.default_rng([seed, 2]).choice(n, size=count, replace=False)
    more = more[~np.isin(more, bench)]
    return np.concatenate([bench, more])[:max(count, 200)]


def float32_candidates(X, n, qids, qrows, m):
    """Per query the ``m`` best rows by float32 cosine (the query row excluded), best first."""
    qn = qrows / np.linalg.norm(qrows, axis=1)[:, None]
    best_s = np.full((len(qn), m), -np.inf, dtype=np.float32)
    best_i = np.full((len(qn), m), -1, dtype=np.int64)
    rows = np.arange(len(qn))
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        block = np.asarray(X[b0:b1], dtype=np.float32)
        cos = (qn @ block.T) / np.linalg.norm(block, axis=1)
        inside = (qids >= b0) & (qids < b1)
        cos[rows[inside], qids[inside] - b0] = -np.inf
        part = np.argpartition(-cos, m, axis=1)[:, :m]
        s = np.concatenate([best_s, np.take_along_axis(cos, part, 1)], 1)
        i = np.concatenate([best_i, part + b0], 1)
        keep = np.argpartition(-s, m, axis=1)[:, :m]
        best_s, best_i = np.take_along_axis(s, keep, 1), np.take_along_axis(i, keep, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1), np.take_along_axis(best_s, order, 1)


# -- layouts: float32 rows in, decoded float32 rows out ---------------------------------------
def per_row(r, bits=8):
    """Symmetric per-row codes: ``scale = max |x| / L``, ``code = round(x / scale)``."""
    levels = 2 ** (bits - 1) - 1
    top = np.abs(r).max(1)
    s = np.where(top > 0, top / levels, 1).astype(np.float32)
    return np.clip(np.rint(r / s[:, None]), -levels, levels).astype(np.float32), s


def embedkit_row(r, ctx):
    """What ``save(dtype="int8")`` writes (the library's own kernel), decoded."""
    from embedkit._kernels.blockscore import quantize_rows

    codes = np.empty(r.shape, dtype=np.int8)
    s = np.empty(len(r), dtype=np.float32)
    quantize_rows(np.ascontiguousarray(r), codes, s)
    return codes.astype(np.float32) * s[:, None]


def embedkit_dim(r, ctx):
    from embedkit._kernels.blockscore import quantize_columns

    codes = np.empty(r.shape, dtype=np.int8)
    quantize_columns(np.ascontiguousarray(r), ctx["dim_scales"], codes)
    return codes.astype(np.float32) * ctx["dim_scales"]


def bits(b):
    def enc(r, ctx):
        c, s = per_row(r, b)
        return c * s[:, None]
    return enc


def mse_row(r, ctx):
    """Per-row scale chosen among clipping points 0.70 .. 1.00 x max |x| (least squared
    error of the decoded row)."""
    best, err = None, None
    top = np.maximum(np.abs(r).max(1), 1e-30)
    for f in np.linspace(0.7, 1.0, 16):
        s = (f * top / 127).astype(np.float32)
        d = np.clip(np.rint(r / s[:, None]), -127, 127) * s[:, None]
        e = ((d - r) ** 2).sum(1)
        if best is None:
            best, err = d, e
        else:
            take = e < err
            best[take], err[take] = d[take], e[take]
    return best


def offset_row(r, ctx):
    """Per-row offset and scale, 256 levels: ``x = min_r + scale_r * code``."""
    lo, hi = r.min(1), r.max(1)
    s = np.maximum((hi - lo) / 255, 1e-30).astype(np.float32)
    return lo[:, None] + np.clip(np.rint((r - lo[:, None]) / s[:, None]), 0, 255) * s[:, None]


def centred(r, ctx):
    """Per-dimension centring, then per-row codes: ``x = mean + scale_r * code``."""
    c, s = per_row(r - ctx["mean"])
    return ctx["mean"] + c * s[:, None]


def fitted(centres_key):
    """``x = a_r * centre + s_r * code``: codes of the row less its projection on its centre,
    then ``a_r, s_r`` refitted by least squares (the error is orthogonal to the centre)."""
    def enc(r, ctx):
        cen = ctx[centres_key]
        which = np.zeros(len(r), dtype=np.int64) if len(cen) == 1 else nearest(r, cen)
        c0 = cen[which]
        g11 = (c0 * c0).sum(1)
        a0 = (r * c0).sum(1) / np.maximum(g11, 1e-30)
        codes, s0 = per_row(r - a0[:, None] * c0)
        g12, g22 = (c0 * codes).sum(1), (codes * codes).sum(1)
        b1, b2 = (r * c0).sum(1), (r * codes).sum(1)
        det = g11 * g22 - g12 * g12
        ok = det > 1e-6 * np.maximum(g11 * g22, 1e-30)
        det = np.where(ok, det, 1)
        a = np.where(ok, (g22 * b1 - g12 * b2) / det, a0)
        s = np.where(ok, (g11 * b2 - g12 * b1) / det, s0)
        return a[:, None] * c0 + s[:, None] * codes
    return enc


def residual(r, ctx):
    """Residual to the nearest of 256 k-means centres: ``x = centre + scale_r * code``."""
    cen = ctx["centres"]
    c0 = cen[nearest(r, cen)]
    c, s = per_row(r - c0)
    return c0 + c * s[:, None]


def nearest(r, centres):
    return np.argmax(r @ centres.T - 0.5 * (centres * centres).sum(1), axis=1)


def kmeans(X, n, k, seed, sample=65536, iters=10):
    """Plain Lloyd iterations on a seeded sample of the first ``n`` rows."""
    rng = np.random.default_rng(seed)
    rows = np.asarray(X[np.sort(rng.choice(n, size=min(n, sample), replace=False))],
                      dtype=np.float32)
    centres = rows[rng.choice(len(rows), size=k, replace=False)].copy()
    for _ in range(iters):
        which = nearest(rows, centres)
        for j in range(k):
            mine = which == j
            if mine.any():
                centres[j] = rows[mine].mean(0)
    return centres


def column_stats(X, n):
    """Per-dimension mean and max |x| of the first ``n`` rows (streamed)."""
    total = np.zeros(X.shape[1], dtype=np.float64)
    top = np.zeros(X.shape[1], dtype=np.float32)
    for b0 in range(0, n, 1 << 17):
        block = np.asarray(X[b0:min(n, b0 + (1 << 17))], dtype=np.float32)
        total += block.sum(0, dtype=np.float64)
        np.maximum(top, np.abs(block).max(0), out=top)
    return (total / n).astype(np.float32)[None, :], np.where(top > 0, top / 127, 1).astype(
        np.float32)


#: name, encoder, bytes per value, notes: exact norms? float32 query?
LAYOUTS = [
    ("float16 (embedkit)", lambda r, c: r.astype(np.float16).astype(np.float32), 2, {}),
    ("int8 per-row scale (embedkit, max abs)", embedkit_row, 1, {}),
    ("int8 per-row, exact float32 norms", embedkit_row, 1, {"exact_norms": True}),
    ("int8 per-row, float32 query", embedkit_row, 1, {"float_query": True}),
    ("int8 per-dimension scale (embedkit)", embedkit_dim, 1, {}),
    ("int8 per-row MSE-optimal scale (clipping)", mse_row, 1, {}),
    ("int8 per-row scale + offset (256 levels)", offset_row, 1, {}),
    ("int8 per-row scale + offset, float32 query", offset_row, 1, {"float_query": True}),
    ("int8 per-dimension centring + per-row scale", centred, 1, {}),
    ("int8 centring, per-row coefficient + scale (least squares)", fitted("mean"), 1, {}),
    ("int8 residual to 256 k-means centres + per-row scale", residual, 1, {}),
    ("int8 per-row coefficient on its k-means centre + scale", fitted("centres"), 1, {}),
    ("9-bit per-row codes (reference)", bits(9), 9 / 8, {}),
    ("10-bit per-row codes (reference)", bits(10), 10 / 8, {}),
    ("12-bit per-row codes (reference)", bits(12), 12 / 8, {}),
]


def evaluate(enc, opts, ctx, qrows, cand_rows, pos, true_ids, true_s, m_last):
    """Recall@10 per query, the RMS cosine error on the true top 10, and whether the top 10
    among the candidates is provably the top 10 over all rows."""
    dq = enc(qrows, ctx).astype(np.float32)
    dc = enc(cand_rows, ctx).astype(np.float32)
    nc = np.linalg.norm(cand_rows if opts.get("exact_norms") else dc, axis=1)
    nq = np.linalg.norm(qrows if opts.get("exact_norms") else dq, axis=1)
    q = (qrows if opts.get("float_query") else dq) / (
        np.linalg.norm(qrows, axis=1) if opts.get("float_query") else nq)[:, None]
    scores = np.einsum("qd,qmd->qm", q, dc[pos]) / nc[pos]
    err = scores - true_s
    order = np.argsort(-scores, axis=1, kind="stable")[:, :K]
    got = np.take_along_axis(true_ids, order, 1)
    hits = np.array([len(set(a) & set(b)) for a, b in zip(got, true_ids[:, :K])]) / K
    tenth = np.take_along_axis(scores, order[:, K - 1:K], 1)[:, 0]
    unsure = int((m_last + 2 * np.abs(err).max() >= tenth).sum())
    return hits, float(np.sqrt((err[:, :K] ** 2).mean())), unsure


def run_size(X, n, args, report):
    t0 = time.perf_counter()
    qids = pick_queries(n, args.queries, args.seed)
    qrows = np.asarray(X[qids], dtype=np.float32)
    true_ids, true_s = float32_candidates(X, n, qids, qrows, args.candidates)
    uniq, pos = np.unique(true_ids, return_inverse=True)
    pos = pos.reshape(true_ids.shape)
    cand_rows = np.asarray(X[uniq], dtype=np.float32)
    mean, dim_scales = column_stats(X, n)
    ctx = {"mean": mean, "dim_scales": dim_scales,
           "centres": kmeans(X, n, 256, args.seed)}
    print(f"{n:,} rows: float32 pass, statistics and k-means "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    gaps = true_s[:, K - 1] - true_s[:, K]
    rows = []
    for name, enc, nbytes, opts in LAYOUTS:
        hits, rms, unsure = evaluate(enc, opts, ctx, qrows, cand_rows, pos, true_ids,
                                     true_s, true_s[:, -1])
        rows.append([name, nbytes, round(float(hits[:200].mean()), 4),
                     round(float(hits.mean()), 4), f"{rms:.2e}", unsure])
        print(f"  {rows[-1]}", flush=True)
    report.table(
        f"{n:,} x {X.shape[1]} rows: recall@10 against float32 answers ({len(qids)} "
        f"query words; median float32 gap between the 10th and 11th cosine "
        f"{np.median(gaps):.1e})",
        ["layout", "bytes per value", "recall@10, big_model.py's 200 queries",
         f"recall@10, all {len(qids)} queries", "RMS cosine error (true top 10)",
         "queries whose top 10 could lie outside the candidates"], rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True,
                    help="big_model.py's folder (its float32 .ekv is read, or the matrix made)")
    ap.add_argument("--words", type=int, default=3_000_000, help="big_model.py's --words")
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sizes", default="300000,3000000",
                    help="rows measured (first rows of the matrix, as big_model.py --words N "
                         "would generate them) [300000,3000000]")
    ap.add_argument("--queries", type=int, default=1000, help="query words per size [1000]")
    ap.add_argument("--candidates", type=int, default=256,
                    help="float32 candidates per query the layouts re-rank [256]")
    add_markdown_option(ap, PAGE)
    args = ap.parse_args(argv)
    report = Report("int8 storage: recall@10 of scalar-quantisation layouts against float32")
    data = report.scratch_folder(args.data)
    X = open_matrix(data, args.words, args.dim, args.seed)
    for n in (int(s) for s in args.sizes.split(",")):
        run_size(X, min(n, len(X)), args, report)
    report.note(
        "The synthetic vectors are big_model.py's (rows around 4,000 Zipf-sized centres, "
        "log-normal lengths); the first N rows of the 3,000,000 are what big_model.py "
        "--words N generates. Per-row codes are symmetric (-L .. L, L = 2^(bits-1) - 1, "
        "scale max |x| / L); decoded norms are the norms of the decoded rows (what embedkit "
        "stores), exact norms those of the float32 rows. k-means: 10 Lloyd iterations on "
        "65,536 seeded rows. 'float32 query' scores the query word's float32 row against "
        "the decoded rows: an int8 file does not hold it, so it only bounds what asymmetric "
        "scoring could give. The RMS cosine error is over the true top 10 of every query.")
    report.write(args.markdown)


if __name__ == "__main__":
    main()
