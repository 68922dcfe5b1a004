"""Big models on small machines: querying a 3,000,000 x 300 model without copying its matrix.

Writes a synthetic vocabulary (seeded, clustered like real word vectors: rows around a few
thousand centres, Zipf-sized clusters, log-normal lengths) once into ``--data`` as native
``.ekv`` (float32, float16, int8 with per-row scales), as word2vec binary, and as gensim's
own ``KeyedVectors.save`` format; builds the default index (``kind="auto"``) beside the
float32 ``.ekv``.  Then each configuration runs in a fresh child process:

- embedkit ``load`` of each ``.ekv``, ``most_similar`` brute force;
- embedkit float32 with the default index saved beside it (opened memory-mapped);
- gensim ``KeyedVectors.load_word2vec_format`` of the binary, then ``most_similar``;
- gensim ``KeyedVectors.load(..., mmap="r")``, then ``most_similar``.

Each child first imports its library and opens and queries a tiny file of the same kind
(so Numba's cached kernels and gensim's imports are loaded, as in any session that has
queried once), resets its peak-memory counter, then measures: the open time, the first
query's time, each of ``--queries`` ``most_similar(word, topn=10)`` calls (p50, p99), and the
peak resident memory above the baseline (``VmHWM`` after ``clear_refs``; pages of a mapped
file count when touched) as a multiple of the float32 matrix.  Recall@10 of float16, int8
and the index is measured against the float32 brute-force answers; gensim's answers are
checked against them too.

    python benchmarks/big_model.py --data $SCRATCH --words 400000   # development
    python benchmarks/big_model.py --data $SCRATCH --markdown        # the full run

``$SCRATCH`` is any folder outside the repository with about 15 GB free (the page's command
line shows ``$SCRATCH``, not the folder given).  The data files are made once and reused
(their names carry the size and seed).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import Report, add_defaults, add_markdown_option  # noqa: E402

PAGE = "docs/benchmarks/big_model.md"
TINY_WORDS = 2000

CHILD = r"""
import json, os, sys, time
import numpy as np
config, path, tiny, queries_file, answers_file = sys.argv[1:6]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

if config == "paired":
    import embedkit
    from gensim.models import KeyedVectors
    ek_path, gs_path = path.split("::")
    ek_tiny, gs_tiny = tiny.split("::")
    words = json.load(open(queries_file))
    for p_ek, p_gs in ((ek_tiny, gs_tiny), (ek_path, gs_path)):
        ek = embedkit.load(p_ek)
        gs = KeyedVectors.load(p_gs, mmap="r")
        ek.most_similar(words[0], topn=10) if p_ek == ek_path else ek.most_similar("w1")
        gs.most_similar(words[0], topn=10) if p_gs == gs_path else gs.most_similar("w1")
    times = {"embedkit": [], "gensim": []}
    for i, w in enumerate(words[1:]):
        pair = (("embedkit", ek), ("gensim", gs)) if i % 2 == 0 else (("gensim", gs),
                                                                       ("embedkit", ek))
        for name, v in pair:
            t0 = time.perf_counter()
            v.most_similar(w, topn=10)
            times[name].append(time.perf_counter() - t0)
    ratios = np.array(times["gensim"]) / np.array(times["embedkit"])
    print(json.dumps({"queries": len(times["embedkit"]),
                      "p50_embedkit": float(np.median(times["embedkit"])),
                      "p50_gensim": float(np.median(times["gensim"])),
                      "median_ratio": float(np.median(ratios))}))
    sys.exit(0)

if config.startswith("gensim"):
    from gensim.models import KeyedVectors
    if config == "gensim-w2v":
        open_ = lambda p: KeyedVectors.load_word2vec_format(p, binary=True)
    else:
        open_ = lambda p: KeyedVectors.load(p, mmap="r")
    query = lambda v, w: v.most_similar(w, topn=10)
else:
    import embedkit
    from embedkit.search import Index
    def open_(p):
        v = embedkit.load(p)
        if config.endswith("index"):
            v.attach_index(Index.open(v, p, save=False))
        return v
    query = lambda v, w: v.most_similar(w, topn=10)

words = json.load(open(queries_file))
t = open_(tiny)          # warm: imports, Numba's cached kernels, FAISS
query(t, "w1")
del t
with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current RSS
    f.write("5")
base = rss()
t0 = time.perf_counter()
v = open_(path)
opened = time.perf_counter() - t0
t0, c0 = time.perf_counter(), time.process_time()
query(v, words[0])
first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
times, cpu, answers = [], [], []
for w in words[1:]:
    t0, c0 = time.perf_counter(), time.process_time()
    res = query(v, w)
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    answers.append([int(x[1:]) for x, _ in res])
peak = hwm()
np.save(answers_file, np.array(answers, dtype=np.int64))
print(json.dumps({"open": opened, "first": first, "first_cpu": first_cpu,
                  "p50_cpu": float(np.percentile(cpu, 50)),
                  "p50": float(np.percentile(times, 50)),
                  "p99": float(np.percentile(times, 99)), "extra": peak - base,
                  "queries": len(times)}))
"""


def words_of(n):
    return [f"w{i}" for i in range(n)]


def clustered_block(rng, centres, sizes_cdf, rows, dim):
    """``rows`` vectors: a centre (Zipf-sized clusters) plus noise, log-normal lengths."""
    which = np.searchsorted(sizes_cdf, rng.random(rows))
    x = centres[which] + rng.standard_normal((rows, dim), dtype=np.float32)
    x *= rng.lognormal(0.0, 0.35, (rows, 1)).astype(np.float32) / np.sqrt(dim, dtype=np.float32)
    return x


def generate(raw_path, n, dim, seed):
    """Write the synthetic float32 matrix, block by block (never whole in memory)."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    n_centres = 4000
    centres = (rng.standard_normal((n_centres, dim)) * 0.9).astype(np.float32)
    sizes = 1.0 / np.arange(1, n_centres + 1) ** 0.8
    cdf = np.cumsum(sizes) / sizes.sum()
    tmp = raw_path.with_name(raw_path.name + ".part.npy")
    out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, dim))
    step = 1 << 16
    for b, x0 in enumerate(range(0, n, step)):
        x1 = min(n, x0 + step)
        out[x0:x1] = clustered_block(np.random.default_rng([seed, b]), centres, cdf, x1 - x0, dim)
    out.flush()
    del out
    os.replace(tmp, raw_path)


def save_gensim(words, matrix, path):
    """gensim's own format (pickle + a separate .npy), for ``KeyedVectors.load(mmap="r")``."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(matrix.shape[1], count=0)
    kv.index_to_key = list(words)
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.vectors = matrix
    kv.save(str(path))


def prepare(args, data):
    """Make every file once (names carry the size and seed); returns the paths."""
    import embedkit
    from embedkit.search import Index

    tag = f"{args.words}x{args.dim}-s{args.seed}"
    p = {"raw": data / f"raw-{tag}.npy", "f32": data / f"big-{tag}-float32.ekv",
         "f16": data / f"big-{tag}-float16.ekv", "int8": data / f"big-{tag}-int8.ekv",
         "bin": data / f"big-{tag}.bin", "gensim": data / f"big-{tag}.kv"}
    tiny = {k: data / f"tiny-{args.dim}-{k}{v.suffix}" for k, v in p.items() if k != "raw"}
    made = {}
    if not p["f32"].exists():
        t = time.perf_counter()
        if not p["raw"].exists():
            generate(p["raw"], args.words, args.dim, args.seed)
        raw = np.load(p["raw"], mmap_mode="r")
        embedkit.Vectors(words_of(args.words), raw).save(p["f32"])
        made["generate + float32 .ekv"] = time.perf_counter() - t
    v = embedkit.load(p["f32"])
    for key, dtype in (("f16", "float16"), ("int8", "int8")):
        if not p[key].exists():
            t = time.perf_counter()
            v.save(p[key], dtype=dtype)
            made[f"{dtype} .ekv"] = time.perf_counter() - t
    if not p["bin"].exists():
        t = time.perf_counter()
        v.save(p["bin"])
        made["word2vec binary"] = time.perf_counter() - t
    if not p["gensim"].exists():
        t = time.perf_counter()
        save_gensim(v.words, v.vectors, p["gensim"])
        made["gensim KeyedVectors.save"] = time.perf_counter() - t
    if p["raw"].exists():
        os.remove(p["raw"])
    small = embedkit.Vectors(words_of(TINY_WORDS), np.load(p["f32"] / "vectors.npy",
                                                           mmap_mode="r")[:TINY_WORDS])
    for key, path in tiny.items():
        if not path.exists():
            if key == "gensim":
                save_gensim(small.words, np.ascontiguousarray(small.vectors), path)
            else:
                small.save(path, **({"dtype": {"f16": "float16", "int8": "int8"}[key]}
                                    if key in ("f16", "int8") else {}))
    if not args.no_index:
        from embedkit.search.store import index_paths

        from embedkit.search.index import resolve_kind
        from embedkit.search.store import read_json

        for path, vecs in ((p["f32"], v), (tiny["f32"], None)):
            meta = read_json(index_paths(path)[1]) or {}
            vecs = vecs if vecs is not None else embedkit.load(path)
            if meta.get("kind") != resolve_kind(args.index_kind, len(vecs)):
                t = time.perf_counter()
                params = index_params(args.index_params) if path == p["f32"] else {}
                Index(vecs, resolve_kind(args.index_kind, len(vecs)), **params).save(path)
                if path == p["f32"]:
                    made[f"{args.index_kind} index (build + save)"] = time.perf_counter() - t
    return p, tiny, made


def warm_page_cache(paths):
    """Read files once (64 MB at a time) so that their pages are in the page cache, as
    after any earlier use of the file; returns the seconds it took."""
    t = time.perf_counter()
    for path in paths:
        path = pathlib.Path(path)
        files = sorted(f for f in path.iterdir() if f.is_file()) if path.is_dir() else [path]
        for f in files:
            with open(f, "rb", buffering=0) as fh:
                while fh.read(64 << 20):
                    pass
    return time.perf_counter() - t


def cache_files(config, p):
    """The data files a configuration reads (warmed before its child starts)."""
    source = CONFIGS[config][0]
    out = [p[source]]
    if source == "gensim":
        out.append(p["gensim"].with_name(p["gensim"].name + ".vectors.npy"))
    if config.endswith("index"):
        from embedkit.search.store import index_paths

        out.append(index_paths(p[source])[0])
    return out


def index_params(text):
    """``"nlist=1024,train_size=65536"`` -> ``{"nlist": 1024, "train_size": 65536}``."""
    out = {}
    for item in filter(None, (text or "").split(",")):
        key, _, value = item.partition("=")
        out[key.strip()] = int(value)
    return out


def run_child(config, path, tiny, queries_file, answers_file):
    out = subprocess.run([sys.executable, "-c", CHILD, config, str(path), str(tiny),
                          str(queries_file), str(answers_file)],
                         capture_output=True, text=True)
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"{config} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def recall(got, ref):
    hits = sum(len(set(a) & set(b)) for a, b in zip(got, ref))
    return hits / max(1, sum(len(b) for b in ref))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder for the generated files (outside the "
                                                   "repository; several GB at full size)")
    add_defaults(ap, words=3_000_000, dim=300, seed=0)
    ap.add_argument("--queries", type=int, default=1000,
                    help="timed most_similar queries per configuration [1000]")
    ap.add_argument("--brute-queries", type=int, default=None,
                    help="fewer queries for the brute-force configurations (each reads the "
                         "whole matrix) [--queries]")
    ap.add_argument("--configs", default="all",
                    help="comma-separated subset of: " + ", ".join(CONFIGS))
    ap.add_argument("--no-index", action="store_true", help="skip the index configuration")
    ap.add_argument("--paired-queries", type=int, default=0,
                    help="also time embedkit-float32 and gensim-mmap in one process, "
                         "alternating on each of this many queries [0: skip]")
    ap.add_argument("--index-kind", default="auto", choices=["auto", "exact", "hnsw", "ivfpq"],
                    help="kind of the index built beside the float32 .ekv [auto: the default, "
                         "HNSW from 200,000 words]")
    ap.add_argument("--index-params", default="",
                    help="parameters of the index built beside the big float32 .ekv, e.g. "
                         "'nlist=1024,train_size=65536' for ivfpq [the kind's defaults]")
    ap.add_argument("--prepare-only", action="store_true",
                    help="make the data files (and the index), measure nothing")
    add_markdown_option(ap, PAGE)
    args = ap.parse_args(argv)
    report = Report("Big models: querying a memory-mapped model without copying its matrix")
    data = report.scratch_folder(args.data)
    p, tiny, made = prepare(args, data)
    if made:
        report.table("Files made in this run (once; reused afterwards)", ["file", "seconds"],
                     [[k, round(s, 1)] for k, s in made.items()])
    if args.prepare_only:
        return
    configs = list(CONFIGS) if args.configs == "all" else args.configs.split(",")
    if args.no_index:
        configs = [c for c in configs if c != "embedkit-float32-index"]
    n_brute = args.brute_queries or args.queries
    rng = np.random.default_rng(args.seed + 1)
    picks = rng.choice(args.words, size=max(args.queries, n_brute) + 1, replace=False)
    results, answers = {}, {}
    matrix_bytes = 4 * args.words * args.dim
    for config in configs:
        source, tiny_key, brute = CONFIGS[config]
        count = n_brute if brute else args.queries
        qfile = data / f"queries-{config}.json"
        qfile.write_text(json.dumps([f"w{i}" for i in picks[:count + 1]]))
        afile = data / f"answers-{config}.npy"
        print(f"{config}: {count} queries ...", flush=True)
        warm = warm_page_cache(cache_files(config, p))
        results[config] = run_child(config, p[source], tiny[tiny_key], qfile, afile)
        results[config]["load"] = os.getloadavg()[0]
        results[config]["warm"] = warm
        answers[config] = np.load(afile)
        print(f"  {results[config]}", flush=True)
    paired = None
    if args.paired_queries:
        qfile = data / "queries-paired.json"
        qfile.write_text(json.dumps([f"w{i}" for i in picks[:args.paired_queries + 1]]))
        print(f"paired embedkit-float32 / gensim-mmap: {args.paired_queries} queries ...",
              flush=True)
        warm_page_cache([p["f32"], p["gensim"].with_name(p["gensim"].name + ".vectors.npy")])
        paired = run_child("paired", f"{p['f32']}::{p['gensim']}",
                           f"{tiny['f32']}::{tiny['gensim']}", qfile, data / "unused.npy")
        paired["load"] = os.getloadavg()[0]
        print(f"  {paired}", flush=True)
    ref = answers.get("embedkit-float32")
    rows = []
    for config, r in results.items():
        rec = ""
        if ref is not None and config != "embedkit-float32":
            m = min(len(ref), len(answers[config]))
            rec = round(recall(answers[config][:m], ref[:m]), 4)
        rows.append([config, r["queries"], round(r["open"], 3), round(r["first"], 3),
                     round(r["first_cpu"], 3), round(1000 * r["p50"], 1),
                     round(1000 * r["p50_cpu"], 1), round(1000 * r["p99"], 1),
                     round(r["extra"] / 2**20), round(r["extra"] / matrix_bytes, 3), rec,
                     round(r["load"], 1)])
    report.table(
        f"{args.words:,} x {args.dim} synthetic vectors (float32 matrix "
        f"{matrix_bytes / 2**30:.2f} GiB), most_similar(word, topn=10)",
        ["configuration", "queries", "open s", "first query s", "first query CPU s",
         "p50 ms", "p50 CPU ms", "p99 ms",
         "peak RSS above baseline MiB", "x float32 matrix", "recall@10 vs float32 brute",
         "load avg (1 min) after"], rows)
    ratios = []
    if "embedkit-float32" in results:
        ek = results["embedkit-float32"]
        for g in ("gensim-w2v", "gensim-mmap"):
            if g in results:
                ratios.append([f"{g} / embedkit-float32", round(results[g]["p50"] / ek["p50"], 2),
                               round(results[g]["extra"] / max(ek["extra"], 1), 2),
                               round((results[g]["open"] + results[g]["first"])
                                     / (ek["open"] + ek["first"]), 2)])
    if ratios:
        report.table("Side by side (same run): ratios above 1 favour embedkit",
                     ["pair", "p50 query time", "peak RSS", "open + first query"], ratios)
    if paired:
        report.table(
            "Paired in one process: embedkit-float32 and gensim-mmap answer the same query "
            "one after the other (alternating which goes first), so both see the same load",
            ["queries", "embedkit p50 ms", "gensim-mmap p50 ms",
             "median per-query ratio gensim / embedkit", "load avg (1 min) after"],
            [[paired["queries"], round(1000 * paired["p50_embedkit"], 1),
              round(1000 * paired["p50_gensim"], 1), round(paired["median_ratio"], 3),
              round(paired["load"], 1)]])
    if "embedkit-float32-index" in results:
        report.note(_index_params_note(p))
    report.note("Each configuration ran in a fresh process after opening and querying a "
                f"{TINY_WORDS}-word file of the same kind (warm imports and Numba cache). "
                "Before each process the script read that configuration's files once, so "
                "their pages were in the page cache (as after any earlier use; a cold cache "
                "adds the disk read, several seconds for 3.6 GB, to whichever step first "
                "touches the rows, for every library). "
                "CPU columns are the process's CPU time (all its threads) for the same "
                "calls: on a shared machine the wall time also holds the time the process "
                "waited for a core. "
                "What the first query adds to a later one is mapping the file's pages into "
                "the new process (minor page faults on pages already in the page cache; no "
                "Numba compilation: the kernels are cached on disk and were loaded by the "
                "warm-up query, as in any run after the first). "
                "Peak RSS counts the pages of memory-mapped files a process touched, so a "
                "brute-force query over a mapped float32 matrix shows about 1x the matrix. "
                f"{_index_note(args) if 'embedkit-float32-index' in results else ''}"
                "Query words are drawn uniformly (seeded) from the whole vocabulary. The "
                "machine is shared: timings are noisy; compare the ratios of one run.")
    report.write(args.markdown)


def _index_params_note(p):
    from embedkit.search.store import index_paths, read_json

    meta = read_json(index_paths(p["f32"])[1]) or {}
    return (f"Index beside the big float32 file: kind {meta.get('kind')}, parameters "
            f"{json.dumps(meta.get('params', {}), sort_keys=True)}.")


def _index_note(args):
    return (f"The index configuration uses a {_kind(args)} index (--index-kind "
            f"{args.index_kind}; auto is exact below 200,000 words, HNSW from there), opened "
            "memory-mapped. " + (EXACT_NOTE if _kind(args) == "exact" else ""))


EXACT_NOTE = ("An exact index is FAISS IndexFlatIP over the unit rows: itself a brute-force "
              "scan, of a second mapped copy of the matrix (the .faiss file). ")


def _kind(args):
    from embedkit.search.index import resolve_kind

    return resolve_kind(args.index_kind, args.words)


#: configuration -> (file, tiny warm-up file, brute force)
CONFIGS = {
    "embedkit-float32": ("f32", "f32", True),
    "embedkit-float16": ("f16", "f16", True),
    "embedkit-int8": ("int8", "int8", True),
    "embedkit-float32-index": ("f32", "f32", False),  # the index saved beside it
    "gensim-w2v": ("bin", "bin", True),
    "gensim-mmap": ("gensim", "gensim", True),
}

if __name__ == "__main__":
    main()
