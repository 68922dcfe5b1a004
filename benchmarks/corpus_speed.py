"""Vocabulary counting + encoding speed: embedkit's corpus pipeline against gensim's build_vocab.

Usage::

    python benchmarks/corpus_speed.py CORPUS [--min-count 5] [--repeat 3]

Both read the same file with whitespace tokenization (the corpus should be pre-tokenized,
as ``gutenberg_mix_norm.txt.gz`` is) and both are timed from the file on disk to a
finished vocabulary; embedkit also encodes the corpus into token ids, which gensim's
``build_vocab`` does not do.  Kernels are compiled (and cached) before timing, as gensim's
C extension is loaded before it.  Prints the median of ``--repeat`` runs, tokens/s per wall
second and per CPU second (less sensitive to other jobs on a shared machine; embedkit's CPU
time includes its reader thread), the ratios, and checks that both found the same vocabulary.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time

from _report import Report, add_markdown_option


def time_embedkit(path, min_count):
    from embedkit.corpus import prepare

    t, c = time.perf_counter(), time.process_time()
    enc = prepare(path, min_count=min_count, tokenizer="whitespace", lowercase=False,
                  cache=False)
    return time.perf_counter() - t, time.process_time() - c, enc


def time_gensim(path, min_count):
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    model = Word2Vec(min_count=min_count)
    t, c = time.perf_counter(), time.process_time()
    model.build_vocab(LineSentence(str(path)))
    return time.perf_counter() - t, time.process_time() - c, model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    add_markdown_option(parser, "docs/benchmarks/corpus_speed.md")
    args = parser.parse_args()
    report = Report("Corpus counting and encoding: embedkit against gensim")
    logging.basicConfig(level=logging.WARNING)

    from embedkit._progress import set_progress
    from embedkit.corpus import prepare

    set_progress(False)
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as warm:  # compile the kernels
        warm.write("a b c\n")
        warm.flush()
        prepare(warm.name, min_count=1, cache=False)

    ek_times, gs_times, ek_cpu, gs_cpu = [], [], [], []
    for _ in range(args.repeat):
        dt, cpu, enc = time_embedkit(args.corpus, args.min_count)
        ek_times.append(dt)
        ek_cpu.append(cpu)
        dt, cpu, model = time_gensim(args.corpus, args.min_count)
        gs_times.append(dt)
        gs_cpu.append(cpu)
    raw = enc.info["raw_tokens"]
    ek, gs = statistics.median(ek_times), statistics.median(gs_times)
    ekc, gsc = statistics.median(ek_cpu), statistics.median(gs_cpu)
    same = (len(enc.vocab) == len(model.wv)
            and all(model.wv.get_vecattr(w, "count") == c
                    for w, c in zip(enc.vocab.words, enc.vocab.counts.tolist())))
    report.note(f"Corpus `{os.path.basename(args.corpus)}`: {raw:,} tokens, min_count "
                f"{args.min_count}, medians of {args.repeat} interleaved runs. Same vocabulary and "
                f"counts: {'yes' if same else 'NO'} ({len(enc.vocab):,} words).")
    report.table("Counting and encoding against gensim's build_vocab",
                 ["", "wall s", "M tokens/s", "CPU s", "M tokens / CPU-s"],
                 [["embedkit count + encode", f"{ek:.2f}", f"{raw / ek / 1e6:.2f}", f"{ekc:.2f}",
                   f"{raw / ekc / 1e6:.2f}"],
                  ["gensim build_vocab", f"{gs:.2f}", f"{raw / gs / 1e6:.2f}", f"{gsc:.2f}",
                   f"{raw / gsc / 1e6:.2f}"],
                  ["**ratio**", f"**{gs / ek:.2f}x**", "", f"**{gsc / ekc:.2f}x**", ""]])
    report.write(args.markdown)

if __name__ == "__main__":
    main()
