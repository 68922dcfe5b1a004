"""fastText .bin load time: embedkit.load against gensim's load_facebook_vectors, same file.

The model is made here: gensim's FastText is trained on the first ``--lines`` lines of a corpus
(default ``$EMBEDKIT_BENCH_DATA/corpora/gutenberg_mix_norm.txt.gz``) with fastText's default
2,000,000 buckets, and saved in Facebook's format with gensim's ``save_facebook_model`` (it is
reused when ``--model`` already exists).  Each load runs in a fresh child process, alternating
embedkit and gensim, and the script checks that both give the same vectors.

Usage::

    python benchmarks/fasttext_load.py --markdown        # docs/benchmarks/fasttext_load.md
    python benchmarks/fasttext_load.py --lines 20000 --bucket 200000   # quick look
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import Report, add_defaults, add_markdown_option, data_path  # noqa: E402

_CHILD = r"""
import json, sys, time
lib, path = sys.argv[1], sys.argv[2]
if lib == "embedkit":
    import embedkit
    from embedkit.vectors import fasttext  # compile the kernels before timing (numba cache)
    t = time.perf_counter(); c = time.process_time()
    v = embedkit.load(path)
    words, probe = len(v), v["zzyzxq"]
else:
    from gensim.models.fasttext import load_facebook_vectors
    t = time.perf_counter(); c = time.process_time()
    v = load_facebook_vectors(path)
    words, probe = len(v), v["zzyzxq"]
seconds, cpu = time.perf_counter() - t, time.process_time() - c
# VmHWM: this process's peak resident memory (ru_maxrss would include the parent's, kept
# across fork and exec)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "cpu": cpu, "words": words, "rss_mib": hwm / 1024}))
"""


def run_child(lib, path):
    out = subprocess.run([sys.executable, "-c", _CHILD, lib, path], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def sentences(corpus, lines):
    opener = gzip.open if corpus.endswith(".gz") else open
    with opener(corpus, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= lines:
                break
            words = line.split()
            if words:
                yield words


def make_model(path, corpus, lines, dim, bucket, epochs):
    from gensim.models.fasttext import FastText, save_facebook_model

    data = list(sentences(corpus, lines))
    t = time.perf_counter()
    model = FastText(vector_size=dim, min_count=3, bucket=bucket, epochs=epochs, workers=2,
                     seed=1)
    model.build_vocab(corpus_iterable=data)
    model.train(corpus_iterable=data, total_examples=len(data), epochs=epochs)
    save_facebook_model(model, path)
    print(f"trained on {len(data)} lines ({sum(map(len, data)):,} tokens), "
          f"{len(model.wv):,} words, in {time.perf_counter() - t:.0f} s; saved {path}", flush=True)


def check_same(path):
    import numpy as np
    from gensim.models.fasttext import load_facebook_vectors

    import embedkit

    v, kv = embedkit.load(path), load_facebook_vectors(path)
    assert v.words == kv.index_to_key
    rows = [i for i, w in enumerate(v.words) if w != "</s>"]
    in_vocab = float(np.abs(v.vectors[rows] - kv.vectors[rows]).max())
    probes = ["zzyzxq", "unfathomablenesses", "pre-war", "chateau", "x"]
    oov = float(max(np.abs(v[w] - kv[w]).max() for w in probes))
    return in_vocab, oov


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=data_path("corpora/gutenberg_mix_norm.txt.gz"))
    ap.add_argument("--lines", type=int, default=200_000, help="corpus lines to train on")
    add_defaults(ap, dim=100, bucket=2_000_000, epochs=1)
    ap.add_argument("--repeats", type=int, default=3, help="loads per library")
    ap.add_argument("--model", default=None, help="the .bin to use or make (default: a temp file)")
    add_markdown_option(ap, "docs/benchmarks/fasttext_load.md")
    args = ap.parse_args(argv)
    report = Report("fastText .bin load time: embedkit against gensim")
    path = args.model or os.path.join(tempfile.mkdtemp(prefix="embedkit-ft-"), "model.bin")
    if not os.path.exists(path):
        if not args.corpus or not os.path.exists(args.corpus):
            ap.error("give --corpus (or set EMBEDKIT_BENCH_DATA) to train the model")
        make_model(path, args.corpus, args.lines, args.dim, args.bucket, args.epochs)
    size = os.path.getsize(path)
    in_vocab, oov = check_same(path)
    ek, gs = [], []
    run_child("embedkit", path)  # warm the page cache and numba's cache once, untimed
    for _ in range(args.repeats):
        ek.append(run_child("embedkit", path))
        gs.append(run_child("gensim", path))
        print(f"  embedkit {ek[-1]['seconds']:.2f} s, gensim {gs[-1]['seconds']:.2f} s",
              flush=True)
    med = {name: {k: statistics.median(r[k] for r in runs) for k in ("seconds", "cpu", "rss_mib")}
           for name, runs in (("embedkit", ek), ("gensim", gs))}
    words = ek[0]["words"]
    report.table(
        f"Load of one {size / 2**20:,.0f} MiB model ({words:,} words, dim {args.dim}, "
        f"{args.bucket:,} buckets); median of {args.repeats} loads each, fresh process per load",
        ["library", "wall", "CPU", "peak RSS (MiB)", "speed-up (wall)"],
        [["embedkit.load", f"{med['embedkit']['seconds']:.2f} s",
          f"{med['embedkit']['cpu']:.2f} s", f"{med['embedkit']['rss_mib']:,.0f}",
          f"{med['gensim']['seconds'] / med['embedkit']['seconds']:.1f}x"],
         ["gensim load_facebook_vectors", f"{med['gensim']['seconds']:.2f} s",
          f"{med['gensim']['cpu']:.2f} s", f"{med['gensim']['rss_mib']:,.0f}", "1.0x"]])
    report.note(f"Agreement on this file: max abs difference {in_vocab:.2g} over the in-vocabulary "
                f"vectors (the end-of-sentence token '</s>' excluded: fastText gives it no n-grams, "
                f"gensim does) and {oov:.2g} over 5 unseen words.  embedkit memory-maps the n-gram "
                "matrix from the file and composes the word vectors in a Numba kernel; gensim reads "
                "the whole matrix and composes the word vectors in a Python loop.  The goal of issue "
                "#15 is a speed-up of at least 3x.")
    report.write(args.markdown)


if __name__ == "__main__":
    main()
