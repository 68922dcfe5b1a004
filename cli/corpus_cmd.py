"""``embedkit corpus``: prepare (count and encode) a corpus shard by shard, on Dask or here."""

from __future__ import annotations

import contextlib

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


_scheduler_option = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Dask scheduler tcp://HOST:8786, or local:N to start N worker processes here "
         "[default: no Dask, run in this process].")


def _session(scheduler):
    """A Dask client connected to ``scheduler`` (a context), or a context giving None."""
    if scheduler is None:
        return contextlib.nullcontext(None)
    from embedkit.distributed import connect

    return connect(scheduler)


@corpus.command("prepare")
@click.argument("sources", nargs=-1, required=True)
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Encoded directory (or fsspec URL) every worker can write; must be new, "
                   "empty or written by an earlier `corpus prepare`.")
@_scheduler_option
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
    from embedkit.corpus import prepare

    options = dict(min_count=min_count, tokenizer=tokenizer, lowercase=not keep_case,
                   max_vocab_size=max_vocab_size, max_final_vocab=max_final_vocab)
    with _session(scheduler) as client:
        enc = prepare(list(sources), out=out, client=client, **options)
    if not (ctx.obj or {}).get("quiet"):
        if enc is None:
            click.echo(f"prepared {out}", err=True)
        else:
            click.echo(f"prepared {len(enc.shards)} shards, {enc.n_tokens:,} tokens, "
                       f"{len(enc.vocab):,} words into {out}", err=True)


@corpus.command("cooccur")
@click.argument("corpus_dir", metavar="DIR")
@click.option("--out", "-o", required=True, metavar="DIR",
              help="Directory (or fsspec URL) for the partitions, every worker can write.")
@_scheduler_option
@click.option("--window", type=int, default=10, show_default=True,
              help="Maximum distance between counted words.")
@click.option("--memory", default="1G", show_default=True, metavar="SIZE",
              help="Memory budget of one map task's counting (and a reduce task's blocks).")
@click.option("--partitions", type=int, default=None,
              help="Key-range partitions [default: one per 256 MB of runs, at least one per "
                   "shard].")
@click.pass_context
def cooccur_cmd(ctx, corpus_dir, out, scheduler, window, memory, partitions):
    """Count GloVe's co-occurrences of an encoded DIR into partitions under --out.

    A map task per shard counts it within --memory and writes one sorted run per key-range
    partition; a reduce task per partition merges its runs.  The result equals the
    single-machine count bit for bit; train from it with
    `embedkit train DIR --model glove --cooccurrence OUT`.
    """
    from embedkit.errors import ParameterError
    from embedkit.training.cooccur_partitioned import count_sharded

    if partitions is not None and partitions < 1:
        raise ParameterError(f"--partitions must be >= 1, got {partitions}")
    with _session(scheduler) as client:
        pc = count_sharded(corpus_dir, out, window=window, memory=memory,
                           n_partitions=partitions, client=client)
    if not (ctx.obj or {}).get("quiet"):
        click.echo(f"counted {len(pc):,} co-occurrence entries in {len(pc.partitions)} "
                   f"partitions into {out}", err=True)
