"""Train embedkit and gensim word2vec side by side and compare words/s and analogy accuracy.

Usage::

    python benchmarks/train_speed.py CORPUS [--models sgns cbow] [--threads 2] [--epochs 3]
        [--max-bytes 12000000] [--gensim-mode iterable|corpus_file|both] [--repeat 1]

CORPUS is a text file (``.gz`` allowed) with one sentence per line, already normalized;
both systems get the same whitespace token stream (lines split on whitespace, the same
``min_count``, ``window``, ``negative``, ``sample``, ``epochs`` and thread count).  Speed is
in-vocabulary corpus tokens x epochs / training seconds (vocabulary building excluded for
both).  Accuracy is gensim's ``evaluate_word_analogies`` on the Google analogy set
(restrict_vocab 30000) for both.  With ``--repeat N`` the median of N runs is printed.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from _report import Report, add_markdown_option, data_path

DEFAULT_QUESTIONS = data_path("eval/gensim/questions-words.txt")


def read_tokens(path: str, max_bytes: int | None) -> list[list[str]]:
    opener = gzip.open if path.endswith(".gz") else open
    out, n = [], 0
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            n += len(line.encode("utf-8"))
            if max_bytes and n > max_bytes:
                break
            toks = line.split()
            if toks:
                out.append(toks)
    return out


def analogy_accuracy(words, matrix, questions: str) -> float:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(matrix.shape[1])
    kv.add_vectors(list(words), np.asarray(matrix, dtype=np.float32))
    score, _ = kv.evaluate_word_analogies(questions, restrict_vocab=30000)
    return float(score)


def run_embedkit(model, sentences, args):
    from embedkit.corpus import prepare
    from embedkit.training import Word2Vec

    enc = prepare(sentences, min_count=args.min_count, tokenizer="whitespace", cache=False)
    w2v = Word2Vec(model=model, dim=args.dim, window=args.window, negative=args.negative,
                   min_count=args.min_count, sample=args.sample, epochs=args.epochs,
                   workers=args.threads, seed=args.seed)
    c0 = time.process_time()
    res = w2v.fit(enc, progress=False)
    cpu = time.process_time() - c0
    tokens = len(enc.ids) * args.epochs
    return res.seconds, cpu, tokens, res.vectors.words, res.vectors.vectors


def run_gensim(model, sentences, args, mode, corpus_file=None):
    from gensim.models import Word2Vec as G

    kw = dict(vector_size=args.dim, window=args.window, negative=args.negative, hs=0,
              min_count=args.min_count, sample=args.sample, epochs=args.epochs,
              workers=args.threads, sg=1 if model == "sgns" else 0, seed=args.seed,
              alpha=0.025 if model == "sgns" else 0.05, min_alpha=0.0001)
    g = G(**kw)
    if mode == "corpus_file":
        g.build_vocab(corpus_file=corpus_file)
        total_words = g.corpus_total_words
        t0, c0 = time.perf_counter(), time.process_time()
        g.train(corpus_file=corpus_file, total_words=total_words, epochs=args.epochs)
    else:
        g.build_vocab(sentences)
        t0, c0 = time.perf_counter(), time.process_time()
        g.train(sentences, total_examples=g.corpus_count, epochs=args.epochs)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    in_vocab = sum(int(g.wv.get_vecattr(w, "count")) for w in g.wv.index_to_key)
    return secs, cpu, in_vocab * args.epochs, g.wv.index_to_key, g.wv.vectors


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--models", nargs="+", default=["sgns", "cbow"], choices=["sgns", "cbow"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--dim", type=int, default=100)
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--negative", type=int, default=5)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--sample", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-bytes", type=int, default=None,
                    help="read only the first N bytes of the corpus (e.g. 12000000 = 2 M tokens)")
    ap.add_argument("--gensim-mode", choices=["iterable", "corpus_file", "both"], default="both")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--questions", default=DEFAULT_QUESTIONS, required=DEFAULT_QUESTIONS is None,
                    help="Google analogy questions-words.txt (default: under $EMBEDKIT_BENCH_DATA)")
    add_markdown_option(ap, "docs/benchmarks/train_speed.md")
    args = ap.parse_args(argv)
    report = Report("word2vec training: embedkit against gensim")
    logging.basicConfig(level=logging.WARNING)

    from embedkit._progress import set_progress
    from embedkit._threads import single_threaded_blas

    set_progress(False)

    sentences = read_tokens(args.corpus, args.max_bytes)
    n_tok = sum(map(len, sentences))
    print(f"corpus {args.corpus}: {len(sentences)} lines, {n_tok} tokens; threads {args.threads}, "
          f"epochs {args.epochs}, dim {args.dim}, window {args.window}, negative "
          f"{args.negative}, min_count {args.min_count}, sample {args.sample}", flush=True)
    tmpdir = tempfile.mkdtemp(prefix="embedkit-bench-")
    corpus_file = os.path.join(tmpdir, "corpus.txt")
    with open(corpus_file, "w", encoding="utf-8") as fh:
        for s in sentences:
            fh.write(" ".join(s) + "\n")
    modes = ["iterable", "corpus_file"] if args.gensim_mode == "both" else [args.gensim_mode]

    rows = []
    for model in args.models:
        systems = [("embedkit", None)] + [(f"gensim ({m})", m) for m in modes]
        runs = {name: [] for name, _ in systems}
        for _ in range(args.repeat):  # interleaved, so load changes hit every system alike
            for name, mode in systems:
                with single_threaded_blas():
                    if mode is None:
                        secs, cpu, tokens, words, mat = run_embedkit(model, sentences, args)
                    else:
                        secs, cpu, tokens, words, mat = run_gensim(model, sentences, args,
                                                                   mode, corpus_file)
                acc = analogy_accuracy(words, mat, args.questions)
                runs[name].append((secs, tokens / secs, tokens / cpu, acc))
                print(f"  {model:5s} {name:22s} {secs:8.1f} s {tokens / secs:12,.0f} words/s "
                      f"{tokens / cpu:12,.0f} words/CPU-s  analogy {100 * acc:5.2f} % "
                      f"(vocab {len(words)})", flush=True)
        med = {name: [statistics.median(col) for col in zip(*r)] for name, r in runs.items()}
        for name, (secs, wps, wpc, acc) in med.items():
            rows.append((model, name, secs, wps, wpc, acc, med["embedkit"][1] / wps,
                         med["embedkit"][2] / wpc, 100 * (med["embedkit"][3] - acc)))

    report.note(f"Corpus `{os.path.basename(args.corpus)}`: {len(sentences):,} lines, {n_tok:,} "
                f"tokens; {args.threads} threads, {args.epochs} epochs, dim {args.dim}, window "
                f"{args.window}, negative {args.negative}, min_count {args.min_count}, sample "
                f"{args.sample}. Accuracy: gensim's evaluate_word_analogies on the Google set, "
                f"restrict_vocab 30000, for both. Medians of {args.repeat} interleaved run(s); "
                "ratios are embedkit / row.")
    report.table("Speed and accuracy",
                 ["model", "system", "train s", "words/s", "words/CPU-s", "analogy %",
                  "speed ratio", "CPU-speed ratio", "embedkit accuracy diff (points)"],
                 [[model, name, f"{secs:.1f}", f"{wps:,.0f}", f"{wpc:,.0f}", f"{100 * acc:.2f}",
                   f"{ratio:.2f}x", f"{cratio:.2f}x", f"{diff:+.2f}"]
                  for model, name, secs, wps, wpc, acc, ratio, cratio, diff in rows])
    report.write(args.markdown)
    try:
        os.unlink(corpus_file)
        os.rmdir(tmpdir)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
