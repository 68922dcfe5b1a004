"""Loading speed and peak memory: embedkit.load vs gensim's KeyedVectors.load_word2vec_format.

Writes a synthetic vocabulary (default 400,000 x 300, float32) in each format, then loads each
file with embedkit and with gensim in fresh child processes, one load per process: each child
imports its library, loads a tiny file of the same format first (so Numba's compiled-code
cache and gensim's imports are warm, as in any session that loads more than once), then
times the real load and reports its peak memory above the pre-load baseline.

    python benchmarks/load_speed.py                      # the full run (several minutes)
    python benchmarks/load_speed.py --words 20000        # a quick check

Prints one table with medians and the gensim/embedkit ratios.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from _report import Report, add_markdown_option

CHILD = r"""
import json, os, sys, time
lib, path, tiny, fmt = sys.argv[1:5]

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

if lib == "embedkit":
    import embedkit
    load = lambda p: embedkit.load(p)
else:
    from gensim.models import KeyedVectors
    load = lambda p: KeyedVectors.load_word2vec_format(
        p, binary=fmt == "word2vec-binary", no_header=fmt == "glove")
def hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

v = load(tiny)
del v
with open("/proc/self/clear_refs", "w") as f:  # reset the peak (VmHWM) to the current RSS
    f.write("5")
base = rss()
t, c = time.perf_counter(), time.process_time()
v = load(path)
elapsed, cpu = time.perf_counter() - t, time.process_time() - c
peak = hwm()
n = len(v.words) if lib == "embedkit" else len(v.index_to_key)
print(json.dumps({"seconds": elapsed, "cpu": cpu, "extra_bytes": peak - base, "words": n}))
"""

FILES = {"word2vec-text": "vectors.txt", "word2vec-binary": "vectors.bin",
         "glove": "glove.txt", "native": "vectors.ekv"}


def make_vectors(n_words, dim, seed=0):
    import embedkit

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    lengths = rng.integers(2, 10, n_words)
    words = [bytes(letters[rng.integers(0, 26, k)]).decode() + format(i, "x")
             for i, k in enumerate(lengths)]
    matrix = (rng.standard_normal((n_words, dim)) * 0.2).astype(np.float32)
    return embedkit.Vectors(words, matrix)


def run_child(lib, path, tiny, fmt):
    out = subprocess.run([sys.executable, "-c", CHILD, lib, str(path), str(tiny), fmt],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{lib} failed on {path}:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=400_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3, help="loads per library and format")
    ap.add_argument("--gensim-text-repeats", type=int, default=1,
                    help="gensim's text loads are slow (minutes at full size)")
    ap.add_argument("--dir", type=pathlib.Path, default=None, help="where to write the files")
    ap.add_argument("--reuse", action="store_true",
                    help="keep files already in --dir from an earlier run with the same sizes")
    add_markdown_option(ap, "docs/benchmarks/load_speed.md")
    args = ap.parse_args(argv)
    report = Report("Loading vectors: embedkit against gensim")

    workdir = args.dir or pathlib.Path(tempfile.mkdtemp(prefix="embedkit-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    v = make_vectors(args.words, args.dim)
    tiny = make_vectors(50, args.dim, seed=1)
    matrix_bytes = v.vectors.nbytes
    print(f"{args.words} words x {args.dim} dims (matrix {matrix_bytes / 2**20:.0f} MiB), "
          f"files in {workdir}", flush=True)
    for fmt, name in FILES.items():
        t = time.perf_counter()
        if args.reuse and (workdir / name).exists() and (workdir / f"tiny-{name}").exists():
            print(f"  reusing {name}")
            continue
        v.save(workdir / name, format=fmt)
        tiny.save(workdir / f"tiny-{name}", format=fmt)
        size = sum(p.stat().st_size for p in (workdir / name).rglob("*")) \
            if (workdir / name).is_dir() else (workdir / name).stat().st_size
        print(f"  wrote {name:<12} {size / 2**20:8.0f} MiB in {time.perf_counter() - t:6.1f} s",
              flush=True)

    rows = []
    for fmt, name in FILES.items():
        path, tiny_path = workdir / name, workdir / f"tiny-{name}"
        ek = [run_child("embedkit", path, tiny_path, fmt) for _ in range(args.repeats)]
        assert all(r["words"] == args.words for r in ek)
        ek_s = statistics.median(r["seconds"] for r in ek)
        ek_c = statistics.median(r["cpu"] for r in ek)
        ek_mem = max(r["extra_bytes"] for r in ek) / matrix_bytes
        gs_s = gs_c = gs_mem = None
        if fmt != "native":
            reps = args.gensim_text_repeats if fmt != "word2vec-binary" else args.repeats
            gs = [run_child("gensim", path, tiny_path, fmt) for _ in range(reps)]
            if gs:
                gs_s = statistics.median(r["seconds"] for r in gs)
                gs_c = statistics.median(r["cpu"] for r in gs)
                gs_mem = max(r["extra_bytes"] for r in gs) / matrix_bytes
        rows.append((fmt, ek_s, gs_s, ek_c, gs_c, ek_mem, gs_mem))
        print(f"  {fmt}: embedkit {ek_s:.3f} s (cpu {ek_c:.3f} s)"
              + (f", gensim {gs_s:.3f} s (cpu {gs_c:.3f} s)" if gs_s else ""), flush=True)

    def fmt_t(x):
        return "—" if x is None else (f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s")

    def fmt_r(a, b):
        return "—" if a is None or b is None else f"{b / a:.1f}x"

    tbl = ["| format | embedkit wall | gensim wall | speed-up (wall) | embedkit CPU | gensim CPU "
          "| speed-up (CPU) | peak memory / matrix: embedkit | gensim |"]
    tbl.append("|---|---|---|---|---|---|---|---|---|")
    for fmt, ek_s, gs_s, ek_c, gs_c, ek_mem, gs_mem in rows:
        gm = "—" if gs_mem is None else f"{gs_mem:.2f}"
        tbl.append(f"| {fmt} | {fmt_t(ek_s)} | {fmt_t(gs_s)} | {fmt_r(ek_s, gs_s)} | {fmt_t(ek_c)} "
              f"| {fmt_t(gs_c)} | {fmt_r(ek_c, gs_c)} | {ek_mem:.2f} | {gm} |")
    report.lines(f"{args.words:,} words x {args.dim} dims", tbl)
    report.note(f"{args.repeats} embedkit loads per format; gensim: {args.repeats} binary, "
          f"{args.gensim_text_repeats} text; medians. CPU = process time of the load (single-threaded "
          "loaders: the wall time on an idle machine). Memory: peak RSS above the pre-load "
          "baseline, divided by the matrix size.")

    report.write(args.markdown)

if __name__ == "__main__":
    main()
