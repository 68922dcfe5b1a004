"""Encoder-decoder benchmark on the built-in dates task: exact match, token accuracy and
BLEU on the test split with greedy decoding and beam search, seconds per epoch, and
decoding speed.

Usage (from the repository root)::

    python benchmarks/seq2seq_dates.py --markdown          # docs/benchmarks/seq2seq_dates.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _report import Report, add_defaults, add_markdown_option  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_defaults(ap, epochs=20, batch_size=32, lr=2e-3, emb=32, hidden=64, dec_hidden=128,
                 attention=64, patience=3, seed=0, beams="1,3,5", length_penalty=0.0)
    ap.add_argument("--out", default=None, help="also save the model here")
    add_markdown_option(ap, "docs/benchmarks/seq2seq_dates.md")
    args = ap.parse_args(argv)

    from embedkit.seq2seq import dates_task, evaluate, train_seq2seq

    report = Report("Encoder-decoder with attention on the dates task")
    task = dates_task()
    t0 = time.perf_counter()
    model = train_seq2seq(task["train"], task["dev"], out=args.out, emb=args.emb,
                          hidden=args.hidden, dec_hidden=args.dec_hidden,
                          attention=args.attention, epochs=args.epochs,
                          batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                          seed=args.seed)
    train_s = time.perf_counter() - t0
    rows = [[h["epoch"], round(h["train_loss"], 4), round(h["dev_exact_match"], 4),
             round(h["dev_bleu"], 2), round(h["seconds"], 1)] for h in model.history]
    report.table(f"Training ({len(task['train']):,} pairs, dev {len(task['dev']):,}; char level, "
                 f"emb {args.emb}, encoder 2x{args.hidden}, decoder {args.dec_hidden}, "
                 f"attention {args.attention}, batch {args.batch_size}, Adam {args.lr})",
                 ["epoch", "train loss (nats/token)", "dev exact match", "dev BLEU",
                  "seconds (training only)"], rows)
    report.note(f"Total training time {train_s:.0f} s (dev decoding included); the model of "
                "the best dev epoch (parameter average) is kept.")
    rows = []
    for b in [int(x) for x in args.beams.split(",")]:
        t0 = time.perf_counter()
        res = evaluate(model, task["test"], beam=b, length_penalty=args.length_penalty)
        dt = time.perf_counter() - t0
        rows.append([("greedy (batched)" if b == 1 else f"beam {b}"), round(res["exact_match"], 4),
                     round(res["token_accuracy"], 4), round(res["bleu"], 2),
                     round(len(task["test"]) / dt, 1)])
    report.table(f"Test split ({len(task['test']):,} pairs)",
                 ["decoding", "exact match", "token accuracy", "BLEU (characters)",
                  "sentences/s"], rows)
    wrong = [(s, t, o) for (s, t), o in zip(task["test"],
                                            evaluate(model, task["test"])["outputs"])
             if "".join(o) != t][:10]
    if wrong:
        report.table("Some greedy errors on test", ["source", "target", "output"],
                     [[s, t, "".join(o)] for s, t, o in wrong])
    report.write(args.markdown)


if __name__ == "__main__":
    main()
