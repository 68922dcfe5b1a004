"""``embedkit corpus``: prepare (count and encode) a corpus shard by shard, on Dask or here."""

from __future__ import annotations

import click


@click.group("corpus")
def corpus():
    """Prepare corpora: count and encode shards once, train from the encoded directory.

    \b
    Examples:
      embedkit corpus prepare shards/ --out encoded/
      embedkit corpus prepare 'web/*.txt.gz' --scheduler local:4 --out encoded/
      embedkit corpus prepare s3://bucket/shards/ --scheduler tcp://10.0.0.1:8786 --out /shared/enc
      embedkit train encoded/ --out vectors.bin
    """


@corpus.command("prepare")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Encoded directory (or fsspec URL) every worker can write; must be new, "
                   "empty or written by an earlier `corpus prepare`.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Dask scheduler tcp://HOST:8786, or local:N to start N worker processes "
                   "here [default: no Dask, run in this process].")
@click.option("--min-count", type=int, default=5, show_default=True,
              help="Drop words seen fewer times (in the whole corpus).")
@click.option("--max-vocab-size", type=int, default=None,
              help="Prune the merged counts as word2vec.c's ReduceVocab does down to this many "
                   "words.")
@click.option("--max-final-vocab", type=int, default=None,
              help="Keep only this many of the most frequent words.")
@click.option("--tokenizer", type=click.Choice(["default", "whitespace"]), default="default",
              show_default=True, help="How text is split into tokens.")
@click.option("--keep-case", is_flag=True, help="Keep the corpus's case (default: lowercase).")
@click.pass_context
def prepare_cmd(ctx, sources, out, scheduler, min_count, max_vocab_size, max_final_vocab,
                tokenizer, keep_case):
    """Count and encode SOURCES, one shard per file, into the directory --out.

    SOURCES are text files (.gz/.bz2/.xz too), directories or glob patterns of them, or
    fsspec URLs (s3://, gs://, hdfs://, file://).  The vocabulary and the ids are the
    same as a single-machine `embedkit train` over the same files would use; train from
    the result with `embedkit train DIR`.
    """
    import contextlib

    from embedkit.corpus import prepare

    options = dict(min_count=min_count, tokenizer=tokenizer, lowercase=not keep_case,
                   max_vocab_size=max_vocab_size, max_final_vocab=max_final_vocab)
    if scheduler is None:
        session = contextlib.nullcontext(None)
    else:
        from embedkit.distributed import connect

        session = connect(scheduler)
    with session as client:
        enc = prepare(list(sources), out=out, client=client, **options)
    if not (ctx.obj or {}).get("quiet"):
        if enc is None:
            click.echo(f"prepared {out}", err=True)
        else:
            click.echo(f"prepared {len(enc.shards)} shards, {enc.n_tokens:,} tokens, "
                       f"{len(enc.vocab):,} words into {out}", err=True)
