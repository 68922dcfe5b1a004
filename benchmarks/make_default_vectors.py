"""Make the default vectors shipped in ``embedkit/data/default`` from trained vectors.

Step 1 trains skip-gram vectors with embedkit itself on the Gutenberg mix (see
``DEFAULT_TRAIN_COMMAND``; run it by hand or with ``--train``).  Step 2 (this script) keeps the
most frequent words, evaluates them with gensim's evaluators (Google analogy, WordSim-353,
SimLex-999), and writes them as float16 ``vectors.npy`` + ``words.json`` + ``meta.json`` (how
they were made, corpus, licences, scores) into the package.

Usage::

    python benchmarks/make_default_vectors.py --train            # train, then pack
    python benchmarks/make_default_vectors.py --vectors sg.ekv   # pack vectors trained already
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the benchmark data folder (corpora/, eval/): $EMBEDKIT_BENCH_DATA
_SHARED = os.environ.get("EMBEDKIT_BENCH_DATA", "data")
CORPUS = os.path.join(_SHARED, "corpora", "gutenberg_mix_raw.txt.gz")
TRAINED = os.path.join(_ROOT, "build", "default_sg.ekv")
DEFAULT_TRAIN_COMMAND = (
    f"nice embedkit train {CORPUS} --model sgns --dim 100 --window 5 --negative 5 "
    f"--min-count 5 --epochs 3 --workers 2 --seed 1 --checkpoint-every 300 --out {TRAINED}")
OUT = os.path.join(_ROOT, "embedkit", "data", "default")

LICENCES = (
    "Licences: 355 public-domain Project Gutenberg books (public domain in the US), WordNet 3.0 "
    "glosses (WordNet licence, credit Princeton University), the 1992 CIA World Factbook and US "
    "State of the Union / inaugural addresses (US-government public-domain works). "
    "The vectors are derived from this corpus and are distributed with embedkit (MIT).")


def load_any(path, limit):
    """Read trained vectors with embedkit.load (every format embedkit reads)."""
    import embedkit

    if hasattr(embedkit, "load"):
        return embedkit.load(path, limit=limit)
    from gensim.models import KeyedVectors  # until embedkit.load is available

    kv = KeyedVectors.load_word2vec_format(path, binary=path.endswith(".bin"), limit=limit)
    return embedkit.Vectors(list(kv.index_to_key), kv.vectors)


def evaluate(vectors):
    """Google analogy, WordSim-353 and SimLex-999 with gensim's own evaluators."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.dim)
    kv.add_vectors(list(vectors.words), vectors.vectors)
    ev = os.path.join(_SHARED, "eval", "gensim")
    scores = {}
    for restrict in (30_000, len(vectors)):
        acc, sections = kv.evaluate_word_analogies(os.path.join(ev, "questions-words.txt"),
                                                   restrict_vocab=restrict)
        total = sections[-1]
        covered = len(total["correct"]) + len(total["incorrect"])
        scores[f"google_analogy_restrict_{restrict}"] = {
            "accuracy": round(float(acc), 4), "questions_covered": covered}
    for name, fname in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        pearson, spearman, oov = kv.evaluate_word_pairs(os.path.join(ev, fname))
        scores[name] = {"spearman": round(float(spearman[0]), 4),
                        "pearson": round(float(pearson[0]), 4), "oov_percent": round(oov, 2)}
    return scores


def write_readme(out, meta):
    """A human-readable note beside the vectors: how they were made, licences, scores."""
    lines = [
        "# embedkit default vectors", "",
        f"{meta['words']:,} words x {meta['dim']} dims, float16, {meta['order']}.", "",
        "Made with:", "", "```", meta["train_command"], meta["pack_command"], "```", "",
        f"Corpus: {meta['corpus']}.", "", meta["licences"], "",
        f"Evaluation ({meta['evaluated_with']}):", "",
        "| set | score |", "|---|---|",
    ]
    for name, s in meta["evaluation"].items():
        if "accuracy" in s:
            lines.append(f"| {name} | accuracy {s['accuracy']:.4f} "
                         f"({s['questions_covered']} questions covered) |")
        else:
            lines.append(f"| {name} | Spearman {s['spearman']:.4f} (OOV {s['oov_percent']}%) |")
    lines += ["", "Examples:", ""]
    for k, r in meta["examples"].items():
        lines.append(f"- {k}: " + ", ".join(f"{w} ({s:.3f})" for w, s in r))
    with open(os.path.join(out, "README.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", action="store_true", help="run the training command first")
    p.add_argument("--train-command", default=DEFAULT_TRAIN_COMMAND)
    p.add_argument("--vectors", default=TRAINED, help="trained vectors to pack")
    p.add_argument("--keep", type=int, default=50_000, help="most frequent words to keep")
    p.add_argument("--out", default=OUT)
    p.add_argument("--train-seconds", type=float, help="training time, when trained by hand")
    args = p.parse_args(argv)

    from embedkit.search import combination_words
    from embedkit.vectors.default import load_packed, save_packed

    seconds = args.train_seconds
    if args.train:
        os.makedirs(os.path.dirname(args.vectors) or ".", exist_ok=True)
        print("training:", args.train_command, flush=True)
        start = time.perf_counter()
        subprocess.run(shlex.split(args.train_command), check=True)
        seconds = round(time.perf_counter() - start)
    v = load_any(args.vectors, args.keep)
    print(f"{len(v)} words x {v.dim} dims from {args.vectors}", flush=True)
    # evaluate what ships: the float16 rounding of the kept rows
    with tempfile.TemporaryDirectory() as tmp:
        save_packed(v, tmp, {})
        shipped = load_packed(tmp)
    scores = evaluate(shipped)
    examples = {
        "king - man + woman": combination_words(shipped, [["king", "woman"]], [["man"]], 5)[0],
        "similar france": combination_words(shipped, [["france"]], None, 10)[0],
    }
    meta = {
        "name": "embedkit default skip-gram vectors",
        "words": len(shipped), "dim": shipped.dim, "dtype": "float16",
        "order": "most frequent first",
        "train_command": args.train_command, "train_seconds": seconds,
        "pack_command": "python benchmarks/make_default_vectors.py " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "corpus": "gutenberg_mix_raw.txt.gz (26.2 M tokens)",
        "licences": LICENCES,
        "evaluation": scores,
        "evaluated_with": "gensim KeyedVectors.evaluate_word_analogies / evaluate_word_pairs "
                          "on the float16 vectors as shipped",
        "examples": {k: [[w, round(s, 4)] for w, s in r] for k, r in examples.items()},
    }
    save_packed(shipped, args.out, meta, dtype=np.float16)
    write_readme(args.out, meta)
    size = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"wrote {args.out} ({size / 1e6:.1f} MB)")
    for k, r in examples.items():
        print(f"{k}: " + ", ".join(f"{w} {s:.3f}" for w, s in r))
    for k, s in scores.items():
        print(f"{k}: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
