"""``embedkit train``: skip-gram / CBOW with negative sampling, or GloVe."""

from __future__ import annotations

import click

# the formats embedkit writes (fastText .bin models are read only)
FORMAT_CHOICE = click.Choice(["word2vec-text", "word2vec-binary", "glove", "fasttext", "native"])


@click.command("train", short_help="Train word vectors on CORPUS: skip-gram, CBOW or GloVe.")
@click.argument("corpus", required=False, metavar="[CORPUS]")
@click.option("--model", type=click.Choice(["sgns", "cbow", "glove"], case_sensitive=False),
              default="sgns", show_default=True,
              help="Skip-gram or CBOW with negative sampling, or GloVe.")
@click.option("--out", "-o", required=True, metavar="PATH",
              help="Output vectors: .bin word2vec binary, .txt/.vec word2vec text, .ekv native "
                   "(.gz/.bz2/.xz compress a file); checked before training starts.")
@click.option("--format", "fmt", type=FORMAT_CHOICE, default=None,
              help="Output format, overriding the extension.")
@click.option("--dim", type=int, default=100, show_default=True, help="Vector dimension.")
@click.option("--window", type=int, default=None,
              help="Maximum context distance [default: 5; 10 for glove].")
@click.option("--negative", type=int, default=5, show_default=True,
              help="Negative samples per example.")
@click.option("--min-count", type=int, default=5, show_default=True,
              help="Drop words seen fewer times.")
@click.option("--sample", type=float, default=1e-3,
              show_default=True,
              help="Frequent-word subsampling threshold, 0 <= t < 1 (0 = off; 1e-3 to 1e-5 "
                   "are usual).")
@click.option("--epochs", type=int, default=None,
              help="Passes over the corpus [default: 5; 25 for glove].")
@click.option("--alpha", type=float, default=None,
              help="Initial learning rate [default: 0.025 sgns, 0.05 cbow and glove].")
@click.option("--min-alpha", type=float, default=1e-4, show_default=True,
              help="Final learning rate (linear decay over all epochs).")
@click.option("--workers", type=int, default=None, help="Worker threads [default: CPU count].")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed (with --workers 1 the output is reproducible bit for bit).")
@click.option("--x-max", type=float, default=None,
              help="glove: weighting cut-off, f(x) = min(1, (x/x_max)^power) [default: 100].")
@click.option("--power", type=float, default=None,
              help="glove: weighting exponent [default: 0.75].")
@click.option("--memory", default=None, metavar="SIZE",
              help="glove: memory budget for co-occurrence counting, e.g. 4G or 512M; beyond "
                   "it sorted runs are spilled to disk and merged [default: 4G].")
@click.option("--cooccurrence", default=None, metavar="DIR",
              help="glove: train from the partitions `embedkit corpus cooccur` wrote (joined "
                   "in memory within --memory, else streamed from disk).")
@click.option("--vectors", "vector_choice", type=click.Choice(["w+c", "w"]), default=None,
              help="glove: output word + context vectors, or word vectors only [default: w+c].")
@click.option("--tokenizer", type=click.Choice(["default", "whitespace"]), default="default",
              show_default=True, help="How text is split into tokens.")
@click.option("--keep-case", is_flag=True, help="Keep the corpus's case (default: lowercase).")
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
          min_alpha, workers, seed, x_max, power, memory, cooccurrence, vector_choice,
          tokenizer, keep_case, checkpoint, checkpoint_every, resume, log_json, quiet):
    """Train word vectors on CORPUS: skip-gram or CBOW (negative sampling), or GloVe.

    CORPUS is a text file (.gz/.bz2/.xz too), a directory of them, or '-' for standard
    input; without it the built-in corpus is used.

    \b
    Examples:
      embedkit train --out vectors.bin
      embedkit train corpus.txt.gz --model cbow --epochs 3 --out vectors.txt
      embedkit train corpus.txt --out v.bin --checkpoint-every 600
      embedkit train corpus.txt --out v.bin --resume v.bin.ckpt
      embedkit train corpus.txt --model glove --memory 2G --out glove.txt
    """
    import logging

    from embedkit._progress import progress_enabled, set_progress
    from embedkit.training import Word2Vec

    if quiet:
        set_progress(False)
        logging.getLogger("embedkit").setLevel(logging.WARNING)
    model = model.lower()
    glove_only = {"x_max": x_max, "power": power, "memory": memory, "vectors": vector_choice,
                  "cooccurrence": cooccurrence}
    if model == "glove":
        from click.core import ParameterSource

        for name in ("negative", "sample", "min_alpha"):
            if ctx.get_parameter_source(name) == ParameterSource.COMMANDLINE:
                raise click.UsageError(f"--{name.replace('_', '-')} applies to sgns and cbow, "
                                       "not to --model glove: drop it")
        from embedkit.training import GloVe

        opts = {k: v for k, v in glove_only.items() if v is not None and k != "cooccurrence"}
        for k, v in (("window", window), ("epochs", epochs), ("alpha", alpha)):
            if v is not None:
                opts[k] = v
        trainer = GloVe(dim=dim, min_count=min_count, workers=workers, seed=seed,
                    tokenizer=tokenizer, lowercase=not keep_case, **opts)
    else:
        for k, v in glove_only.items():
            if v is not None:
                flag = "--vectors" if k == "vectors" else f"--{k.replace('_', '-')}"
                raise click.UsageError(f"{flag} applies to --model glove only: drop it or add "
                                       "--model glove")
        trainer = Word2Vec(model=model, dim=dim, window=5 if window is None else window,
                       negative=negative, min_count=min_count, sample=sample,
                       epochs=5 if epochs is None else epochs, alpha=alpha,
                       min_alpha=min_alpha, workers=workers, seed=seed, tokenizer=tokenizer,
                           lowercase=not keep_case)
    extra = {"cooccurrence": cooccurrence} if cooccurrence is not None else {}
    res = trainer.fit(corpus, out=out, format=fmt, checkpoint=checkpoint,
                  checkpoint_every=checkpoint_every, resume=resume, log_json=log_json,
                  progress=progress_enabled(), **extra)
    if not (quiet or (ctx.obj or {}).get("quiet")):
        last = res.history[-1] if res.history else {}
        speed = (f"{res.words_per_sec:,.0f} words/s" if hasattr(res, "words_per_sec")
                 else f"{res.seconds:,.1f} s")
        click.echo(f"wrote {len(res.vectors)} vectors of dim {res.vectors.dim} to {out} "
                   f"(loss {last.get('loss', float('nan')):.4f}, {speed})", err=True)
