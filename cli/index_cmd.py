"""``embedkit index build``: a FAISS index saved beside a vectors file."""

from __future__ import annotations

import time

import click

from embedkit.cli._base import SuggestingGroup


@click.group(cls=SuggestingGroup)
def index():
    """Build search indexes that speed up analogy and similarity queries.

    \b
    An index is saved beside its vectors (VECTORS.faiss + VECTORS.faiss.json) with a
    checksum of the vectors; `embedkit analogy` / `similar` use it automatically and
    rebuild it when the vectors have changed.
    """


@index.command("build")
@click.argument("vectors_path", metavar="VECTORS", type=click.Path())
@click.option("--kind", type=click.Choice(["auto", "exact", "hnsw", "ivfpq"]), default="auto",
              show_default=True,
              help="exact (flat inner product), hnsw (graph), ivfpq (millions of words); "
                   "auto: exact below 200,000 words, else hnsw.")
@click.option("--hnsw-m", type=int, help="HNSW graph degree M [32].")
@click.option("--ef-construction", type=int, help="HNSW build beam width [80].")
@click.option("--ef-search", type=int, help="HNSW search beam width [256].")
@click.option("--clusters", type=int,
              help="HNSW k-means cells: the graph is stored cell by cell and query batches run "
                   "in cell order (faster, same answers); 0 turns this off "
                   "[min(1024, words / 64)].")
@click.option("--nlist", type=int, help="IVF-PQ cells [4 * sqrt(words)].")
@click.option("--pq-m", type=int, help="IVF-PQ sub-quantizers; must divide dim [<= dim/4].")
@click.option("--nbits", type=int, help="IVF-PQ bits per code [8].")
@click.option("--nprobe", type=int, help="IVF-PQ cells searched per query [16].")
@click.option("--seed", type=int, help="k-means seed (IVF-PQ training, HNSW cells) [0].")
def build(vectors_path, kind, **params):
    """Build an index for VECTORS and save it beside them.

    \b
    Examples:
      embedkit index build vectors.ekv
      embedkit index build vectors.bin --kind hnsw --hnsw-m 32 --ef-search 128
    """
    from embedkit.search.index import Index
    from embedkit.search.params import resolve_kind
    from embedkit.vectors.default import load_vectors

    vectors, path = load_vectors(vectors_path, given_as="VECTORS")
    concrete = resolve_kind(kind, len(vectors))
    wanted = {"hnsw": ("hnsw_m", "ef_construction", "ef_search", "clusters", "seed"),
              "ivfpq": ("nlist", "pq_m", "nbits", "nprobe", "seed"), "exact": ()}[concrete]
    given = {k: v for k, v in params.items() if v is not None}
    stray = sorted(set(given) - set(wanted))
    if stray:
        names = ", ".join("--" + s.replace("_", "-") for s in stray)
        article = "an" if concrete[0] in "aeiou" else "a"
        raise click.UsageError(f"{names} do not apply to {article} {concrete} index")
    import pathlib

    from embedkit.search.store import index_paths
    from embedkit.vectors.output import _check_parent

    # the index goes beside the vectors: a read-only directory fails now, not after the build
    _check_parent(pathlib.Path(index_paths(path)[0]))
    start = time.perf_counter()
    built = Index(vectors, concrete, **given)
    out = built.save(path)
    click.echo(f"built a {built.kind} index over {len(built)} words (dim {vectors.dim}) in "
               f"{time.perf_counter() - start:.1f} s: {out}")
