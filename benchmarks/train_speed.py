"""Train embedkit and gensim word2vec side by side: words/s, analogy accuracy and a roofline.

Usage::

    python benchmarks/train_speed.py [CORPUS] [--models sgns cbow] [--threads 2] [--epochs 3]
        [--slice-tokens 5000000 | --max-bytes N] [--seeds 0 1 2]
        [--gensim-mode all|both|iterable|iterable_words|corpus_file ...] [--private-rows 256]
        [--markdown [PATH]]

CORPUS is a text file (``.gz`` allowed) with one sentence per line, already normalized
(default: ``corpora/gutenberg_mix_norm.txt.gz`` under ``$EMBEDKIT_BENCH_DATA``); both
systems get the same whitespace token stream (lines split on whitespace; with
``--slice-tokens N`` the first N tokens, the last line cut) and the same ``min_count``,
``window``, ``negative``, ``sample``, ``epochs``, learning rates and thread count.

gensim runs in up to three modes (``--gensim-mode``, default ``all``), which differ in their
learning-rate schedules (the page prints how):

``iterable``
    A list of sentences and ``total_examples``, as gensim's documentation trains after
    ``build_vocab``: alpha decays with the fraction of *sentences* done.
``iterable_words``
    The same list with ``total_words`` instead: alpha decays with the fraction of words
    done, as in embedkit and word2vec.c.  Accuracy at an equal schedule is read here.
``corpus_file``
    gensim's fastest input; with several workers it decays alpha only 1/workers of the way
    per epoch and ends the run well above ``min_alpha``.

Speed is in-vocabulary corpus tokens x epochs / training seconds (vocabulary building
excluded for both).  Accuracy is gensim's ``evaluate_word_analogies`` on the Google analogy
set (restrict_vocab 30000) for both.  Every seed trains every system once; embedkit and
gensim runs alternate (the order flips from one seed to the next) so load changes on a
shared machine hit both alike.  Every run is reported, then medians and ranges over seeds;
a speed ratio is taken per seed (embedkit / gensim of the same seed) before its median.
embedkit trains with its defaults (plain Hogwild) and, with ``--private-rows N`` (default
256), also with ``private_rows=N``, the variant whose threads keep private copies of the
most frequent words' rows: its row shows what that trades (speed for accuracy).

The roofline section counts the floating-point operations and the bytes of weight rows the
embedkit kernels touch (formulas in the page) from the number of trained windows and
(centre, context) pairs, and sets the achieved GFLOP/s and GB/s per core beside the core's
single-thread sgemm GFLOP/s and a STREAM-like copy bandwidth measured in the same run.
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

from _report import Report, add_defaults, add_markdown_option, data_path

DEFAULT_CORPUS = data_path("corpora/gutenberg_mix_norm.txt.gz")
DEFAULT_QUESTIONS = data_path("eval/gensim/questions-words.txt")
GENSIM_MODES = ["iterable", "iterable_words", "corpus_file"]
#: each gensim mode's name in the tables
GENSIM_NAMES = {"iterable": "gensim (iterable)", "iterable_words": "gensim (iterable, total_words)",
                "corpus_file": "gensim (corpus_file)"}


def read_tokens(path: str, max_bytes: int | None = None,
                max_tokens: int | None = None) -> list[list[str]]:
    """Token lists of the first lines of ``path`` (up to ``max_bytes`` / ``max_tokens``)."""
    opener = gzip.open if path.endswith(".gz") else open
    out, n, nt = [], 0, 0
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            n += len(line.encode("utf-8"))
            if max_bytes and n > max_bytes:
                break
            toks = line.split()
            if max_tokens and nt + len(toks) >= max_tokens:
                toks = toks[: max_tokens - nt]
                if toks:
                    out.append(toks)
                break
            if toks:
                out.append(toks)
                nt += len(toks)
    return out


def analogy_accuracy(words, matrix, questions: str) -> float:
    from gensim.models import KeyedVectors

    kv = KeyedVectors(matrix.shape[1])
    kv.add_vectors(list(words), np.asarray(matrix, dtype=np.float32))
    score, _ = kv.evaluate_word_analogies(questions, restrict_vocab=30000)
    return float(score)


# -- work counts for the roofline --------------------------------------------------------

def _make_counter():
    from numba import njit

    @njit(cache=False)
    def count_windows(ids, offsets, keep, window, epochs, seed):
        """Trained windows (centres with >= 1 context word) and (centre, context) pairs.

        Replays the kernels' sampling with another random stream: subsampling with the
        keep probabilities, then a reduced window ``b`` uniform in ``1..window`` per kept
        position, clipped at the sentence ends.  The totals are expectations up to
        sampling noise (~1e-4 relative on millions of positions).
        """
        np.random.seed(seed)
        windows = 0
        pairs = 0
        sent = np.empty(ids.shape[0], np.int64)
        for _ in range(epochs):
            for s in range(offsets.shape[0] - 1):
                n = 0
                for p in range(offsets[s], offsets[s + 1]):
                    w = ids[p]
                    if keep[w] >= 1.0 or np.random.random() < keep[w]:
                        sent[n] = w
                        n += 1
                for pos in range(n):
                    b = np.random.randint(1, window + 1)
                    nc = min(n, pos + b + 1) - max(0, pos - b) - 1
                    if nc > 0:
                        windows += 1
                        pairs += nc
        return windows, pairs

    return count_windows


def work_counts(model: str, windows: int, pairs: int, dim: int, negative: int):
    """(flops, bytes) of one run of the embedkit kernel with these window and pair counts.

    Skip-gram (HogBatch kernel), per window with ``nc`` context words and ``o = 1 + k``
    output rows: ``nc*o`` dot products, then each output row takes ``nc`` FMAs and each input
    row ``o`` FMAs into the row itself, i.e. per pair ``6 * o * d`` flops.  CBOW, per
    window: the context sum (``nc * d`` adds) and its scaling (``d``), ``o`` dot products,
    ``o`` axpys into the error and ``o`` into the output rows (``6 * o * d``), ``nc * d`` adds
    into the input rows: ``d * (6 * o + 1) + 2 * nc * d``.  Bytes of weight rows (float32),
    per window: skip-gram reads each of its ``nc + o`` rows into a local copy, then reads
    and writes it once in its update, ``12 * d * (nc + o)``; CBOW reads and writes each row
    once, ``4 * d * (2 * nc + 2 * o)``.
    """
    o = 1 + negative
    if model == "sgns":
        flops = pairs * dim * 6 * o
        nbytes = 12 * dim * (pairs + o * windows)
    else:
        flops = windows * dim * (6 * o + 1) + 2 * pairs * dim
        nbytes = 4 * dim * (2 * pairs + 2 * o * windows)
    return float(flops), float(nbytes)


def machine_peaks(repeats: int = 5) -> tuple[float, float]:
    """Single-thread sgemm GFLOP/s (1024 x 1024 float32) and copy GB/s (256 MB array).

    Best of ``repeats``; the copy counts the bytes read plus the bytes written, as STREAM's
    Copy does.
    """
    from embedkit._threads import single_threaded_blas

    rng = np.random.default_rng(0)
    a = rng.random((1024, 1024), dtype=np.float32)
    b = rng.random((1024, 1024), dtype=np.float32)
    with single_threaded_blas():
        a @ b
        best = min(_timed(lambda: a @ b) for _ in range(repeats))
    gflops = 2 * 1024 ** 3 / best / 1e9
    src = np.ones(64 * 2 ** 20, dtype=np.float32)  # 256 MB
    dst = np.empty_like(src)
    np.copyto(dst, src)
    best = min(_timed(lambda: np.copyto(dst, src)) for _ in range(repeats))
    gbs = 2 * src.nbytes / best / 1e9
    return gflops, gbs


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- the two systems ---------------------------------------------------------------------

def run_embedkit(model, enc, args, seed, private_rows=0):
    from embedkit.training import Word2Vec

    w2v = Word2Vec(model=model, dim=args.dim, window=args.window, negative=args.negative,
                   min_count=args.min_count, sample=args.sample, epochs=args.epochs,
                   workers=args.threads, seed=seed, private_rows=private_rows)
    c0 = time.process_time()
    res = w2v.fit(enc, progress=False)
    cpu = time.process_time() - c0
    tokens = len(enc.ids) * args.epochs
    examples = sum(int(h["loss_count"]) for h in res.history)
    return res.seconds, cpu, tokens, res.vectors.words, res.vectors.vectors, examples


def run_gensim(model, sentences, args, seed, mode, corpus_file=None):
    from gensim.models import Word2Vec as G

    kw = dict(vector_size=args.dim, window=args.window, negative=args.negative, hs=0,
              min_count=args.min_count, sample=args.sample, epochs=args.epochs,
              workers=args.threads, sg=1 if model == "sgns" else 0, seed=seed,
              alpha=0.025 if model == "sgns" else 0.05, min_alpha=0.0001)
    g = G(**kw)
    if mode == "corpus_file":
        g.build_vocab(corpus_file=corpus_file)
        total_words = g.corpus_total_words
        t0, c0 = time.perf_counter(), time.process_time()
        g.train(corpus_file=corpus_file, total_words=total_words, epochs=args.epochs)
    else:
        g.build_vocab(sentences)
        # gensim decays alpha by the fraction of words done when given total_words, of
        # sentences done when given total_examples
        total = ({"total_words": g.corpus_total_words} if mode == "iterable_words"
                 else {"total_examples": g.corpus_count})
        t0, c0 = time.perf_counter(), time.process_time()
        g.train(sentences, epochs=args.epochs, **total)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    in_vocab = sum(int(g.wv.get_vecattr(w, "count")) for w in g.wv.index_to_key)
    return secs, cpu, in_vocab * args.epochs, g.wv.index_to_key, g.wv.vectors, None


def _med_range(values, fmt) -> str:
    return f"{fmt(statistics.median(values))} [{fmt(min(values))} - {fmt(max(values))}]"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus", nargs="?", default=DEFAULT_CORPUS,
                    help="one sentence per line, normalized (default: "
                         "corpora/gutenberg_mix_norm.txt.gz under $EMBEDKIT_BENCH_DATA)")
    ap.add_argument("--models", nargs="+", default=["sgns", "cbow"], choices=["sgns", "cbow"])
    add_defaults(ap, threads=2, epochs=3, dim=100, window=5, negative=5, min_count=5, sample=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                    help="one run of every system per seed (default: 0 1 2)")
    ap.add_argument("--slice-tokens", type=int, default=None,
                    help="train on the first N whitespace tokens of the corpus only")
    ap.add_argument("--max-bytes", type=int, default=None,
                    help="read only the first N bytes of the corpus (e.g. 12000000 = 2 M tokens)")
    ap.add_argument("--gensim-mode", nargs="+", default=["all"],
                    choices=["iterable", "iterable_words", "corpus_file", "both", "all"],
                    help="gensim input mode(s), each with its own learning-rate schedule (see "
                         "the page): iterable (alpha decays by sentences), iterable_words (by "
                         "words, as embedkit), corpus_file (gensim's fastest); both = iterable "
                         "and corpus_file; all (default) = the three")
    ap.add_argument("--private-rows", type=int, default=256, metavar="N",
                    help="also train embedkit with private_rows=N, the faster Hogwild variant "
                         "(0: do not; default 256)")
    ap.add_argument("--questions", default=DEFAULT_QUESTIONS,
                    help="Google analogy questions-words.txt (default: under $EMBEDKIT_BENCH_DATA)")
    add_markdown_option(ap, "docs/benchmarks/train_speed.md")
    args = ap.parse_args(argv)
    if args.corpus is None or args.questions is None:
        ap.error("give CORPUS and --questions, or set EMBEDKIT_BENCH_DATA")
    report = Report("word2vec training: embedkit against gensim")
    logging.basicConfig(level=logging.WARNING)

    from embedkit._progress import set_progress
    from embedkit._threads import single_threaded_blas
    from embedkit.corpus import prepare

    set_progress(False)

    peaks = [machine_peaks()]
    print(f"single-thread sgemm {peaks[0][0]:.1f} GFLOP/s; copy {peaks[0][1]:.1f} GB/s",
          flush=True)

    sentences = read_tokens(args.corpus, args.max_bytes, args.slice_tokens)
    n_tok = sum(map(len, sentences))
    print(f"corpus {args.corpus}: {len(sentences)} lines, {n_tok} tokens; threads {args.threads}, "
          f"epochs {args.epochs}, dim {args.dim}, window {args.window}, negative "
          f"{args.negative}, min_count {args.min_count}, sample {args.sample}, seeds "
          f"{args.seeds}", flush=True)
    enc = prepare(sentences, min_count=args.min_count, tokenizer="whitespace", cache=False)
    keep = np.ascontiguousarray(enc.vocab.keep_probabilities(args.sample), dtype=np.float32)
    windows, pairs = _make_counter()(np.ascontiguousarray(enc.ids, dtype=np.int32),
                                     np.ascontiguousarray(enc.offsets, dtype=np.int64), keep,
                                     args.window, args.epochs, 12345)
    tmpdir = tempfile.mkdtemp(prefix="embedkit-bench-")
    corpus_file = os.path.join(tmpdir, "corpus.txt")
    with open(corpus_file, "w", encoding="utf-8") as fh:
        for s in sentences:
            fh.write(" ".join(s) + "\n")
    modes = []
    for m in args.gensim_mode:
        for mm in {"all": GENSIM_MODES, "both": ["iterable", "corpus_file"]}.get(m, [m]):
            if mm not in modes:
                modes.append(mm)
    systems = [("embedkit", None)]
    if args.private_rows > 0:
        systems.append((f"embedkit, private_rows={args.private_rows}", "private"))
    systems += [(GENSIM_NAMES[m], m) for m in modes]

    runs = []  # (seed, model, system, secs, wps, wpcpu, acc, examples)
    for i, seed in enumerate(args.seeds):
        for model in args.models:
            order = systems if i % 2 == 0 else systems[::-1]  # alternate who goes first
            for name, mode in order:
                with single_threaded_blas():
                    if mode in (None, "private"):
                        out = run_embedkit(model, enc, args, seed,
                                           args.private_rows if mode else 0)
                    else:
                        out = run_gensim(model, sentences, args, seed, mode, corpus_file)
                secs, cpu, tokens, words, mat, examples = out
                acc = analogy_accuracy(words, mat, args.questions)
                runs.append((seed, model, name, secs, tokens / secs, tokens / cpu, acc, examples))
                print(f"  seed {seed} {model:5s} {name:22s} {secs:8.1f} s "
                      f"{tokens / secs:12,.0f} words/s {tokens / cpu:12,.0f} words/CPU-s  "
                      f"analogy {100 * acc:5.2f} % (vocab {len(words)})", flush=True)

    report.note(f"Corpus `{os.path.basename(args.corpus)}`"
                + (f", first {args.slice_tokens:,} tokens" if args.slice_tokens else "")
                + (f", first {args.max_bytes:,} bytes" if args.max_bytes else "")
                + f": {len(sentences):,} lines, {n_tok:,} tokens ({len(enc.ids):,} in a "
                f"vocabulary of {len(enc.vocab):,}); {args.threads} worker threads, "
                f"{args.epochs} epochs, dim {args.dim}, window {args.window}, negative "
                f"{args.negative}, min_count {args.min_count}, sample {args.sample}, alpha 0.025 "
                f"(skip-gram) / 0.05 (CBOW) to 0.0001 for both; gensim "
                f"{_gensim_version()} trained with {', '.join(modes)} input. Seeds "
                f"{', '.join(map(str, args.seeds))}: one run of every system per seed, embedkit "
                "and gensim alternating. Speed: in-vocabulary tokens x epochs / training "
                "seconds (vocabulary building excluded). Accuracy: gensim's "
                "evaluate_word_analogies on the Google set, restrict_vocab 30000, for both.")
    report.note(_schedule_note(modes, sentences, args.threads, args.epochs, args.models))
    report.table("Every run", ["seed", "model", "system", "train s", "words/s", "words/CPU-s",
                               "analogy %"],
                 [[seed, model, name, f"{secs:.1f}", f"{wps:,.0f}", f"{wpc:,.0f}",
                   f"{100 * acc:.2f}"] for seed, model, name, secs, wps, wpc, acc, _ in runs])

    summary = []
    for model in args.models:
        by = {name: {r[0]: r for r in runs if r[1] == model and r[2] == name}
              for name, _ in systems}
        ek = by["embedkit"]
        for name, _ in systems:
            rs = list(by[name].values())
            wps = [r[4] for r in rs]
            accs = [100 * r[6] for r in rs]
            ratio = [ek[s][4] / by[name][s][4] for s in args.seeds]
            diff = [100 * (ek[s][6] - by[name][s][6]) for s in args.seeds]
            summary.append([model, name, _med_range(wps, lambda v: f"{v / 1e6:.3f}"),
                            _med_range(accs, lambda v: f"{v:.2f}"),
                            f"{statistics.mean(accs):.2f}",
                            "" if name == "embedkit" else
                            _med_range(ratio, lambda v: f"{v:.2f}x"),
                            "" if name == "embedkit" else
                            f"{statistics.mean(diff):+.2f} [{min(diff):+.2f} - {max(diff):+.2f}]"])
    report.table(f"Medians and ranges over {len(args.seeds)} seeds",
                 ["model", "system", "M words/s, median [min - max]",
                  "analogy %, median [min - max]", "analogy %, mean",
                  "speed ratio embedkit / this, median [min - max]",
                  "embedkit accuracy minus this (points), mean [min - max]"], summary)

    peaks.append(machine_peaks())
    gflops_peak = max(p[0] for p in peaks)
    gbs_peak = max(p[1] for p in peaks)
    roof = []
    for model in args.models:
        flops, nbytes = work_counts(model, windows, pairs, args.dim, args.negative)
        rs = [r for r in runs if r[1] == model and r[2] == "embedkit"]
        secs = statistics.median(r[3] for r in rs)
        gf = flops / secs / args.threads / 1e9
        gb = nbytes / secs / args.threads / 1e9
        measured = statistics.median(r[7] for r in rs)
        roof.append([model, f"{windows:,}", f"{pairs:,}", f"{int(round(measured)):,}",
                     f"{flops / pairs:,.0f}", f"{nbytes / pairs:,.0f}",
                     f"{pairs / secs / args.threads / 1e6:.2f}", f"{gf:.2f}",
                     f"{100 * gf / gflops_peak:.1f} %", f"{gb:.2f}",
                     f"{100 * gb / gbs_peak:.1f} %"])
    report.table("Roofline of the embedkit kernels (per core, median run)",
                 ["model", "windows (counted)", "pairs (counted)",
                  "trainer's example count (sgns: pairs, cbow: windows)", "flops / pair",
                  "bytes / pair", "M pairs/s per core", "GFLOP/s per core", "% of sgemm",
                  "GB/s per core", "% of copy bandwidth"], roof)
    report.note(
        f"Peaks measured in this run, one thread, before and after the training runs (the "
        f"better is used): sgemm (1024 x 1024 float32, OpenBLAS via numpy, best of 5) "
        f"{' / '.join(f'{p[0]:.1f}' for p in peaks)} -> **{gflops_peak:.1f} GFLOP/s**; copy "
        f"of a 256 MB float32 array (numpy, bytes read + written as STREAM Copy counts them, "
        f"best of 5) {' / '.join(f'{p[1]:.1f}' for p in peaks)} -> **{gbs_peak:.1f} GB/s**. "
        f"Per-core figures divide the run's totals by its wall "
        f"time and by the {args.threads} worker threads.")
    report.note(
        "Counting (d = dim, k = negative, o = 1 + k output rows per window, nc = context "
        "words of a window; windows and pairs counted by replaying the subsampling and the "
        "reduced window over the corpus, every epoch, with another random stream; the "
        "trainer's own count is beside them as a check). Skip-gram (HogBatch kernel: the o "
        "outputs shared by the window's nc pairs), per (centre, context) pair: o dot "
        "products, o FMAs into the input row, o FMAs into the output rows (one per output "
        "row and context) = 6 o d flops (3,600 at d 100, k 5). CBOW, per window: "
        "context sum nc d + scaling d, o dot products, o axpys into the error, o axpys into "
        "the output rows, nc d adds into the input rows = d (6 o + 1) + 2 nc d. Bytes of "
        "weight rows, per window: skip-gram copies each of its nc + o rows into a local "
        "block, then reads and writes it once in its update, 12 d (nc + o); CBOW reads and "
        "writes each row once, 4 d (2 nc + 2 o) (the kernels store rows padded to whole "
        "64-byte lines, 448 bytes at d 100; the count is of the d floats). These are bytes "
        "the kernel moves through L1, an upper bound on DRAM traffic (rows of frequent "
        "words stay in cache); the percentages say how far the kernels are from each roof, "
        "not which one binds: the random 400-byte rows make latency, not bandwidth, the usual "
        "limit.")
    report.write(args.markdown)
    try:
        os.unlink(corpus_file)
        os.rmdir(tmpdir)
    except OSError:
        pass


def _sentence_lag(sentences) -> float:
    """Largest lead, in points, of the fraction of words done over the fraction of sentences
    done, over one pass of the corpus (how far gensim's sentence-based decay trails)."""
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.float64, count=len(sentences))
    words = np.cumsum(lengths) / lengths.sum()
    sents = np.arange(1, len(lengths) + 1) / len(lengths)
    return float(100 * np.max(words - sents))


def _schedule_note(modes, sentences, workers: int, epochs: int, models) -> str:
    """How the learning rate decays in embedkit and in each gensim mode of the run."""
    alphas = {"sgns": 0.025, "cbow": 0.05}
    parts = ["Learning-rate schedules: embedkit decays alpha linearly with the fraction of "
             "the run's words done, down to 0.0001 (as word2vec.c)."]
    if "iterable" in modes:
        lag = _sentence_lag(sentences)
        parts.append(
            f"gensim (iterable) is given `total_examples` (the sentence count, as gensim's "
            f"documentation trains after `build_vocab`), so its alpha decays with the fraction "
            f"of *sentences* done (gensim 4, `Word2Vec._job_producer`); on this corpus that "
            f"fraction trails the fraction of words by up to {lag:.1f} points within an "
            f"epoch, so its alpha stays higher than the nominal schedule.")
    if "iterable_words" in modes:
        parts.append(
            "gensim (iterable, total_words) is given `total_words` instead: alpha decays with "
            "the fraction of words done, embedkit's schedule. Accuracy at an equal schedule "
            "is read against this mode.")
    if "corpus_file" in modes and workers > 1:
        ends = ", ".join(
            f"{alphas[m] - (alphas[m] - 0.0001) * (epochs - 1 + 1 / workers) / epochs:.4f} ({m})"
            for m in models)
        parts.append(
            f"gensim's corpus_file mode (gensim 4, `word2vec_corpusfile.pyx`, "
            f"`train_epoch_sg`/`train_epoch_cbow` with `get_next_alpha`) gives each of its "
            f"{workers} workers 1/{workers} of the file per epoch but measures a worker's "
            f"progress as its own word count over the whole epoch's, so in epoch e (from 0) "
            f"the rate falls only from a(e/{epochs}) to a((e + 1/{workers})/{epochs}), "
            f"a(p) = alpha - (alpha - min_alpha) p, and the run ends at {ends} instead of "
            f"0.0001 (with one worker the mode follows the nominal schedule).")
    return " ".join(parts)


def _gensim_version() -> str:
    import gensim

    return gensim.__version__


if __name__ == "__main__":
    sys.exit(main())
