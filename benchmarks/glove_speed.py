"""GloVe: co-occurrence counting and training speed, memory and accuracy, beside references.

Usage::

    python benchmarks/glove_speed.py CORPUS [--threads 2] [--epochs 25] [--memory 4G]
        [--x-max 100] [--vectors w+c] [--max-bytes N] [--baseline-tokens 3000000]
        [--gensim-epochs 1]

The defaults are the trainer's (the issue's); the README's run passes the settings chosen on
development sets (``--x-max 10 --vectors w``, see the README) explicitly.

CORPUS is a normalized text file (``.gz`` allowed), one sentence per line; it is read with
embedkit's corpus pipeline (whitespace tokens, ``--min-count``).  The script prints

* counting: seconds (median of ``--count-repeats`` full counts) and corpus tokens/s of
  ``count_cooccurrences`` (and its phases), beside a vectorized NumPy/SciPy count
  (``scipy.sparse`` sums the pairs of every distance) on the first ``--baseline-tokens``
  tokens, whose result must equal embedkit's count of the same slice;
* training: seconds per epoch (median), total, and the loss of the last epoch;
* peak resident memory of the process (``ru_maxrss``) after counting and after training;
* accuracy: gensim's ``evaluate_word_analogies`` (Google analogies, restrict_vocab 30000)
  and ``evaluate_word_pairs`` (WordSim-353 Spearman rho) on a ``KeyedVectors`` built from
  the output matrix;
* a reference: gensim's skip-gram on the same tokens and threads for ``--gensim-epochs``
  epochs (seconds per epoch, and the same two scores), since gensim has no GloVe.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import resource
import statistics
import time

import numpy as np

from _report import Report, add_defaults, add_markdown_option, data_path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def read_sentences(path: str, max_bytes: int | None):
    opener = gzip.open if path.endswith(".gz") else open
    n = 0
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            n += len(line)
            if max_bytes and n > max_bytes:
                break
            toks = line.split()
            if toks:
                yield toks


def scipy_count(ids, offsets, V, window):
    """Reference count with NumPy/SciPy: the same X (upper triangle) as embedkit's."""
    import scipy.sparse as sp

    sent = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    X = sp.csr_matrix((V, V), dtype=np.float64)
    for d in range(1, window + 1):
        same = sent[d:] == sent[:-d]
        a, b = ids[:-d][same].astype(np.int64), ids[d:][same].astype(np.int64)
        i, j = np.minimum(a, b), np.maximum(a, b)
        w = np.where(i == j, 2.0 / d, 1.0 / d)
        X = X + sp.csr_matrix((w, (i, j)), shape=(V, V))
    return X.tocoo()


def scores(words, matrix, args):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(matrix.shape[1])
    kv.add_vectors(list(words), np.asarray(matrix, dtype=np.float32))
    analogy, _ = kv.evaluate_word_analogies(args.questions, restrict_vocab=30000)
    pearson, spearman, oov = kv.evaluate_word_pairs(args.wordsim)
    return float(analogy), float(spearman[0])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    add_defaults(p, threads=2, epochs=25, dim=100, window=10, min_count=5, x_max=100.0, power=0.75,
                 alpha=0.05)
    p.add_argument("--vectors", default="w+c", choices=("w+c", "w"))
    p.add_argument("--memory", default="4G")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--max-bytes", type=int, default=None, help="read only this much text")
    p.add_argument("--baseline-tokens", type=int, default=3_000_000,
                   help="tokens counted by the NumPy/SciPy reference (0 = skip)")
    p.add_argument("--spill-memory", default="256M",
                   help="also count with this small budget (spilling runs) and compare ('' = skip)")
    p.add_argument("--count-repeats", type=int, default=3,
                   help="count the full corpus this many times; the median is reported")
    p.add_argument("--gensim-epochs", type=int, default=1,
                   help="epochs of the gensim skip-gram reference (0 = skip)")
    questions, wordsim = data_path("eval/gensim/questions-words.txt"), data_path(
        "eval/gensim/wordsim353.tsv")
    p.add_argument("--questions", default=questions, required=questions is None,
                   help="Google analogy questions-words.txt (default: under $EMBEDKIT_BENCH_DATA)")
    p.add_argument("--wordsim", default=wordsim, required=wordsim is None,
                   help="WordSim-353 as gensim ships it (default: under $EMBEDKIT_BENCH_DATA)")
    add_markdown_option(p, "docs/benchmarks/glove_speed.md")
    args = p.parse_args(argv)
    report = Report("GloVe: co-occurrence counting and training")
    logging.basicConfig(level=logging.WARNING)

    from embedkit.corpus import prepare
    from embedkit.training import GloVe
    from embedkit.training.cooccur import count_cooccurrences

    t0 = time.perf_counter()
    enc = prepare(read_sentences(args.corpus, args.max_bytes), min_count=args.min_count,
                  tokenizer="whitespace", cache=False)
    ids = np.ascontiguousarray(enc.ids)
    offsets = np.ascontiguousarray(enc.offsets)
    V, n_tok = len(enc.vocab), len(ids)
    print(f"corpus: {n_tok:,} tokens, {len(offsets) - 1:,} sentences, {V:,} words "
          f"(min_count {args.min_count}); prepared in {time.perf_counter() - t0:.1f} s",
          flush=True)

    # compile (or load from cache) outside the clocks
    count_cooccurrences(ids[:100], np.array([0, min(100, n_tok)]), V, window=args.window,
                        memory="64M", workers=1, progress=False)
    rss0 = peak_rss_mb()
    walls, cpus = [], []
    for _ in range(max(1, args.count_repeats)):
        co = None  # release the previous count before the next one
        t0, c0 = time.perf_counter(), time.process_time()
        co = count_cooccurrences(ids, offsets, V, window=args.window, memory=args.memory,
                                 workers=args.threads, progress=False)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    count_s, count_cpu = statistics.median(walls), statistics.median(cpus)
    rss_count = peak_rss_mb()
    print(f"counting, median of {len(walls)} ({', '.join(f'{w:.2f}' for w in walls)} s): "
          f"{count_s:.2f} s, {n_tok / count_s / 1e6:.2f} M tokens/s, "
          f"({count_cpu:.2f} CPU-s, {n_tok / count_cpu / 1e6:.2f} M tokens per CPU-s), "
          f"{len(co):,} entries, {co.info['spilled_runs']} runs spilled; peak RSS "
          f"{rss_count:.0f} MB (before counting {rss0:.0f} MB)", flush=True)
    print("counting phases, s: " + ", ".join(f"{k} {v:.2f}" for k, v in
                                             co.info["phase_seconds"].items()), flush=True)

    base = None
    if args.baseline_tokens:
        cut = int(np.searchsorted(offsets, min(args.baseline_tokens, n_tok), side="right")) - 1
        cut = max(cut, 1)
        sub_ids, sub_off = ids[:offsets[cut]], offsets[:cut + 1]
        t0 = time.perf_counter()
        ref = scipy_count(sub_ids, sub_off, V, args.window)
        ref_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        mine = count_cooccurrences(sub_ids, sub_off, V, window=args.window, memory=args.memory,
                                   workers=args.threads, progress=False)
        mine_s = time.perf_counter() - t0
        order = np.lexsort((ref.col, ref.row))  # embedkit's entries are in key order
        r_row, r_col, r_val = ref.row[order], ref.col[order], ref.data[order]
        ok = (len(mine) == ref.nnz and np.array_equal(mine.rows, r_row)
              and np.array_equal(mine.cols, r_col)
              and np.allclose(mine.values, r_val, rtol=1e-5))
        base = (len(sub_ids), ref_s, mine_s, ok)
        print(f"counting {len(sub_ids):,} tokens: embedkit {mine_s:.2f} s, NumPy/SciPy "
              f"{ref_s:.2f} s (x{ref_s / mine_s:.1f}); identical counts: {ok}", flush=True)

    spill = None
    if args.spill_memory:
        t0 = time.perf_counter()
        small = count_cooccurrences(ids, offsets, V, window=args.window, memory=args.spill_memory,
                                    workers=args.threads, progress=False)
        small_s = time.perf_counter() - t0
        same = (np.array_equal(small.keys, co.keys)
                and np.allclose(small.values, co.values, rtol=1e-5))
        spill = (small_s, small.info["spilled_runs"], small.info["merge_passes"], same)
        print(f"counting with --memory {args.spill_memory}: {small_s:.2f} s, "
              f"{small.info['spilled_runs']} runs spilled, {small.info['merge_passes']} extra "
              f"merge passes; same counts as in memory: {same}", flush=True)
        del small

    g = GloVe(dim=args.dim, window=args.window, min_count=args.min_count, x_max=args.x_max,
              power=args.power, alpha=args.alpha, epochs=args.epochs, workers=args.threads,
              seed=args.seed, memory=args.memory, vectors=args.vectors)
    c0 = time.process_time()
    res = g.fit(enc, cooccurrence=co, progress=False)
    train_cpu = time.process_time() - c0
    rss_train = peak_rss_mb()
    epoch_s = [h["seconds"] for h in res.history]
    analogy, rho = scores(res.vectors.words, res.vectors.vectors, args)
    print(f"training: {args.epochs} epochs in {res.seconds:.1f} s, median "
          f"{statistics.median(epoch_s):.2f} s/epoch ({train_cpu / args.epochs:.1f} CPU-s per "
          f"epoch); loss {res.history[0]['loss']:.4f} -> "
          f"{res.history[-1]['loss']:.4f}; peak RSS {rss_train:.0f} MB", flush=True)
    print(f"accuracy: Google analogy {analogy:.1%} (restrict_vocab 30000), "
          f"WordSim-353 rho {rho:.3f}", flush=True)

    gen = None
    if args.gensim_epochs:
        from gensim.models import Word2Vec as G

        sents = [enc.words(i) for i in range(len(offsets) - 1)]
        m = G(vector_size=args.dim, window=5, negative=5, min_count=1, sample=1e-3,
              workers=args.threads, sg=1, seed=args.seed, epochs=args.gensim_epochs)
        m.build_vocab(sents)
        t0, c0 = time.perf_counter(), time.process_time()
        m.train(sents, total_examples=len(sents), epochs=args.gensim_epochs)
        gs, gcpu = time.perf_counter() - t0, time.process_time() - c0
        ga, gr = scores(m.wv.index_to_key, m.wv.vectors, args)
        gen = (gs / args.gensim_epochs, ga, gr)
        print(f"gensim skip-gram reference: {gen[0]:.1f} s/epoch "
              f"({gcpu / args.gensim_epochs:.1f} CPU-s per epoch), analogy {ga:.1%}, "
              f"rho {gr:.3f} after {args.gensim_epochs} epoch(s)", flush=True)

    tbl = []
    tbl.append(f"| measure ({args.threads} threads, {n_tok / 1e6:.1f} M tokens) | embedkit GloVe | "
          f"reference | ratio |")
    tbl.append("|---|---|---|---|")
    tbl.append(f"| co-occurrence counting, s (median of {len(walls)}) | {count_s:.2f} | | |")
    tbl.append("| counting phases, s | " + ", ".join(f"{k} {v:.2f}" for k, v in
                                               co.info["phase_seconds"].items()) + " | | |")
    tbl.append(f"| counting speed, M tokens/s (per CPU-second) | {n_tok / count_s / 1e6:.2f} "
          f"({n_tok / count_cpu / 1e6:.2f}) | | |")
    if base:
        nt, ref_s, mine_s, ok = base
        tbl.append(f"| counting {nt / 1e6:.1f} M tokens vs NumPy/SciPy, s | {mine_s:.2f} | "
              f"{ref_s:.2f} | x{ref_s / mine_s:.1f} faster (same counts: {ok}) |")
    if spill:
        tbl.append(f"| counting with --memory {args.spill_memory}, s | {spill[0]:.1f} | | "
              f"{spill[1]} runs spilled; same counts: {spill[3]} |")
    tbl.append(f"| training, s per epoch (median of {args.epochs}) | "
          f"{statistics.median(epoch_s):.1f} | "
          + (f"{gen[0]:.1f} (gensim skip-gram) | x{gen[0] / statistics.median(epoch_s):.2f} |"
             if gen else "| |"))
    tbl.append(f"| {args.epochs} epochs total, s (CPU-s) | {res.seconds:.0f} ({train_cpu:.0f}) | | |")
    tbl.append(f"| peak RSS after counting / training, MB | {rss_count:.0f} / {rss_train:.0f} | | |")
    tbl.append(f"| Google analogy (restrict_vocab 30000) | {analogy:.1%} | "
          + (f"{gen[1]:.1%} ({args.gensim_epochs} sgns epoch) | |" if gen else "| |"))
    tbl.append(f"| WordSim-353 Spearman rho | {rho:.3f} | "
          + (f"{gen[2]:.3f} | |" if gen else "| |"))
    report.lines("Counting, training and accuracy", tbl)
    report.write(args.markdown)


if __name__ == "__main__":
    main()
