"""Downstream benchmark: SST-2 sentiment and WikiANN-en NER per encoder, and the time per
training step of each encoder against PyTorch's CPU module with the same shapes and threads.

Usage (from the repository root)::

    python benchmarks/downstream.py --vectors gutenberg_sgns.bin   # or $EMBEDKIT_VECTORS
    python benchmarks/downstream.py --only step          # just the step-time comparison
    python benchmarks/downstream.py --only sentiment --encoder lstm --json sst2_lstm.json
    python benchmarks/downstream.py --only step --include sst2_lstm.json --markdown

Step shapes: batch 32, length 40, input 100; recurrent encoders hidden 128 per direction
(``torch.nn.GRU/LSTM/RNN(bidirectional=True)``); the Transformer d_model 128, 4 heads, ff
256, 2 layers, pre-LN, dropout 0.1 (``Linear`` + sinusoidal positions +
``torch.nn.TransformerEncoder(norm_first=True)`` + ``LayerNorm``, with the key padding mask).
``--include`` adds the accuracy rows of earlier runs of this script (their ``--json``
files, each with its own command, times and load) to the tables and the page.

Trains on ``train`` and scores ``dev`` of ``sentiment/sst2`` and ``ner/wikiann_en`` under
``$EMBEDKIT_BENCH_DATA`` (``../shared/data`` when the variable is unset), prints dev accuracy / F1 and seconds per epoch, then
times one training step (forward + backward through time, batch 32, length 40, input 100,
hidden 128) of both implementations, interleaved in the same run, with the same thread
count.  PyTorch is optional: without it the comparison is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import Report, add_markdown_option, data_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = data_path("") or os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))


def load_vectors(path):
    from embedkit.vectors.default import load_vectors as _load
    return _load(path)[0]


def _gemm_floor_kernel():
    """A Numba function making exactly the BLAS calls of one BiGRU step, and nothing else."""
    from numba import njit

    from embedkit._kernels.gru import _mm

    @njit(nogil=True)
    def gemms(T, B, D, H, Wi, X, XP, Whh, Hs, hp, WhTp, G, dh, dX, dWi, dWhT, ib, fb):
        TB = T * B
        for _ in range(2):  # the two directions, one after the other
            _mm(False, True, 3 * H, TB, D, Wi, 0, D, X, 0, D, 0, XP, 0, TB, ib, fb)
            for s in range(1, T):
                _mm(False, False, 3 * H, B, H, Whh, 0, H, Hs, s * B, TB + B, 0, hp, 0, B, ib, fb)
            for s in range(T - 1, 0, -1):
                _mm(False, False, H, B, 3 * H, WhTp, 0, 3 * H, G, s * B, TB, 1, dh, 0, B, ib, fb)
            _mm(True, False, TB, D, 3 * H, G, H * TB, TB, Wi, 0, D, 0, dX, 0, D, ib, fb)
            _mm(False, False, 3 * H, D, TB, G, H * TB, TB, X, 0, D, 0, dWi, 0, D, ib, fb)
            K = (T - 1) * B
            _mm(False, True, H, 2 * H, K, Hs, B, TB + B, G, H * TB + B, TB, 0, dWhT, 0, 3 * H,
                ib, fb)
            _mm(False, True, H, H, K, Hs, B, TB + B, G, B, TB, 0, dWhT, 2 * H, 3 * H, ib, fb)

    return gemms


def gemm_floor(T=40, B=32, D=100, H=128, repeats=30):
    """Median wall and CPU seconds of the step's matrix products alone on one thread.

    The same BLAS calls with the same shapes as :func:`embedkit._kernels.gru.gru_forward`
    and ``gru_backward`` make for both directions.

    A lower bound for the 1-thread step: the gate arithmetic comes on top.  The GEMMs are
    ``2 * (3 * 2TBD + 3 * 2TBH * 3H)`` flops minus the skipped first recurrent steps.
    """
    from embedkit._threads import single_threaded_blas

    rng = np.random.default_rng(0)
    f32 = np.float32
    TB = T * B
    args = (rng.normal(size=(3 * H, D)).astype(f32), rng.normal(size=(TB, D)).astype(f32),
            np.empty((3 * H, TB), f32), rng.normal(size=(3 * H, H)).astype(f32),
            rng.normal(size=(H, TB + B)).astype(f32), np.empty((3 * H, B), f32),
            rng.normal(size=(H, 3 * H)).astype(f32), rng.normal(size=(4 * H, TB)).astype(f32),
            np.zeros((H, B), f32), np.empty((TB, D), f32), np.empty((3 * H, D), f32),
            np.empty((H, 3 * H), f32), np.zeros(8, np.int32), np.zeros(2, f32))
    gemms = _gemm_floor_kernel()
    wall, cpu = [], []
    with single_threaded_blas():
        for i in range(repeats + 3):
            t0, c0 = time.perf_counter(), time.process_time()
            gemms(T, B, D, H, *args)
            if i >= 3:
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def _lstm_gemm_kernel():
    """A Numba function making exactly the BLAS calls of one LSTM direction's training step
    (:func:`embedkit._kernels.lstm.lstm_forward` and ``lstm_backward``), and nothing else."""
    from numba import njit

    from embedkit._kernels.gru import _mm, _mm_blocks

    @njit(nogil=True)
    def gemms(T, B, D, H, Wi, X, XP, Wh, Hs, WhT, dh, dX, dWi, dWh, ib, fb):
        TB = T * B
        _mm(False, True, 4 * H, TB, D, Wi, 0, D, X, 0, D, 0, XP, 0, TB, ib, fb)
        for s in range(1, T):
            _mm_blocks(False, 4 * H, B, H, Wh, 0, H, Hs, s * B, TB + B, 1, XP, s * B, TB, ib, fb)
        for s in range(T - 1, 0, -1):
            _mm_blocks(False, H, B, 4 * H, WhT, 0, 4 * H, XP, s * B, TB, 0, dh, 0, B, ib, fb)
        _mm_blocks(True, TB, D, 4 * H, XP, 0, TB, Wi, 0, D, 0, dX, 0, D, ib, fb)
        _mm_blocks(False, 4 * H, D, TB, XP, 0, TB, X, 0, D, 0, dWi, 0, D, ib, fb)
        _mm(False, True, 4 * H, H, (T - 1) * B, XP, B, TB, Hs, B, TB + B, 0, dWh, 0, H, ib, fb)

    return gemms


def lstm_flops(T=40, B=32, D=100, H=128):
    """Multiply-adds x 2 of the GEMMs of one bidirectional LSTM training step: per direction
    the input projection, the input gradient and dWi (``2 * 4H * TB * D`` each) and the
    recurrent products forward and backward and dWh (``2 * 4H * H * (T - 1) * B`` each; the
    first step's product with the zero state is skipped)."""
    per_dir = 3 * 2 * 4 * H * T * B * D + 3 * 2 * 4 * H * H * (T - 1) * B
    return 2 * per_dir


def lstm_gemm_floor(threads, T=40, B=32, D=100, H=128, repeats=30):
    """Median wall and CPU seconds of the BiLSTM step's matrix products alone: the two
    directions one after the other (``threads=1``) or one per thread (``threads=2``), as
    :class:`embedkit.downstream.recurrent.BiLSTM` runs them.  Also a big square GEMM's
    GFLOP/s on one thread (this BLAS's peak here)."""
    from concurrent.futures import ThreadPoolExecutor

    from embedkit._threads import single_threaded_blas

    rng = np.random.default_rng(0)
    f32 = np.float32
    TB = T * B

    def buffers():
        return (rng.normal(size=(4 * H, D)).astype(f32), rng.normal(size=(TB, D)).astype(f32),
                np.empty((4 * H, TB), f32), rng.normal(size=(4 * H, H)).astype(f32),
                rng.normal(size=(H, TB + B)).astype(f32), rng.normal(size=(H, 4 * H)).astype(f32),
                np.empty((H, B), f32), np.empty((TB, D), f32), np.empty((4 * H, D), f32),
                np.empty((4 * H, H), f32), np.zeros(8, np.int32), np.zeros(2, f32))

    dirs = [buffers(), buffers()]
    gemms = _lstm_gemm_kernel()
    pool = ThreadPoolExecutor(2) if threads >= 2 else None

    def step():
        if pool is None:
            for a in dirs:
                gemms(T, B, D, H, *a)
        else:
            for f in [pool.submit(gemms, T, B, D, H, *a) for a in dirs]:
                f.result()

    wall, cpu = [], []
    with single_threaded_blas():
        for i in range(repeats + 3):
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            if i >= 3:
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
        from scipy.linalg.blas import sgemm  # the BLAS the kernels call

        n = 1024
        a, b = (np.asfortranarray(rng.normal(size=(n, n)), dtype=f32) for _ in range(2))
        sgemm(1.0, a, b)
        peak = []
        for _ in range(5):
            c0 = time.process_time()  # CPU time: one thread, robust to other processes
            sgemm(1.0, a, b)
            peak.append(2 * n ** 3 / (time.process_time() - c0) / 1e9)
    if pool is not None:
        pool.shutdown()
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu),
            "flops": lstm_flops(T, B, D, H), "peak_gflops_1_thread": statistics.median(peak)}


STEP_SHAPES = dict(T=40, B=32, D=100, H=128, heads=4, ff=256, layers=2)


def _embedkit_step(kind, rng, T, B, D, H, heads, ff, layers, threads):
    """(encoder, forward+backward callable) for embedkit's encoder ``kind``."""
    from embedkit.downstream.encoders import RECURRENT
    from embedkit.downstream.transformer import TransformerEncoder, init_transformer

    X = rng.normal(size=(T, B, D)).astype(np.float32)
    lengths = np.full(B, T)
    if kind == "transformer":
        p = init_transformer(rng, D, H, layers, ff)
        g = {k: np.zeros_like(v) for k, v in p.items()}
        enc = TransformerEncoder(p, g, heads=heads, threads=threads, dropout=0.1)
        dO = rng.normal(size=(T, B, H)).astype(np.float32)
        drng = np.random.default_rng(1)

        def step():
            enc.forward(X, lengths, drng)
            enc.backward(dO)
    else:
        cls, init = RECURRENT[kind]
        p = init(rng, D, H)
        g = {k: np.zeros_like(v) for k, v in p.items()}
        enc = cls(p, g, threads=threads)
        dO = rng.normal(size=(T, B, 2 * H)).astype(np.float32)

        def step():
            enc.forward(X, lengths)
            enc.backward(dO)
    return enc, step, X, dO


def _torch_step(torch, kind, X, dO, T, B, D, H, heads, ff, layers):
    """The same step with PyTorch's CPU module (the input needs its gradient too: embedkit's
    step computes dX, for learned embedding rows and character features)."""
    xt = torch.from_numpy(X).requires_grad_(True)
    dt = torch.from_numpy(dO)
    if kind == "transformer":
        from embedkit.downstream.transformer import sinusoid

        proj = torch.nn.Linear(D, H)
        layer = torch.nn.TransformerEncoderLayer(H, heads, ff, dropout=0.1, norm_first=True)
        stack = torch.nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        norm = torch.nn.LayerNorm(H)
        pe = torch.from_numpy(sinusoid(T, H))[:, None, :]
        pad = torch.zeros((B, T), dtype=torch.bool)
        mods = [proj, stack, norm]
        for m in mods:
            m.train()

        def step():
            for m in mods:
                m.zero_grad(set_to_none=False)
            xt.grad = None
            out = norm(stack(torch.nn.functional.dropout(proj(xt) + pe, 0.1),
                             src_key_padding_mask=pad))
            out.backward(dt)
        return step
    mod = {"gru": torch.nn.GRU, "lstm": torch.nn.LSTM, "rnn": torch.nn.RNN}[kind](
        D, H, bidirectional=True)

    def step():
        mod.zero_grad(set_to_none=False)
        xt.grad = None
        out, _ = mod(xt)
        out.backward(dt)
    return step


SETTLE = 0.02  # seconds of untimed steps before each timed step (see step_times)


def _untimed(step, settle):
    """Run ``step()`` once, then again until ``settle`` seconds have passed in all."""
    t0 = time.perf_counter()
    step()
    while time.perf_counter() - t0 < settle:
        step()


def step_times(kind="gru", threads=2, repeats=30, T=40, B=32, D=100, H=128, heads=4, ff=256,
               layers=2, settle=SETTLE):
    """Median seconds per forward+backward step: embedkit's ``kind`` encoder and (if
    installed) PyTorch's module, interleaved; each timed step follows at least ``settle``
    seconds of untimed steps of the same library."""
    from embedkit._threads import single_threaded_blas

    rng = np.random.default_rng(0)
    enc, ek, X, dO = _embedkit_step(kind, rng, T, B, D, H, heads, ff, layers, threads)
    try:
        import torch
    except ImportError:
        torch = None
    tt = None
    if torch is not None:
        torch.set_num_threads(threads)
        tt = _torch_step(torch, kind, X, dO, T, B, D, H, heads, ff, layers)

    res = {"embedkit": [], "torch": [], "embedkit_cpu": [], "torch_cpu": []}
    with single_threaded_blas():
        for _ in range(3):
            ek()
            if tt:
                tt()
        for _ in range(repeats):  # interleaved, so both see the same machine load
            # each timed step follows untimed steps of the same library, as in training:
            # OpenMP worker threads (torch's) spin for a while after a parallel region and
            # would otherwise run, and be counted as CPU time, inside the other's timing.
            # They spin for several ms (about 4 ms of CPU here), longer than one step of the
            # smaller encoders, so the untimed steps last at least ``settle`` seconds
            _untimed(ek, settle)
            t0, c0 = time.perf_counter(), time.process_time()
            ek()
            res["embedkit"].append(time.perf_counter() - t0)
            res["embedkit_cpu"].append(time.process_time() - c0)
            if tt:
                _untimed(tt, settle)
                t0, c0 = time.perf_counter(), time.process_time()
                tt()
                res["torch"].append(time.perf_counter() - t0)
                res["torch_cpu"].append(time.process_time() - c0)
    enc.close()
    return {k: statistics.median(v) if v else None for k, v in res.items()}


def _encoder_text(args, layers, hidden):
    if args.encoder == "transformer":
        ff = args.ff_dim or 2 * hidden
        return (f"{layers} x Transformer (pre-LN) d {hidden}, {args.heads} heads, ff {ff}, "
                f"dropout {args.transformer_dropout:g}")
    return f"{layers} x Bi{args.encoder.upper()} {hidden}"


def _fit_timed(m, tr, dv, **fit):
    """Train ``m`` on ``tr`` with ``dv`` for early stopping: the seconds it took, the
    seconds of each epoch, and the scores on ``dv``."""
    t0 = time.perf_counter()
    m.fit(tr[0], tr[1], dv[0], dv[1], **fit)
    total = time.perf_counter() - t0
    secs = [h["epoch_seconds"] for h in m.history if "epoch_seconds" in h]
    return total, secs, m.evaluate(dv[0], dv[1])


def run_sentiment(vectors, args):
    from embedkit.downstream import SentimentClassifier, read_tsv

    d = os.path.join(DATA, "sentiment", "sst2")
    tr = read_tsv(os.path.join(d, "train.tsv"))
    dv = read_tsv(os.path.join(d, "dev.tsv"))
    m = SentimentClassifier(vectors, hidden=args.hidden, seed=args.seed, threads=args.threads,
                            fine_tune=args.sst_fine_tune, input_dropout=0.5,
                            encoder=args.encoder, layers=args.sst_layers, heads=args.heads,
                            ff_dim=args.ff_dim, transformer_dropout=args.transformer_dropout)
    total, secs, res = _fit_timed(m, tr, dv, epochs=args.sst_epochs, lr=args.lr, patience=3,
                                  evals_per_epoch=2, progress=not args.quiet)
    return {"task": "SST-2", "metric": "accuracy", "dev": res["accuracy"],
            "encoder": args.encoder,
            "config": ("fine-tune" if args.sst_fine_tune else "frozen")
            + f", {_encoder_text(args, args.sst_layers, args.hidden)}, max+mean pooling"
            + f", lr {args.lr:g}, {args.sst_epochs} epochs max",
            "macro_f1": res["macro_f1"], "epochs": len(secs),
            "sec_per_epoch": statistics.median(secs), "train_seconds": total}


def run_ner(vectors, args):
    from embedkit.downstream import NERTagger, read_conll

    d = os.path.join(DATA, "ner", "wikiann_en")
    widths = [int(w) for w in args.ner_char_cnn_width.split(",")]
    widths = widths[0] if len(widths) == 1 else widths
    tr = read_conll(os.path.join(d, "train"), strip_prefix="en:")
    dv = read_conll(os.path.join(d, "dev"), strip_prefix="en:")
    m = NERTagger(vectors, hidden=args.ner_hidden, seed=args.seed, threads=args.threads,
                  char_buckets=args.ner_char_buckets, char_dim=32, case_dim=8,
                  fine_tune=args.ner_fine_tune,
                  crf=args.ner_crf, input_dropout=0.5, char_cnn=args.ner_char_cnn,
                  char_cnn_dim=25, char_cnn_width=widths, word_dropout=args.ner_word_dropout,
                  layers=args.ner_layers, variational=args.ner_variational,
                  encoder=args.encoder, heads=args.heads, ff_dim=args.ff_dim,
                  transformer_dropout=args.transformer_dropout)
    total, secs, res = _fit_timed(m, tr, dv, epochs=args.ner_epochs, lr=args.ner_lr, patience=3,
                                  clip=args.ner_clip, average=args.ner_average,
                                  lr_decay=args.ner_lr_decay,
                                  evals_per_epoch=args.ner_evals_per_epoch,
                                  progress=not args.quiet)
    return {"task": "WikiANN-en", "metric": "entity F1", "dev": res["f1"],
            "encoder": args.encoder,
            "config": ("fine-tune" if args.ner_fine_tune else "frozen")
            + (", CRF" if args.ner_crf else ", softmax")
            + f", {_encoder_text(args, args.ner_layers, args.ner_hidden)}"
            + (", variational dropout" if args.ner_variational else "")
            + f", clip {args.ner_clip:g}"
            + (f", weight average {args.ner_average:g}" if args.ner_average else "")
            + (f", lr decay {args.ner_lr_decay:g}" if args.ner_lr_decay else "")
            + (f", {args.ner_evals_per_epoch} dev evaluations per epoch"
               if args.ner_evals_per_epoch > 1 else "")
            + (", char n-grams" if args.ner_char_buckets else "") + ", case"
            + (f", char CNN {args.ner_char_cnn}" if args.ner_char_cnn else "")
            + (f" x widths {args.ner_char_cnn_width}"
               if args.ner_char_cnn and args.ner_char_cnn_width != "3" else "")
            + (f", word dropout {args.ner_word_dropout}" if args.ner_word_dropout else ""),
            "precision": res["precision"], "recall": res["recall"],
            "per_type": {k: round(v["f1"], 4) for k, v in res["per_type"].items()},
            "epochs": len(secs), "sec_per_epoch": statistics.median(secs),
            "train_seconds": total}


ENCODERS = ["gru", "lstm", "rnn", "transformer"]
TORCH_PEER = {"gru": "torch.nn.GRU", "lstm": "torch.nn.LSTM", "rnn": "torch.nn.RNN",
              "transformer": "torch.nn.TransformerEncoder"}


def _accuracy_rows(runs):
    """Table rows for the task results of ``runs`` (this run and included JSON files)."""
    rows = []
    for run in runs:
        load = run.get("load_start"), run.get("load_end")
        when = (f"{run.get('started', '?')[:16]} - {run.get('finished', '?')[11:16]}, load "
                + " / ".join(f"{x[0]:.1f}" if x else "?" for x in load))
        for r in run.get("tasks", []):
            rows.append([r["task"], r.get("encoder", "gru"), r["config"], r["metric"],
                         f"{r['dev']:.4f}", r["epochs"], f"{r['sec_per_epoch']:.1f}", when])
    return rows


def main(argv=None):
    # the model options default to the library's presets (the NER recipe, with fine-tuning)
    from embedkit.downstream.presets import NER, SENTIMENT

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vectors", default=os.environ.get("EMBEDKIT_VECTORS"),
                    help="vectors of the SST-2 and WikiANN runs (default: $EMBEDKIT_VECTORS)")
    ap.add_argument("--only", choices=["sentiment", "ner", "step"], default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--encoder", default="gru", choices=ENCODERS,
                    help="Encoder of the SST-2 and WikiANN models.")
    ap.add_argument("--encoders", default=",".join(ENCODERS),
                    help="Encoders whose training step is timed (comma-separated).")
    ap.add_argument("--repeats", type=int, default=30, help="Timed steps per encoder.")
    ap.add_argument("--sst-layers", type=int, default=1)
    ap.add_argument("--heads", type=int, default=NER.config.heads,
                    help="Transformer heads (tasks).")
    ap.add_argument("--ff-dim", type=int, default=None,
                    help="Transformer feed-forward units (tasks; default 2 x hidden).")
    ap.add_argument("--transformer-dropout", type=float,
                    default=NER.config.transformer_dropout)
    ap.add_argument("--hidden", type=int, default=SENTIMENT.config.hidden)
    ap.add_argument("--lr", type=float, default=SENTIMENT.schedule.lr,
                    help="Adam step size for SST-2.")
    ap.add_argument("--ner-hidden", type=int, default=NER.config.hidden)
    ap.add_argument("--ner-lr", type=float, default=NER.schedule.lr)
    ap.add_argument("--sst-epochs", type=int, default=4)
    ap.add_argument("--ner-epochs", type=int, default=NER.schedule.epochs)
    ap.add_argument("--ner-char-buckets", type=int, default=NER.config.char_buckets,
                    help="Hashed character n-gram buckets for WikiANN (0 off).")
    ap.add_argument("--ner-average", type=float, default=NER.schedule.average,
                    help="Moving-average decay of the kept WikiANN weights (0 off).")
    ap.add_argument("--sst-fine-tune", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--ner-fine-tune", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--ner-char-cnn", type=int, default=NER.config.char_cnn,
                    help="Char CNN filters for WikiANN (0 off).")
    ap.add_argument("--ner-char-cnn-width", default="3",
                    help="Char CNN window(s) for WikiANN, e.g. 3 or 3,5.")
    ap.add_argument("--ner-lr-decay", type=float, default=NER.schedule.lr_decay,
                    help="WikiANN learning rate of epoch e: lr / (1 + decay * (e - 1)).")
    ap.add_argument("--ner-evals-per-epoch", type=int, default=NER.schedule.evals_per_epoch)
    ap.add_argument("--ner-word-dropout", type=float, default=NER.config.word_dropout)
    ap.add_argument("--ner-layers", type=int, default=NER.config.layers)
    ap.add_argument("--ner-variational", action=argparse.BooleanOptionalAction,
                    default=NER.config.variational)
    ap.add_argument("--ner-clip", type=float, default=NER.schedule.clip)
    ap.add_argument("--ner-crf", action=argparse.BooleanOptionalAction,
                    default=NER.config.crf)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--json", default=None, help="Also write the results to this file.")
    ap.add_argument("--include", nargs="*", default=[], metavar="JSON",
                    help="Add the task results of earlier runs (their --json files).")
    add_markdown_option(ap, "docs/benchmarks/downstream.md")
    args = ap.parse_args(argv)
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    report = Report("Downstream models: encoders' step time against PyTorch, SST-2 and "
                    "WikiANN-en dev scores")
    out = {"vectors": args.vectors, "threads": args.threads, "argv": sys.argv,
           "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "load_start": os.getloadavg()}
    runs = []
    for path in args.include:
        with open(path, encoding="utf-8") as f:
            runs.append(json.load(f))
    if args.only in (None, "sentiment", "ner"):
        if not args.vectors:
            ap.error("the SST-2 and WikiANN runs need --vectors (or $EMBEDKIT_VECTORS); "
                     "--only step needs none")
        vectors = load_vectors(args.vectors)
        print(f"vectors: {args.vectors} ({len(vectors)} words, dim {vectors.dim})", flush=True)
        rows = []
        if args.only in (None, "sentiment"):
            rows.append(run_sentiment(vectors, args))
            print(json.dumps(rows[-1]), flush=True)
        if args.only in (None, "ner"):
            rows.append(run_ner(vectors, args))
            print(json.dumps(rows[-1]), flush=True)
        out["tasks"] = rows
    if args.only in (None, "step"):
        steps = {}
        kinds = [k for k in args.encoders.split(",") if k]
        for kind in kinds:
            for th in sorted({1, args.threads}):
                print(f"timing {kind}, {th} thread(s)", flush=True)
                steps[f"{kind}/{th}"] = step_times(kind, threads=th, repeats=args.repeats)
        out["step"] = steps
        rows = []
        for key, st in steps.items():
            kind, th = key.split("/")
            e = st["embedkit"] * 1e3
            if st["torch"]:
                t = st["torch"] * 1e3
                rows.append([kind, TORCH_PEER[kind], th, f"{e:.1f}", f"{t:.1f}",
                             f"{e / t:.2f}", f"{st['embedkit_cpu'] * 1e3:.1f} / "
                             f"{st['torch_cpu'] * 1e3:.1f}"])
            else:
                rows.append([kind, "torch not installed", th, f"{e:.1f}", "-", "-", "-"])
        report.table("Training step (forward + backward, input gradient included), median of "
                     f"{args.repeats}, interleaved with the peer",
                     ["encoder", "peer", "threads", "embedkit ms", "peer ms",
                      "embedkit / peer", "CPU ms embedkit / peer"], rows)
        report.note("Shapes: batch 32, length 40, input 100. Recurrent: hidden 128 per "
                    "direction, bidirectional, one layer. Transformer: d_model 128, 4 heads, "
                    "ff 256, 2 pre-LN layers, input projection 100 -> 128, sinusoidal "
                    "positions, final LayerNorm, dropout 0.1 (embedkit drops the input sum and "
                    "the two residual branches; torch's layer also drops the attention "
                    "weights and the feed-forward activation), key padding mask. torch "
                    f"threads = embedkit threads; torch {_torch_version()}. Each timed step "
                    f"follows at least {SETTLE * 1e3:.0f} ms of untimed steps of the same "
                    "library (torch's OpenMP workers spin for several ms after a step).")
        if "lstm" in kinds:
            fl = {th: lstm_gemm_floor(th) for th in sorted({1, args.threads})}
            out["step_lstm_gemm_floor"] = {str(k): v for k, v in fl.items()}
            one = fl[1]
            report.note(
                f"LSTM: the step's matrix products alone (the same BLAS calls and shapes as "
                f"the kernels, no gate arithmetic) are {one['flops'] / 1e9:.2f} GFLOP; "
                + "; ".join(f"{th} thread{'s' if th > 1 else ''}: {v['wall'] * 1e3:.1f} ms "
                            f"(CPU {v['cpu'] * 1e3:.1f} ms)" for th, v in fl.items())
                + f". One big GEMM (1024^3) on one thread with the same BLAS: "
                f"{one['peak_gflops_1_thread']:.0f} GFLOP/s of CPU time. These times are a floor for the "
                "embedkit step in float32 with this BLAS.")
        if "gru" in kinds:
            floor = gemm_floor()
            out["step_gemm_floor_1_thread"] = floor
            report.note(f"GRU: the step's matrix products alone (the same BLAS calls and "
                        f"shapes, no gate arithmetic), 1 thread: {floor['wall'] * 1e3:.1f} ms "
                        f"(CPU {floor['cpu'] * 1e3:.1f} ms), a lower bound for the 1-thread "
                        f"step with this BLAS.")
    out["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out["load_end"] = os.getloadavg()
    acc = _accuracy_rows(runs + [out])
    if not acc:
        report.note("Dev scores: no SST-2 or WikiANN-en training run in this run of the "
                    "script (neither --only sentiment/ner nor --include of an earlier run's "
                    "--json file), so this page has no dev-score table; earlier runs' tables "
                    "are in this page's git history.")
    if acc:
        report.table("Dev scores (train on train, score dev; seed 0, 2 threads)",
                     ["task", "encoder", "model", "dev metric", "dev score", "epochs run",
                      "s / epoch", "run (UTC), load average at start / end"], acc)
        used = sorted({r.get("vectors") or "?" for r in runs + [out] if r.get("tasks")})
        report.note("Vectors: " + ", ".join(f"`{v}`" for v in used)
                    + (" (`embedkit/data/default` is the packaged default: skip-gram on the "
                       "Gutenberg mix, how it was made and scored in its meta.json)"
                       if "embedkit/data/default" in used else "")
                    + ". Rows from earlier runs of this script come from their --json files "
                    "(--include); each row gives its own run's times and load.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    report.write(args.markdown)
    return 0


def _torch_version():
    try:
        import torch
        return torch.__version__
    except ImportError:
        return "not installed"


if __name__ == "__main__":
    sys.exit(main())
