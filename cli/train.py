"""``embedkit train``: skip-gram / CBOW with negative sampling."""

from __future__ import annotations

import click


@click.command("train")
@click.argument("corpus", required=False)
@click.option("--model", type=click.Choice(["sgns", "cbow"], case_sensitive=False),
              default="sgns", show_default=True, help="Skip-gram or CBOW, with negative sampling.")
@click.option("--out", "-o", required=True, metavar="PATH",
              help="Output vectors: .bin word2vec binary, .txt/.vec word2vec text, .ekv native.")
@click.option("--format", "fmt", default=None, help="Output format, overriding the extension.")
@click.option("--dim", type=int, default=100, show_default=True, help="Vector dimension.")
@click.option("--window", type=int, default=5, show_default=True, help="Maximum context distance.")
@click.option("--negative", type=int, default=5, show_default=True,
              help="Negative samples per example.")
@click.option("--min-count", type=int, default=5, show_default=True,
              help="Drop words seen fewer times.")
@click.option("--sample", type=float, default=1e-3, show_default=True,
              help="Frequent-word subsampling threshold (0 = off).")
@click.option("--epochs", type=int, default=5, show_default=True, help="Passes over the corpus.")
@click.option("--alpha", type=float, default=None,
              help="Initial learning rate [default: 0.025 sgns, 0.05 cbow].")
@click.option("--min-alpha", type=float, default=1e-4, show_default=True,
              help="Final learning rate (linear decay over all epochs).")
@click.option("--workers", type=int, default=None, help="Worker threads [default: CPU count].")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed (with --workers 1 the output is reproducible bit for bit).")
@click.option("--tokenizer", type=click.Choice(["default", "whitespace"]), default="default",
              show_default=True, help="How text is split into tokens.")
@click.option("--checkpoint", default=None, metavar="PATH",
              help="Checkpoint path (PATH.npz + PATH.json) [default: OUT.ckpt].")
@click.option("--checkpoint-every", type=float, default=None, metavar="SECONDS",
              help="Write a checkpoint every SECONDS (Ctrl-C always writes one).")
@click.option("--resume", default=None, metavar="CHECKPOINT",
              help="Continue from a checkpoint (same corpus; its parameters are used).")
@click.option("--log-json", default=None, metavar="FILE",
              help="Append one JSON line per progress tick to FILE.")
@click.option("--quiet", is_flag=True, help="No progress bar or progress messages.")
@click.pass_context
def train(ctx, corpus, model, out, fmt, dim, window, negative, min_count, sample, epochs, alpha,
          min_alpha, workers, seed, tokenizer, checkpoint, checkpoint_every, resume, log_json,
          quiet):
    """Train word vectors with skip-gram or CBOW (negative sampling) on CORPUS.

    CORPUS is a text file (.gz/.bz2/.xz too), a directory of them, or '-' for standard
    input; without it the built-in corpus is used.

    \b
    Examples:
      embedkit train --out vectors.bin
      embedkit train corpus.txt.gz --model cbow --epochs 3 --out vectors.txt
      embedkit train corpus.txt --out v.bin --checkpoint-every 600
      embedkit train corpus.txt --out v.bin --resume v.bin.ckpt
    """
    import logging

    from embedkit._progress import progress_enabled, set_progress
    from embedkit.training import Word2Vec

    if quiet:
        set_progress(False)
        logging.getLogger("embedkit").setLevel(logging.WARNING)
    w2v = Word2Vec(model=model, dim=dim, window=window, negative=negative, min_count=min_count,
                   sample=sample, epochs=epochs, alpha=alpha, min_alpha=min_alpha,
                   workers=workers, seed=seed, tokenizer=tokenizer)
    res = w2v.fit(corpus, out=out, format=fmt, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, resume=resume, log_json=log_json,
                  progress=progress_enabled())
    if not (quiet or (ctx.obj or {}).get("quiet")):
        last = res.history[-1] if res.history else {}
        click.echo(f"wrote {len(res.vectors)} vectors of dim {res.vectors.dim} to {out} "
                   f"(loss {last.get('loss', float('nan')):.4f}, "
                   f"{res.words_per_sec:,.0f} words/s)", err=True)
